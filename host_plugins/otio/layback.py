"""RIVER's results laid back into a copy of the timeline: a new top video track ("RIVER") of gaps and
clips, each rendered movie sitting exactly where the clip it replaces sits; "when" answers as timeline
markers; and the RIVER clips of a timeline found again for a re-render.

The input timeline object is never changed: every function that edits returns (or works on) a deep
copy. Times are exact (see ``rational``): a RIVER clip's ranges are at its media's rate (or the NLE's
own values), each gap is a whole number of frames (at the timeline's rate, or the next clip's where
that keeps OTIO's double arithmetic exact, see ``_gap``) and every length is checked to fill whole
record frames.

A RIVER clip carries its job three ways, because formats drop different things (see ``write``):
``clip.metadata["river"]`` (``batch.provenance``: the job, its replayable spec, the clip it replaces and
the path of the job's provenance.json, which holds the plan and the rest), and one marker named after
the edit (the query) whose comment reads ``RIVER job JOB_ID · PATH/provenance.json`` and whose
``metadata["river"]`` holds the job id and that path. A re-render finds its way back through whichever
survived.

The RIVER tracks are made in one go by OTIO's JSON reader where every value comes back exactly (see
``metadata``), else object by object; both make the same track.

Example::

    loaded = read_timeline(Path("cut.xml"))
    entry = map_clips(loaded, MediaFinder(Path("."))).editable[0]
    done = RenderedClip(entry, Path("/renders/j1.mov"), entry.render, "j1", "blur the faces", {})
    timeline = lay_back(loaded, [done])  # cut.xml's timeline + a "RIVER" track on top
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from host_plugins.otio.clips import ClipEntry
from host_plugins.otio.metadata import exact_json_float, json_exact, with_metadata
from host_plugins.otio.rational import (
    exact_rate,
    frame_span,
    frames_at,
    parse_timecode,
    rate_text,
    time_range,
    whole,
)
from host_plugins.otio.read import LoadedTimeline

RIVER = "RIVER"
MATTE = "matte"  # "RIVER matte", "RIVER 2 matte": the matte track sits right above its RIVER track
MARKER_COLOR = otio.schema.MarkerColor.PURPLE
_COMMENT = re.compile(r"RIVER job (\S+) · (.*)")


def marker_comment(job_id: str, provenance_path: str) -> str:
    """``RIVER job j1 · /renders/j1/provenance.json``: how a format without metadata keeps the job."""
    return f"RIVER job {job_id} · {provenance_path}"


def is_river_track(name: str, track_name: str = RIVER, *, matte: bool = False) -> bool:
    """``RIVER``, ``RIVER 2``, … (or ``RIVER matte``, ``RIVER 2 matte``, … with ``matte``)."""
    suffix = rf" {MATTE}" if matte else ""
    return re.fullmatch(rf"{re.escape(track_name)}(?: [0-9]+)?{suffix}", name) is not None


@dataclass(frozen=True)
class RenderedClip:
    """A finished job: the movie that replaces ``entry``'s clip."""

    entry: ClipEntry  # the clip it replaces
    media: Path  # the rendered movie; its frame 0 is frame rendered[0] of entry's media file
    rendered: tuple[int, int]  # half-open frames of entry's media file the movie covers (handles included)
    job_id: str
    label: str  # marker name: the query, or e.g. "blur 3,5"
    provenance: dict[str, Any]  # JSON-able; becomes metadata["river"]
    provenance_path: str = ""  # the job's provenance.json
    matte: Path | None = None  # the matte movie (same frames as media), for with_matte


