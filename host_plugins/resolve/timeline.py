"""The Resolve timeline as issue 8's timelines see it: an in-memory OTIO timeline of the video tracks,
mapped by :func:`host_plugins.otio.clips.map_clips` (the same time rules as a timeline file), plus the
Resolve item behind every entry.

Per item: the media pool item's ``File Path``, ``FPS``, ``Frames`` and ``Start TC``; the item's record
start/end (absolute, so the timeline's start frame — usually 86400 — is subtracted), its source start
frame (media frames; cross-checked with ``GetLeftOffset``) and its duration. Items without a file
(titles, generators, compound clips) become entries that are skipped with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from host_plugins.otio.clips import ClipEntry, ClipMap, map_clips
from host_plugins.otio.rational import exact_rate, parse_timecode, rate_text, rt, time_range
from host_plugins.otio.read import FORMATS, LoadedTimeline
from host_plugins.otio.relink import MediaFinder
from host_plugins.otio.select import Selection, SelectionError, Selector, select
from host_plugins.resolve.api import ResolveError, call, has

SELECTIONS = ("auto", "selected", "current", "inout")
NO_FILE_TYPES = {"compound", "timeline", "generator", "fusion", "title", "multicam"}


def parse_rate(text: Any, what: str = "frame rate") -> tuple[Fraction, bool]:
    """Resolve's ``"29.97 DF"`` / ``"23.976"`` / ``24`` → (exact rate, drop frame)."""
    raw = str(text or "").strip()
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(DF|NDF)?", raw, flags=re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ResolveError(f"{what} {raw!r} is not a frame rate Resolve writes (e.g. 24, 29.97, 29.97 DF)")
    return exact_rate(float(match.group(1))), (match.group(2) or "").upper() == "DF"


@dataclass
class ResolveItem:
    """What RIVER read of one Resolve timeline item (the handle itself goes stale: keep ids)."""

    handle: Any
    unique_id: str
    track: int  # 1-based video track index
    start: int  # absolute record frame (GetStart)
    end: int  # exclusive (GetEnd)
    name: str
    file_path: str = ""
    source_start: int | None = None
    source_end: int | None = None
    left_offset: int | None = None
    media_type: str = ""

    def report(self) -> dict[str, Any]:
        return {
            "unique_id": self.unique_id,
            "track": self.track,
            "record_start": self.start,
            "record_end": self.end,
            "file_path": self.file_path,
            "source_start_frame": self.source_start,
            "source_end_frame": self.source_end,
            "left_offset": self.left_offset,
            "type": self.media_type,
        }


@dataclass
class ResolveTimeline:
    """The current timeline of the current project, read once."""

    project_name: str
    project_id: str
    timeline_name: str
    timeline_id: str
    start_frame: int  # absolute frame of the timeline's first frame (GetStartFrame)
    rate: Fraction
    drop_frame: bool
    clip_map: ClipMap
    items: dict[tuple[int, int], ResolveItem] = field(default_factory=dict)  # (otio track, item index)
    notes: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> LoadedTimeline:
        return self.clip_map.loaded

    def item_of(self, entry: ClipEntry) -> ResolveItem:
        return self.items[(entry.track_index, entry.item_index)]


def current_timeline(resolve: Any) -> tuple[Any, Any]:
    """(project, timeline) now open in Resolve; ResolveError saying what to open."""
    manager = call(resolve, "GetProjectManager", what="the project manager")
    project = call(manager, "GetCurrentProject", allow_none=True)
    if project is None:
        raise ResolveError("no project is open in Resolve: open the project and its timeline, then run again")
    timeline = call(project, "GetCurrentTimeline", allow_none=True)
    if timeline is None:
        raise ResolveError(
            f"project {call(project, 'GetName')!r} has no current timeline: open one on the Edit page"
        )
    return project, timeline


