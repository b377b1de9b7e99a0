"""Copy a frame range of a source into a deliverable: frames, same-range audio, timecode."""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import numpy as np

from river_core.media.audio import AudioSegmentReader
from river_core.media.decode import VideoReader
from river_core.media.encode import MATRICES, PRIMARIES, TRANSFERS, AudioTrackSpec, ColorTags, MediaWriter
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


# Untagged sources follow the decoder's convention: HD and larger are BT.709, SD is BT.601.
_HD_MIN_HEIGHT = 720
_PRIMARIES_BY_CODE = {code: name for name, code in PRIMARIES.items()}
_TRANSFERS_BY_CODE = {code: name for name, code in TRANSFERS.items()}


def color_tags(info: MediaInfo) -> ColorTags:
    """The colour description for YUV outputs of ``info``'s frames: the source's own matrix tag (so
    bt470bg stays bt470bg, though smpte170m has the same coefficients), primaries and transfer. An
    untagged matrix, or one the decoder does not convert with, becomes the decoder's default (bt709
    from 720 lines up, else smpte170m); untagged primaries and transfer follow the matrix."""
    if info.colorspace in MATRICES:
        matrix = info.colorspace
    else:
        matrix = "bt709" if info.height >= _HD_MIN_HEIGHT else "smpte170m"
    primaries, transfer = _stream_color_tags(info)
    return ColorTags(matrix, primaries, transfer)


def _stream_color_tags(info: MediaInfo) -> tuple[str | None, str | None]:
    """The source video stream's primaries and transfer tags (None where untagged or unreadable)."""
    try:
        with av.open(str(info.path)) as container:
            stream = container.streams[info.video_index]
            if not isinstance(stream, av.video.stream.VideoStream):
                return None, None
            primaries, transfer = (
                int(stream.codec_context.color_primaries),
                int(stream.codec_context.color_trc),
            )
    except (av.error.FFmpegError, OSError, IndexError, AttributeError, TypeError, ValueError):
        return None, None
    return _PRIMARIES_BY_CODE.get(primaries), _TRANSFERS_BY_CODE.get(transfer)


def audio_tracks(info: MediaInfo) -> list[AudioTrackSpec]:
    """The audio tracks a deliverable of ``info`` carries: one per source stream, PCM kept as is."""
    return [AudioTrackSpec.like(a.sample_rate, a.layout, a.channels, a.codec) for a in info.audio]


class RangeAudio:
    """The source's audio under a range of ``frame_count`` frames, passed through to a :class:`MediaWriter`.

    Call :meth:`start` with the first frame's presentation time (``DecodedFrame.time``), then
    :meth:`feed` after every frame written (each track is topped up to the video's duration so far)
    and :meth:`flush` once after the last frame (the exact tail). Every track gets exactly
    ``frames_to_samples(frame_count)`` samples, silence where the source has none. The writer must
    have been made with :func:`audio_tracks` of the same ``info``. Use as a context manager.
    """

    def __init__(self, source: Path, info: MediaInfo, frame_count: int) -> None:
        self.source, self.info, self.frame_count = Path(source), info, frame_count
        self._readers: list[AudioSegmentReader] = []
        self.started = False

    def __enter__(self) -> RangeAudio:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self, time: Fraction) -> None:
        """Open every track's reader at ``time`` (seconds on the source's clock)."""
        self.started = True
        for a in self.info.audio:
            n_samples = frames_to_samples(self.frame_count, self.info.rate, a.sample_rate)
            self._readers.append(AudioSegmentReader(self.source, a, time, n_samples))

    def feed(self, writer: MediaWriter) -> None:
        """Write each track up to the duration of the video written so far."""
        for i, reader in enumerate(self._readers):
            writer.write_audio(i, reader.read(writer.audio_target(i) - writer.samples_written[i]))

    def flush(self, writer: MediaWriter) -> None:
        """Write what is left of every track (call after the last frame)."""
        for i, reader in enumerate(self._readers):
            writer.write_audio(i, reader.read(reader.remaining))

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers = []


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
    timecode = info.timecode_or_zero + frame_range.start
    writer = MediaWriter(
        out,
        fmt,
        width=info.width,
        height=info.height,
        rate=info.rate,
        timecode=timecode,
        first_frame=frame_range.start,
        audio=audio_tracks(info),
        rotation=info.rotation,
        color=color_tags(info),
        sources=[source],
        overwrite=overwrite,
        metadata={"comment": f"RIVER NLE: {source.name} frames {frame_range} at {format_rate(info.rate)}"},
    )
    with RangeAudio(source, info, n) as audio, VideoReader(source, info) as reader, writer:
        for k, frame in enumerate(reader.frames(frame_range, cancel=cancel)):
            if k == 0:
                audio.start(frame.time)
            image = frame.image
            if writer.format.alpha:  # an extract is opaque
                image = np.dstack((image, np.full(image.shape[:2], 255, np.uint8)))
            writer.write_video(image)
            audio.feed(writer)
            report(progress, "extract", k + 1, n)
        audio.flush(writer)
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
