"""The handlers of ``river timeline info|edit|mark|rerender`` (registered by :mod:`host_plugins.otio.cli`).

Host side only (OTIO and the bridge client; no torch, no numpy). Errors are one line on stderr.
Exit codes: 0 done; 1 failed (nothing written); 2 bad usage or input (nothing written); 3 some clips
failed — the timeline was written with the clips that succeeded, each failure listed; 130 cancelled.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from bridge.cli_jobs import (
    InputError,
    as_flags,
    check_choices,
    connect,
    error,
    job_settings,
    parse_rate,
    wait_until_ready,
)
from bridge.client import BridgeError, RiverClient
from bridge.v1 import bridge_pb2
from host_plugins.otio.batch import Batch, ClipJob, clip_specs, finished, slug
from host_plugins.otio.clips import ClipEntry, ClipMap, map_clips
from host_plugins.otio.layback import (
    RenderedClip,
    SpanMarker,
    add_markers,
    lay_back,
    replace_clip_media,
    river_clips,
)
from host_plugins.otio.rational import exact_rate, frames_at, rate_text, time_range, timecode
from host_plugins.otio.read import LoadedTimeline, TimelineError, read_timeline
from host_plugins.otio.relink import MediaFinder, Relinked
from host_plugins.otio.select import Selection, SelectionError, parse_selector, select
from host_plugins.otio.write import check_output, write_timeline

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_CANCELLED = 0, 1, 2, 3, 130


Handler = Callable[[argparse.Namespace], int]


def one_line(fn: Handler) -> Handler:
    """Timeline, selection, input and bridge errors as ``river: error: …`` (exit 2 or 1)."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (TimelineError, InputError) as exc:
            if getattr(args, "debug", False):
                raise
            error(str(exc))
            return EXIT_USAGE
        except BridgeError as exc:
            if getattr(args, "debug", False):
                raise
            error(
                f"{as_flags(exc.details)}" if exc.code == "INVALID_ARGUMENT" else f"{exc.code}: {exc.details}"
            )
            return EXIT_USAGE if exc.code == "INVALID_ARGUMENT" else EXIT_ERROR

    return run


# -- loading ------------------------------------------------------------------------------------


def load(args: argparse.Namespace) -> ClipMap:
    rate = None
    if args.rate:
        num, den = parse_rate(args.rate)
        rate = Fraction(num, den)
    for d in args.search_path:
        if not d.is_dir():
            raise InputError(f"--search-path {d}: not a folder")
    loaded = read_timeline(args.timeline, rate=rate, search_paths=[d.resolve() for d in args.search_path])
    finder = MediaFinder(loaded.media_folder, [d.resolve() for d in args.search_path])
    clip_map = map_clips(loaded, finder)
    if not args.quiet and not args.json:
        for note in loaded.notes:
            print(f"note: {note}", file=sys.stderr)
    return clip_map


def chosen(clip_map: ClipMap, args: argparse.Namespace) -> Selection:
    return select(clip_map, [parse_selector(s) for s in args.select])


# -- info ---------------------------------------------------------------------------------------


@one_line
def cmd_info(args: argparse.Namespace) -> int:
    clip_map = load(args)
    if args.json:
        print(json.dumps(info_json(clip_map), indent=2))
        return EXIT_OK
    for line in info_lines(clip_map):
        print(line)
    return EXIT_OK


def info_json(clip_map: ClipMap) -> dict[str, Any]:
    loaded = clip_map.loaded
    tl = loaded.timeline
    return {
        "path": str(loaded.path),
        "format": loaded.format.label,
        "name": tl.name,
        "rate": rate_text(loaded.rate),
        "start_timecode": timecode(loaded.start_frame, loaded.rate),
        "duration_frames": _frames(tl.duration(), loaded.rate),
        "tracks": [
            {
                "index": i,
                "name": t.name,
                "kind": str(t.kind),
                "items": len(t),
                "transitions": sum(1 for it in t if it.schema_name() == "Transition"),
            }
            for i, t in enumerate(tl.tracks)
        ],
        "markers": [m.name for m in tl.tracks.markers],
        "clips": [e.to_json(loaded) for e in clip_map.entries],
        "notes": loaded.notes,
    }


