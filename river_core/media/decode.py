"""Frame-accurate, streamed decoding of a frame range as uint8 RGB.

Seeking lands on the keyframe at or before the target; the reader decodes forward and drops
frames until the first wanted one, so ``frames(FrameRange(30, 120))`` yields exactly source
frames 30…119, one at a time (never the whole clip in memory).

>>> with VideoReader("clip.mp4") as reader:                      # doctest: +SKIP
...     for frame in reader.frames(FrameRange(30, 120)):
...         frame.index, frame.image.shape
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np
from av.video.reformatter import Colorspace, Interpolation

from river_core.errors import MediaError
from river_core.media.geometry import Placement
from river_core.media.probe import MediaInfo, _ffmpeg_reason, check_media_path, pick_video_stream, probe
from river_core.media.rational import FrameRange, round_half_up
from river_core.progress import CancelToken, check

# Frames tagged "unspecified" follow the usual convention: HD and larger are BT.709, SD is BT.601.
_HD_MIN_HEIGHT = 720


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: its source frame number, presentation time and RGB pixels (H×W×3 uint8)."""

    index: int
    time: Fraction
    image: np.ndarray


class VideoReader:
    """Reads frame ranges of one media file; reuse it for several ranges of the same clip."""

    def __init__(
        self, path: Path | str, info: MediaInfo | None = None, *, threads: int = 0, scale_threads: int = 1
    ) -> None:
        """``threads``: decoder threads (0 = one per core). ``scale_threads``: swscale threads; the
        frame-threaded decoder already keeps every core busy, and a slice-threaded scaler on top only
        contends with it (measured on 2 cores: 417 fps with 1 thread vs 235 fps with automatic)."""
        self.path = check_media_path(path)
        self.info = info or probe(self.path)
        self._threads, self._scale_threads = threads, scale_threads
        self._open()

    def _open(self) -> None:
        try:
            self._container = av.open(str(self.path), mode="r")
        except av.error.FFmpegError as exc:
            raise MediaError(f"{self.path} cannot be opened ({_ffmpeg_reason(exc)})") from None
        self._stream = pick_video_stream(self._container, self.path)
        cc = self._stream.codec_context
        cc.thread_type = "AUTO"
        cc.thread_count = self._threads
        self._tb = Fraction(self._stream.time_base or Fraction(1, 90000))
        self._start_pts = self._stream.start_time or 0

    def _rewind(self) -> None:
        """Back to the first frame. Reopening is the one way that works for every demuxer: seeking
        to the start of an MPEG-TS without an index can land where nothing decodes."""
        self._container.close()
        self._open()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frames(
        self,
        frame_range: FrameRange | None = None,
        *,
        fit: Placement | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[DecodedFrame]:
        """Yield the frames of ``frame_range`` (default: the whole clip) in order, as RGB.

        With ``fit`` each frame is resized straight from YUV into the placement's content box
        (one swscale pass) and padded into the model canvas.
        """
        frame_range = frame_range or FrameRange(0, self.info.frame_count)
        frame_range.check_within(self.info.frame_count)
        if fit is not None and (fit.src_w, fit.src_h) != (self.info.width, self.info.height):
            raise MediaError(
                f"placement expects a {fit.src_w}×{fit.src_h} source but {self.path} is "
                f"{self.info.width}×{self.info.height}"
            )
        source = self._decode_counted if self.info.variable_frame_rate else self._decode_timed
        expected = frame_range.start
        for index, frame in source(frame_range.start):
            check(cancel)
            if index < expected:
                continue
            if index > expected:
                raise MediaError(
                    f"{self.path}: frames {expected}–{index - 1} are missing from the stream "
                    "(a timestamp gap); conform the clip in your NLE or re-export it"
                )
            yield DecodedFrame(index, self._time_of(frame, index), self._to_rgb(frame, fit))
            expected += 1
            if expected == frame_range.end:
                return
        raise MediaError(
            f"{self.path} ended after frame {expected - 1}, but {self.info.frame_count} frames were "
            f"announced and frames up to {frame_range.end - 1} were asked for; the file is truncated"
        )

    def read(self, frame_range: FrameRange, *, fit: Placement | None = None) -> np.ndarray:
        """Decode a (short) range into one ``[N, H, W, 3]`` array."""
        return np.stack([f.image for f in self.frames(frame_range, fit=fit)])

    # -- decoding strategies -------------------------------------------------------------------

    def _decode_timed(self, start: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """CFR: seek near ``start`` and number frames by presentation time."""
        if start > 0:
            self._seek(self._start_pts + round_half_up(Fraction(start) / self.info.rate / self._tb))
            numbered = self._numbered(self._decode())
            first = next(numbered, None)
            if first is not None and first[0] <= start:
                yield first
                yield from numbered
                return
            # The demuxer landed past the target, or where nothing decodes (no keyframe follows the
            # seek point, as in an index-less MPEG-TS): decode from the top instead.
        self._rewind()
        yield from self._numbered(self._decode())

    def _numbered(self, frames: Iterator[av.VideoFrame]) -> Iterator[tuple[int, av.VideoFrame]]:
        index = -1
        for frame in frames:
            pts = frame.pts if frame.pts is not None else frame.dts
            index = index + 1 if pts is None else self._index_of(pts)
            yield index, frame

    def _decode_counted(self, start: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """VFR: timestamps do not map to frame numbers, so decode from the top and count."""
        self._rewind()
        yield from enumerate(self._decode())

    def _seek(self, pts: int) -> None:
        try:
            self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as exc:
            raise MediaError(f"{self.path}: seeking failed ({_ffmpeg_reason(exc)})") from None
        self._stream.codec_context.flush_buffers()

    def _decode(self) -> Iterator[av.VideoFrame]:
        try:
            for packet in self._container.demux(self._stream):
                yield from packet.decode()
        except av.error.FFmpegError as exc:
            raise MediaError(f"{self.path} is corrupt: decoding failed ({_ffmpeg_reason(exc)})") from None

    def _index_of(self, pts: int) -> int:
        return round_half_up((pts - self._start_pts) * self._tb * self.info.rate)

    def _time_of(self, frame: av.VideoFrame, index: int) -> Fraction:
        if self.info.variable_frame_rate and frame.pts is not None:
            return Fraction(frame.pts) * self._tb
        return self.info.video_start_time + Fraction(index) / self.info.rate

    def _to_rgb(self, frame: av.VideoFrame, fit: Placement | None) -> np.ndarray:
        colorspace = source_colorspace(frame)
        if fit is None:
            return frame.to_ndarray(format="rgb24", src_colorspace=colorspace, threads=self._scale_threads)
        shrinking = fit.content_w * fit.content_h < frame.width * frame.height
        content = frame.reformat(
            width=fit.content_w,
            height=fit.content_h,
            format="rgb24",
            src_colorspace=colorspace,
            interpolation=Interpolation.AREA if shrinking else Interpolation.BICUBIC,
            threads=self._scale_threads,
        ).to_ndarray()
        return fit.pad(content)


def source_colorspace(frame: av.VideoFrame) -> Colorspace:
    """The YUV matrix of ``frame``: its tag, or BT.709 for untagged HD and BT.601 for untagged SD."""
    tagged = int(frame.colorspace)
    if tagged == 1:
        return Colorspace.ITU709
    if tagged in (5, 6):
        return Colorspace.ITU601
    if tagged == 9:
        return Colorspace.BT2020
    return Colorspace.ITU709 if frame.height >= _HD_MIN_HEIGHT else Colorspace.ITU601


def read_frames(path: Path | str, frame_range: FrameRange, *, fit: Placement | None = None) -> np.ndarray:
    """Convenience: decode a short range of ``path`` into ``[N, H, W, 3]`` uint8."""
    with VideoReader(path) as reader:
        return reader.read(frame_range, fit=fit)
