"""``river twin …``: the schema, validation, building, drawing and the LLM's view of a twin."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from river_core.cli.common import print_json as _print_json
from river_core.cli.common import progress_bar
from river_core.cli.media import RANGE_HELP
from river_core.errors import MediaNotFoundError, OutputError, RiverError, TwinValidationError, UsageError

if TYPE_CHECKING:
    from river_core.twin.schema import TwinDocument
    from river_core.twin.stages import Role

TWIN_FILE = "twin.json"


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
    p.add_argument("--range", metavar="START:END", help=RANGE_HELP + " (default: the whole clip)")
    p.add_argument("--query", help="the editing request; its nouns join the detector's vocabulary")
    p.add_argument(
        "--profile",
        choices=("paper", "tiny"),
        default="paper",
        help="paper: the paper's checkpoints; tiny: same classes, random tiny weights, offline",
    )
    p.add_argument("--out", required=True, type=Path, help="folder to write twin.json into")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the folder's twin.json (only a twin RIVER wrote)"
    )
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
        "objects", parents=[common], help="list a twin's objects: id, category, attributes, frames"
    )
    p.add_argument("twin", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_twin_objects)

    p = twin_cmds.add_parser(
        "render", parents=[common], help="draw a twin's masks, ids, categories and depths"
    )
    p.add_argument("twin", type=Path)
    p.add_argument("--out", required=True, type=Path, help="overlay.mp4|.mov|.mkv (a movie) or sheet.png")
    p.add_argument("--media", type=Path, help="the twin's media, if it moved since the twin was built")
    p.add_argument(
        "--frames",
        type=int,
        metavar="N",
        help=f"frames on a contact sheet, evenly spaced, first and last included (default {SHEET_FRAMES})",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out (never an input)")
    p.set_defaults(handler=cmd_twin_render)
    add_twin_view(twin_cmds, common)


SHEET_FRAMES = 12


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
    from river_core.atomic import atomic_path
    from river_core.cli.media import parse_range_flag
    from river_core.media import probe
    from river_core.twin.build import build_twin
    from river_core.twin.schema import twin_json_text

    # 1. Check the flags and the output before any model loads.
    models = model_flags(args.model)
    check_device_flag(args.device)
    out = args.out / TWIN_FILE
    check_twin_output(out, sources=[args.media], overwrite=args.overwrite)
    info = probe(args.media)
    frame_range = parse_range_flag(args.range, info) if args.range else None
    # 2. Build (or find in the cache).
    with progress_bar(args) as progress:
        outcome = build_twin(
            args.media, frame_range, args.query, profile=args.profile, device=args.device, dtype=args.dtype,
            models=models, use_cache=not args.no_cache, progress=progress,
        )  # fmt: skip
    twin = outcome.twin
    # 3. Write.
    with atomic_path(out, sources=[args.media], overwrite=args.overwrite) as tmp:
        tmp.write_bytes(twin_json_text(twin).encode("utf-8"))
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
        "frame_range": twin.video.frame_range.to_json(),
        "start_timecode": twin.video.start_timecode,
        "objects": object_rows(twin),
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
    print(objects_table(twin))
    return 0


def model_flags(items: list[str]) -> dict[Role, str]:
    """``--model ROLE=ID`` flags as ``{role: id}``; a malformed one or an unknown role is a usage error."""
    from river_core.twin.stages import ROLES

    models: dict[Role, str] = {}
    for item in items:
        name, sep, model_id = item.partition("=")
        if not sep or not model_id.strip():
            raise UsageError(
                f"--model {item!r} must be ROLE=ID, e.g. --model depth=./my-depth-checkpoint", field="model"
            )
        role = next((r for r in ROLES if r == name), None)
        if role is None:
            raise UsageError(
                f"--model {item!r}: role {name!r} is not one of {', '.join(ROLES)}", field="model"
            )
        models[role] = model_id
    return models


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device_flag(device: str | None) -> None:
    """``--device``: auto, cpu, cuda, cuda:N or mps (whether it is there is checked when a model loads)."""
    if device is not None and not _DEVICE.fullmatch(device):
        raise UsageError(f"--device {device!r} is not one of auto, cpu, cuda, cuda:N, mps", field="device")


def check_twin_output(out: Path, *, sources: list[Path], overwrite: bool) -> None:
    """Refuse to write the twin at ``out`` over an input (ever), over an existing file without
    ``--overwrite``, or, with it, over a file that is not a twin (only RIVER's own twins are replaced)."""
    from river_core.atomic import check_output_path
    from river_core.twin.schema import validate_twin

    check_output_path(out, sources=sources, overwrite=True)  # an input is refused even so
    if not (out.exists() or out.is_symlink()):
        return
    if not overwrite:
        raise OutputError(f"{out} already exists; pass --overwrite to replace it (only a twin RIVER wrote)")
    try:
        if out.is_dir():
            raise TwinValidationError(f"{out} is a folder")
        validate_twin(out)
    except TwinValidationError:
        raise OutputError(
            f"{out} is not a twin RIVER wrote (it does not read as a twin document), so --overwrite does "
            "not replace it; move it away or choose another --out"
        ) from None


# -- the objects of a twin ---------------------------------------------------------------------------


def object_rows(twin: TwinDocument) -> list[dict[str, Any]]:
    """One JSON-ready row per object of ``twin``, by id: what ``twin objects`` and ``twin build`` show.

    ``frames`` are the half-open runs of frames it is visible in, ``first_timecode`` the timecode of
    the first of them.
    """
    from river_core.media.rational import frames_to_ranges
    from river_core.twin.schema import summarize_tracks

    start, first_tc = twin.video.frame_range.start, twin.video.timecode
    rows = []
    for track in summarize_tracks(twin.frames):
        seen = [index for index, _ in twin.track(track.id)]
        rows.append(
            {
                "id": track.id,
                "category": track.category,
                "attributes": track.attributes,
                "frames": [r.to_json() for r in frames_to_ranges(seen)],
                "frame_count": track.frame_count,
                "first_frame": track.first_frame,
                "first_timecode": str(first_tc + (track.first_frame - start)),
            }
        )
    return rows


def objects_table(twin: TwinDocument) -> str:
    """The twin's objects as a table for people (see :func:`object_rows`), e.g.::

    3 objects in frames 0:24 (24 frames from 00:00:00:00)
      id  category  frames      count  first at     attributes
       1  person    0:24           24  00:00:00:00  a woman
    """
    from river_core.media.rational import FrameRange, ranges_text

    video = twin.video
    rows = object_rows(twin)
    noun = "object" if len(rows) == 1 else "objects"
    head = (
        f"{len(rows)} {noun} in frames {video.frame_range} "
        f"({len(video.frame_range)} frames from {video.start_timecode})"
    )
    if not rows:
        return head
    cells = [
        (
            str(row["id"]),
            _one_line(row["category"]),
            ranges_text(FrameRange(r["start"], r["end"]) for r in row["frames"]),
            str(row["frame_count"]),
            row["first_timecode"],
            _one_line(row["attributes"]),
        )
        for row in rows
    ]
    titles = ("id", "category", "frames", "count", "first at", "attributes")
    # Every column but the last (free text, any length) is padded to its widest cell.
    widths = [max(len(c[k]) for c in [titles, *cells]) for k in range(len(titles) - 1)]
    right = {0, 3}  # numbers line up on the right

    def line(cols: tuple[str, ...]) -> str:
        fitted = [cols[k].rjust(w) if k in right else cols[k].ljust(w) for k, w in enumerate(widths)]
        return "  " + "  ".join([*fitted, cols[-1]]).rstrip()

    return "\n".join([head, line(titles), *(line(c) for c in cells)])


def _one_line(text: str) -> str:
    # Categories and attributes come from footage and models: show control and invisible characters
    # escaped, so none can break the table or drive the terminal.
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def cmd_twin_objects(args: argparse.Namespace) -> int:
    from river_core.twin.schema import load_twin

    twin = load_twin(args.twin)
    if args.json:
        _print_json(
            {
                "twin": str(args.twin),
                "frame_range": twin.video.frame_range.to_json(),
                "start_timecode": twin.video.start_timecode,
                "objects": object_rows(twin),
            }
        )
        return 0
    print(f"{args.twin}: {objects_table(twin)}")
    return 0


# -- drawing and viewing -----------------------------------------------------------------------------


def cmd_twin_render(args: argparse.Namespace) -> int:
    from river_core.atomic import check_output_path
    from river_core.twin.render import VIDEO_FORMATS, render_sheet, render_video
    from river_core.twin.schema import validate_twin

    # 1. Check the flags.
    sheet = args.out.suffix.lower() == ".png"
    if not sheet and args.out.suffix.lower() not in VIDEO_FORMATS:
        raise UsageError(
            f"--out {args.out} must end in .mp4, .mov or .mkv (an overlay movie) or .png (a contact sheet)",
            field="output",
        )
    if args.frames is not None and not sheet:
        raise UsageError(
            f"--frames applies to a contact sheet (--out ….png); the overlay movie {args.out} shows "
            "every frame of the twin",
            field="frames",
        )
    count = SHEET_FRAMES if args.frames is None else args.frames
    if count < 1:
        raise UsageError(f"--frames {count} must be at least 1 (frames on the contact sheet)", field="frames")
    # 2. The twin, its media, and an output that is neither.
    twin = validate_twin(args.twin)
    media = twin_media(twin, args.media)
    check_output_path(args.out, sources=[args.twin, media], overwrite=args.overwrite)
    # 3. Draw.
    if sheet:
        render_sheet(twin, media, args.out, count=count, overwrite=args.overwrite)
    else:
        with progress_bar(args) as progress:
            render_video(twin, media, args.out, overwrite=args.overwrite, progress=progress)
    print(f"wrote {args.out}")
    return 0


def twin_media(twin: TwinDocument, given: Path | None) -> Path:
    """The clip ``twin`` was built from: ``given`` (``--media``) or the path the twin records,
    checked by content."""
    from river_core.twin.cache import TwinCache

    recorded = Path(twin.video.path)
    if given is not None:
        if not given.is_file():
            raise MediaNotFoundError(
                f"--media {given} does not exist or is not a file; pass the clip the twin was built from"
            )
        media = given
    elif not recorded.is_file():
        raise MediaNotFoundError(
            f"the twin's media {recorded} is not there (moved or deleted?); pass --media with the clip "
            "the twin was built from"
        )
    else:
        media = recorded
    if TwinCache().media_hash(media) == twin.video.content_hash:
        return media
    if given is None:
        raise RiverError(
            f"the twin's media {recorded} changed since the twin was built (its content differs); pass "
            "--media with the clip the twin was built from, or build the twin again"
        )
    raise RiverError(
        f"--media {given} is not the clip this twin was built from (its content differs); pass --media "
        f"with that clip (the twin records it as {recorded}), or build a twin of {given} "
        "with river twin build"
    )


def cmd_twin_view(args: argparse.Namespace) -> int:
    from river_core.reasoning.view import check_budget, compact_view, estimate_tokens, paper_view_text
    from river_core.twin.schema import load_twin

    if args.budget_tokens is not None and args.format == "paper":
        raise UsageError(
            "--budget-tokens applies to --format compact; the paper view is never shortened",
            field="budget_tokens",
        )
    twin = load_twin(args.twin)
    check_budget(twin, args.budget_tokens)
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
