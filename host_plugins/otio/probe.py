"""What a media file is, in the terms a timeline checks: exact rate, frame count, start timecode.

PyAV is optional on the host side: it is imported inside the functions that need it, and
:func:`probe_media` returns None when it is not installed, so callers go on unverified.

    >>> facts = probe_media(Path("dog_3s.mp4"))  # doctest: +SKIP
    >>> facts.rate, facts.frames, facts.start_frame, facts.timecode  # doctest: +SKIP
    (Fraction(30000, 1001), 90, 0, '00:00:00:00')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from opentimelineio import opentime

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = ["MediaFacts", "MediaProbeError", "probe_media", "pyav_available"]


class MediaProbeError(Exception):
    """A file that cannot serve as video; ``str()`` is one line naming the file and why."""


@dataclass(frozen=True)
class MediaFacts:
    path: Path  # the probed file, resolved
    rate: Fraction  # exact average video rate, e.g. Fraction(30000, 1001)
    frames: int  # number of video frames
    start_frame: int  # the start timecode as a frame count at `rate` (0 when the file has none)
    timecode: str  # the start timecode as stored ('' when none); ';' marks drop frame


# (resolved path, mtime_ns, size) -> what probing found, failures included: a timeline with 2,000
# clips cut from one file probes it once, and a bad file is not reopened for every clip.
_CACHE: dict[tuple[str, int, int], MediaFacts | MediaProbeError] = {}


def pyav_available() -> bool:
    """Whether PyAV can be imported (the host extra does not install it)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def probe_media(path: Path) -> MediaFacts | None:
    """The facts of the first video stream of ``path``; None when PyAV is not installed.

    Raises MediaProbeError for a missing, unreadable or non-video file.
    """
    if not pyav_available():
        return None
    try:
        resolved = Path(path).resolve()
        stat = resolved.stat()
    except OSError as exc:
        raise MediaProbeError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    found = _CACHE.get(key)
    if found is None:
        try:
            found = _probe(resolved)
        except MediaProbeError as exc:
            found = exc
        _CACHE[key] = found
    if isinstance(found, MediaProbeError):
        raise found
    return found


def _probe(path: Path) -> MediaFacts:
    import av  # lazily: the host side imports without PyAV

    try:
        container = av.open(os.fspath(path))
    except (av.FFmpegError, OSError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise MediaProbeError(f"{path}: not a video file ({why})") from exc
    with container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise MediaProbeError(f"{path}: not a video file (no video stream; has {kinds})")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise MediaProbeError(f"{path}: not a video file (its video stream has no frame rate)")
        rate = Fraction(rate)
        frames = _frame_count(path, stream, container, rate)
        timecode = _stored_timecode(stream, container)
    start_frame = _timecode_frames(path, timecode, rate) if timecode else 0
    return MediaFacts(path=path, rate=rate, frames=frames, start_frame=start_frame, timecode=timecode)


def _frame_count(path: Path, stream: VideoStream, container: InputContainer, rate: Fraction) -> int:
    if stream.frames and stream.frames > 0:
        return int(stream.frames)
    # Matroska/WebM store no frame count: take the stream's duration, else the container's.
    if stream.duration and stream.time_base:
        seconds = Fraction(stream.duration) * Fraction(stream.time_base)
    elif container.duration:
        seconds = Fraction(container.duration, 1_000_000)  # AV_TIME_BASE
    else:
        raise MediaProbeError(f"{path}: not a video file (no frame count and no duration)")
    return round(seconds * rate)


def _stored_timecode(stream: VideoStream, container: InputContainer) -> str:
    """The 'timecode' tag of the video stream, then the container's, then any other stream's
    (a QuickTime tmcd track); Matroska writes the key in capitals."""
    sources = [stream.metadata, container.metadata, *(s.metadata for s in container.streams)]
    for metadata in sources:
        for key, value in metadata.items():
            if key.lower() == "timecode" and value.strip():
                return value.strip()
    return ""


_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2}):(\d{2,3})$")


def _timecode_frames(path: Path, timecode: str, rate: Fraction) -> int:
    try:
        # OpenTimelineIO takes the rate as a float; float(Fraction(30000, 1001)) is the value it
        # recognises as 29.97 (drop frame with ';'), so the conversion happens only here.
        value = opentime.from_timecode(timecode, float(rate)).value
    except ValueError as exc:
        # OTIO knows only the SMPTE rates; non-drop timecode at other rates (15, 12.5, 120 fps)
        # counts in whole frames per second at the rounded rate, as FFmpeg writes it.
        match = _TIMECODE.match(timecode)
        if match is None:
            raise MediaProbeError(
                f"{path}: unreadable start timecode {timecode!r} at {rate} fps ({exc})"
            ) from exc
        hours, minutes, seconds, frame = (int(g) for g in match.groups())
        nominal = round(rate)
        if frame >= nominal:
            raise MediaProbeError(
                f"{path}: unreadable start timecode {timecode!r}: frame {frame} at {rate} fps"
            ) from exc
        return ((hours * 60 + minutes) * 60 + seconds) * nominal + frame
    if value != int(value):
        raise MediaProbeError(f"{path}: start timecode {timecode!r} is not a whole frame at {rate} fps")
    return int(value)
