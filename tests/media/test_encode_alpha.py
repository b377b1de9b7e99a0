"""ProRes 4444 with alpha: RGBA frames in, alpha (and colour) out, and clear refusals."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from river_core.errors import MediaError, OutputError
from river_core.media.decode import read_frames
from river_core.media.encode import FORMATS, MediaWriter
from river_core.media.extract import extract
from river_core.media.probe import probe
from river_core.media.rational import FrameRange, Timecode
from tests.helpers import listing, psnr

NTSC = Fraction(30000, 1001)
W, H = 160, 96


def rgba_frames(n: int) -> list[np.ndarray]:
    """Smooth colour gradients (so 4:4:4 10-bit round-trips within a level or two) and an alpha
    that covers 0…255, including exact 0 and 255, and changes from frame to frame."""
    yy, xx = np.mgrid[0:H, 0:W]
    frames = []
    for k in range(n):
        rgb = np.stack([xx * 255 // (W - 1), yy * 255 // (H - 1), np.full_like(xx, 40 + 60 * k)], axis=-1)
        alpha = np.clip((xx + 3 * k) * 300 // W - 20, 0, 255)
        alpha[: H // 4] = 0
        alpha[-H // 4 :] = 255
        frames.append(np.dstack([rgb, alpha]).astype(np.uint8))
    return frames


def decode_rgba(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgba") for f in container.decode(video=0)]


def test_prores4444_keeps_alpha_and_colour(tmp_path: Path) -> None:
    frames = rgba_frames(3)
    out = tmp_path / "matte.mov"
    with MediaWriter(out, "prores4444", width=W, height=H, rate=NTSC, timecode=Timecode(30, NTSC)) as writer:
        for frame in frames:
            writer.write_video(frame)
    info = probe(out)
    assert (info.codec, info.profile, info.frame_count, info.rate) == ("prores", "4444", 3, NTSC)
    assert info.pix_fmt.startswith("yuva444p")
    assert str(info.start_timecode) == "00:00:01:00"
    decoded = decode_rgba(out)
    assert len(decoded) == 3
    for got, want in zip(decoded, frames, strict=True):
        alpha_error = np.abs(got[..., 3].astype(int) - want[..., 3])
        assert alpha_error.max() <= 1, "alpha must survive (16-bit in the file, 8-bit here)"
        assert (got[..., 3][want[..., 3] == 0] == 0).all() and (got[..., 3][want[..., 3] == 255] == 255).all()
        assert np.abs(got[..., :3].astype(int) - want[..., :3]).max() <= 2
    # the alpha really varies: a writer dropping it (opaque) would fail above
    assert decoded[0][..., 3].min() == 0 and decoded[0][..., 3].max() == 255


def test_only_prores4444_carries_alpha() -> None:
    assert [name for name, fmt in FORMATS.items() if fmt.alpha] == ["prores4444"]
    assert FORMATS["prores4444"].extension == ".mov"


def test_rgba_into_a_format_without_alpha_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    writer = MediaWriter(out, "prores", width=W, height=H, rate=NTSC, timecode=Timecode(0, NTSC))
    with pytest.raises(MediaError, match="RGBA but prores has no alpha channel"), writer:
        writer.write_video(rgba_frames(1)[0])
    assert listing(tmp_path) == []


def test_rgb_into_prores4444_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    writer = MediaWriter(out, "prores4444", width=W, height=H, rate=NTSC, timecode=Timecode(0, NTSC))
    with pytest.raises(MediaError, match="RGB but prores4444 carries alpha"), writer:
        writer.write_video(rgba_frames(1)[0][..., :3].copy())
    assert listing(tmp_path) == []


def test_prores4444_refuses_odd_sizes(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="even width and height"):
        MediaWriter(
            tmp_path / "o.mov", "prores4444", width=81, height=64, rate=NTSC, timecode=Timecode(0, NTSC)
        )


def test_extract_to_prores4444_is_opaque(sample_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "opaque.mov"
    result = extract(sample_clip, FrameRange(10, 13), "prores4444", out)
    assert result.frame_count == 3 and probe(out).profile == "4444"
    decoded = decode_rgba(out)
    assert all((f[..., 3] == 255).all() for f in decoded)
    assert psnr(np.stack([f[..., :3] for f in decoded]), read_frames(sample_clip, FrameRange(10, 13))) > 40