def lay_back(
    loaded: LoadedTimeline,
    results: Sequence[RenderedClip],
    *,
    with_matte: bool = False,
    track_name: str = RIVER,
    in_place: bool = False,
) -> otio.schema.Timeline:
    """A copy of ``loaded.timeline`` with the results on new top video tracks (with ``in_place``,
    ``loaded.timeline`` itself, for a caller done with the input: no copy of the whole timeline).

    Results that overlap in record time (clips of different tracks at the same time) go on further
    RIVER tracks ("RIVER 2", …), keeping the bottom-to-top order of the tracks they come from. With
    ``with_matte`` each RIVER track gets a "… matte" track right above it referencing the matte
    movies (a result without one leaves a gap there). ValueError names a result that cannot be laid.
    (``river_clips`` and ``write_timeline`` look for tracks named after the default ``track_name``.)
    """
    # 1. Check inputs
    if not track_name.strip():
        raise ValueError(f"`track_name` {track_name!r} is empty: name the new track, e.g. 'RIVER'")
    for i, result in enumerate(results):
        check_rendered(result, f"results[{i}]")
    # 2. Share tracks where results do not overlap
    layers = _layers(results)
    timeline = loaded.timeline
    names = _free_names(timeline, track_name, len(layers), with_matte=with_matte)
    # 3. Build a track per layer (and its matte track): every track before any is added
    tracks = []
    for layer, name in zip(layers, names, strict=True):
        source_range = _shared_source_range(loaded, layer, name)
        tracks.append(_track(name, layer, loaded.rate, source_range, matte=False))
        if with_matte and any(r.matte is not None for r in layer):
            mattes = [r for r in layer if r.matte is not None]
            tracks.append(_track(f"{name} {MATTE}", mattes, loaded.rate, source_range, matte=True))
    # 4. Append them last = on top
    if not in_place:
        timeline = copy.deepcopy(timeline)
    for track in tracks:
        timeline.tracks.append(track)
    return timeline


def check_rendered(result: RenderedClip, what: str = "result") -> None:
    """ValueError when ``result`` cannot replace its clip (not editable, frames not covered, …)."""
    entry = result.entry
    clip = f"{what} (clip {entry.name!r}, job {result.job_id})"
    if not entry.editable or entry.source is None or entry.media_rate is None:
        raise ValueError(f"{clip}: the clip is not editable ({entry.skip or 'no media frames mapped'})")
    if not isinstance(entry.item, otio.schema.Clip):
        raise ValueError(f"{clip}: the item is a {entry.item.schema_name()}, not a clip")
    r0, r1 = result.rendered
    s0, s1 = entry.source
    if not (0 <= r0 <= s0 < s1 <= r1):
        raise ValueError(
            f"{clip}: `rendered` {r0}:{r1} must cover the clip's media frames {s0}:{s1} (and start at ≥ 0)"
        )
    if not result.job_id or any(c.isspace() for c in result.job_id):
        raise ValueError(f"{clip}: `job_id` {result.job_id!r} must be a non-empty word")
    try:
        json.dumps(result.provenance)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{clip}: `provenance` is not JSON-able ({exc})") from None


def _layers(results: Sequence[RenderedClip]) -> list[list[RenderedClip]]:
    """Results grouped into tracks: none overlaps another on its track, and a result from a higher
    source track lies above every result of a lower source track it overlaps."""
    order = sorted(range(len(results)), key=lambda i: (results[i].entry.track_index, results[i].entry.record))
    layers: list[list[RenderedClip]] = []
    # Each layer's record spans, sorted: they never overlap (a result overlapping one goes higher), so
    # their ends are sorted too and the last span starting before a result's end is the one to test.
    # One bisection per layer, instead of comparing with every result placed so far (2,000 clips: 3 s).
    spans: list[list[tuple[int, int]]] = []
    for i in order:
        a0, a1 = results[i].entry.record
        level = 0
        for k in reversed(range(len(layers))):
            j = bisect.bisect_left(spans[k], (a1,)) - 1  # the last span that starts before a1
            if j >= 0 and a0 < spans[k][j][1]:
                level = k + 1  # above the highest layer it overlaps
                break
        if level == len(layers):
            layers.append([])
            spans.append([])
        layers[level].append(results[i])
        bisect.insort(spans[level], (a0, a1))
    return layers


def _free_names(timeline: otio.schema.Timeline, base: str, count: int, *, with_matte: bool) -> list[str]:
    taken = {track.name for track in timeline.tracks}
    names: list[str] = []
    n = 1
    while len(names) < count:
        name = base if n == 1 else f"{base} {n}"
        if name not in taken and not (with_matte and f"{name} {MATTE}" in taken):
            names.append(name)
        n += 1
    return names


