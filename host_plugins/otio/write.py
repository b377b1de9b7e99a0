"""Writing a laid-back timeline to a new file, atomically, never over the input.

The format is the output's extension (``check_output`` refuses what cannot be written, before any job
runs). Each write goes to a private temporary folder beside the output and is renamed into place, so a
failure leaves nothing at the output and no temporary files.

What each format keeps of RIVER's additions (found by writing and reading back with OTIO 0.18.1 and
its adapters; ``tests/host_plugins/otio/test_roundtrip.py`` holds each claim):

=============  ==========  ===================  ================  ===========  ==========
format         RIVER       clip marker          timeline markers  metadata     matte track
               track name  (label + comment)    (span + note)     ["river"]
=============  ==========  ===================  ================  ===========  ==========
.otio/z/d      kept        kept                 kept              kept         kept
FCP7 XML       kept [1]    kept [2]             kept [2]          dropped      kept
FCPXML         dropped     label only [4]       dropped           dropped      kept (lane)
CMX 3600 EDL   flattened [3]                    dropped           dropped      dropped
AAF            kept        dropped              dropped           dropped      kept
=============  ==========  ===================  ================  ===========  ==========

[1] written as the track's ``<name>`` (as Hiero does; the adapter writes it from
    ``metadata["fcp_xml"]["name"]``). [2] the comment as the marker's ``<comment>`` (Premiere's
    element), the colour is lost; a RIVER clip's marker is written at the clip's first frame counted from
    its media's first frame, where FCP7 XML puts clip markers. [3] one video track: the flattened
    picture, RIVER clips where they cover them; clip markers become ``* LOC`` lines (upper-cased names).
[4] the RIVER tracks are written as connected clips in lanes above the spine, where FCP shows them;
    the fcpx_xml reader (not FCP) also hangs their markers on the spine clip they connect to.

The ``.otio`` sidecar (``NAME.otio`` beside ``NAME.xml``) is written when something RIVER needs is lost
that the file does not carry another way: always for an EDL; when the format loses the RIVER track
names or the clip markers' comments (a re-render could not find its clips or their jobs); when it drops
``metadata["river"]`` and a RIVER clip's marker names no provenance.json (the comment is how a format
without metadata keeps the provenance: ``river_clips`` reads it from that file); and when it drops
timeline markers, or their ``metadata["river"]`` is non-empty and dropped. Each loss is one line in
``Written.notes``, sidecar or not.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio

from host_plugins.otio.fcpx import make_exact
from host_plugins.otio.layback import (
    is_river_track,
    river_clips,
    river_marker,
    river_span_markers,
)
from host_plugins.otio.rational import exact_rate, frames_at, whole
from host_plugins.otio.read import FORMATS, Format, LoadedTimeline, TimelineError, format_of

SIDECAR_SUFFIX = ".otio"
_BUNDLES = ("otioz", "otiod")
_EPSILON = 1e-9  # seconds: edges compared as doubles


@dataclass(frozen=True)
class Carries:
    """What a format keeps of RIVER's additions through a write and a read (see the module table)."""

    track_names: bool = True  # RIVER tracks are found again by name
    clip_markers: bool = True  # a RIVER clip's marker with its comment ("RIVER job … · provenance.json")
    span_markers: bool = True  # timeline markers with their range and note
    metadata: bool = True  # metadata["river"]
    flattened: bool = False  # one video track only: the RIVER clips replace what they cover
    start: bool = True  # the timeline's start timecode


CARRIES: dict[str, Carries] = {
    "otio_json": Carries(),
    "otioz": Carries(),
    "otiod": Carries(),
    "fcp_xml": Carries(metadata=False),
    "fcpx_xml": Carries(
        track_names=False, clip_markers=False, span_markers=False, metadata=False, start=False
    ),
    "cmx_3600": Carries(
        track_names=False, clip_markers=False, span_markers=False, metadata=False, flattened=True
    ),
    "AAF": Carries(clip_markers=False, span_markers=False, metadata=False),
}


@dataclass
class Written:
    """A written timeline: the file, the ``.otio`` beside it (when the format cannot carry everything)
    and one line per thing the format could not carry."""

    path: Path
    sidecar: Path | None = None
    notes: list[str] = field(default_factory=list)


def sidecar_path(out: Path) -> Path:
    """``cut.edl`` → ``cut.edl.otio``: the full timeline beside a file that cannot hold all of it (named
    after the whole file name, so it never collides with the editor's own ``cut.otio``)."""
    return out.with_name(out.name + SIDECAR_SUFFIX)


