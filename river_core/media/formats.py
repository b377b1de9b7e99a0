"""The deliverable formats (a literal table of what each one is and how it is written) and the
deliverables an edit can write.

Pure data (no codec library is imported), so option parsers and request checks can list the formats
without loading FFmpeg; :mod:`river_core.media.encode` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True)
class OutputFormat:
    """How one deliverable format is written."""

    name: str
    description: str
    extension: str  # "" for a folder (PNG sequence)
    codec: str
    pix_fmt: str
    muxer: str | None
    audio_codec: str
    options: dict[str, str] = field(default_factory=dict)
    muxer_options: dict[str, str] = field(default_factory=dict)
    lossless: bool = False
    even_size: bool = True  # chroma-subsampled formats need even width and height
    alpha: bool = False  # frames are H×W×4 RGBA (straight alpha) instead of H×W×3 RGB


FORMATS: dict[str, OutputFormat] = {
    "prores": OutputFormat(
        "prores",
        "Apple ProRes 422 HQ, 10-bit 4:2:2, MOV, PCM audio",
        ".mov",
        "prores_ks",
        "yuv422p10le",
        "mov",
        "pcm_s24le",
        options={"profile": "3", "vendor": "apl0"},
    ),
    "prores4444": OutputFormat(
        "prores4444",
        "Apple ProRes 4444 with alpha, 10-bit 4:4:4:4 (16-bit alpha), MOV, PCM audio",
        ".mov",
        "prores_ks",
        "yuva444p10le",
        "mov",
        "pcm_s24le",
        options={"profile": "4", "vendor": "apl0", "alpha_bits": "16"},
        # 4:4:4 needs no even size, but swscale's RGB → 10-bit 4:4:4 conversion garbles rows of
        # odd-width frames now and then (PyAV 18), so odd sizes are refused like the 4:2:2 formats.
        alpha=True,
    ),
    "dnxhr": OutputFormat(
        "dnxhr",
        "Avid DNxHR HQ, 8-bit 4:2:2, MOV, PCM audio",
        ".mov",
        "dnxhd",
        "yuv422p",
        "mov",
        "pcm_s24le",
        options={"profile": "dnxhr_hq"},
    ),
    "h264": OutputFormat(
        "h264",
        "H.264 High, 4:2:0, MP4, AAC 320 kb/s",
        ".mp4",
        "libx264",
        "yuv420p",
        "mp4",
        "aac",
        options={"crf": "16", "preset": "medium"},
        muxer_options={"movflags": "+faststart"},
    ),
    "ffv1": OutputFormat(
        "ffv1",
        "FFV1 level 3, 8-bit RGB (lossless), Matroska, PCM audio",
        ".mkv",
        "ffv1",
        "bgr0",
        "matroska",
        "pcm_s24le",
        options={"level": "3", "g": "1", "slicecrc": "1"},
        lossless=True,
        even_size=False,
    ),
    "png": OutputFormat(
        "png",
        "PNG sequence (8-bit RGB, lossless) + audio.wav + sequence.json",
        "",
        "png",
        "rgb24",
        None,
        "pcm_s24le",
        lossless=True,
        even_size=False,
    ),
}


DELIVERY_FORMATS: Final = tuple(name for name, fmt in FORMATS.items() if not fmt.alpha)
"""Formats the edited media can be delivered in (ProRes 4444 with alpha is the matte movie's)."""
DELIVERABLES: Final = ("media", "matte", "preview", "sheet")
"""What an edit delivers, each on request: media, the edited clip; matte, PNG mattes and the ProRes 4444
matte movie; preview, a small before | after movie; sheet, a contact sheet (provenance.json always)."""
