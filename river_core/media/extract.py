"""Copy a frame range of a source into a deliverable: frames, same-range audio, timecode."""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from river_core.media.audio import AudioSegmentReader
from river_core.media.decode import VideoReader
from river_core.media.encode import AudioTrackSpec, Matrix, MediaWriter
from river_core.media.probe import MediaInfo, probe
from river_core.media.rational import FrameRange, Timecode, format_rate, frames_to_samples
from river_core.progress import CancelToken, ProgressCallback, report


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`extract` wrote."""

    path: Path
    format: str
    source: Path
    frame_range: FrameRange
    frame_count: int
    rate: Fraction
    timecode: Timecode
    audio_samples: tuple[int, ...]
    elapsed_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "source": str(self.source),
            "range": str(self.frame_range),
            "frame_count": self.frame_count,
            "rate": format_rate(self.rate),
            "timecode": str(self.timecode),
            "audio_samples": list(self.audio_samples),
            "elapsed_ms": round(self.elapsed_s * 1000),
        }


def matrix_of(info: MediaInfo) -> Matrix:
    """The YUV matrix the source was decoded with, reused for YUV outputs so colours round-trip."""
    if info.colorspace in ("bt470bg", "smpte170m"):
        return "bt601"
    if info.colorspace == "bt709":
        return "bt709"
    return "bt709" if info.height >= 720 else "bt601"


def extract(
    source: Path | str,
    frame_range: FrameRange,
    fmt: str,
    out: Path | str,
    *,
    overwrite: bool = False,
    info: MediaInfo | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExtractResult:
    """Write source frames ``frame_range`` to ``out`` as ``fmt`` with the same range of audio.

    The output's first frame carries the source timecode + ``frame_range.start`` (from 00:00:00:00
    when the source has none). Nothing is left at ``out`` if this fails or is cancelled. Pass
    ``info`` when the source was just probed (probing a Matroska file reads all of it).
    """
    started = time.monotonic()
    source, out = Path(source), Path(out)
    info = info or probe(source)
    frame_range.check_within(info.frame_count)
    n = len(frame_range)
    tracks = [AudioTrackSpec.like(a.sample_rate, a.layout, a.channels, a.codec) for a in info.audio]
    timecode = info.timecode_or_zero + frame_range.start
    audio: list[AudioSegmentReader] = []
    writer = MediaWriter(
        out,
        fmt,
        width=info.width,
        height=info.height,
        rate=info.rate,
        timecode=timecode,
        first_frame=frame_range.start,
        audio=tracks,
        rotation=info.rotation,
        matrix=matrix_of(info),
        sources=[source],
        overwrite=overwrite,
        metadata={"comment": f"RIVER NLE: {source.name} frames {frame_range} at {format_rate(info.rate)}"},
    )
    try:
        with VideoReader(source, info) as reader, writer:
            for k, frame in enumerate(reader.frames(frame_range, cancel=cancel)):
                if k == 0:
                    audio = [
                        AudioSegmentReader(
                            source, a, frame.time, frames_to_samples(n, info.rate, a.sample_rate)
                        )
                        for a in info.audio
                    ]
                writer.write_video(frame.image)
                for i, reader_i in enumerate(audio):
                    writer.write_audio(i, reader_i.read(writer.audio_target(i) - writer.samples_written[i]))
                report(progress, "extract", k + 1, n)
            for i, reader_i in enumerate(audio):
                writer.write_audio(i, reader_i.read(reader_i.remaining))
    finally:
        for reader_i in audio:
            reader_i.close()
    return ExtractResult(
        path=out,
        format=fmt,
        source=source,
        frame_range=frame_range,
        frame_count=writer.frames_written,
        rate=info.rate,
        timecode=timecode,
        audio_samples=tuple(writer.samples_written),
        elapsed_s=time.monotonic() - started,
    )