def _shared_source_range(
    loaded: LoadedTimeline, layer: list[RenderedClip], name: str
) -> otio.opentime.TimeRange | None:
    """The source tracks' own range (an EDL keeps its first record timecode there): a new track keeps
    it so that its clips line up with theirs however a reader interprets it."""
    ranges = {}
    for r in layer:
        track = loaded.timeline.tracks[r.entry.track_index]
        ranges[repr(track.source_range)] = track.source_range
    if len(ranges) > 1:
        raise ValueError(
            f"track {name!r}: its results come from tracks trimmed differently ({', '.join(ranges)}); "
            "lay them back in separate calls"
        )
    return next(iter(ranges.values()), None)


def _source_range(entry: ClipEntry) -> otio.opentime.TimeRange:
    original = entry.item
    assert entry.media_rate is not None and entry.source is not None  # check_rendered made sure
    if entry.trimmed or not isinstance(original, otio.schema.Clip) or original.source_range is None:
        s0, s1 = entry.source
        return time_range(entry.media_start + s0, s1 - s0, entry.media_rate)
    # The movie's time is the media's time shifted by rendered[0]: the NLE's own values stay valid.
    return copy.deepcopy(original.source_range)


def _point(at: otio.opentime.RationalTime) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(at, otio.opentime.RationalTime(0, at.rate))


def _marker_record(result: RenderedClip) -> dict[str, Any]:
    return {"river": {"job_id": result.job_id, "provenance": result.provenance_path}}


def _matte_record(result: RenderedClip) -> dict[str, Any]:
    return {"river": {"job_id": result.job_id, "provenance": result.provenance_path, "matte": True}}


def _river_clip(result: RenderedClip, source_range: otio.opentime.TimeRange) -> otio.schema.Clip:
    """The RIVER clip made object by object (``_track_from_json`` makes the same in one go)."""
    entry = result.entry
    rate = entry.media_rate
    assert rate is not None
    # (made through with_metadata: setting a provenance into OTIO metadata directly is 4× slower)
    clip = with_metadata(otio.schema.Clip, {"river": result.provenance})
    clip.name = _clip_name(result, False)
    clip.media_reference = _reference(result.media, result, rate)
    clip.source_range = copy.deepcopy(source_range)
    marker = with_metadata(otio.schema.Marker, _marker_record(result))
    marker.name = result.label
    marker.marked_range = _point(source_range.start_time)
    marker.color = MARKER_COLOR
    marker.comment = marker_comment(result.job_id, result.provenance_path)
    clip.markers.append(marker)
    return clip


def _matte_clip(result: RenderedClip, source_range: otio.opentime.TimeRange) -> otio.schema.Clip:
    assert result.matte is not None and result.entry.media_rate is not None
    return otio.schema.Clip(
        name=_clip_name(result, True),
        media_reference=_reference(result.matte, result, result.entry.media_rate),
        source_range=copy.deepcopy(source_range),
        metadata=_matte_record(result),
    )


def _reference(movie: Path, result: RenderedClip, rate: Fraction) -> otio.schema.ExternalReference:
    r0, r1 = result.rendered
    return _external(movie, time_range(result.entry.media_start + r0, r1 - r0, rate))


def _external(movie: Path, available_range: otio.opentime.TimeRange) -> otio.schema.ExternalReference:
    movie = Path(movie).absolute()
    ref = otio.schema.ExternalReference(target_url=movie.as_uri(), available_range=available_range)
    ref.name = movie.name  # FCP7 XML writes it as the file's <name>
    return ref


def _track(
    name: str,
    results: list[RenderedClip],
    rate: Fraction,
    source_range: otio.opentime.TimeRange | None,
    *,
    matte: bool,
) -> otio.schema.Track:
    """Gaps and clips at ``rate`` so that each clip starts exactly at its record frame (the RIVER clips,
    or with ``matte`` their mattes)."""
    ordered = sorted(results, key=lambda r: r.entry.record)
    ranges = [_source_range(r.entry) for r in ordered]
    items: list[tuple[RenderedClip | None, otio.opentime.TimeRange]] = []  # (None for a gap, its range)
    cursor = 0
    for r, source in zip(ordered, ranges, strict=True):
        start, end = r.entry.record
        label = _clip_name(r, matte)
        length = frames_at(source.duration, rate)
        if length != end - start:
            raise ValueError(
                f"clip {label!r}: its {float(length):g} frames at {rate_text(rate)} fps do not fill "
                f"record frames {start}:{end}"
            )
        if start < cursor:
            raise ValueError(f"clip {label!r} at record frames {start}:{end} overlaps the one before it")
        if start > cursor:
            items.append((None, _gap_range(start - cursor, rate, source.duration.rate)))
        items.append((r, source))
        cursor = end
    track = _track_from_json(name, items, matte)
    if track is None:  # a value JSON would not give back exactly: made object by object
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video)
        for made, span in items:
            if made is None:
                track.append(otio.schema.Gap(source_range=span))
            else:
                track.append(_matte_clip(made, span) if matte else _river_clip(made, span))
    # (the entries list the clips' effects: no look at each clip's, which takes a while)
    if not matte and any(made is not None and made.entry.effects for made, _ in items):
        for item, (made, _) in zip(track, items, strict=True):
            if made is not None and made.entry.effects:
                _copy_effects(made, item)
    if source_range is not None:
        track.source_range = copy.deepcopy(source_range)
    return track


