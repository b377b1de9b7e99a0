"""Clips derived from the ``make_clip`` fixture with the ffmpeg binary (an independent encoder)."""

from __future__ import annotations

import subprocess
from pathlib import Path

# testsrc2 tagged (and converted) as BT.601 625-line: the matrix tag bt470bg, not smpte170m.
BT470BG = "setparams=colorspace=bt470bg:color_primaries=bt470bg:color_trc=bt470bg:range=tv"


def rotated(ffmpeg_exe: str, clip: Path, degrees: int) -> Path:
    """``clip`` re-muxed (not re-encoded) with a display rotation of ``degrees`` (counter-clockwise).
    ``-display_rotation`` is an input option: ``-metadata:s:v rotate=`` no longer sets the display
    matrix (FFmpeg 6+)."""
    out = clip.with_name(f"rot{degrees}_{clip.name}")
    if not out.exists():
        rotate = ["-display_rotation", str(degrees), "-i", str(clip)]
        subprocess.run([ffmpeg_exe, "-loglevel", "error", "-y", *rotate, "-c", "copy", str(out)], check=True)
    return out


def ffmpeg_upright_frame(ffmpeg_exe: str, clip: Path, width: int, height: int) -> bytes:
    """The first frame as ffmpeg shows it (auto-rotated), raw RGB, ``width`` × ``height`` as displayed."""
    raw_rgb = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(
        [ffmpeg_exe, "-loglevel", "error", "-i", str(clip), "-frames:v", "1", *raw_rgb],
        capture_output=True,
        check=True,
    ).stdout
    assert len(raw) == width * height * 3, "ffmpeg's frame is not the displayed size"
    return raw
