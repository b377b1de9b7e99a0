"""Media I/O in rational time (PyAV): probe, frame-exact decode, letterbox geometry, deliverables.

>>> from river_core.media import probe, extract, FrameRange      # doctest: +SKIP
>>> info = probe("clip.mp4"); info.rate, info.frame_count
(Fraction(30000, 1001), 289)
>>> extract("clip.mp4", FrameRange(30, 120), "prores", "clip_30-120.mov")
"""

from river_core.media.rational import FrameRange, Timecode, format_rate, frames_to_samples, parse_rate

try:  # the codec side needs PyAV and numpy (the engine extra); a host-only install has the time above
    from river_core.media.decode import DecodedFrame, VideoReader, read_frames
    from river_core.media.encode import FORMATS, AudioTrackSpec, MediaWriter, OutputFormat
    from river_core.media.extract import ExtractResult, extract
    from river_core.media.geometry import Placement, resize
    from river_core.media.probe import AudioStreamInfo, MediaInfo, content_hash, probe
except ModuleNotFoundError as exc:
    if (exc.name or "").split(".")[0] not in ("av", "numpy", "PIL"):
        raise

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