def _clip_name(result: RenderedClip, matte: bool) -> str:
    return f"{result.entry.name} ({RIVER} {MATTE})" if matte else f"{result.entry.name} ({RIVER})"


def _copy_effects(result: RenderedClip, clip: otio.schema.Clip) -> None:
    """The original clip's effects but its retime (a RIVER clip plays its movie 1:1)."""
    for effect in result.entry.item.effects:
        if not isinstance(effect, otio.schema.TimeEffect):
            clip.effects.append(copy.deepcopy(effect))


def _track_from_json(
    name: str, items: list[tuple[RenderedClip | None, otio.opentime.TimeRange]], matte: bool
) -> otio.schema.Track | None:
    """The track made by OTIO's JSON reader in one go (in C++: a fraction of the time of making each
    clip, marker and metadata from Python), or None when a value would not come back exactly from JSON
    (see ``metadata``): the caller then makes it object by object.

    The JSON is written as text, piece by piece, as ``json.dumps`` would write the same documents (a
    float as its ``repr``, a str by the json module's own encoder): building the dicts first took longer
    than OTIO's parse."""
    children: list[str] = []
    for r, span in items:
        source = _range_text(span)
        if source is None:
            return None
        if r is None:
            children.append(f'{{"OTIO_SCHEMA": "Gap.1", "name": "", "source_range": {source}}}')
            continue
        record = _matte_record(r) if matte else {"river": r.provenance}
        if not json_exact(record):
            return None
        movie = r.matte if matte else r.media
        assert movie is not None and r.entry.media_rate is not None
        r0, r1 = r.rendered
        rate = float(r.entry.media_rate)
        available = _range_text_of(float(r.entry.media_start + r0), rate, float(r1 - r0), rate)
        if available is None:
            return None
        movie = Path(movie).absolute()
        marker = ""
        if not matte:
            at = span.start_time
            point = _range_text_of(at.value, at.rate, 0.0, at.rate)
            if point is None:
                return None
            marker = (
                f'{{"OTIO_SCHEMA": "Marker.2", "metadata": {_JSON(_marker_record(r))}, '
                f'"name": {_STR(r.label)}, "color": {_STR(MARKER_COLOR)}, "marked_range": {point}, '
                f'"comment": {_STR(marker_comment(r.job_id, r.provenance_path))}}}'
            )
        children.append(
            f'{{"OTIO_SCHEMA": "Clip.2", "metadata": {_JSON(record)}, "name": {_STR(_clip_name(r, matte))}, '
            f'"source_range": {source}, "markers": [{marker}], '
            f'"media_references": {{"DEFAULT_MEDIA": {{"OTIO_SCHEMA": "ExternalReference.1", '
            f'"metadata": {{}}, "name": {_STR(movie.name)}, "available_range": {available}, '
            f'"target_url": {_STR(movie.as_uri())}}}}}, "active_media_reference_key": "DEFAULT_MEDIA"}}'
        )
    text = (
        f'{{"OTIO_SCHEMA": "Track.1", "name": {_STR(name)}, "kind": {_STR(otio.schema.TrackKind.Video)}, '
        f'"children": [{", ".join(children)}]}}'
    )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: OTIO refuses it, in its own words, object by object
        return None
    return otio.core.deserialize_json_from_string(text)  # type: ignore[no-any-return]


_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), one encoder
_STR = json.encoder.encode_basestring  # a str, as that encoder writes it


def _range_text(span: otio.opentime.TimeRange) -> str | None:
    start, duration = span.start_time, span.duration
    return _range_text_of(start.value, start.rate, duration.value, duration.rate)


