"""Reading a timeline file in any format OTIO has an adapter for, with one-line errors.

Formats (adapter packages in the ``host`` extra): OTIO's own ``.otio``/``.otioz``/``.otiod``, FCP7 XML
(``.xml``: Premiere, Resolve, Avid), FCPXML (``.fcpxml``: Final Cut Pro, Resolve), CMX 3600 EDL
(``.edl``) and AAF (``.aaf``: Avid, Resolve). An EDL holds no frame rate: it is ``rate=`` or the rate
of the first media it names that can be found.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from host_plugins.otio.rational import exact_rate, rate_text


class TimelineError(Exception):
    """A timeline that cannot be read, mapped or written: ``str()`` is one line naming the file and fix."""


@dataclass(frozen=True)
class Format:
    adapter: str
    label: str
    suffixes: tuple[str, ...]
    one_video_track: bool = False  # the format holds a single video track (EDL)
    keeps_metadata: bool = True  # OTIO metadata (metadata["river"]) survives a write and a read


FORMATS = (
    Format("otio_json", "OpenTimelineIO", (".otio",)),
    Format("otioz", "OpenTimelineIO bundle", (".otioz",)),
    Format("otiod", "OpenTimelineIO directory", (".otiod",)),
    Format("fcp_xml", "FCP7 XML", (".xml",), keeps_metadata=False),
    Format("fcpx_xml", "FCPXML", (".fcpxml",), keeps_metadata=False),
    Format("cmx_3600", "CMX 3600 EDL", (".edl",), one_video_track=True, keeps_metadata=False),
    Format("AAF", "AAF", (".aaf",), keeps_metadata=False),
)
_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}


def format_of(path: Path, *, role: str = "timeline") -> Format:
    """The format a file name says (its extension); TimelineError listing the known ones."""
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_BY_SUFFIX))
        raise TimelineError(f"{path}: {role} extension {path.suffix or '(none)'!r} is not one of {known}")
    return fmt


@dataclass
class LoadedTimeline:
    """A timeline as read: the OTIO object, the file, its format and its exact rate."""

    path: Path
    format: Format
    timeline: otio.schema.Timeline
    rate: Fraction
    notes: list[str] = field(default_factory=list)

    @property
    def media_folder(self) -> Path:
        """Where its relative media paths start: the timeline's folder (an .otiod's own folder)."""
        path = self.path.resolve()
        return path if self.format.adapter == "otiod" else path.parent

    @property
    def start_frame(self) -> int:
        """The timeline's first record frame as a frame count (01:00:00:00 at 24 fps → 86400)."""
        start = self.timeline.global_start_time
        if start is not None:
            return round(Fraction(start.value) / exact_rate(start.rate) * self.rate)
        if self.format.adapter != "cmx_3600":
            return 0
        # OTIO's EDL reader keeps the first record timecode, negated, as the start of the video track's
        # source_range (its items start at 0 there): 01:00:00:00 at 25 fps → -90000.
        first = next(iter(self.timeline.video_tracks()), None)
        if first is None or first.source_range is None:
            return 0
        start = first.source_range.start_time
        return round(-Fraction(start.value) / exact_rate(start.rate) * self.rate)


def read_timeline(
    path: Path, *, rate: Fraction | None = None, search_paths: Sequence[Path] = ()
) -> LoadedTimeline:
    """Read ``path``; ``rate`` is needed for an EDL (else the first findable media's rate is used)."""
    path = Path(path)
    if not path.exists():
        raise TimelineError(f"{path}: no such file")
    fmt = format_of(path)
    if path.is_dir() != (fmt.adapter == "otiod"):
        raise TimelineError(
            f"{path}: {'a folder' if path.is_dir() else 'a file'}, not a {fmt.label} timeline"
        )
    notes: list[str] = []
    if fmt.adapter == "cmx_3600" and rate is None:
        rate = _edl_media_rate(path, search_paths)
        notes.append(f"EDL rate {rate_text(rate)} taken from its first media (override with --rate)")
    kwargs = {"rate": float(rate)} if fmt.adapter == "cmx_3600" and rate is not None else {}
    try:
        result = _read(path, fmt, kwargs, rate)
    except TimelineError as exc:
        if fmt.adapter != "cmx_3600" or "don't match" not in str(exc):
            raise
        # Source and record durations disagree in some event: NLEs trust the record side; so do we, aloud.
        result = _read(path, fmt, {**kwargs, "ignore_timecode_mismatch": True}, rate)
        notes.append("some events' source and record durations disagree; the record durations are used")
    timeline = _the_timeline(result, path, notes)
    is_edl = fmt.adapter == "cmx_3600"
    tl_rate = _timeline_rate(timeline, rate if is_edl else None)
    if rate is not None and not is_edl and rate != tl_rate:
        raise TimelineError(
            f"{path}: --rate {rate_text(rate)} is for an EDL, which states no rate; this {fmt.label} "
            f"timeline runs at {rate_text(tl_rate)} fps: leave --rate out"
        )
    return LoadedTimeline(path=path, format=fmt, timeline=timeline, rate=tl_rate, notes=notes)