def read_timeline(resolve: Any, *, search_paths: tuple[Path, ...] = ()) -> ResolveTimeline:
    """Read the current timeline's video tracks into an OTIO timeline and map every item."""
    project, timeline = current_timeline(resolve)
    name = str(call(timeline, "GetName"))
    setting = timeline.GetSetting("timelineFrameRate") if has(timeline, "GetSetting") else None
    if not setting:
        setting = call(project, "GetSetting", "timelineFrameRate")
    rate, drop = parse_rate(setting, "the timeline frame rate (timelineFrameRate)")
    start_frame = int(call(timeline, "GetStartFrame"))
    otio_tl = otio.schema.Timeline(name=name, global_start_time=rt(start_frame, rate))
    items: dict[tuple[int, int], ResolveItem] = {}
    notes: list[str] = []
    tracks = int(call(timeline, "GetTrackCount", "video"))
    for index in range(1, tracks + 1):
        track_name = timeline.GetTrackName("video", index) if has(timeline, "GetTrackName") else ""
        track = otio.schema.Track(name=str(track_name or f"V{index}"), kind=otio.schema.TrackKind.Video)
        otio_tl.tracks.append(track)
        placed = sorted(track_items(timeline, index), key=lambda it: int(it.GetStart()))
        cursor = start_frame
        for handle in placed:
            item = _read_item(handle, index)
            if item.start < cursor:
                notes.append(
                    f"V{index} {item.name!r} starts before the timeline's first frame or overlaps: left out"
                )
                continue
            if item.start > cursor:
                track.append(otio.schema.Gap(source_range=time_range(0, item.start - cursor, rate)))
            items[(len(otio_tl.tracks) - 1, len(track))] = item
            track.append(_otio_item(handle, item, rate))
            cursor = item.end
    loaded = LoadedTimeline(
        path=Path(f"{call(project, 'GetName')}/{name}"),
        format=FORMATS[0],
        timeline=otio_tl,
        rate=rate,
        notes=notes,
    )
    finder = MediaFinder(None, list(search_paths))
    return ResolveTimeline(
        project_name=str(call(project, "GetName")),
        project_id=str(project.GetUniqueId() if has(project, "GetUniqueId") else ""),
        timeline_name=name,
        timeline_id=str(timeline.GetUniqueId() if has(timeline, "GetUniqueId") else ""),
        start_frame=start_frame,
        rate=rate,
        drop_frame=drop,
        clip_map=map_clips(loaded, finder),
        items=items,
        notes=notes,
    )


def track_items(timeline: Any, index: int) -> list[Any]:
    """The items of video track ``index`` (1-based), as a list."""
    found = timeline.GetItemListInTrack("video", index)
    if isinstance(found, dict):  # older builds answered {1: item, …}
        found = [found[k] for k in sorted(found)]
    return list(found or [])


def item_id(handle: Any) -> str:
    return str(handle.GetUniqueId()) if has(handle, "GetUniqueId") else ""


def _read_item(handle: Any, track: int) -> ResolveItem:
    start, end = int(call(handle, "GetStart")), int(call(handle, "GetEnd"))
    item = ResolveItem(
        handle=handle,
        unique_id=item_id(handle),
        track=track,
        start=start,
        end=end,
        name=str(handle.GetName() or ""),
    )
    if has(handle, "GetLeftOffset"):
        left = handle.GetLeftOffset()
        item.left_offset = None if left is None else int(left)
    if has(handle, "GetSourceStartFrame"):
        value = handle.GetSourceStartFrame()
        item.source_start = None if value is None else int(value)
    if has(handle, "GetSourceEndFrame"):
        value = handle.GetSourceEndFrame()
        item.source_end = None if value is None else int(value)
    return item