def _range_text_of(start: float, start_rate: float, duration: float, duration_rate: float) -> str | None:
    """A TimeRange as OTIO's JSON, or None when a value would not come back exactly."""
    if not all(exact_json_float(x) for x in (start, start_rate, duration, duration_rate)):
        return None
    return (
        f'{{"OTIO_SCHEMA": "TimeRange.1", '
        f'"duration": {{"OTIO_SCHEMA": "RationalTime.1", "rate": {duration_rate!r}, "value": {duration!r}}}, '
        f'"start_time": {{"OTIO_SCHEMA": "RationalTime.1", "rate": {start_rate!r}, "value": {start!r}}}}}'
    )


def _gap_range(frames: int, rate: Fraction, next_rate: float) -> otio.opentime.TimeRange:
    """``frames`` record frames of nothing, at the rate of the clip after it when that is a whole number
    of its frames, else at the timeline's rate.

    OTIO places a track's items by adding their durations in doubles, rescaled to the higher rate:
    9 frames at 29.97 then a clip at 59.94 starts at 17.999999999999996. A gap at the clip's own rate
    keeps such a clip (60000/1001 media in a 30000/1001 timeline) exactly on its frame."""
    there = whole(frames * exact_rate(next_rate) / rate)
    if there is None:
        return time_range(0, frames, rate)
    zero = otio.opentime.RationalTime(0, next_rate)
    return otio.opentime.TimeRange(zero, otio.opentime.RationalTime(there, next_rate))


# ---------------------------------------------------------------------------------------------------
# "When" answers: timeline markers


@dataclass(frozen=True)
class SpanMarker:
    """A span of the timeline an answer points at."""

    record: tuple[int, int]  # half-open timeline frames from the timeline's first frame
    name: str  # the query
    note: str  # the reasoning summary / target description
    metadata: dict[str, Any] = field(default_factory=dict)  # becomes the marker's metadata["river"]


def add_markers(loaded: LoadedTimeline, markers: Sequence[SpanMarker]) -> otio.schema.Timeline:
    """A copy of ``loaded.timeline`` with one timeline (stack) marker per span, purple, in record frames
    from the timeline's first frame (the stack's own time, as OTIO and FCP7 XML keep them)."""
    for i, m in enumerate(markers):
        a, b = m.record
        if not 0 <= a <= b:
            raise ValueError(f"`markers[{i}]` ({m.name!r}): record {a}:{b} is not a span of frames from 0")
        try:
            json.dumps(m.metadata)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`markers[{i}]` ({m.name!r}): `metadata` is not JSON-able ({exc})") from None
    timeline = copy.deepcopy(loaded.timeline)
    for m in markers:
        a, b = m.record
        timeline.tracks.markers.append(
            otio.schema.Marker(
                name=m.name,
                marked_range=time_range(a, b - a, loaded.rate),
                color=MARKER_COLOR,
                comment=m.note,
                metadata={"river": copy.deepcopy(m.metadata)},
            )
        )
    return timeline


def river_span_markers(timeline: otio.schema.Timeline) -> list[otio.schema.Marker]:
    """The timeline markers ``add_markers`` made (they carry metadata["river"])."""
    return [m for m in timeline.tracks.markers if "river" in m.metadata]


# ---------------------------------------------------------------------------------------------------
# Re-render: the RIVER clips of a timeline


@dataclass(frozen=True)
class RiverClip:
    """A clip on a RIVER track, with the job that made it."""

    track_index: int
    item_index: int
    clip: otio.schema.Clip
    # metadata["river"] (its plan read from the provenance.json it names, when it holds none), else the
    # provenance.json its marker names
    provenance: dict[str, Any] | None
    provenance_path: str  # from the marker ('' when no marker survived)


def river_clips(
    timeline: otio.schema.Timeline, *, track_name: str = RIVER, read_provenance: bool = True
) -> list[RiverClip]:
    """The clips of the tracks named ``RIVER``, ``RIVER 2``, … (not the matte tracks), bottom to top.

    ``read_provenance=False`` leaves each ``provenance`` None, unread, for callers that need only the
    clips and their paths: OTIO hands metadata back value by value (2,000 clips: 3 s)."""
    found: list[RiverClip] = []
    for track_index, track in enumerate(timeline.tracks):
        if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Video:
            continue
        if not is_river_track(track.name, track_name):
            continue
        for item_index, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip):
                continue
            marker = river_marker(item)
            path = "" if marker is None else _marker_job(marker)[1]
            provenance = _provenance(item, path) if read_provenance else None
            found.append(RiverClip(track_index, item_index, item, provenance, path))
    return found


