"""``river twin …``: the schema, validation, building, drawing and the LLM's view of a twin."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from river_core.cli.common import print_json as _print_json
from river_core.cli.common import progress_bar
from river_core.errors import RiverError


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    twin = groups.add_parser("twin", help="digital twins of clips", parents=[common])
    twin_cmds = twin.add_subparsers(title="twin commands", metavar="COMMAND")
    p = twin_cmds.add_parser("schema", parents=[common], help="print the twin's JSON Schema")
    p.set_defaults(handler=cmd_twin_schema)
    p = twin_cmds.add_parser(
        "validate", parents=[common], help="check a twin.json against the schema and rules"
    )
    p.add_argument("twin", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_twin_validate)

    p = twin_cmds.add_parser(
        "build", parents=[common], help="build a clip range's twin (SAM 2, OWLv2, Depth Anything, Qwen2.5-VL)"
    )
    p.add_argument("media", type=Path)
    p.add_argument("--range", metavar="START:END", help="source frames, half-open (default: the whole clip)")
    p.add_argument("--query", help="the editing request; its nouns join the detector's vocabulary")
    p.add_argument(
        "--profile",
        choices=("paper", "tiny"),
        default="paper",
        help="paper: the paper's checkpoints; tiny: same classes, random tiny weights, offline",
    )
    p.add_argument("--out", required=True, type=Path, help="folder to write twin.json into")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="ROLE=ID",
        help="use another checkpoint (id or local folder) for detector|tracker|depth|describer",
    )
    p.add_argument("--no-cache", action="store_true", help="build even if the cache holds this twin")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_twin_build)
    p = twin_cmds.add_parser(
        "render", parents=[common], help="draw a twin's masks, ids, categories and depths"
    )
    p.add_argument("twin", type=Path)
    p.add_argument("--out", required=True, type=Path, help="overlay.mp4|.mov|.mkv (a movie) or sheet.png")
    p.add_argument("--media", type=Path, help="the twin's media, if it moved since the twin was built")
    p.add_argument("--frames", type=int, default=12, help="frames on a contact sheet (default 12)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(handler=cmd_twin_render)
    add_twin_view(twin_cmds, common)


def add_twin_view(twin_cmds: Any, common: argparse.ArgumentParser) -> None:
    p = twin_cmds.add_parser("view", parents=[common], help="print the view of a twin an LLM reads")
    p.add_argument("twin", type=Path)
    p.add_argument(
        "--format",
        choices=("compact", "paper"),
        default="compact",
        help="compact: per-track summaries and keyframed trajectories (the prompt); paper: per-frame JSON",
    )
    p.add_argument("--budget-tokens", type=int, metavar="N", help="fit the compact view in about N tokens")
    p.add_argument("--stats", action="store_true", help="print sizes of both views on stderr")
    p.set_defaults(handler=cmd_twin_view)


def cmd_twin_schema(args: argparse.Namespace) -> int:
    from river_core.twin.schema import twin_json_schema

    _print_json(twin_json_schema())
    return 0


def cmd_twin_validate(args: argparse.Namespace) -> int:
    from river_core.twin.schema import validate_twin

    doc = validate_twin(args.twin)
    n_objects = sum(len(f.objects) for f in doc.frames)
    summary = {
        "valid": True,
        "path": str(args.twin),
        "schema_version": doc.schema_version,
        "frames": len(doc.frames),
        "objects": n_objects,
        "tracks": len({o.id for f in doc.frames for o in f.objects}),
    }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"{args.twin}: valid twin (schema {doc.schema_version}), {summary['frames']} frames, "
            f"{summary['tracks']} tracks, {n_objects} object masks"
        )
    return 0


def cmd_twin_build(args: argparse.Namespace) -> int:
    from river_core.atomic import write_bytes_atomic
    from river_core.media import FrameRange, probe
    from river_core.twin.build import build_twin
    from river_core.twin.schema import twin_json_text

    info = probe(args.media)
    frame_range = FrameRange.parse(args.range, info.frame_count) if args.range else None
    models = {}
    for item in args.model:
        role, sep, model_id = item.partition("=")
        if not sep or not model_id:
            raise RiverError(f"--model {item!r} must be ROLE=ID, e.g. --model depth=./my-depth-checkpoint")
        models[role] = model_id
    with progress_bar(args) as progress:
        outcome = build_twin(
            args.media, frame_range, args.query, profile=args.profile, device=args.device, dtype=args.dtype,
            models=models, use_cache=not args.no_cache, progress=progress,
        )  # fmt: skip
    twin = outcome.twin
    out = args.out / "twin.json"
    write_bytes_atomic(out, twin_json_text(twin).encode("utf-8"))
    summary = {
        "twin": str(out),
        "cache": "hit" if outcome.cache_hit else "miss",
        "cache_key": outcome.cache_key,
        "frames": len(twin.frames),
        "tracks": len(twin.tracks),
        "vocabulary": twin.provenance.vocabulary,
        "calls": twin.provenance.calls,
        "timings_ms": twin.provenance.timings_ms,
        "warnings": twin.provenance.warnings,
        "elapsed_ms": round(outcome.elapsed_s * 1000),
    }
    if args.json:
        _print_json(summary)
        return 0
    source = "from the cache (no model loaded)" if outcome.cache_hit else f"in {outcome.elapsed_s:.1f} s"
    print(f"wrote {out}: {summary['frames']} frames, {summary['tracks']} tracks, built {source}")
    if not outcome.cache_hit:
        calls = ", ".join(f"{role} {n}" for role, n in twin.provenance.calls.items())
        print(f"  model calls: {calls or 'none'}")
    for warning in twin.provenance.warnings:
        print(f"  warning: {warning}")
    if args.profile == "tiny":
        print("  note: the tiny profile runs the real classes with random weights; its masks are meaningless")
    return 0


def cmd_twin_render(args: argparse.Namespace) -> int:
    from river_core.twin.cache import TwinCache
    from river_core.twin.render import render_sheet, render_video
    from river_core.twin.schema import validate_twin

    twin = validate_twin(args.twin)
    media = args.media or Path(twin.video.path)
    if not media.exists():
        raise RiverError(f"the twin's media {media} is not there; pass --media with where it is now")
    if TwinCache().media_hash(media) != twin.video.content_hash:
        raise RiverError(
            f"{media} is not the media this twin was built from (its content differs); pass --media"
        )
    if args.out.suffix.lower() == ".png":
        render_sheet(twin, media, args.out, count=args.frames, overwrite=args.overwrite)
    else:
        with progress_bar(args) as progress:
            render_video(twin, media, args.out, overwrite=args.overwrite, progress=progress)
    print(f"wrote {args.out}")
    return 0


def cmd_twin_view(args: argparse.Namespace) -> int:
    from river_core.reasoning.view import compact_view, estimate_tokens, paper_view_text
    from river_core.twin.schema import load_twin

    twin = load_twin(args.twin)
    if args.budget_tokens is not None and args.format == "paper":
        raise RiverError("--budget-tokens applies to --format compact; the paper view is never shortened")
    paper = paper_view_text(twin) if args.format == "paper" or args.stats else ""
    compact = compact_view(twin).text if args.format == "compact" or args.stats else ""
    if args.format == "compact" and args.budget_tokens is not None:
        text = compact_view(twin, budget_tokens=args.budget_tokens).text
    else:
        text = paper if args.format == "paper" else compact
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.stats:
        print(
            f"compact: {len(compact)} chars, ~{estimate_tokens(compact)} tokens; "
            f"paper: {len(paper)} chars, ~{estimate_tokens(paper)} tokens; "
            f"ratio {len(compact) / len(paper):.3f} (chars), "
            f"{estimate_tokens(compact) / max(estimate_tokens(paper), 1):.3f} (tokens)",
            file=sys.stderr,
        )
    return 0
