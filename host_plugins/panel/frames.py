"""Frame-exact pictures of a video file for the panel, decoded with PyAV off the UI thread.

Frame ``i`` is the ``i``-th frame the decoder outputs, found by its timestamp: its index is
``round((pts - first_pts) · time_base · rate)`` in exact Fractions, never float seconds. Random access
seeks to the keyframe at or before the frame and decodes forward; the next frame in order is decoded
without seeking; a small LRU cache serves steps back and forth.

    >>> with MediaFrames(Path("dog_3s.mp4"), max_width=640) as media:  # doctest: +SKIP
    ...     media.rate, media.frames, media.start_timecode, media.image(42).size()
    (Fraction(30000, 1001), 90, '00:00:00:00', PySide6.QtCore.QSize(640, 360))

The panel never calls :meth:`MediaFrames.image` on the UI thread: :class:`FrameLoader` owns a
MediaFrames in a background thread and hands pictures back through a Qt signal.

PyAV is optional on the host side, so it is imported inside the functions that need it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, SignalInstance
from PySide6.QtGui import QImage

from host_plugins.otio.probe import MediaProbeError, probe_media

if TYPE_CHECKING:
    from collections.abc import Iterator

    from av.video.frame import VideoFrame

__all__ = ["FrameIndexError", "FrameLoader", "MediaFrames", "MediaFramesError", "MediaInfo", "smpte"]


class MediaFramesError(Exception):
    """A file that cannot give the asked picture; ``str()`` is one line naming the file and why."""


class FrameIndexError(MediaFramesError, IndexError):
    """A frame index outside ``[0, frames)``."""


@dataclass(frozen=True)
class MediaInfo:
    """What the panel needs to know of a video file before any picture arrives."""

    path: Path
    rate: Fraction  # exact, e.g. Fraction(30000, 1001)
    frames: int  # decodable frames, counted by timestamp
    width: int  # of the stored picture
    height: int
    start_timecode: str  # as stored, '00:00:00:00' when the file has none; ';' marks drop frame
    start_frame: int  # the start timecode as a frame count at `rate`

    @property
    def drop_frame(self) -> bool:
        return ";" in self.start_timecode and _drop_per_minute(self.rate) > 0

    def timecode(self, index: int) -> str:
        """The source timecode of frame ``index`` of this file."""
        return smpte(self.start_frame + index, self.rate, drop_frame=self.drop_frame)


def _drop_per_minute(rate: Fraction) -> int:
    """Frame numbers drop-frame timecode skips each minute: 2 at 30000/1001, 4 at 60000/1001, else 0."""
    if rate.denominator == 1001 and rate.numerator % 30000 == 0:
        return 2 * rate.numerator // 30000
    return 0


def smpte(frame: int, rate: Fraction, *, drop_frame: bool = False) -> str:
    """Frame count ``frame`` (from 00:00:00:00) as SMPTE timecode, exactly.

    Non-drop counts whole frames at the rounded rate (30 for 30000/1001); drop frame (30000/1001 and
    60000/1001 only) skips frame numbers 0 and 1 (0–3 at 60000/1001) of each minute except every tenth.

    >>> smpte(107892, Fraction(30000, 1001), drop_frame=True)
    '01:00:00;00'
    >>> smpte(1800, Fraction(30000, 1001))
    '00:01:00:00'
    """
    if frame < 0:
        raise ValueError(f"frame {frame} is before 00:00:00:00")
    nominal = round(rate)
    drop = _drop_per_minute(rate) if drop_frame else 0
    if drop:
        per_ten = nominal * 600 - 9 * drop  # 17982 at 30000/1001
        per_minute = nominal * 60 - drop  # 1798
        tens, rest = divmod(frame, per_ten)
        frame += 9 * drop * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    seconds, ff = divmod(frame, nominal)
    minutes, ss = divmod(seconds, 60)
    hours, mm = divmod(minutes, 60)
    return f"{hours % 24:02d}:{mm:02d}:{ss:02d}{';' if drop else ':'}{ff:02d}"


class MediaFrames:
    """One video file, frame by frame. Not thread-safe: one thread at a time (see FrameLoader).

    ``max_width`` scales pictures wider than it down (aspect kept) for speed; ``width`` and
    ``height`` stay those of the file.
    """

    FORWARD = 24  # decode on instead of seeking when the wanted frame is at most this far ahead

    def __init__(self, path: Path | str, *, max_width: int | None = None, cache_size: int = 24) -> None:
        self.path = Path(path)
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self.max_width = max_width
        self._cache_size = cache_size
        self._container = None
        self._frames_iter: Iterator[VideoFrame] | None = None
        self._next_index: int | None = None  # index of the frame the decoder gives next, if known
        self._interrupted = False
        try:
            facts = probe_media(self.path)
        except MediaProbeError as exc:
            raise MediaFramesError(str(exc)) from None
        if facts is None:
            why = "PyAV is not installed: pip install av"
            raise MediaFramesError(f"{self.path}: cannot decode video ({why})")
        self.rate = facts.rate
        self.start_timecode = facts.timecode or "00:00:00:00"
        self._start_frame = facts.start_frame
        self._open()

    # -- opening ---------------------------------------------------------------------------------------

    def _open(self) -> None:
        import av  # lazily: the host side imports without PyAV

        try:
            self._container = av.open(os.fspath(self.path))
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            self.width = self._stream.codec_context.width
            self.height = self._stream.codec_context.height
            self._time_base = Fraction(self._stream.time_base)
            self._first_pts = self._find_first_pts()
            self.frames = self._count_frames()
        except (av.FFmpegError, IndexError) as exc:
            self.close()
            raise MediaFramesError(f"{self.path}: cannot decode video ({_why(exc)})") from None
        except MediaFramesError:
            self.close()
            raise

    def _find_first_pts(self) -> int:
        for frame in self._container.decode(self._stream):
            pts = _pts(frame)
            if pts is None:
                raise MediaFramesError(f"{self.path}: cannot decode video (its frames have no timestamps)")
            return pts
        raise MediaFramesError(f"{self.path}: cannot decode video (no decodable video frames)")

    def _count_frames(self) -> int:
        """One past the index of the frame with the largest timestamp, found by demuxing the tail.

        The tail counts once it holds a keyframe: the last frame shown is in the last group of
        pictures (B-frames reorder only within it)."""
        duration = self._container.duration  # in AV_TIME_BASE (microseconds); None for some formats
        end = self._first_pts + round(Fraction(duration or 0, 1_000_000) / self._time_base)
        back_seconds = 1
        while True:
            target = end - round(back_seconds / self._time_base)
            self._seek(target)
            demuxed = self._container.demux(self._stream)
            packets = [p for p in demuxed if p.pts is not None and not p.is_discard]
            if target <= self._first_pts or any(p.is_keyframe for p in packets):
                break
            back_seconds *= 4
        self._frames_iter = None  # the next picture seeks
        if not packets:
            raise MediaFramesError(f"{self.path}: cannot decode video (no video packets)")
        return self.index_of(max(p.pts for p in packets)) + 1

    def _seek(self, pts: int) -> None:
        """Seek to the keyframe at or before ``pts``; at or before the first frame, to the start (an
        MPEG-TS demuxer seeks by bytes and would land after it)."""
        self._container.seek(pts if pts > self._first_pts else min(0, self._first_pts), stream=self._stream)

    @property
    def max_width(self) -> int | None:
        return self._max_width

    @max_width.setter
    def max_width(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError(f"`max_width` must be a positive number of pixels, not {value!r}")
        if value != getattr(self, "_max_width", None):
            self._cache.clear()  # pictures of the old size
        self._max_width = value

    # -- time ------------------------------------------------------------------------------------------

    @property
    def info(self) -> MediaInfo:
        return MediaInfo(
            self.path, self.rate, self.frames, self.width, self.height, self.start_timecode, self._start_frame
        )

    def index_of(self, pts: int) -> int:
        """The frame index of timestamp ``pts`` (in the stream's time base)."""
        return round((pts - self._first_pts) * self._time_base * self.rate)

    def pts_of(self, index: int) -> int:
        """The timestamp of frame ``index`` (the nearest tick of the stream's time base)."""
        return self._first_pts + round(index / self.rate / self._time_base)

    # -- pictures --------------------------------------------------------------------------------------

    def image(self, index: int) -> QImage:
        """Frame ``index`` as an RGB888 QImage (scaled to ``max_width`` when set)."""
        if not 0 <= index < self.frames:
            raise FrameIndexError(f"{self.path}: frame {index} is out of range (the file has {self.frames})")
        if self._container is None:
            raise MediaFramesError(f"{self.path}: cannot decode video (it is closed)")
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        import av

        try:
            image = self._to_qimage(self._decode(index))
        except av.FFmpegError as exc:
            self._frames_iter = None
            raise MediaFramesError(f"{self.path}: cannot decode frame {index} ({_why(exc)})") from None
        self._cache[index] = image
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return image

    def _decode(self, index: int) -> VideoFrame:
        ahead = index - self._next_index if self._next_index is not None else -1
        if self._frames_iter is not None and 0 <= ahead <= self.FORWARD:
            found = self._decode_forward(index)
            if found is not None:
                return found
        # Seek to the keyframe at or before the frame. A demuxer that indexes by decode time (MP4
        # with B-frames) or seeks by bytes (MPEG-TS) can land after it: then seek further back.
        back_seconds = 0
        while True:
            back = round(back_seconds / self._time_base)
            target = self.pts_of(index) - back
            self._seek(target)
            self._frames_iter = self._container.decode(self._stream)
            self._next_index = None
            found = self._decode_forward(index)
            if found is not None:
                return found
            if target <= self._first_pts:
                raise MediaFramesError(
                    f"{self.path}: cannot decode frame {index} (the decoder never gives it; "
                    f"the file has {self.frames} frames by timestamp)"
                )
            back_seconds = max(1, 4 * back_seconds)

    def _decode_forward(self, index: int) -> VideoFrame | None:
        """Decode on to frame ``index``; None when the decoder passes it or ends first."""
        assert self._frames_iter is not None
        for frame in self._frames_iter:
            if self._interrupted:
                self._frames_iter = None
                raise MediaFramesError(f"{self.path}: decoding was interrupted")
            pts = _pts(frame)
            if pts is None:
                continue
            got = self.index_of(pts)
            self._next_index = got + 1
            if got == index:
                return frame
            if got > index:
                return None
        self._frames_iter = None
        self._next_index = None
        return None

    def _to_qimage(self, frame: VideoFrame) -> QImage:
        width, height = frame.width, frame.height
        if self.max_width is not None and width > self.max_width:
            width, height = self.max_width, max(1, round(height * self.max_width / width))
        rgb = frame.reformat(width=width, height=height, format="rgb24")
        plane = rgb.planes[0]
        return QImage(bytes(plane), width, height, plane.line_size, QImage.Format.Format_RGB888).copy()

    # -- lifetime --------------------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Make the :meth:`image` call in progress (on another thread) stop at the next frame it
        decodes, with MediaFramesError; later calls too. For closing without waiting on a long seek."""
        self._interrupted = True

    def close(self) -> None:
        self._frames_iter = None
        if self._container is not None:
            self._container.close()
            self._container = None
        self._cache.clear()

    def __enter__(self) -> MediaFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MediaFrames({str(self.path)!r}, rate={self.rate}, frames={getattr(self, 'frames', '?')})"


def _pts(frame: VideoFrame) -> int | None:
    return frame.pts if frame.pts is not None else frame.dts


def _why(exc: BaseException) -> str:
    return " ".join((getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).split())


BACKGROUND_NICE = 10  # how much lower than the UI thread the decoding runs (Linux)


def background_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: per thread, and FFmpeg's decoder threads started
    from it inherit it), so decoding never takes a core from the UI thread. Elsewhere, and where the
    OS refuses, nothing changes."""
    if not sys.platform.startswith("linux"):
        return  # macOS and Windows would lower the whole process
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE)
    except OSError:
        pass