def river_marker(clip: otio.schema.Clip) -> otio.schema.Marker | None:
    """The marker ``lay_back`` put on a RIVER clip: by its metadata, else by its comment."""
    for marker in clip.markers:
        if "river" in marker.metadata or _COMMENT.fullmatch(_comment_of(marker).strip()):
            return marker
    return None


def _comment_of(marker: otio.schema.Marker) -> str:
    # FCP7 XML keeps a marker's comment as <comment>, which its reader puts in metadata["fcp_xml"].
    fcp = marker.metadata.get("fcp_xml")
    fcp_comment = fcp.get("comment") if isinstance(fcp, Mapping) else None
    return marker.comment or (fcp_comment if isinstance(fcp_comment, str) else "")


def _marker_job(marker: otio.schema.Marker) -> tuple[str, str]:
    """(job id, provenance path) from the marker's metadata, else from its comment."""
    meta = marker.metadata.get("river")
    if isinstance(meta, Mapping) and meta.get("provenance"):
        return str(meta.get("job_id", "")), str(meta["provenance"])
    found = _COMMENT.fullmatch(_comment_of(marker).strip())
    return (found.group(1), found.group(2).strip()) if found else ("", "")


def _provenance(clip: otio.schema.Clip, path: str) -> dict[str, Any] | None:
    """The clip's ``metadata["river"]``, with the plan read from its provenance.json when the record
    names the file instead of holding the plan (``batch.provenance``: a plan is kept inline only where
    no file holds it; older timelines hold it inline); without metadata, the provenance.json itself."""
    meta = clip.metadata.get("river")
    if isinstance(meta, Mapping) and meta:
        record = _plain(meta)
        where = record.get("provenance")
        if "plan" not in record and isinstance(where, str) and where:
            document = _read_json(where)
            if document is not None and "plan" in document:
                record["plan"] = without_trace(document["plan"])
        return record
    if not path:
        return None
    document = _read_json(path)
    return None if document is None else record_of_provenance_file(document, path)


def record_of_provenance_file(document: dict[str, Any], path: str) -> dict[str, Any]:
    """A job's provenance.json (the server's) as the record ``batch.provenance`` keeps in
    ``metadata["river"]``: what a format without metadata (FCP7 XML, FCPXML) leaves a re-render to find
    through the marker's path. Values the file does not hold are left out (the caller says what is
    missing). A document that is not a server's provenance.json (no "job") is kept as it is."""
    job = document.get("job")
    if not isinstance(job, dict):
        return document
    host = job.get("host") if isinstance(job.get("host"), dict) else {}
    rate = _fraction(job.get("rate"))
    rendered = _listed(frame_span(job.get("rendered")))
    source: dict[str, Any] = {
        "clip": host.get("clip"), "track": host.get("track"),
        "record": _listed(frame_span(host.get("record_frames"))), "media": job.get("media"),
        "rate": rate_text(rate) if rate else None,
        "frames": _listed(frame_span(host.get("source_frames"))), "rendered": rendered,
    }  # fmt: skip
    start = job.get("timecode")
    if rate and rendered and isinstance(start, str) and start:
        with contextlib.suppress(ValueError):  # the rendered range's first timecode; the media's is before
            source["media_start"] = parse_timecode(start, rate) - rendered[0]
    spec: dict[str, Any] = {
        "kind": f"JOB_KIND_{str(job.get('kind') or 'edit').upper()}",
        "op": job.get("op") or "", "prompt": job.get("prompt") or "", "remove": bool(job.get("remove")),
        "color": job.get("color") or "", "profile": job.get("profile") or "",
        "format": job.get("format") or "", "deliver": list(job.get("deliver") or []),
    }  # fmt: skip
    if job.get("targets"):
        spec["targets"] = {"items": [str(t) for t in job["targets"]]}
    render = {
        name: job.get(key)
        for name, key in (("seed", "seed"), ("steps", "steps"), ("guidance_scale", "guidance"),
                          ("conditioning_scale", "conditioning_scale"), ("window", "window"),
                          ("overlap", "overlap"))
        if job.get(key) is not None
    }  # fmt: skip
    if render:
        spec["render"] = render
    record: dict[str, Any] = {
        "query": job.get("query"), "provenance": path, "profile": job.get("profile"),
        "seed": job.get("seed", 0), "spec": spec,
        "source": {k: v for k, v in source.items() if v is not None},
    }  # fmt: skip
    if isinstance(document.get("plan"), dict):
        record["plan"] = without_trace(document["plan"])
    return record