def _read(
    path: Path, fmt: Format, kwargs: dict[str, Any], rate: Fraction | None
) -> otio.core.SerializableObject:
    # The adapters log through the root logger ("Fraction(0,0) not mathematically plausible…"): quiet them.
    if fmt.adapter == "fcpx_xml":
        from host_plugins.otio.fcpx import make_exact

        make_exact()  # the adapter's reader truncates NTSC times otherwise (fcpx.py)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        return otio.adapters.read_from_file(str(path), adapter_name=fmt.adapter, **kwargs)
    except Exception as exc:  # noqa: BLE001 — adapters raise anything from KeyError to struct.error
        raise TimelineError(_read_error(path, fmt, exc, rate)) from None
    finally:
        root.setLevel(level)


def _read_error(path: Path, fmt: Format, exc: Exception, rate: Fraction | None) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 160:
        text = text[:157] + "…"
    if fmt.adapter == "cmx_3600" and "frame rate mismatch" in text.lower():
        given = f"at {rate_text(rate)} fps " if rate is not None else ""
        return (
            f"{path}: its timecodes do not fit {given}({text}); pass the EDL's frame rate, "
            "e.g. --rate 25 or --rate 30000/1001"
        )
    return f"{path}: not a readable {fmt.label} timeline ({type(exc).__name__}: {text})"


def _the_timeline(result: otio.core.SerializableObject, path: Path, notes: list[str]) -> otio.schema.Timeline:
    if isinstance(result, otio.schema.Timeline):
        return result
    found = (
        list(result.find_children(descended_from_type=otio.schema.Timeline))
        if hasattr(result, "find_children")
        else []
    )
    if not found:
        raise TimelineError(f"{path}: holds no timeline (sequence/project) to edit")
    if len(found) > 1:
        names = ", ".join(repr(t.name) for t in found[:5])
        notes.append(f"the file holds {len(found)} timelines ({names}); using the first, {found[0].name!r}")
    return found[0]


def _timeline_rate(timeline: otio.schema.Timeline, given: Fraction | None) -> Fraction:
    if given is not None:
        return given
    if timeline.global_start_time is not None:
        return exact_rate(timeline.global_start_time.rate)
    for track in timeline.video_tracks() or timeline.tracks:
        for item in track:
            if not isinstance(item, otio.schema.Transition):
                return exact_rate(item.duration().rate)
    raise TimelineError(f"{timeline.name!r}: an empty timeline has no frame rate; nothing to edit")


_EDL_SOURCE = re.compile(
    r"^\*\s*(?:SOURCE FILE|FROM CLIP NAME|FROM CLIP)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE
)


def _edl_media_rate(path: Path, search_paths: Sequence[Path] = ()) -> Fraction:
    """The rate of the first media an EDL names that exists (beside it, or by name in ``search_paths``,
    as its clips are relinked) and PyAV can read (an EDL states no rate)."""
    from host_plugins.otio.probe import MediaProbeError, probe_media
    from host_plugins.otio.relink import MediaFinder

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TimelineError(f"{path}: cannot read it ({exc.strerror})") from None
    finder = MediaFinder(path.parent, [Path(d) for d in search_paths], probe=False)
    tried = []
    for name in _EDL_SOURCE.findall(text):
        found = finder.find(name)
        if found.path is None:
            tried.append(name)
            continue
        try:
            facts = probe_media(found.path)
        except MediaProbeError:
            continue
        if facts is not None:
            return facts.rate
    why = f" (none of its media was found: {', '.join(tried[:3])})" if tried else ""
    raise TimelineError(
        f"{path}: an EDL does not say its frame rate{why}; pass it, e.g. --rate 24, --rate 25 or "
        "--rate 30000/1001"
    )