class FrameLoader(QObject):
    """Decodes one file's pictures on a background thread; the latest request wins.

    Open and every decode happen on the thread, so the UI thread never waits on PyAV. Signals arrive
    on the thread the loader lives in (the UI thread): ``opened(MediaInfo)`` once, then
    ``frame_ready(index, QImage)`` (Format_RGB32, ready to paint) per request served, and
    ``failed(message)`` for a file that cannot be opened or a frame that cannot be decoded. The thread
    starts with :meth:`start` or the first :meth:`request`, so connect the signals first. Call
    :meth:`close` when done (the viewer does).

        loader = FrameLoader(path, max_width=1280)
        loader.frame_ready.connect(show)
        loader.request(12)  # starts the thread; served once the file is open
    """

    opened = Signal(object)
    frame_ready = Signal(int, QImage)
    failed = Signal(str)

    def __init__(
        self, path: Path | str, *, max_width: int | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.info: MediaInfo | None = None
        self._max_width = max_width
        self._wake = threading.Condition()
        self._wanted: int | None = None
        self._stopping = False
        self._media: MediaFrames | None = None  # the thread's, once open
        self._thread = threading.Thread(target=self._run, name=f"frames:{self.path.name}", daemon=True)

    def start(self) -> None:
        """Open the file on the background thread (then `opened` or `failed`). Idempotent."""
        with self._wake:
            if self._thread.ident is None and not self._stopping:
                self._thread.start()

    def request(self, index: int) -> None:
        """Ask for frame ``index``; replaces any request not yet started."""
        with self._wake:
            self._wanted = index
            self._wake.notify()
        self.start()

    @property
    def max_width(self) -> int | None:
        return self._max_width

    def set_max_width(self, width: int | None) -> None:
        """Scale later pictures to at most ``width`` pixels (e.g. the widget's width in device pixels)."""
        if width is not None and width < 1:
            raise ValueError(f"`width` must be a positive number of pixels, not {width!r}")
        with self._wake:
            self._max_width = width

    def close(self) -> None:
        """Stop the thread and close the file; a decode in progress stops at its next frame, so this
        waits about one frame's decode. Idempotent."""
        with self._wake:
            self._stopping = True
            if self._media is not None:
                self._media.interrupt()  # a long seek stops at its next frame: close() waits ~1 frame
            self._wake.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        background_priority()
        try:
            media = MediaFrames(self.path, max_width=self._max_width)
        except (MediaFramesError, ValueError) as exc:
            self._emit(self.failed, str(exc))
            return
        with media:
            self.info = media.info
            with self._wake:
                if self._stopping:
                    return
                self._media = media
            self._emit(self.opened, media.info)
            while True:
                with self._wake:
                    while self._wanted is None and not self._stopping:
                        self._wake.wait()
                    if self._stopping:
                        return
                    index, self._wanted = self._wanted, None
                    media.max_width = self._max_width
                try:
                    # RGB32 is the screen's layout: the UI thread then paints without converting.
                    image = media.image(index).convertToFormat(QImage.Format.Format_RGB32)
                except MediaFramesError as exc:
                    self._emit(self.failed, str(exc))
                    continue
                self._emit(self.frame_ready, index, image)

    def _emit(self, signal: SignalInstance, *args: object) -> None:
        if self._stopping:
            return
        try:
            signal.emit(*args)
        except RuntimeError:  # the loader was deleted without close(): nobody is listening
            self._stopping = True
