"""The handlers of ``python -m host_plugins.resolve info|edit|mark|free`` (parsers: :mod:`.cli`).

The time mapping, the selection report, the batch and the finished-job checks are issue 8's
(:mod:`host_plugins.otio`); what is Resolve's is reading its timeline (:mod:`.timeline`) and placing the
results (:mod:`.place`). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

from bridge.cli_jobs import InputError, connect, error, wait_until_ready
from bridge.v1 import bridge_pb2
from host_plugins.otio import commands as otio_commands
from host_plugins.otio.batch import ClipJob, clip_specs, finished, slug
from host_plugins.otio.commands import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    dry_run,
    edit_settings,
    one_line,
    plan_markers,
    report_skipped,
    run_on_server,
    targets_label,
)
from host_plugins.otio.rational import timecode
from host_plugins.resolve.api import ResolveError
from host_plugins.resolve.connect import describe, find_resolve
from host_plugins.resolve.place import MARKER_COLOR, Placer, Render
from host_plugins.resolve.timeline import ResolveTimeline, read_timeline, selection, selection_report

Handler = Callable[[argparse.Namespace], int]


def resolve_errors(fn: Handler) -> Handler:
    """ResolveError as ``river: error: …`` (exit 1), then issue 8's one-line errors."""
    wrapped = one_line(fn)

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return wrapped(args)
        except ResolveError as exc:
            if getattr(args, "debug", False):
                raise
            error(str(exc))
            return EXIT_ERROR

    return run


def _open(args: argparse.Namespace, resolve: Any = None) -> tuple[Any, ResolveTimeline, dict[str, str]]:
    for d in args.search_path:
        if not d.is_dir():
            raise InputError(f"--search-path {d}: not a folder")
    app = find_resolve(resolve)
    tl = read_timeline(app, search_paths=tuple(d.resolve() for d in args.search_path))
    if not args.quiet and not args.json:
        for note in tl.notes:
            print(f"note: {note}", file=sys.stderr)
    return app, tl, describe(app)


def _host_context(tl: ResolveTimeline, host: dict[str, str], how: str) -> dict[str, str]:
    return {
        "host": "resolve",
        "resolve_product": host["product"],
        "resolve_version": host["version"],
        "project": tl.project_name,
        "timeline": tl.timeline_name,
        "timeline_name": tl.timeline_name,
        "selection": how,
    }


# -- info -------------------------------------------------------------------------------------


@resolve_errors
def cmd_info(args: argparse.Namespace, resolve: Any = None) -> int:
    app, tl, host = _open(args, resolve)
    report: dict[str, Any] = {"resolve": host, **otio_commands.info_json(tl.clip_map)}
    report["resolve_items"] = [
        {"number": e.number, **tl.item_of(e).report()}
        for e in tl.clip_map.entries
        if (e.track_index, e.item_index) in tl.items
    ]
    if args.selection:
        sel, how = selection(app, tl, args.selection)
        report["selection"] = selection_report(tl, sel, how)
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(
        f"{host['product']} {host['version']} · project {tl.project_name!r} · timeline {tl.timeline_name!r}"
    )
    for line in otio_commands.info_lines(tl.clip_map):
        print(line)
    if args.selection:
        s = report["selection"]
        print(
            f"selection ({s['selection']}): {len(s['chosen'])} clip(s) to edit, {len(s['skipped'])} skipped"
        )
        for c in s["chosen"]:
            print(
                f"  {c['track']} {c['name']!r} record {c['record']['timecode']} source {c['source_timecode']}"
            )
        for c in s["skipped"]:
            print(f"  skipped {c['track']} {c['name']!r}: {c['skip']}")
    return EXIT_OK


# -- edit -------------------------------------------------------------------------------------


@resolve_errors
def cmd_edit(args: argparse.Namespace, resolve: Any = None) -> int:
    settings = edit_settings(args)
    app, tl, host = _open(args, resolve)
    sel, how = selection(app, tl, args.selection)
    folder = slug(f"resolve_{tl.timeline_name}")
    jobs = clip_specs(
        sel.chosen,
        kind="edit",
        folder=folder,
        settings=settings,
        query=args.query,
        host_context=_host_context(tl, host, how),
    )
    if args.dry_run:
        if args.json:
            print(
                json.dumps(
                    {
                        "selection": selection_report(tl, sel, how),
                        "submit": [json.loads(_spec_json(j)) for j in jobs],
                    },
                    indent=2,
                )
            )
            return EXIT_OK
        print(f"selection: {how}")
        return dry_run(tl.loaded, sel, jobs, args)
    report_skipped(sel, args)
    label = args.query or targets_label(settings)
    with connect(args, start=not args.no_start) as client:
        wait_until_ready(client, args)
        caps, cancelled = run_on_server(client, jobs, folder, args, confirm=args.confirm)
    failures = [(j, j.failure) for j in jobs if j.failure and not cancelled]
    placer = Placer(app, tl)
    placed = []
    for j in jobs:
        if j.state != bridge_pb2.JOB_STATE_SUCCEEDED or j.job is None:
            continue
        try:
            f = finished(j, capabilities=caps, query=args.query)
            e = j.entry
            assert e.source is not None
            render = Render(
                item=tl.item_of(e),
                clip=e.name,
                media=f.media,
                rendered=f.rendered,
                source=e.source,
                record=e.record,
                job_id=j.job.id,
                label=label,
                provenance_path=f.provenance_path,
                host=host,
            )
            placed.append(placer.place(render, args.place))
        except (ValueError, ResolveError) as exc:
            failures.append((j, str(exc)))
    return _summary(tl, placed, failures, args, cancelled=cancelled, added=placer.added_tracks)