def info_lines(clip_map: ClipMap) -> list[str]:
    loaded = clip_map.loaded
    tl = loaded.timeline
    n_video = sum(1 for t in tl.tracks if t.kind == "Video")
    editable = len(clip_map.editable)
    lines = [
        f"{loaded.path.name}: {loaded.format.label} timeline {tl.name!r}, {rate_text(loaded.rate)} fps, "
        f"starts "
        f"{timecode(loaded.start_frame, loaded.rate)}, {len(tl.tracks)} tracks ({n_video} video)",
        f"{len(clip_map.entries)} video items, {editable} editable",
    ]
    for e in clip_map.entries:
        lines.append(f"  #{e.number:<3} {e.track_label:10} {e.name[:40]!r}")
        lines.append(f"       record {e.record_tc(loaded)} ({e.record[0]}:{e.record[1]})")
        if e.target:
            found = f"found {e.media} ({e.relinked.how})" if e.media and e.relinked else f"MISSING {e.target}"
            lines.append(f"       media {found}")
        if e.source is not None and e.media_rate is not None:
            handles = f", render {e.render[0]}:{e.render[1]}" if e.render and e.render != e.source else ""
            lines.append(
                f"       source frames {e.source[0]}:{e.source[1]} at {rate_text(e.media_rate)} fps "
                f"({e.source_tc()}){handles}"
            )
        if e.effects:
            lines.append(f"       effects: {', '.join(e.effects)}")
        if e.transitions:
            lines.append(f"       transitions: {', '.join(e.transitions)}")
        if e.skip:
            lines.append(f"       skipped: {e.skip}")
    return lines


def _frames(rt: Any, rate: Fraction) -> int:
    return int(frames_at(rt, rate))


# -- edit ---------------------------------------------------------------------------------------