def _otio_item(handle: Any, item: ResolveItem, rate: Fraction) -> otio.core.Item:
    """The item as an OTIO clip whose source range and media reference say what Resolve says."""
    record_len = item.end - item.start
    mpi = handle.GetMediaPoolItem() if has(handle, "GetMediaPoolItem") else None
    if mpi is None:
        return otio.schema.Clip(
            name=item.name,
            source_range=time_range(0, record_len, rate),
            media_reference=otio.schema.GeneratorReference(generator_kind="title, generator or effect"),
        )
    props = mpi.GetClipProperty() or {}
    item.file_path = str(props.get("File Path") or "")
    item.media_type = str(props.get("Type") or "")
    if not item.file_path:
        if item.media_type.strip().lower() in NO_FILE_TYPES or "compound" in item.media_type.lower():
            return otio.schema.Stack(name=item.name, source_range=time_range(0, record_len, rate))
        return otio.schema.Clip(
            name=item.name,
            source_range=time_range(0, record_len, rate),
            media_reference=otio.schema.GeneratorReference(generator_kind=item.media_type or "no file"),
        )
    try:
        media_rate, _ = parse_rate(props.get("FPS"), f"{item.name!r}'s FPS")
        frames = int(str(props.get("Frames") or "0").strip() or 0)
        start_tc = str(props.get("Start TC") or "00:00:00:00")
        media_start = parse_timecode(start_tc, media_rate)
    except (ResolveError, ValueError) as exc:
        return otio.schema.Clip(
            name=item.name,
            source_range=time_range(0, record_len, rate),
            media_reference=otio.schema.MissingReference(name=f"unreadable clip properties: {exc}"),
        )
    src0 = _source_start(item, media_rate, rate, media_start)
    reference = otio.schema.ExternalReference(
        target_url=item.file_path,
        available_range=time_range(media_start, frames, media_rate) if frames > 0 else None,
    )
    if src0 is None:
        return otio.schema.Clip(
            name=item.name,
            source_range=time_range(0, record_len, rate),
            media_reference=otio.schema.MissingReference(name="Resolve did not say the item's source start"),
        )
    return otio.schema.Clip(
        name=item.name,
        media_reference=reference,
        # The duration at the timeline's rate keeps every item at its exact record frame; the time mapping
        # then refuses a clip whose record frames do not land on whole media frames (mixed rates).
        source_range=otio.opentime.TimeRange(rt(media_start + src0, media_rate), rt(record_len, rate)),
    )


def _source_start(item: ResolveItem, media_rate: Fraction, rate: Fraction, media_start: int) -> int | None:
    """The item's first media frame, 0-based in the file.

    ``GetSourceStartFrame`` counts media frames from the file's first; some builds count from the
    media's start timecode instead. ``GetLeftOffset`` (the frames before the in point, at the timeline's
    rate) decides between the two; without it the plain reading stands."""
    s = item.source_start
    left = item.left_offset
    if s is None:
        if left is None or media_rate != rate:
            return None
        return left
    if left is None:
        return s
    expect = Fraction(left) * media_rate / rate
    for candidate in (s, s - media_start):
        if candidate >= 0 and abs(candidate - expect) <= max(1, media_rate / rate):
            return candidate
    return s


# -- selection ----------------------------------------------------------------------------------


