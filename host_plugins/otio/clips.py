"""Every item of a timeline's video tracks mapped, exactly, to frames of a media file — or skipped with
the one-line reason an editor needs.

A clip's ``source_range`` is in its media's time: the media's ``available_range`` start (a start
timecode such as 01:00:00:00) is subtracted to get frame indices in the file, and the timeline's rate
is converted to the media's exactly. A clip whose frames do not land on whole media frames is refused
with the reason. A transition beside a clip widens the rendered range by the frames it overlaps
(its handles). Retimed clips, generators, image sequences and nested stacks are skipped, never
mis-edited.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from host_plugins.otio.probe import MediaFacts
from host_plugins.otio.rational import exact_rate, frames_at, rate_text, timecode, whole
from host_plugins.otio.read import LoadedTimeline
from host_plugins.otio.relink import MediaFinder, Relinked

VIDEO_SUFFIXES = {".mov", ".mp4", ".m4v", ".mxf", ".avi", ".mkv", ".webm", ".mts", ".m2ts", ".r3d", ".braw"}


@dataclass(frozen=True)
class ClipEntry:
    """One item of a video track as RIVER sees it.

    ``record`` is the half-open range of record frames at the timeline's rate, counted from the
    timeline's first frame; ``source`` the half-open range of frame indices in the media file (0 = its
    first frame) that the record range shows; ``render`` is ``source`` widened by transition handles.
    ``skip`` says why the item cannot be edited ('' when it can).
    """

    number: int
    item: otio.core.Item
    track_index: int  # index into timeline.tracks (bottom first)
    video_number: int  # V1, V2, … as an editor counts video tracks (0 for other kinds)
    track_name: str
    item_index: int  # index of the item in its track
    record: tuple[int, int]
    name: str = ""
    target: str = ""  # the media as the timeline names it
    relinked: Relinked | None = None
    media_rate: Fraction | None = None
    media_start: int = 0  # the media's first frame as a frame count at media_rate (its start timecode)
    source: tuple[int, int] | None = None
    render: tuple[int, int] | None = None
    transitions: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    skip: str = ""
    trimmed: bool = False  # narrowed to a record range by the selection

    @property
    def media(self) -> Path | None:
        return None if self.relinked is None else self.relinked.path

    @property
    def facts(self) -> MediaFacts | None:
        return None if self.relinked is None else self.relinked.facts

    @property
    def editable(self) -> bool:
        return not self.skip

    @property
    def track_label(self) -> str:
        label = f"V{self.video_number}" if self.video_number else f"#{self.track_index}"
        return f"{label} ({self.track_name})" if self.track_name not in ("", label) else label

    def record_tc(self, loaded: LoadedTimeline) -> str:
        """The record range as timecode, ``01:00:02:00-01:00:04:00`` (out exclusive)."""
        a, b = self.record
        return (
            f"{timecode(loaded.start_frame + a, loaded.rate)}-{timecode(loaded.start_frame + b, loaded.rate)}"
        )

    def source_tc(self) -> str:
        if self.source is None or self.media_rate is None:
            return ""
        a, b = self.source
        rate, start = self.media_rate, self.media_start
        return f"{timecode(start + a, rate)}-{timecode(start + b, rate)}"

    def to_json(self, loaded: LoadedTimeline) -> dict[str, Any]:
        facts = self.facts
        return {
            "number": self.number,
            "name": self.name,
            "kind": self.item.schema_name(),
            "track": self.track_label,
            "track_index": self.track_index,
            "item_index": self.item_index,
            "record": {"start": self.record[0], "end": self.record[1], "timecode": self.record_tc(loaded)},
            "media": {
                "target": self.target,
                "path": None if self.media is None else str(self.media),
                "found": self.media is not None,
                "how": None if self.relinked is None else self.relinked.how,
                "why_missing": None if self.relinked is None or self.media else self.relinked.reason,
                "verified": bool(self.relinked and self.relinked.verified),
                "rate": None if self.media_rate is None else rate_text(self.media_rate),
                "frames": None if facts is None else facts.frames,
                "start_timecode": None
                if self.media_rate is None
                else timecode(self.media_start, self.media_rate),
            },
            "source": None if self.source is None else {"start": self.source[0], "end": self.source[1]},
            "source_timecode": self.source_tc() or None,
            "render": None if self.render is None else {"start": self.render[0], "end": self.render[1]},
            "transitions": list(self.transitions),
            "effects": list(self.effects),
            "editable": self.editable,
            "skip": self.skip or None,
        }

    def narrowed(self, start: int, end: int, timeline_rate: Fraction) -> ClipEntry:
        """This clip cut to record frames ``[start, end)`` (inside its own), source mapped exactly.

        Transition handles stay only on an edge the cut keeps. Raises ValueError when the cut lands
        between media frames."""
        a, b = self.record
        start, end = max(start, a), min(end, b)
        if (start, end) == (a, b):
            return self
        if self.source is None or self.media_rate is None or self.render is None:
            return replace(self, record=(start, end), trimmed=True)
        scale = self.media_rate / timeline_rate
        s0 = whole(self.source[0] + (start - a) * scale)
        s1 = whole(self.source[0] + (end - a) * scale)
        if s0 is None or s1 is None:
            raise ValueError(
                f"record frames {start}:{end} of {self.name!r} fall between frames of its media "
                f"({rate_text(timeline_rate)} fps timeline, {rate_text(self.media_rate)} fps media)"
            )
        r0 = self.render[0] if start == a else s0
        r1 = self.render[1] if end == b else s1
        return replace(self, record=(start, end), source=(s0, s1), render=(r0, r1), trimmed=True)


@dataclass
class ClipMap:
    """The entries of a loaded timeline, in order: video tracks bottom to top, items left to right."""

    loaded: LoadedTimeline
    entries: list[ClipEntry] = field(default_factory=list)

    @property
    def editable(self) -> list[ClipEntry]:
        return [e for e in self.entries if e.editable]

    def clips(self) -> Iterator[ClipEntry]:
        return (e for e in self.entries if isinstance(e.item, otio.schema.Clip))


def map_clips(loaded: LoadedTimeline, finder: MediaFinder) -> ClipMap:
    """Map every item of every video track of ``loaded`` (clips, and skipped stacks/generators)."""
    result = ClipMap(loaded)
    # A timeline cuts many clips from each file: each file is relinked (and checked) once per call.
    find = functools.cache(finder.find)
    video_number = 0
    for track_index, track in enumerate(loaded.timeline.tracks):
        if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Video:
            continue
        video_number += 1
        items = list(track)
        placed = track.range_of_all_children()  # one pass: range_in_parent() per item is quadratic
        for item_index, item in enumerate(items):
            if isinstance(item, otio.schema.Transition | otio.schema.Gap):
                continue
            fields: dict[str, Any] = {
                "number": len(result.entries) + 1, "item": item, "track_index": track_index,
                "video_number": video_number, "track_name": track.name, "item_index": item_index,
                "name": item.name,
            }  # fmt: skip
            _map_item(fields, loaded, find, items, placed[item])
            if loaded.format.adapter == "otioz" and fields.get("skip", "").startswith("media not found"):
                fields["skip"] += f"; {_in_bundle(loaded.path)}"
            result.entries.append(ClipEntry(**fields))
    return result


def _in_bundle(path: Path) -> str:
    """Media inside an .otioz (a zip) are not files RIVER can render from: how to unpack it."""
    unpacked = path.with_suffix(".otiod")
    return (
        f"a media file inside the .otioz bundle cannot be rendered from: unpack it "
        f"(`python -m zipfile -e {path.name} {unpacked.name}`) and edit {unpacked.name}"
    )


def _map_item(
    fields: dict[str, Any],
    loaded: LoadedTimeline,
    find: Callable[..., Relinked],
    items: list[otio.core.Composable],
    placed: otio.opentime.TimeRange,
) -> None:
    """Fill ``fields`` (a ClipEntry's, as far as known) with what the item maps to, or its ``skip``.

    (A dict filled once, not a frozen ClipEntry replaced at each step: 2,000 clips took 0.1 s more.)"""
    item = fields["item"]
    rate = loaded.rate
    r0, r_len = frames_at(placed.start_time, rate), frames_at(placed.duration, rate)
    fields["record"] = (int(r0), int(r0 + r_len))
    if whole(r0) is None or whole(r_len) is None:
        fields["skip"] = (
            f"sits between frames of the {rate_text(rate)} fps timeline "
            f"(record {float(r0):.3f}+{float(r_len):.3f} frames)"
        )
        return
    if not isinstance(item, otio.schema.Clip):
        what = "a compound clip (nested stack)" if isinstance(item, otio.schema.Stack) else item.schema_name()
        fields["skip"] = f"{what}: flatten or decompose it in the NLE to edit its clips"
        return
    skip = _map_clip(fields, item, find, items, fields["item_index"], rate)
    if skip:
        fields["skip"] = skip


def _map_clip(
    fields: dict[str, Any],
    clip: otio.schema.Clip,
    find: Callable[..., Relinked],
    items: list[otio.core.Composable],
    item_index: int,
    timeline_rate: Fraction,
) -> str:
    """Fill ``fields`` with the clip's media, frames and handles; the reason it is skipped, or ''."""
    ref = clip.media_reference
    # (each clip.effects makes a new view of OTIO's list: take it once; iterating it costs 30 µs even
    # when it is empty, as most are, so ask its length first)
    effect_view = clip.effects
    clip_effects = list(effect_view) if len(effect_view) else []
    neighbours = _neighbour_transitions(items, item_index)
    fields["effects"] = tuple(_effect_text(e) for e in clip_effects)
    fields["transitions"] = tuple(
        f"{t.name or t.transition_type} ({'in' if i < item_index else 'out'})" for i, t in neighbours
    )
    retime = next((e for e in clip_effects if isinstance(e, otio.schema.TimeEffect)), None)
    if retime is not None and not (isinstance(retime, otio.schema.LinearTimeWarp) and retime.time_scalar == 1
                                   and not isinstance(retime, otio.schema.FreezeFrame)):  # fmt: skip
        return f"retimed ({_effect_text(retime)}): RIVER renders source frames 1:1"
    if isinstance(ref, otio.schema.GeneratorReference):
        return f"a generator ({ref.generator_kind or ref.name or 'no media'}): no media to edit"
    if isinstance(ref, otio.schema.ImageSequenceReference):
        return "an image sequence: RIVER edits movie files; render the sequence to a movie"
    target = ref.target_url if isinstance(ref, otio.schema.ExternalReference) else ""
    if not target and Path(clip.name).suffix.lower() in VIDEO_SUFFIXES:
        target = clip.name  # an EDL names the file only in the clip name: relink by it, as NLEs do
    if not target:
        return f"no media file ({ref.schema_name() if ref else 'no reference'})"
    fields["target"] = target
    avail = ref.available_range
    source_range = clip.source_range or avail
    if source_range is None:
        return "has neither a source range nor the media's available range"
    expect_rate = exact_rate(avail.duration.rate) if avail is not None else None
    expect_frames = (
        whole(frames_at(avail.duration, expect_rate)) if avail is not None and expect_rate else None
    )
    found = find(target, rate=expect_rate, frames=expect_frames or None)
    fields["relinked"] = found
    if found.path is None:
        return f"media not found: {found.reason}"
    facts = found.facts
    media_rate = facts.rate if facts is not None else expect_rate or exact_rate(source_range.duration.rate)
    if avail is not None:
        media_start = whole(frames_at(avail.start_time, media_rate))
        if media_start is None:
            return (f"its media's start {avail.start_time} is not a whole frame at "
                    f"{rate_text(media_rate)} fps")  # fmt: skip
    else:
        media_start = facts.start_frame if facts is not None else 0
    fields["media_rate"], fields["media_start"] = media_rate, media_start
    start = frames_at(source_range.start_time, media_rate)
    length = frames_at(source_range.duration, media_rate)
    if whole(start) is None or whole(length) is None:
        return (
            f"its source range {_range_text(source_range)} does not land on whole frames of its "
            f"{rate_text(media_rate)} fps media ({float(start):.3f}+{float(length):.3f} frames)"
        )
    s0 = int(start) - media_start
    s1 = s0 + int(length)
    record = fields["record"]
    record_frames = frames_at(source_range.duration, timeline_rate)
    if whole(record_frames) is None or int(record_frames) != record[1] - record[0]:
        return (
            f"its {int(length)} media frames at {rate_text(media_rate)} fps do not fill whole frames "
            f"of the {rate_text(timeline_rate)} fps timeline"
        )
    before, after = 0, 0
    for i, t in neighbours:
        # OTIO: a transition's in_offset runs before the cut (the next clip shows its media early), its
        # out_offset after it (the previous clip's media runs on) — track.handles_of_child agrees.
        offset = t.in_offset if i < item_index else t.out_offset
        n = whole(frames_at(offset, media_rate))
        if n is None:
            return f"transition {t.name!r} does not land on whole frames of its media"
        if i < item_index:
            before = n
        else:
            after = n
    total = facts.frames if facts is not None else None
    fields["source"] = (s0, s1)
    if s0 < 0 or (total is not None and s1 > total):
        has = (
            f"frames 0:{total}"
            if total is not None
            else f"its first frame at {timecode(media_start, media_rate)}"
        )
        return f"uses media frames {s0}:{s1} (source {_range_text(source_range)}) but the media has {has}"
    if s0 - before < 0 or (total is not None and s1 + after > total):
        return (
            f"its transitions need media frames {s0 - before}:{s1 + after} (handles {before}/{after}) "
            f"beyond the media's {total if total is not None else '?'} frames"
        )
    fields["render"] = (s0 - before, s1 + after)
    return ""


def _neighbour_transitions(
    items: list[otio.core.Composable], index: int
) -> list[tuple[int, otio.schema.Transition]]:
    found = []
    for i in (index - 1, index + 1):
        if 0 <= i < len(items) and isinstance(items[i], otio.schema.Transition):
            found.append((i, items[i]))
    return found


def _effect_text(effect: otio.schema.Effect) -> str:
    if isinstance(effect, otio.schema.FreezeFrame):
        return "freeze frame"
    if isinstance(effect, otio.schema.LinearTimeWarp):
        return f"speed {effect.time_scalar * 100:g}%"
    return effect.effect_name or effect.name or effect.schema_name()


def _range_text(r: otio.opentime.TimeRange) -> str:
    rate = exact_rate(r.start_time.rate)
    return f"{r.start_time.value:.12g}+{r.duration.value:.12g}@{rate_text(rate)}"