def edit_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The job options of an edit command, checked: a query or targets (not both), --confirm only at a
    terminal (every host's edit command uses this)."""
    settings = job_settings(args)
    if args.query is None and settings["targets"] is None:
        raise InputError('say what to change: a "query", or --targets with --op')
    if args.query is not None and settings["targets"]:
        raise InputError("give either a query or --targets, not both")
    if args.confirm and not sys.stdin.isatty():
        raise InputError(
            "--confirm asks you to review each plan here, which needs a terminal; drop it to render"
        )
    return settings


@one_line
def cmd_edit(args: argparse.Namespace) -> int:
    settings = edit_settings(args)
    if args.with_matte and (args.no_matte or (settings["deliver"] and "matte" not in settings["deliver"])):
        raise InputError(
            "--with-matte lays the mattes on a track: drop --no-matte, or add matte to --deliver"
        )
    clip_map = load(args)
    sel = chosen(clip_map, args)
    out_fmt = check_output(args.timeline, args.out, overwrite=args.overwrite, source=clip_map.loaded)
    folder = f"{slug(args.timeline.stem)}"
    jobs = clip_specs(
        sel.chosen, kind="edit", folder=folder, settings=settings, query=args.query,
        host_context=_context(clip_map.loaded),
    )  # fmt: skip
    if args.dry_run:
        return dry_run(clip_map.loaded, sel, jobs, args)
    report_skipped(sel, args)
    with connect(args, start=not args.no_start) as client:
        wait_until_ready(client, args)
        caps, cancelled = run_on_server(client, jobs, folder, args, confirm=args.confirm)
        done = [j for j in jobs if j.state == bridge_pb2.JOB_STATE_SUCCEEDED]
        results, failures = [], [(j, j.failure) for j in jobs if j.failure and not cancelled]
        for j in done:
            try:
                f = finished(j, capabilities=caps, query=args.query)
            except ValueError as exc:
                failures.append((j, str(exc)))
                continue
            results.append(
                RenderedClip(
                    entry=j.entry,
                    media=f.media,
                    rendered=f.rendered,
                    job_id=j.job.id,  # type: ignore[union-attr]
                    label=args.query or targets_label(settings),
                    provenance=f.provenance,
                    provenance_path=f.provenance_path,
                    matte=f.matte,
                )
            )
    # (in place: the input timeline is not used after, and copying a long one takes a while)
    return finish(clip_map.loaded, results, failures, args, out_fmt, cancelled=cancelled,
                  build=lambda: lay_back(clip_map.loaded, results, with_matte=args.with_matte,
                                         in_place=True))  # fmt: skip


def run_batch(batch: Batch, *, confirm: bool) -> bool:
    """Submit, (confirm,) follow; Ctrl-C or SIGTERM cancels the whole batch. True when cancelled."""
    with Stops() as stops:
        try:
            with stops.held_back():
                batch.submit()
            if confirm:
                batch.follow(until_awaiting=True)
                if not _review(batch):
                    batch.cancel("declined at plan review")
                    return True
                batch.confirm_all()
            batch.follow()
        except KeyboardInterrupt as exc:  # Terminated (SIGTERM) included
            print("\ncancelling the batch …", file=sys.stderr, flush=True)
            how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
            batch.cancel(f"cancelled from river timeline ({how})")
            return True
    return False


class Terminated(KeyboardInterrupt):
    """SIGTERM while a batch runs (`timeout`, an NLE's script stopping us): handled as Ctrl-C is."""


class Stops:
    """While a batch runs, SIGTERM stops it as Ctrl-C does (its handler raises :class:`Terminated`; the
    command line's own turns it into an error that would leave the jobs running). While the batch is
    being submitted (``held_back``), the first Ctrl-C or SIGTERM waits for the submission to return, so
    that the jobs it queued are known and can be cancelled; a second one stops at once. The previous
    handlers come back after; an ignored signal stays ignored; off the main thread nothing changes."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._holding = False
        self._held: KeyboardInterrupt | None = None

    def __enter__(self) -> Stops:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous = signal.getsignal(sig)
                theirs = sig == signal.SIGINT and previous is not signal.default_int_handler
                if previous is signal.SIG_IGN or theirs:
                    continue  # ignored (a background job), or someone else's Ctrl-C handler: left alone
                self._previous[sig] = signal.signal(sig, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _stop(self, signum: int, frame: object) -> None:
        stop = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self._holding and self._held is None:
            self._held = stop
            print("\nstopping once the batch is submitted …", file=sys.stderr, flush=True)
            return
        raise stop

    @contextlib.contextmanager
    def held_back(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._held is not None:
            raise self._held


def _review(batch: Batch) -> bool:
    for j in batch.jobs:
        job = j.job
        if job is None or job.state != bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION:
            continue
        print(f"{j.entry.track_label} {j.entry.name}: {job.plan.explanation or 'no explanation'}")
        for t in job.plan.targets:
            spans = ", ".join(f"{f.start}:{f.end}" for f in t.frames)
            print(f"    target {t.id} {t.category} {t.attributes} frames {spans}")
    ready = sum(1 for j in batch.jobs if j.state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION)
    answer = input(f"render {ready} clip(s) with these plans? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def finish(
    loaded: LoadedTimeline,
    results: Sequence[Any],
    failures: list[tuple[ClipJob, str]],
    args: argparse.Namespace,
    out_fmt: Any,
    *,
    cancelled: bool,
    build: Callable[[], Any],
) -> int:
    """Write the new timeline when anything succeeded; list failures; the exit code."""
    for j, why in failures:
        error(f"{j.entry.track_label} {j.entry.name!r} [{j.entry.record_tc(loaded)}]: {why}")
    if not results:
        if cancelled:
            error("cancelled; no clip finished, so no timeline was written")
            return EXIT_CANCELLED
        error(f"no clip succeeded; {args.out} was not written")
        return EXIT_ERROR
    written = write_timeline(build(), args.out, source=loaded, overwrite=args.overwrite)
    summary = {
        "timeline": str(written.path),
        "sidecar": str(written.sidecar) if written.sidecar else None,
        "notes": written.notes,
        "succeeded": len(results),
        "failed": [{"clip": j.entry.name, "track": j.entry.track_label, "why": why} for j, why in failures],
        "cancelled": cancelled,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        stream = sys.stderr if getattr(args, "json_printed", False) else sys.stdout
        print(f"wrote {written.path} ({len(results)} clip(s) with results)", file=stream)
        if written.sidecar:
            print(f"  and {written.sidecar}", file=stream)
        for note in written.notes:
            print(f"  note: {note}", file=stream)
    if cancelled:
        return EXIT_CANCELLED
    return EXIT_PARTIAL if failures else EXIT_OK


def rendered(j: ClipJob) -> tuple[int, int]:
    """The media frames the server will render for ``j``: the clip's source frames widened by its
    transition handles, then by ``--handles`` each side, within the media (as the engine widens them)."""
    e = j.entry
    assert e.render is not None
    handles = j.spec.media.handles
    a, b = e.render[0] - handles, e.render[1] + handles
    total = e.facts.frames if e.facts is not None else None
    return max(0, a), b if not total else min(total, b)


def dry_run(loaded: LoadedTimeline, sel: Selection, jobs: list[ClipJob], args: argparse.Namespace) -> int:
    checked = check_with_running_server(jobs, args)
    rows = []
    for j in jobs:
        e = j.entry
        rows.append({
            "clip": e.name, "track": e.track_label, "record": e.record_tc(loaded),
            "record_frames": list(e.record), "media": str(e.media),
            "source_frames": list(e.source or ()), "render_frames": list(rendered(j)),
            "handles": j.spec.media.handles,
            "rate": rate_text(e.media_rate) if e.media_rate else None, "source_timecode": e.source_tc(),
            "output": j.spec.output,
        })  # fmt: skip
    skipped = [{"clip": e.name, "track": e.track_label, "why": e.skip} for e in sel.skipped]
    if args.json:
        print(json.dumps({"submit": rows, "skipped": skipped, "checked": checked}, indent=2))
        return EXIT_OK
    print(f"would submit {len(rows)} job(s) ({checked}):")
    for r in rows:
        handles = (
            ""
            if r["render_frames"] == r["source_frames"]
            else f" render {r['render_frames'][0]}:{r['render_frames'][1]}"
        )
        print(f"  {r['track']:10} {r['clip']!r} record {r['record']}")
        print(f"      {r['media']} frames {r['source_frames'][0]}:{r['source_frames'][1]}{handles} "
              f"at {r['rate']} ({r['source_timecode']})")  # fmt: skip
    for s in skipped:
        print(f"  skipped {s['track']} {s['clip']!r}: {s['why']}")
    return EXIT_OK


# -- mark ---------------------------------------------------------------------------------------


@one_line
def cmd_mark(args: argparse.Namespace) -> int:
    if args.out is None and not args.json:
        raise InputError("--out NEW_TIMELINE is needed to write the markers (or --json to print the spans)")
    clip_map = load(args)
    loaded = clip_map.loaded
    sel = chosen(clip_map, args)
    out_fmt = (
        check_output(args.timeline, args.out, overwrite=args.overwrite, source=loaded) if args.out else None
    )
    folder = f"{slug(args.timeline.stem)}_mark"
    settings = {"profile": args.profile or ""}
    jobs = clip_specs(sel.chosen, kind="plan", folder=folder, settings=settings, query=args.query,
                      host_context=_context(loaded))  # fmt: skip
    if args.dry_run:
        return dry_run(loaded, sel, jobs, args)
    report_skipped(sel, args)
    with connect(args, start=not args.no_start) as client:
        wait_until_ready(client, args)
        _, cancelled = run_on_server(client, jobs, folder, args)
    markers: list[SpanMarker] = []
    failures = [(j, j.failure) for j in jobs if j.failure and not cancelled]
    for j in jobs:
        if j.state == bridge_pb2.JOB_STATE_SUCCEEDED and j.job is not None:
            markers.extend(plan_markers(j, loaded, args.query))
    spans = [
        {"clip": m.metadata["clip"], "track": m.metadata["track"], "target": m.metadata["target"],
         "record": f"{timecode(loaded.start_frame + m.record[0], loaded.rate)}-"
                   f"{timecode(loaded.start_frame + m.record[1], loaded.rate)}",
         "record_frames": list(m.record), "note": m.note}
        for m in markers
    ]  # fmt: skip
    if args.json:
        failed = [{"clip": j.entry.name, "why": w} for j, w in failures]
        print(json.dumps({"query": args.query, "spans": spans, "failed": failed}, indent=2))
    else:
        for s in spans:
            print(f"{s['record']}  {s['track']} {s['clip']!r}: {s['target']}")
        if not spans:
            print(f"no span of the selected clips answers {args.query!r}")
    if args.out is None:
        for j, why in failures:
            error(f"{j.entry.track_label} {j.entry.name!r}: {why}")
        return EXIT_CANCELLED if cancelled else (EXIT_PARTIAL if failures else EXIT_OK)
    ok_jobs = [j for j in jobs if j.state == bridge_pb2.JOB_STATE_SUCCEEDED]
    return finish(loaded, ok_jobs, failures, _quiet_json(args), out_fmt, cancelled=cancelled,
                  build=lambda: add_markers(loaded, markers))  # fmt: skip


def plan_markers(j: ClipJob, loaded: LoadedTimeline, query: str) -> list[SpanMarker]:
    """Markers at the record frames of the plan's target spans (media frames → record frames, exactly;
    a span that starts or ends between record frames is widened to whole ones)."""
    job = j.job
    e = j.entry
    assert job is not None and e.source is not None and e.media_rate is not None
    scale = loaded.rate / e.media_rate
    out = []
    for t in job.plan.targets:
        for f in t.frames:
            a = max(f.start, e.source[0])
            b = min(f.end, e.source[1])
            if b <= a:
                continue  # a span in the transition handles only: not visible in this clip's cut
            r0 = e.record[0] + (a - e.source[0]) * scale
            r1 = e.record[0] + (b - e.source[0]) * scale
            record = (int(r0), -int(-r1 // 1))
            label = f"{t.category} #{t.id}" + (f" ({t.attributes})" if t.attributes else "")
            note = f"{label}: {job.plan.explanation}".strip()
            out.append(SpanMarker(
                record=record, name=query, note=note,
                metadata={"job_id": job.id, "clip": e.name, "track": e.track_label, "target": label,
                          "media_frames": [a, b]},
            ))  # fmt: skip
    return out


def check_with_running_server(jobs: list[ClipJob], args: argparse.Namespace) -> str:
    """A dry run starts no server, but one that runs checks --op, --format, --profile and --deliver
    against its lists (InputError, as a real run would refuse them); what was checked, in words."""
    try:
        with connect(args, start=False) as client:
            caps = client.capabilities()
    except BridgeError:
        return "--op, --format, --profile and --deliver not checked: no server runs; a real run checks them"
    for j in jobs[:1]:  # a batch's jobs share their settings
        check_choices(j.spec, caps)
    return "settings checked against the running server"


# -- rerender -----------------------------------------------------------------------------------


@one_line
def cmd_rerender(args: argparse.Namespace) -> int:
    clip_map = load(args)
    loaded = clip_map.loaded
    out_fmt = check_output(args.timeline, args.out, overwrite=args.overwrite, source=loaded)
    found = river_clips(loaded.timeline)
    if not found:
        raise TimelineError(f"{args.timeline}: has no RIVER track; run `river timeline edit` first")
    picked = select_river(found, clip_map, args) if args.select else found
    missing = [rc for rc in picked if not rc.provenance]
    if missing:
        names = ", ".join(repr(rc.clip.name) for rc in missing[:3])
        raise TimelineError(
            f"{len(missing)} RIVER clip(s) ({names}) carry no provenance (metadata or a readable "
            "provenance.json); rerender from the .otio written beside the timeline"
        )
    finder = MediaFinder(loaded.media_folder, [d.resolve() for d in args.search_path])
    jobs, specs_for = [], {}
    folder = f"{slug(args.timeline.stem)}_rerender"
    for rc in picked:
        spec, entry = rerender_spec(rc, finder, args, folder, loaded)
        cj = ClipJob(entry, spec)
        jobs.append(cj)
        specs_for[id(cj)] = rc
    if args.dry_run:
        for cj in jobs:
            print(f"would re-render {cj.entry.name!r} from {cj.spec.media.path} frames "
                  f"{cj.spec.media.range.start}:{cj.spec.media.range.end} "
                  f"({'query' if args.re_reason else 'stored plan'})")  # fmt: skip
        return EXIT_OK
    # A server started for this runs the profile the clips were made with (--profile, else their own).
    profiles = {cj.spec.profile for cj in jobs}
    profile = profiles.pop() if len(profiles) == 1 else ""
    with connect(args, start=not args.no_start, profile=profile) as client:
        wait_until_ready(client, args)
        caps, cancelled = run_on_server(client, jobs, folder, args)
        failures = [(j, j.failure) for j in jobs if j.failure and not cancelled]
        swaps = []
        for j in jobs:
            if j.state != bridge_pb2.JOB_STATE_SUCCEEDED:
                continue
            rc = specs_for[id(j)]
            try:
                f = finished(j, capabilities=caps, query=rc.provenance.get("query"))  # type: ignore[union-attr]
            except ValueError as exc:
                failures.append((j, str(exc)))
                continue
            e = j.entry
            assert e.media_rate is not None
            # Where the clip came from stays as the first edit recorded it (this entry is the RIVER clip's).
            before = (rc.provenance or {}).get("source") or {}
            f.provenance["source"].update({k: before[k] for k in ("clip", "track", "record") if k in before})
            avail = time_range(e.media_start + f.rendered[0], f.rendered[1] - f.rendered[0], e.media_rate)
            swaps.append((rc, f, avail, j.job.id))  # type: ignore[union-attr]

    def build() -> Any:
        copy = loaded.timeline.deepcopy()
        fresh = {(rc.track_index, rc.item_index): rc for rc in river_clips(copy, read_provenance=False)}
        for rc, f, avail, job_id in swaps:
            replace_clip_media(copy, fresh[(rc.track_index, rc.item_index)], f.media, avail, job_id,
                               f.provenance, f.provenance_path)  # fmt: skip
        return copy

    return finish(loaded, swaps, failures, args, out_fmt, cancelled=cancelled, build=build)


def select_river(found: list[Any], clip_map: ClipMap, args: argparse.Namespace) -> list[Any]:
    """The RIVER clips made from the selected clips (selection as for edit): a RIVER clip whose record
    names the track it came from is picked when a selected clip of that track overlaps its record frames
    (not one of another track that merely overlaps it); one that names none, or one selected itself
    (``track:RIVER``), by overlap alone."""
    sel = chosen(clip_map, args)
    rate = clip_map.loaded.rate
    selected_items = {(e.track_index, e.item_index) for e in sel.chosen}
    picked = []
    for rc in found:
        placed = rc.clip.range_in_parent()
        a = int(frames_at(placed.start_time, rate))
        b = a + int(frames_at(placed.duration, rate))
        source = (rc.provenance or {}).get("source") or {}
        track = source.get("track")
        spans = [e.record for e in sel.chosen if not track or e.track_label == track]
        if (rc.track_index, rc.item_index) in selected_items or any(s0 < b and a < s1 for s0, s1 in spans):
            picked.append(rc)
    if not picked:
        raise SelectionError("the selection covers no RIVER clip")
    return picked


def rerender_spec(
    rc: Any, finder: MediaFinder, args: argparse.Namespace, folder: str, loaded: LoadedTimeline
) -> tuple[bridge_pb2.EditSpec, ClipEntry]:
    prov = rc.provenance
    src = prov.get("source") or {}
    spec_d = prov.get("spec") or {}
    media_path, rendered = src.get("media"), src.get("rendered")
    if not media_path or not rendered:
        raise TimelineError(f"RIVER clip {rc.clip.name!r}: its provenance does not name its source media")
    found = finder.find(media_path)
    if found.path is None:
        raise TimelineError(f"RIVER clip {rc.clip.name!r}: its source media is gone ({found.reason})")
    rate = exact_rate(
        Fraction(src["rate"]) if src.get("rate") else Fraction(rc.clip.source_range.duration.rate)
    )
    render = {k: v for k, v in (spec_d.get("render") or {}).items()}
    for name in ("seed", "steps", "guidance_scale", "conditioning_scale"):
        if getattr(args, name) is not None:
            render[name] = getattr(args, name)
    common: dict[str, Any] = {
        "profile": args.profile or spec_d.get("profile", ""),
        "format": args.format or spec_d.get("format", ""),
        "deliver": spec_d.get("deliver") or None,
        "render": render or None,
    }
    # A stored plan carries what to do itself; re-reasoning from targets needs the op again.
    what_to_do = {
        "op": spec_d.get("op", ""),
        "prompt": spec_d.get("prompt", ""),
        "remove": spec_d.get("remove", False),
        "color": spec_d.get("color", ""),
    }
    query = prov.get("query")
    if args.re_reason:
        if not query and not (spec_d.get("targets") or {}).get("items"):
            raise TimelineError(
                f"RIVER clip {rc.clip.name!r} was made without a query; nothing to reason again"
            )
        what: dict[str, Any] = {"query": query} if query else {"targets": spec_d["targets"]["items"]}
        what.update(what_to_do)
        kind = "edit"
    else:
        if "plan" not in prov and prov.get("provenance"):  # river_clips could not read it from there
            raise TimelineError(
                f"RIVER clip {rc.clip.name!r}: its plan is in {prov['provenance']}, which cannot be read "
                "here; make it readable, or use --re-reason"
            )
        if not prov.get("plan"):
            raise TimelineError(f"RIVER clip {rc.clip.name!r} has no stored plan; use --re-reason")
        what, kind = {"plan_json": json.dumps(prov["plan"])}, "render"
    record = tuple(src.get("record") or (0, 0))
    entry = ClipEntry(
        number=0, item=rc.clip, track_index=rc.track_index, video_number=0, track_name="RIVER",
        item_index=rc.item_index, record=(int(record[0]), int(record[1])),
        name=src.get("clip") or rc.clip.name,
        target=media_path or "", relinked=Relinked(found.path, found.how, "", found.facts, found.verified),
        media_rate=rate, media_start=int(src.get("media_start") or 0),
        source=tuple(src["frames"]) if src.get("frames") else (int(rendered[0]), int(rendered[1])),  # type: ignore[arg-type]
        render=(int(rendered[0]), int(rendered[1])),
    )  # fmt: skip
    out = f"{folder}/{rc.item_index:03d}_{slug(entry.name)}"
    spec = RiverClient.edit_spec(
        found.path, kind=kind, frames=entry.render, rate=(rate.numerator, rate.denominator), output=out,
        host_context=_context(loaded), **what, **common,
    )  # fmt: skip
    return spec, entry


# -- helpers ------------------------------------------------------------------------------------


def _context(loaded: LoadedTimeline) -> dict[str, str]:
    return {"host": "otio", "timeline": str(loaded.path), "timeline_name": loaded.timeline.name or ""}


def targets_label(settings: dict[str, Any]) -> str:
    return f"{settings['op'] or 'generate'} {','.join(settings['targets'] or [])}".strip()


def run_on_server(
    client: RiverClient, jobs: list[ClipJob], folder: str, args: argparse.Namespace, *, confirm: bool = False
) -> tuple[bridge_pb2.Capabilities, bool]:
    """Check the specs against the server's lists, give the batch its own output folder, run it (Ctrl-C
    cancels it all). Returns the capabilities and whether the batch was cancelled."""
    caps = client.capabilities()
    for j in jobs:
        check_choices(j.spec, caps)
    _unique_folders(jobs, caps, folder)
    batch = Batch(client, jobs, say=say_to(args), progress=not args.quiet and not args.json)
    return caps, run_batch(batch, confirm=confirm)


def _unique_folders(jobs: list[ClipJob], caps: bridge_pb2.Capabilities, folder: str) -> None:
    """Put this batch's outputs in a folder of its own under the server's output root."""
    root = Path(caps.output_root) if caps.output_root else None
    n = 1
    name = folder
    while root is not None and (root / name).exists():
        n += 1
        name = f"{folder}_{n}"
    for j in jobs:
        j.spec.output = name + j.spec.output[len(folder) :]


def report_skipped(sel: Selection, args: argparse.Namespace) -> None:
    if args.quiet:
        return
    for e in sel.skipped:
        print(f"skipping {e.track_label} {e.name!r}: {e.skip}", file=sys.stderr)


def say_to(args: argparse.Namespace) -> Callable[[str], None]:
    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    return say


def _quiet_json(args: argparse.Namespace) -> argparse.Namespace:
    """``finish`` after mark's own --json output: what it wrote goes to stderr, stdout stays JSON."""
    ns = argparse.Namespace(**vars(args))
    ns.json_printed, ns.json = ns.json, False
    return ns
