"""Sample-accurate audio for a video frame range.

:class:`AudioSegmentReader` yields exactly the samples that play under a range of video frames:
it starts at the first frame's presentation time on the container's clock, spans
``frames_to_samples(len(range))`` samples, and fills any part the stream does not cover with
silence, so the output's audio always has the video's duration.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np

from river_core.errors import MediaError
from river_core.media.probe import AudioStreamInfo, _ffmpeg_reason
from river_core.media.rational import round_half_up

# Decode from this far before the first wanted sample: an AAC/MP3 frame right after a seek lacks
# its overlap-add predecessor and would be slightly wrong.
_PREROLL = Fraction(1, 5)


class AudioSegmentReader:
    """Reads ``n_samples`` samples of one audio stream starting at ``start_time`` (seconds).

    ``read(n)`` returns float32 ``[channels, n]``; call it until the segment is consumed.
    """

    def __init__(self, path: Path, stream: AudioStreamInfo, start_time: Fraction, n_samples: int) -> None:
        self.path = path
        self.info = stream
        self.sample_rate = stream.sample_rate
        self.channels = stream.channels
        self.n_samples = n_samples
        self._first = round_half_up(start_time * self.sample_rate)  # absolute sample number
        self._cursor = self._first
        self._end = self._first + n_samples
        self._pending: tuple[int, np.ndarray] | None = None  # a chunk read but not yet consumed
        try:
            self._container = av.open(str(path), mode="r")
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path} cannot be opened for audio ({_ffmpeg_reason(exc)})") from None
        audio_stream = self._container.streams[stream.index]
        assert isinstance(audio_stream, av.audio.stream.AudioStream)
        self._stream = audio_stream
        self._tb = Fraction(audio_stream.time_base or Fraction(1, self.sample_rate))
        self._resampler = av.AudioResampler(format="fltp", layout=audio_stream.codec_context.layout)
        # A clock coarser than one sample (Matroska's milliseconds) cannot say where a chunk found
        # by seeking starts; only counting from the top can. PCM is cheap to read, so do that.
        coarse_clock = self._tb * self.sample_rate > 1
        seek_time = max(Fraction(0), start_time - _PREROLL)
        if seek_time > 0 and not coarse_clock:
            self._container.seek(round_half_up(seek_time / self._tb), stream=self._stream, backward=True)
        self._frames = self._decode()
        self._exhausted = False

    def __enter__(self) -> AudioSegmentReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    @property
    def remaining(self) -> int:
        return self._end - self._cursor

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` samples (fewer only at the end of the segment), silence where none exist."""
        n = max(0, min(n, self.remaining))
        out = np.zeros((self.channels, n), dtype=np.float32)
        filled = 0
        while filled < n:
            chunk_start, chunk = self._next_chunk()
            if chunk is None:
                break  # the stream ended: the rest stays silent
            want_from = self._cursor + filled
            if chunk_start > want_from:
                # A gap before this chunk: leave silence and keep the chunk for later.
                gap = min(chunk_start - want_from, n - filled)
                filled += gap
                self._pending = (chunk_start, chunk)
                continue
            skip = want_from - chunk_start
            usable = chunk[:, skip:]
            take = min(usable.shape[1], n - filled)
            out[:, filled : filled + take] = usable[:, :take]
            filled += take
            if take < usable.shape[1]:
                self._pending = (want_from + take, usable[:, take:])
        self._cursor += n
        return out

    def _next_chunk(self) -> tuple[int, np.ndarray | None]:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        while not self._exhausted:
            try:
                start, chunk = next(self._frames)
            except StopIteration:
                self._exhausted = True
                break
            if start + chunk.shape[1] <= self._cursor:
                continue  # entirely before what we still need (pre-roll)
            return start, chunk
        return 0, None

    def _decode(self) -> Iterator[tuple[int, np.ndarray]]:
        """Decoded chunks with their absolute sample positions.

        Timestamps place the first chunk after the seek; after that samples are counted, and a
        timestamp is trusted only when it disagrees with the count by more than one tick of the
        stream's clock (a real gap or overlap). Matroska stores milliseconds: 1602 samples at 48 kHz
        come back as 33 ms, and trusting every rounded stamp would shift chunks by up to 24 samples.
        """
        slack = int(self._tb * self.sample_rate) + 1
        position: int | None = None
        try:
            for packet in self._container.demux(self._stream):
                for frame in packet.decode():
                    assert isinstance(frame, av.AudioFrame)
                    if frame.pts is not None:
                        stamped = round_half_up(Fraction(frame.pts) * self._tb * self.sample_rate)
                        if position is None or abs(stamped - position) > slack:
                            position = stamped
                    elif position is None:
                        position = 0
                    for plain in self._resampler.resample(frame):
                        data = plain.to_ndarray().reshape(self.channels, -1).astype(np.float32, copy=False)
                        yield position, data
                        position += data.shape[1]
        except av.error.FFmpegError as exc:
            raise MediaError(
                f"{self.path}: audio stream {self.info.index} is corrupt ({_ffmpeg_reason(exc)})"
            ) from None