def _spec_json(j: ClipJob) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(j.spec, preserving_proto_field_name=True)


def _summary(
    tl: ResolveTimeline,
    placed: list[Any],
    failures: list[tuple[ClipJob, str]],
    args: argparse.Namespace,
    *,
    cancelled: bool,
    added: list[int],
) -> int:
    for j, why in failures:
        error(f"{j.entry.track_label} {j.entry.name!r} [{j.entry.record_tc(tl.loaded)}]: {why}")
    if args.json:
        print(
            json.dumps(
                {
                    "project": tl.project_name,
                    "timeline": tl.timeline_name,
                    "placed": [p.to_json() for p in placed],
                    "added_tracks": added,
                    "failed": [
                        {"clip": j.entry.name, "track": j.entry.track_label, "why": w} for j, w in failures
                    ],
                    "cancelled": cancelled,
                },
                indent=2,
            )
        )
    else:
        for p in placed:
            where = f"take {p.take} of the original" if p.how == "take" else f"V{p.track}"
            print(
                f"placed {p.clip!r} (job {p.job_id}) on {where} at "
                f"{timecode(p.record[0], tl.rate)}-{timecode(p.record[1], tl.rate)}; render in the RIVER bin"
            )
            for note in p.notes:
                print(f"  note: {note}")
    if not placed:
        if cancelled:
            error("cancelled; nothing was placed")
            return EXIT_CANCELLED
        error("no clip succeeded; nothing was placed")
        return EXIT_ERROR
    if cancelled:
        return EXIT_CANCELLED
    return EXIT_PARTIAL if failures else EXIT_OK


# -- mark -------------------------------------------------------------------------------------


@resolve_errors
def cmd_mark(args: argparse.Namespace, resolve: Any = None) -> int:
    app, tl, host = _open(args, resolve)
    sel, how = selection(app, tl, args.selection)
    folder = slug(f"resolve_{tl.timeline_name}_mark")
    jobs = clip_specs(
        sel.chosen,
        kind="plan",
        folder=folder,
        settings={"profile": args.profile or ""},
        query=args.query,
        host_context=_host_context(tl, host, how),
    )
    if args.dry_run:
        return dry_run(tl.loaded, sel, jobs, args)
    report_skipped(sel, args)
    with connect(args, start=not args.no_start) as client:
        wait_until_ready(client, args)
        _, cancelled = run_on_server(client, jobs, folder, args)
    failures = [(j, j.failure) for j in jobs if j.failure and not cancelled]
    markers = [
        m
        for j in jobs
        if j.state == bridge_pb2.JOB_STATE_SUCCEEDED and j.job
        for m in plan_markers(j, tl.loaded, args.query)
    ]
    _, timeline, _ = Placer(app, tl).fresh()
    spans = []
    for m in markers:
        a, b = m.record
        frame = next(
            (
                f
                for f in range(a, b)
                if timeline.AddMarker(
                    f, MARKER_COLOR, args.query[:120], m.note, b - f, f"RIVER job {m.metadata['job_id']}"
                )
            ),
            None,
        )
        spans.append(
            {
                "clip": m.metadata["clip"],
                "track": m.metadata["track"],
                "target": m.metadata["target"],
                "record_frames": [a, b],
                "marker_frame": frame,
                "record": f"{timecode(tl.start_frame + a, tl.rate)}-{timecode(tl.start_frame + b, tl.rate)}",
            }
        )
    for j, why in failures:
        error(f"{j.entry.track_label} {j.entry.name!r}: {why}")
    if args.json:
        print(
            json.dumps(
                {
                    "query": args.query,
                    "spans": spans,
                    "failed": [{"clip": j.entry.name, "why": w} for j, w in failures],
                },
                indent=2,
            )
        )
    else:
        for s in spans:
            where = "" if s["marker_frame"] is not None else " (no marker: every frame already had one)"
            print(f"{s['record']}  {s['track']} {s['clip']!r}: {s['target']}{where}")
        if not spans:
            print(f"no span of the selected clips answers {args.query!r}")
    if cancelled:
        return EXIT_CANCELLED
    return EXIT_PARTIAL if failures else EXIT_OK


# -- free edition -----------------------------------------------------------------------------

EXPORT_STEPS = """In DaVinci Resolve (free or Studio), export the timeline first:
  1. Edit page: open the timeline; File → Export → Timeline…
  2. Save as type: FCP 7 XML V5 Files (*.xml) (Resolve relinks XML most reliably;
     .otio, .fcpxml, .edl and .aaf work too)
  3. run: python -m host_plugins.resolve free EXPORTED.xml "your request" """

IMPORT_STEPS = """Now in DaVinci Resolve: File → Import → Timeline… → {out}
  (keep "Automatically import source clips into media pool" on; the results sit on the track named RIVER,
   the original tracks are untouched; the new timeline is added beside the original)"""


@resolve_errors
def cmd_free(args: argparse.Namespace) -> int:
    """Issue 8's round trip on an exported timeline, with the menu steps around it."""
    if not args.timeline.exists():
        raise InputError(f"{args.timeline}: no such file\n{EXPORT_STEPS}")
    out = args.out or args.timeline.with_name(f"{args.timeline.stem}_river{args.timeline.suffix}")
    ns = argparse.Namespace(**vars(args))
    ns.out = out
    ns.select = args.select or ["all"]
    ns.no_matte = getattr(args, "no_matte", False)
    code = otio_commands.cmd_edit(ns)
    if code in (EXIT_OK, EXIT_PARTIAL) and not args.dry_run and not args.json:
        print(IMPORT_STEPS.format(out=out.resolve()))
    elif code == EXIT_USAGE and not args.quiet:
        print(EXPORT_STEPS, file=sys.stderr)
    return code