def _listed(span: tuple[int, int] | None) -> list[int] | None:
    return list(span) if span is not None else None


def _fraction(text: Any) -> Fraction | None:
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def without_trace(plan: Any) -> Any:
    """A plan without its reasoning trace (provenance.json keeps it; a re-render does not need it)."""
    return {k: v for k, v in plan.items() if k != "trace"} if isinstance(plan, dict) else plan


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _plain(value: Any) -> Any:
    """OTIO's AnyDictionary/AnyVector as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def replace_clip_media(
    timeline: otio.schema.Timeline,
    rc: RiverClip,
    media: Path,
    rendered_available_range: otio.opentime.TimeRange,
    job_id: str,
    provenance: dict[str, Any],
    provenance_path: str,
) -> None:
    """Point the RIVER clip ``rc`` of ``timeline`` (a copy: this edits in place) at a re-rendered movie.

    The clip keeps its place and its source_range; its media reference, ``metadata["river"]`` and its
    marker's comment and metadata change. ``rendered_available_range`` is the new movie's range in the
    media's time and must cover the clip's source_range."""
    track = timeline.tracks[rc.track_index] if 0 <= rc.track_index < len(timeline.tracks) else None
    clip = track[rc.item_index] if track is not None and 0 <= rc.item_index < len(track) else None
    if not isinstance(clip, otio.schema.Clip) or clip.name != rc.clip.name:
        raise ValueError(
            f"`rc` (clip {rc.clip.name!r} at track {rc.track_index}, item {rc.item_index}) is not in this "
            "timeline: take it from river_clips() of the same timeline or a copy of it"
        )
    if not job_id or any(c.isspace() for c in job_id):
        raise ValueError(f"`job_id` {job_id!r} must be a non-empty word")
    source = clip.source_range or clip.available_range()
    if not _covers(rendered_available_range, source):
        raise ValueError(
            f"`rendered_available_range` {_span(rendered_available_range)} does not cover clip "
            f"{clip.name!r}'s source range {_span(source)}"
        )
    try:
        json.dumps(provenance)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`provenance` is not JSON-able ({exc})") from None
    clip.media_reference = _external(media, copy.deepcopy(rendered_available_range))
    clip.metadata["river"] = copy.deepcopy(provenance)
    marker = river_marker(clip)
    if marker is None:
        marker = otio.schema.Marker(name=job_id, color=MARKER_COLOR)
        clip.markers.append(marker)
    marker.marked_range = _point(source.start_time)
    marker.comment = marker_comment(job_id, provenance_path)
    marker.metadata["river"] = {"job_id": job_id, "provenance": provenance_path}
    if "fcp_xml" in marker.metadata:  # read from FCP7 XML: write.py writes the comment there again
        fcp = dict(marker.metadata["fcp_xml"])
        fcp.pop("comment", None)
        marker.metadata["fcp_xml"] = fcp


def _covers(outer: otio.opentime.TimeRange, inner: otio.opentime.TimeRange) -> bool:
    def sec(t: otio.opentime.RationalTime) -> Fraction:
        return Fraction(t.value) / exact_rate(t.rate)

    a, b = sec(outer.start_time), sec(outer.start_time) + sec(outer.duration)
    c, d = sec(inner.start_time), sec(inner.start_time) + sec(inner.duration)
    return a <= c and d <= b


def _span(r: otio.opentime.TimeRange) -> str:
    rate = exact_rate(r.start_time.rate)
    start, length = frames_at(r.start_time, rate), frames_at(r.duration, rate)
    text = f"{whole(start) if whole(start) is not None else float(start)}"
    return f"{text}+{whole(length) if whole(length) is not None else float(length)}@{rate_text(rate)}"
