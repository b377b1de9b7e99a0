"""Media I/O in rational time (PyAV): probe, frame-exact decode, letterbox geometry, deliverables.

>>> from river_core.media import probe, extract, FrameRange      # doctest: +SKIP
>>> info = probe("clip.mp4"); info.rate, info.frame_count
(Fraction(30000, 1001), 289)
>>> extract("clip.mp4", FrameRange(30, 120), "prores", "clip_30-120.mov")
"""

from typing import TYPE_CHECKING, Any

# Names load their module on first use (PEP 562): `river_core.media.rational` and `.formats` are pure
# Python, so the `river` command (and a host-only install, without PyAV or numpy) can use them.
_WHERE = {
    "DecodedFrame": "decode", "VideoReader": "decode", "read_frames": "decode",
    "FORMATS": "encode", "AudioTrackSpec": "encode", "MediaWriter": "encode", "OutputFormat": "encode",
    "ExtractResult": "extract", "extract": "extract",
    "Placement": "geometry", "resize": "geometry",
    "AudioStreamInfo": "probe", "MediaInfo": "probe", "content_hash": "probe", "probe": "probe",
    "FrameRange": "rational", "Timecode": "rational", "format_rate": "rational",
    "frames_to_samples": "rational", "parse_rate": "rational",
}  # fmt: skip

if TYPE_CHECKING:
    from river_core.media.decode import DecodedFrame, VideoReader, read_frames
    from river_core.media.encode import FORMATS, AudioTrackSpec, MediaWriter, OutputFormat
    from river_core.media.extract import ExtractResult, extract
    from river_core.media.geometry import Placement, resize
    from river_core.media.probe import AudioStreamInfo, MediaInfo, content_hash, probe
    from river_core.media.rational import FrameRange, Timecode, format_rate, frames_to_samples, parse_rate


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'river_core.media' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"river_core.media.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FORMATS",
    "AudioStreamInfo",
    "AudioTrackSpec",
    "DecodedFrame",
    "ExtractResult",
    "FrameRange",
    "MediaInfo",
    "MediaWriter",
    "OutputFormat",
    "Placement",
    "Timecode",
    "VideoReader",
    "content_hash",
    "extract",
    "format_rate",
    "frames_to_samples",
    "parse_rate",
    "probe",
    "read_frames",
    "resize",
]
