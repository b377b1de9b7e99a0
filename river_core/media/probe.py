"""What a media file holds, in rational time: ``probe(path) -> MediaInfo``.

Every way a file can be unusable (missing, empty, not media, audio only, a still image, truncated)
becomes one :class:`~river_core.errors.MediaError` line that names the file and the remedy.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from river_core.errors import MediaError, MediaNotFoundError
from river_core.media.rational import Timecode, format_rate, snap_rate

# Demuxers that read single images; a file they open is a still, not a clip.
_IMAGE_FORMAT_SUFFIXES = ("_pipe", "image2")
# How many timestamps the variable-frame-rate check looks at when it has to demux.
_VFR_SCAN_LIMIT = 3000

_COLORSPACES = {1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc"}
_RANGES = {0: "unspecified", 1: "tv", 2: "pc"}


@dataclass(frozen=True)
class AudioStreamInfo:
    """One audio stream: its codec and layout, and where it starts on the container's clock."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    sample_format: str
    start_time: Fraction
    duration_samples: int | None
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "codec": self.codec,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "layout": self.layout,
            "sample_format": self.sample_format,
            "start_time": format_rate(self.start_time),
            "duration_samples": self.duration_samples,
            "language": self.language,
        }


@dataclass(frozen=True)
class MediaInfo:
    """A probed media file. ``rate`` is exact; ``frame_count`` counts decodable video frames."""

    path: Path
    container: str
    size_bytes: int
    video_index: int
    codec: str
    profile: str | None
    width: int
    height: int
    pix_fmt: str
    rate: Fraction
    frame_count: int
    video_start_time: Fraction
    start_timecode: Timecode | None
    timecode_source: str | None
    rotation: int
    variable_frame_rate: bool
    colorspace: str
    color_range: str
    audio: tuple[AudioStreamInfo, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> Fraction:
        """Exact duration in seconds of ``frame_count`` frames at ``rate``."""
        return Fraction(self.frame_count) / self.rate

    @property
    def display_size(self) -> tuple[int, int]:
        """Width × height as shown, after the rotation metadata is applied."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    @property
    def timecode_or_zero(self) -> Timecode:
        """The start timecode, or 00:00:00:00 at this rate when the file carries none."""
        return self.start_timecode or Timecode(0, self.rate)

    def to_json(self) -> dict[str, Any]:
        tc = self.start_timecode
        return {
            "path": str(self.path),
            "container": self.container,
            "size_bytes": self.size_bytes,
            "video_stream": self.video_index,
            "codec": self.codec,
            "profile": self.profile,
            "width": self.width,
            "height": self.height,
            "display_width": self.display_size[0],
            "display_height": self.display_size[1],
            "pix_fmt": self.pix_fmt,
            "rate": format_rate(self.rate),
            "frame_count": self.frame_count,
            "duration": format_rate(self.duration),
            "start_time": format_rate(self.video_start_time),
            "start_timecode": str(tc) if tc else None,
            "drop_frame": tc.drop_frame if tc else None,
            "timecode_source": self.timecode_source,
            "rotation": self.rotation,
            "variable_frame_rate": self.variable_frame_rate,
            "colorspace": self.colorspace,
            "color_range": self.color_range,
            "audio": [a.to_json() for a in self.audio],
            "warnings": list(self.warnings),
        }


def check_media_path(path: Path | str) -> Path:
    """Fail early, with one clear line, on paths that cannot be media files."""
    path = Path(path)
    if not path.exists():
        raise MediaNotFoundError(f"media file {path} does not exist; check the path")
    if path.is_dir():
        raise MediaError(f"{path} is a directory, not a media file")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except PermissionError:
        raise MediaError(f"media file {path} cannot be read: permission denied") from None
    if size == 0:
        raise MediaError(
            f"media file {path} is empty (0 bytes); it was probably not fully copied or exported"
        )
    return path


@contextlib.contextmanager
def open_input(path: Path | str) -> Iterator[av.container.InputContainer]:
    """Open a media file for reading, translating FFmpeg's errors into :class:`MediaError`."""
    path = check_media_path(path)
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise MediaError(
            f"{path} is not a media file FFmpeg can read ({_ffmpeg_reason(exc)}); "
            "check that it is a video and that it is not truncated or corrupt"
        ) from None
    try:
        yield container
    finally:
        container.close()


def pick_video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The first real video stream (not cover art), or a clear error when there is none."""
    fmt = container.format.name
    if any(fmt.endswith(sfx) for sfx in _IMAGE_FORMAT_SUFFIXES):
        raise MediaError(f"{path} is a still image ({fmt.removesuffix('_pipe')}), not a video; choose a clip")
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        if stream.codec_context is None:
            continue
        return stream
    kinds = sorted({s.type for s in container.streams})
    if "audio" in kinds:
        raise MediaError(f"{path} has audio but no video stream; choose a video clip")
    raise MediaError(
        f"{path} is not a video file (FFmpeg reads it as {container.format.long_name or fmt} with "
        f"{', '.join(kinds) or 'no'} streams); choose a video clip"
    )


def probe(path: Path | str) -> MediaInfo:
    """Describe ``path``: container, codec, size, exact rate, frame count, timecode, audio, VFR."""
    path = check_media_path(path)
    with open_input(path) as container:
        vs = pick_video_stream(container, path)
        warnings: list[str] = []
        rate = _stream_rate(vs, path)
        _check_not_truncated(vs, path)
        first = _decode_first_frame(container, vs, path)
        count, stamps = _frame_count_and_stamps(vs, path)
        vfr = _is_variable(stamps, rate, vs.time_base)
        if vfr:
            warnings.append(
                "variable frame rate: frames are numbered in decode order and timed at the average "
                f"rate {format_rate(rate)}; conform the clip to a constant rate in your NLE for exact sync"
            )
        start_time = Fraction(vs.start_time or 0) * (vs.time_base or 1)
        tc, tc_source = _start_timecode(container, vs, rate, warnings)
        if first is not None and int(first.colorspace) == 9:
            warnings.append(
                "BT.2020 (wide-gamut/HDR) source: RIVER works in 8-bit Rec.709-style RGB, so outputs will "
                "not match its colors exactly; convert to Rec.709 first for exact round trips"
            )
        cc = vs.codec_context
        rotation = round(first.rotation) % 360 if first is not None else 0
        audio = tuple(_audio_info(s) for s in container.streams.audio if s.codec_context is not None)
        return MediaInfo(
            path=path,
            container=container.format.name,
            size_bytes=path.stat().st_size,
            video_index=vs.index,
            codec=cc.name,
            profile=cc.profile,
            width=cc.width,
            height=cc.height,
            pix_fmt=cc.pix_fmt or (first.format.name if first is not None else "unknown"),
            rate=rate,
            frame_count=count,
            video_start_time=start_time,
            start_timecode=tc,
            timecode_source=tc_source,
            rotation=rotation,
            variable_frame_rate=vfr,
            colorspace=_COLORSPACES.get(int(first.colorspace), str(first.colorspace)) if first else "unknown",
            color_range=_RANGES.get(int(first.color_range), str(first.color_range)) if first else "unknown",
            audio=audio,
            warnings=tuple(warnings),
        )


def content_hash(path: Path | str) -> str:
    """``sha256:<hex>`` of the file's bytes: the identity twins and caches refer to (path-independent)."""
    path = check_media_path(path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    return (getattr(exc, "strerror", None) or str(exc)).strip().rstrip(".").lower()


def _stream_rate(vs: av.video.stream.VideoStream, path: Path) -> Fraction:
    base, avg = vs.base_rate, vs.average_rate
    rate = None
    if base and avg:
        # r_frame_rate is exact for CFR; the average also covers VFR clips where the two disagree.
        rate = (
            Fraction(base) if abs(Fraction(base) - Fraction(avg)) / Fraction(avg) < Fraction(1, 100) else avg
        )
    rate = rate or avg or base or vs.guessed_rate or vs.codec_context.framerate
    if not rate or rate <= 0:
        raise MediaError(f"{path} has no usable frame rate; re-export it with a constant frame rate")
    return snap_rate(Fraction(rate))


def _frame_count_and_stamps(vs: av.video.stream.VideoStream, path: Path) -> tuple[int, list[int]]:
    """Frame count plus presentation timestamps for the VFR check.

    MP4/MOV indexes list every sample, so no packet is read; other containers (Matroska, MPEG-TS,
    AVI...) are demuxed from the top in a container of their own.
    """
    entries = vs.index_entries
    if vs.frames and len(entries) == vs.frames:
        stamps = [entries[i].timestamp for i in range(min(len(entries), _VFR_SCAN_LIMIT))]
        return vs.frames, stamps
    count, stamps = 0, []
    with open_input(path) as container:
        try:
            for packet in container.demux(container.streams[vs.index]):
                if packet.size == 0:  # the flush packet
                    continue
                count += 1
                if packet.pts is not None and len(stamps) < _VFR_SCAN_LIMIT:
                    stamps.append(packet.pts)
        except av.error.FFmpegError as exc:
            raise MediaError(
                f"{path} is truncated or corrupt ({_ffmpeg_reason(exc)}) after {count} frames"
            ) from None
    if count == 0:
        raise MediaError(f"{path} has a video stream with no frames; it is truncated or empty")
    return count, stamps


def _check_not_truncated(vs: av.video.stream.VideoStream, path: Path) -> None:
    entries = vs.index_entries
    if not len(entries):
        return
    size = path.stat().st_size
    last = entries[len(entries) - 1]
    if last.pos >= 0 and last.pos + last.size > size:
        raise MediaError(
            f"{path} is truncated: its index points {last.pos + last.size - size} bytes past the end of "
            f"the file ({size} bytes); copy or export it again"
        )


def _decode_first_frame(
    container: av.container.InputContainer, vs: av.video.stream.VideoStream, path: Path
) -> av.VideoFrame:
    try:
        for frame in container.decode(vs):
            return frame
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: the first video frame cannot be decoded ({_ffmpeg_reason(exc)})") from None
    raise MediaError(f"{path} has a video stream but no decodable frame; it is truncated or corrupt")


def _is_variable(stamps: list[int], rate: Fraction, time_base: Fraction | None) -> bool:
    if len(stamps) < 3 or not time_base:
        return False
    ordered = sorted(stamps)
    expected = 1 / (rate * Fraction(time_base))  # ticks per frame
    tolerance = max(Fraction(3, 2), expected / 100)  # millisecond clocks round 33.37 to 33 or 34
    return any(abs((b - a) - expected) > tolerance for a, b in itertools.pairwise(ordered))


def _start_timecode(
    container: av.container.InputContainer,
    vs: av.video.stream.VideoStream,
    rate: Fraction,
    warnings: list[str],
) -> tuple[Timecode | None, str | None]:
    candidates: list[tuple[str, dict[str, str]]] = [(f"stream {vs.index}", dict(vs.metadata))]
    candidates += [(f"stream {s.index}", dict(s.metadata)) for s in container.streams if s.index != vs.index]
    candidates.append(("container", dict(container.metadata)))
    for source, tags in candidates:
        for key, value in tags.items():
            if key.lower() != "timecode":
                continue
            try:
                return Timecode.parse(value, rate), f"{source} tag"
            except Exception as exc:  # noqa: BLE001 - a bad tag is reported, not fatal
                warnings.append(f"ignored the {source} timecode tag {value!r}: {exc}")
    return None, None


def _layout_name(cc: av.audio.codeccontext.AudioCodecContext) -> str:
    """The channel layout's name; an unordered "2 channels" (Matroska PCM) becomes the default layout."""
    if cc.layout is None:
        return "unknown"
    name = cc.layout.name
    if name.endswith(" channels") or name.endswith(" channel"):
        return av.AudioLayout(f"{cc.layout.nb_channels}c").name  # "2c" is the default 2-channel layout
    return name


def _audio_info(stream: av.audio.stream.AudioStream) -> AudioStreamInfo:
    cc = stream.codec_context
    tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, cc.sample_rate or 1)
    duration = None
    if stream.duration is not None and cc.sample_rate:
        duration = round(stream.duration * tb * cc.sample_rate)
    return AudioStreamInfo(
        index=stream.index,
        codec=cc.name,
        sample_rate=cc.sample_rate,
        channels=cc.layout.nb_channels if cc.layout else cc.channels,
        layout=_layout_name(cc),
        sample_format=cc.format.name if cc.format else "unknown",
        start_time=Fraction(stream.start_time or 0) * tb,
        duration_samples=duration,
        language=stream.metadata.get("language"),
    )