def selection(resolve: Any, tl: ResolveTimeline, mode: str) -> tuple[Selection, str]:
    """The clips the editor chose: ``selected`` (GetSelectedClips, 21.0.4+), ``current`` (the video
    item under the playhead), ``inout`` (the clips under the in/out marks, cut to them); ``auto`` tries
    them in that order. Returns the selection (issue 8's report: chosen and skipped) and the mode used."""
    if mode not in SELECTIONS:
        raise SelectionError(f"--selection {mode!r}: use one of {', '.join(SELECTIONS)}")
    _, timeline = current_timeline(resolve)
    tries = ("selected", "current", "inout") if mode == "auto" else (mode,)
    reasons = []
    for how in tries:
        if how == "selected":
            if not has(timeline, "GetSelectedClips"):
                reasons.append("this Resolve has no GetSelectedClips (21.0.4+)")
                continue
            handles = [h for h in (timeline.GetSelectedClips() or []) if _is_video(h)]
            if not handles:
                reasons.append("no clip is selected on the timeline")
                continue
            return _by_items(tl, handles, "selected"), how
        if how == "current":
            handle = timeline.GetCurrentVideoItem() if has(timeline, "GetCurrentVideoItem") else None
            if handle is None:
                reasons.append("no video item is under the playhead")
                continue
            return _by_items(tl, [handle], "current"), how
        marks = timeline.GetMarkInOut() if has(timeline, "GetMarkInOut") else None
        video = (marks or {}).get("video") or (marks or {}).get("all") or {}
        if "in" not in video or "out" not in video:
            reasons.append("the timeline has no in and out marks")
            continue
        a, b = int(video["in"]), int(video["out"]) + 1  # Resolve's out mark is the last frame: inclusive
        return _in_range(tl, a, b), how
    raise SelectionError(
        f"nothing to edit ({'; '.join(reasons)}): select clips on the Edit page, park the playhead on one, "
        "or set in and out marks"
    )


def _is_video(handle: Any) -> bool:
    if not has(handle, "GetTrackTypeAndIndex"):
        return True
    kind = (handle.GetTrackTypeAndIndex() or ["video"])[0]
    return str(kind).lower() == "video"


def _by_items(tl: ResolveTimeline, handles: list[Any], how: str) -> Selection:
    wanted_ids = {item_id(h) for h in handles} - {""}
    wanted_pos = {(_track_of(h), int(h.GetStart())) for h in handles if not item_id(h)}
    matched = [
        e
        for e in tl.clip_map.entries
        if (key := (e.track_index, e.item_index)) in tl.items
        and (
            tl.items[key].unique_id in wanted_ids or (tl.items[key].track, tl.items[key].start) in wanted_pos
        )
    ]
    sel = Selection(selectors=[Selector("clip", f"({how} in Resolve)")])
    sel.chosen = [e for e in matched if e.editable]
    sel.skipped = [e for e in matched if not e.editable]
    if not sel.chosen:
        if sel.skipped:
            reasons = "; ".join(f"{e.name or 'item'}: {e.skip}" for e in sel.skipped[:3])
            raise SelectionError(f"the {how} clip(s) cannot be edited — {reasons}")
        raise SelectionError(f"the {how} item(s) are not clips on a video track")
    return sel


def _track_of(handle: Any) -> int:
    if has(handle, "GetTrackTypeAndIndex"):
        found = handle.GetTrackTypeAndIndex() or ["video", 0]
        return int(found[1])
    return 0


def _in_range(tl: ResolveTimeline, a: int, b: int) -> Selection:
    from host_plugins.otio.rational import timecode

    loaded = tl.loaded
    span = f"{timecode(loaded.start_frame + a, tl.rate)}-{timecode(loaded.start_frame + b, tl.rate)}"
    try:
        return select(tl.clip_map, [Selector("range", span)])
    except SelectionError as exc:
        raise SelectionError(f"in/out marks {span}: {str(exc).split(': ', 1)[-1]}") from None


def selection_report(tl: ResolveTimeline, sel: Selection, how: str) -> dict[str, Any]:
    """Issue 8's selection report with the Resolve side of each clip."""
    loaded = tl.loaded
    return {
        "project": tl.project_name,
        "timeline": tl.timeline_name,
        "rate": rate_text(tl.rate),
        "drop_frame": tl.drop_frame,
        "start_frame": tl.start_frame,
        "selection": how,
        "chosen": [{**e.to_json(loaded), "resolve": tl.item_of(e).report()} for e in sel.chosen],
        "skipped": [{**e.to_json(loaded), "resolve": tl.item_of(e).report()} for e in sel.skipped],
        "notes": tl.notes,
    }
