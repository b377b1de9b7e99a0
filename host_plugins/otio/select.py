"""Selecting clips like an editor: by clip name, track, record range or marker.

``clip:NAME`` (shell wildcards: ``clip:shot_*``), ``track:NAME`` or ``track:2`` / ``track:V2``,
``range:01:00:02:00-01:00:04:00`` (record timecode, out exclusive; clips are cut to the range),
``marker:NAME`` (clips under the markers of that name — how a file-based workflow marks its
selection: timeline, track and clip markers alike), ``all``. Selectors of one kind add up
(``clip:A clip:B`` = A or B); different kinds narrow each other (``track:V2 range:…`` = the clips of
V2 in the range). The clips of RIVER's own tracks (what an edit laid back) are chosen only by a
``track:`` selector naming their track; otherwise they are listed as skipped, with that reason.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field, replace
from fractions import Fraction

import opentimelineio as otio

from host_plugins.otio.clips import ClipEntry, ClipMap
from host_plugins.otio.layback import is_river_track
from host_plugins.otio.rational import frames_at, parse_timecode
from host_plugins.otio.read import LoadedTimeline, TimelineError

KINDS = ("clip", "track", "range", "marker", "all")


class SelectionError(TimelineError):
    """A selector that cannot be parsed or a selection that matches no editable clip."""


@dataclass(frozen=True)
class Selector:
    kind: str
    value: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "all" else f"{self.kind}:{self.value}"


def parse_selector(text: str) -> Selector:
    """``"clip:shot 1"`` → Selector("clip", "shot 1"); SelectionError naming the accepted forms."""
    kind, sep, value = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind == "all" and not value.strip():
        return Selector("all")
    if kind not in KINDS or not sep or not value.strip():
        raise SelectionError(
            f"--select {text!r}: use clip:NAME, track:NAME|INDEX, range:TC-TC, marker:NAME or all"
        )
    return Selector(kind, value.strip())


@dataclass
class Selection:
    """What a selection chose: ``chosen`` (editable, in timeline order) and ``skipped`` (matched but not
    editable, each with its reason)."""

    selectors: list[Selector]
    chosen: list[ClipEntry] = field(default_factory=list)
    skipped: list[ClipEntry] = field(default_factory=list)


def select(clip_map: ClipMap, selectors: list[Selector]) -> Selection:
    """The clips ``selectors`` pick; SelectionError when none is editable (saying what there is)."""
    if not selectors:
        raise SelectionError("nothing selected: add --select all, or clip:NAME, track:…, range:…, marker:…")
    loaded = clip_map.loaded
    by_kind: dict[str, list[Selector]] = {}
    for s in selectors:
        by_kind.setdefault(s.kind, []).append(s)
    matched = list(clip_map.entries)
    for kind, group in by_kind.items():
        if kind == "all":
            continue
        if kind == "range":
            spans = [_record_span(loaded, s) for s in group]
            matched = [_cut(e, spans, loaded.rate) for e in matched if _overlaps(e.record, spans)]
            continue
        if kind == "marker":
            spans = [span for s in group for span in _marker_spans(clip_map, s.value)]
            if not spans:
                raise SelectionError(
                    f"--select marker:{group[0].value}: no marker of that name" + _markers(clip_map)
                )
            matched = [e for e in matched if _overlaps(e.record, spans, points=True)]
            continue
        test = _clip_matches if kind == "clip" else _track_matches
        matched = [e for e in matched if any(test(e, s.value) for s in group)]
    if "track" not in by_kind:  # RIVER's own clips are edited again only when their track is named
        matched = [_made_by_river(e) for e in matched]
    chosen = [e for e in matched if e.editable]
    skipped = [e for e in matched if not e.editable]
    if not chosen:
        what = " ".join(str(s) for s in selectors)
        if skipped:
            reasons = "; ".join(f"{e.name or e.item.schema_name()}: {e.skip}" for e in skipped[:3])
            more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
            raise SelectionError(f"--select {what}: no editable clip — {reasons}{more}")
        raise SelectionError(f"--select {what} matches no clip" + _available(clip_map))
    return Selection(selectors=list(selectors), chosen=chosen, skipped=skipped)


def _made_by_river(entry: ClipEntry) -> ClipEntry:
    name = entry.track_name
    if entry.editable and _river_track(name):
        why = f"made by RIVER (track {name!r}); to edit it again, select it with track:{name}"
        return replace(entry, skip=why)
    return entry


@functools.lru_cache(maxsize=64)  # asked per clip; a timeline has a few track names
def _river_track(name: str) -> bool:
    return is_river_track(name) or is_river_track(name, matte=True)


def _clip_matches(entry: ClipEntry, pattern: str) -> bool:
    return entry.name == pattern or fnmatch.fnmatchcase(entry.name, pattern)


def _track_matches(entry: ClipEntry, value: str) -> bool:
    if entry.video_number == 0:
        return False
    number = value[1:] if value[:1] in "Vv" and value[1:].isdigit() else value
    if number.isdigit():
        return entry.video_number == int(number)
    return entry.track_name == value


def _record_span(loaded: LoadedTimeline, selector: Selector) -> tuple[int, int]:
    text = selector.value
    a_text, sep, b_text = text.partition("-")
    try:
        if not sep:
            raise ValueError("give IN-OUT")
        a = parse_timecode(a_text, loaded.rate) - loaded.start_frame
        b = parse_timecode(b_text, loaded.rate) - loaded.start_frame
    except ValueError as exc:
        raise SelectionError(
            f"--select range:{text}: {exc}; write record timecode IN-OUT, e.g. range:01:00:02:00-01:00:04:00"
        ) from None
    if b <= a:
        raise SelectionError(f"--select range:{text}: OUT must come after IN (OUT is exclusive)")
    return a, b


def _overlaps(record: tuple[int, int], spans: list[tuple[int, int]], *, points: bool = False) -> bool:
    a, b = record
    for s0, s1 in spans:
        if s1 == s0 and points:
            if a <= s0 < b:
                return True
        elif s0 < b and a < s1:
            return True
    return False


def _cut(entry: ClipEntry, spans: list[tuple[int, int]], rate: Fraction) -> ClipEntry:
    """The entry narrowed to the union of the spans it overlaps (an editor's in/out marks)."""
    a, b = entry.record
    inside = [(max(a, s0), min(b, s1)) for s0, s1 in spans if s0 < b and a < s1]
    lo, hi = min(s for s, _ in inside), max(e for _, e in inside)
    if not entry.editable:
        return entry
    try:
        return entry.narrowed(lo, hi, rate)
    except ValueError as exc:
        return replace(entry, skip=str(exc))


def _marker_spans(clip_map: ClipMap, name: str) -> list[tuple[int, int]]:
    """Record spans (timeline frames from its first) of the markers called ``name`` anywhere."""
    loaded = clip_map.loaded
    rate = loaded.rate
    spans: list[tuple[int, int]] = []

    def add(marked: otio.opentime.TimeRange, offset: Fraction) -> None:
        a = frames_at(marked.start_time, rate) + offset
        n = frames_at(marked.duration, rate)
        spans.append((int(a), int(a + n)))

    stack = loaded.timeline.tracks
    start = Fraction(loaded.start_frame)
    for m in stack.markers:
        if m.name == name:
            # Timeline markers: some adapters write them in record timecode (global start included).
            a = frames_at(m.marked_range.start_time, rate)
            add(m.marked_range, -start if a >= start and start else Fraction(0))
    for track in stack:
        for m in getattr(track, "markers", []):
            if m.name == name:
                add(m.marked_range, Fraction(0))
    for entry in clip_map.entries:
        item = entry.item
        source = getattr(item, "source_range", None) or (
            item.trimmed_range() if hasattr(item, "trimmed_range") else None
        )
        for m in item.markers:
            if m.name != name or source is None:
                continue
            # A clip's markers are in its source time: shift them to where the clip sits. The FCP7 XML
            # reader counts them from the media's first frame instead: add the media's start back.
            offset = Fraction(entry.record[0]) - frames_at(source.start_time, rate)
            avail = getattr(getattr(item, "media_reference", None), "available_range", None)
            if loaded.format.adapter == "fcp_xml" and avail is not None:
                offset += frames_at(avail.start_time, rate)
            add(m.marked_range, offset)
    return spans


def _markers(clip_map: ClipMap) -> str:
    stack = clip_map.loaded.timeline.tracks
    names = sorted(
        {m.name for m in stack.markers}
        | {m.name for track in stack for m in getattr(track, "markers", [])}
        | {m.name for e in clip_map.entries for m in e.item.markers}
    )
    return (
        f" (markers here: {', '.join(repr(n) for n in names[:8])})"
        if names
        else " (the timeline has no markers)"
    )


def _available(clip_map: ClipMap) -> str:
    tracks = sorted({e.track_label for e in clip_map.entries})
    names = [e.name for e in clip_map.entries][:6]
    if not names:
        return " (the timeline has no clips on video tracks)"
    return f" (video tracks: {', '.join(tracks)}; clips: {', '.join(repr(n) for n in names)}…)"