def check_output(
    input_path: Path, out: Path, *, overwrite: bool = False, source: LoadedTimeline | None = None
) -> Format:
    """The output's format, or TimelineError (one line) when ``out`` cannot be written.

    Refused: ``out`` is the input (also through a symlink or a relative path), an unknown extension, a
    missing folder, a folder nothing can be created in (tried: a temporary folder with a file in it, as
    the writer makes, then removed), an existing ``out`` (or its ``.otio`` sidecar) without
    ``overwrite``, an ``.otio`` sidecar that would be the input. With ``source``, the input timeline is
    written once to a temporary folder in the output's format so that a writer that refuses it (the AAF
    writer refuses clips whose media rate differs from the timeline's) says so before any job runs."""
    input_path, out = Path(input_path), Path(out)
    fmt = format_of(out, role="output")
    if _same(input_path, out):
        raise TimelineError(f"{out}: is the input timeline; RIVER never writes over it — choose another name")
    if not out.parent.is_dir():
        raise TimelineError(f"{out}: folder {out.parent} does not exist; create it or choose another")
    _check_writable(out)
    _check_existing(out, fmt, overwrite)
    if CARRIES[fmt.adapter] != Carries():  # a format that may need the .otio beside it
        side = sidecar_path(out)
        if _same(input_path, side):
            raise TimelineError(
                f"{out}: the {side.name} RIVER may write beside it would be the input; choose another name"
            )
        _check_existing(
            side, _format("otio_json"), overwrite, role=f"the {side.name} written beside {out.name}"
        )
    if source is not None and fmt.adapter != "otio_json":
        _trial(source, fmt, out)
    return fmt


def _check_writable(out: Path) -> None:
    """Create (and remove) what the writer will create beside ``out``: a private folder with a file in it.
    Permissions alone cannot tell (root passes them; /proc, read-only mounts and full disks do not)."""
    try:
        with tempfile.TemporaryDirectory(
            prefix=f".{out.name}.", suffix=".river-check", dir=out.parent
        ) as tmp:
            fd = os.open(Path(tmp) / "check", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            try:
                os.write(fd, b"river")
            finally:
                os.close(fd)
    except OSError as exc:
        raise TimelineError(_unwritable(out, exc)) from None


def _unwritable(out: Path, exc: OSError) -> str:
    return (
        f"{out}: cannot create files in {out.parent} ({exc.strerror or exc}); "
        "choose a folder you can write to for --out"
    )


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def _format(adapter: str) -> Format:
    return next(f for f in FORMATS if f.adapter == adapter)


def _check_existing(path: Path, fmt: Format, overwrite: bool, *, role: str = "") -> None:
    if not (path.exists() or path.is_symlink()):
        return
    what = f"{path} ({role})" if role else str(path)
    if not overwrite:
        raise TimelineError(f"{what}: exists; pass --overwrite to replace it, or choose another name")
    if fmt.adapter == "otiod":
        if not (path.is_dir() and (path / "content.otio").is_file()):
            raise TimelineError(
                f"{what}: exists and is not an .otiod folder (no content.otio); not replacing it"
            )
    elif path.is_dir():
        raise TimelineError(f"{what}: is a folder; not replacing it with a {fmt.label} file")


def _trial(source: LoadedTimeline, fmt: Format, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="river-trial-") as tmp:
        target = Path(tmp) / f"trial{out.suffix}"
        extra: dict[str, Any] = {"dryrun": True} if fmt.adapter in _BUNDLES else {}
        timeline, _ = _prepared(source.timeline, fmt)
        _write_adapter(timeline, target, fmt, out, {**extra, **_options(fmt, source)})


def write_timeline(
    timeline: otio.schema.Timeline, out: Path, *, source: LoadedTimeline, overwrite: bool = False
) -> Written:
    """Write ``timeline`` (from ``lay_back``/``add_markers``) to ``out`` in the format its extension names,
    atomically; the ``.otio`` sidecar beside it when the format loses what RIVER needs (module docstring).

    ``source`` is the timeline as read (its path is never written; its rate is the EDL's rate)."""
    # 1. Check the output (again: the caller may have waited for jobs since check_output)
    out = Path(out)
    fmt = check_output(source.path, out, overwrite=overwrite)
    # 2. What the format loses, and whether the full timeline goes beside it
    notes, needs_sidecar = losses(timeline, fmt)
    prepared, shaped = _prepared(timeline, fmt)
    notes += shaped
    side = sidecar_path(out) if needs_sidecar else None
    if side is not None:
        notes.append(f"the full timeline, with everything RIVER added, is {side.name} beside it")
    # 3. Write to a private folder beside out, then rename into place
    with _staging(out) as tmp:
        staged = tmp / out.name
        _write_adapter(prepared, staged, fmt, out, _options(fmt, source))
        if side is not None:
            staged_side = tmp / side.name
            _write_adapter(timeline, staged_side, _format("otio_json"), side, {})
            staged_side.replace(side)
        _put(staged, out, tmp)
    return Written(path=out, sidecar=side, notes=notes)


def losses(timeline: otio.schema.Timeline, fmt: Format) -> tuple[list[str], bool]:
    """One line per RIVER addition ``fmt`` cannot carry, and whether the ``.otio`` sidecar is needed."""
    carries = CARRIES[fmt.adapter]
    if carries == Carries():  # (.otio) keeps everything: nothing to say, no need to look
        return [], False
    clips = river_clips(timeline, read_provenance=False)  # only how many, and their paths
    spans = river_span_markers(timeline)
    mattes = [t for t in timeline.tracks if is_river_track(t.name, matte=True)]
    label = fmt.label
    notes: list[str] = []
    sidecar = carries.flattened
    if carries.flattened:
        notes.append(
            f"{label} holds one video track: it shows the flattened picture, RIVER clips where they cover; "
            "other video tracks, audio and markers' notes are not in it"
        )
        if mattes:
            notes.append(f"{label}: the matte tracks are left out of the flattened picture")
    elif clips and not carries.track_names:
        notes.append(f"{label} keeps no track names: the RIVER tracks cannot be told from the others")
        sidecar = True
    if clips and not carries.clip_markers and not carries.flattened:
        notes.append(f"{label} drops the RIVER clips' marker comments (the job and its provenance.json)")
        sidecar = True
    if spans and not carries.span_markers:
        notes.append(f"{label} drops timeline markers: {len(spans)} RIVER marker(s) are not in it")
        sidecar = True
    if not carries.metadata and (clips or spans):
        notes.append(f'{label} keeps no OTIO metadata: metadata["river"] (the provenance) is not in it')
        unnamed = [rc for rc in clips if not rc.provenance_path]
        if unnamed or any(bool(m.metadata["river"]) for m in spans):
            sidecar = True
    if not carries.start and timeline.global_start_time is not None and timeline.global_start_time.value:
        notes.append(f"{label} (as written by its OTIO adapter) drops the timeline's start timecode")
    if fmt.adapter == "AAF" and clips:
        notes.append("AAF: the RIVER clips get new mob ids; the NLE links them by their file paths")
    return notes, sidecar


# ---------------------------------------------------------------------------------------------------
# Format-specific copies


def _prepared(timeline: otio.schema.Timeline, fmt: Format) -> tuple[otio.schema.Timeline, list[str]]:
    """What the adapter is given: the timeline as is, or a copy shaped for what the format can hold (and
    a line for each change that loses something)."""
    if fmt.adapter == "cmx_3600":
        flat, dropped = _flattened(timeline)
        cuts = f"{dropped} dissolve(s) that a higher clip's edge cuts through became cuts" if dropped else ""
        return flat, [f"{fmt.label}: {cuts}"] if cuts else []
    if fmt.adapter == "fcp_xml":
        return _for_fcp_xml(timeline), []
    if fmt.adapter == "fcpx_xml":
        make_exact()  # the adapter's writer cannot write exact NTSC rates otherwise (fcpx.py)
    return timeline, []


def _for_fcp_xml(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """Track names, marker comments and clip marker positions where FCP7 XML (and its adapter) keep them."""
    timeline = copy.deepcopy(timeline)
    for track in timeline.tracks:
        if is_river_track(track.name) or is_river_track(track.name, matte=True):
            _fcp_meta(track)["name"] = track.name
    for rc in river_clips(timeline, read_provenance=False):
        marker = river_marker(rc.clip)
        if marker is None:
            continue
        if marker.comment:  # (read from FCP7 XML, it is already in metadata["fcp_xml"])
            _fcp_meta(marker)["comment"] = marker.comment
        # FCP7 XML counts a clip marker from the media's first frame (as clipitem <in> does): a marker in
        # OTIO's source time (inside the clip's source range) is moved there.
        avail, source = rc.clip.media_reference.available_range, rc.clip.source_range
        if avail is not None and source is not None and source.contains(marker.marked_range.start_time):
            rate = marker.marked_range.start_time.rate
            start = frames_at(marker.marked_range.start_time, exact_rate(rate)) - frames_at(
                avail.start_time, exact_rate(rate)
            )
            if whole(start) is not None:
                marker.marked_range = otio.opentime.TimeRange(
                    otio.opentime.RationalTime(float(start), rate), marker.marked_range.duration
                )
    for marker in river_span_markers(timeline):
        if marker.comment:
            _fcp_meta(marker)["comment"] = marker.comment
    return timeline


def _fcp_meta(obj: otio.core.SerializableObjectWithMetadata) -> MutableMapping[str, Any]:
    """The object's metadata["fcp_xml"], which the adapter writes as XML elements (a live view)."""
    if not isinstance(obj.metadata.get("fcp_xml"), MutableMapping):
        obj.metadata["fcp_xml"] = {}
    return obj.metadata["fcp_xml"]


def _flattened(timeline: otio.schema.Timeline) -> tuple[otio.schema.Timeline, int]:
    """One video track: the enabled video tracks (not the mattes) flattened, top covering bottom.

    The record offset an EDL reader keeps in its track's source_range (or the timeline's start) stays, so
    the events keep their record timecodes. Dissolves that a higher clip's edge cuts through become cuts
    (the flattening cannot split a transition)."""
    video = [
        copy.deepcopy(t)
        for t in timeline.tracks
        if isinstance(t, otio.schema.Track)
        and t.kind == otio.schema.TrackKind.Video
        and t.enabled
        and not is_river_track(t.name, matte=True)
    ]
    ranges = [t.source_range for t in video if t.source_range is not None]
    offset = ranges[0] if ranges else None
    for t in video:
        t.source_range = None
    dropped = _drop_cut_transitions(video)
    flat = otio.algorithms.flatten_stack(video) if video else otio.schema.Track()
    flat.name = "V"
    flat.kind = otio.schema.TrackKind.Video
    start = timeline.global_start_time
    if offset is not None:
        flat.source_range = otio.opentime.TimeRange(offset.start_time, flat.duration())
    elif start is not None and start.value:
        flat.source_range = otio.opentime.TimeRange(-start, flat.duration())
    result = otio.schema.Timeline(name=timeline.name, global_start_time=copy.deepcopy(start))
    result.tracks.append(flat)
    return result, dropped


def _drop_cut_transitions(tracks: list[otio.schema.Track]) -> int:
    """Remove (and count) the transitions of a track that an item edge of a higher track falls in or on:
    flattening trims the track there, and OTIO refuses to trim a transition that does not lie strictly
    inside the trim."""
    dropped = 0
    for i, track in enumerate(tracks):
        edges: set[float] = set()
        for upper in tracks[i + 1 :]:
            for item, span in upper.range_of_all_children().items():
                if not isinstance(item, otio.schema.Gap | otio.schema.Transition):
                    edges.update((span.start_time.to_seconds(), span.end_time_exclusive().to_seconds()))
        for index in reversed(range(len(track))):
            item = track[index]
            if isinstance(item, otio.schema.Transition):
                span = item.range_in_parent()
                a, b = span.start_time.to_seconds(), span.end_time_exclusive().to_seconds()
                if any(a - _EPSILON <= e <= b + _EPSILON for e in edges):
                    del track[index]
                    dropped += 1
    return dropped


# ---------------------------------------------------------------------------------------------------
# Writing


@contextmanager
def _quiet() -> Iterator[None]:
    # The adapters log through the root logger (as in read.py): keep the user's console clean.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _options(fmt: Format, source: LoadedTimeline) -> dict[str, Any]:
    if fmt.adapter == "AAF":
        return {"use_empty_mob_ids": True}  # new clips (RIVER's) have no Avid mob id: the writer makes one
    if fmt.adapter == "cmx_3600":
        return {"rate": float(source.rate)}  # else the writer takes the rate of the first item's duration
    return {}


def _write_adapter(
    timeline: otio.schema.Timeline, target: Path, fmt: Format, out: Path, kwargs: dict[str, Any]
) -> None:
    written = None
    try:
        with _quiet():
            if fmt.adapter == "otio_json":
                # The same text as OTIO's file writer, written at once: its writer streams the file a
                # character at a time (a 16 MB timeline: 0.29 s, against 0.11 s through a string).
                written = otio.adapters.write_to_string(timeline, adapter_name=fmt.adapter, **kwargs)
            else:
                otio.adapters.write_to_file(timeline, str(target), adapter_name=fmt.adapter, **kwargs)
    except Exception as exc:  # noqa: BLE001 — adapters raise anything from KeyError to AAFValidationError
        text = " ".join(str(exc).split()) or type(exc).__name__
        if len(text) > 160:
            text = text[:157] + "…"
        others = ", ".join(f.suffixes[0] for f in FORMATS if f.adapter not in (fmt.adapter, "otioz", "otiod"))
        raise TimelineError(
            f"{out}: the {fmt.label} writer refuses this timeline ({type(exc).__name__}: {text}); "
            f"write {others} instead (.otio keeps everything)"
        ) from None
    if written is not None:  # (an OSError here is the disk's, reported by the caller's staging)
        target.write_bytes(written.encode("utf-8"))


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A private folder beside ``out`` (same file system: the rename into place is atomic), removed after."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".river-tmp", dir=out.parent))
    except OSError as exc:
        raise TimelineError(_unwritable(out, exc)) from None
    try:
        yield tmp
    except OSError as exc:
        raise TimelineError(f"{out}: writing failed ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _put(staged: Path, out: Path, tmp: Path) -> None:
    if staged.is_dir() and out.is_dir():  # an .otiod replacing one (check_output identified it)
        out.rename(tmp / "replaced.otiod")
    staged.replace(out)
