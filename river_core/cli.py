"""The ``river`` command.

Human output by default, ``--json`` for machines, progress bars on stderr for anything slower
than a second. Errors are one line on stderr (``river: error: ...``) and a non-zero exit:
1 for bad input or environment, 2 for bad usage, 130 when cancelled, 70 for an internal bug.
Heavy modules are imported inside the handlers so ``river --version`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from river_core import __version__, cli_edit, cli_reasoning
from river_core.errors import Cancelled, RiverError
from river_core.progress import ProgressCallback, ProgressEvent

EXIT_USER_ERROR = 1
EXIT_CANCELLED = 130
EXIT_INTERNAL = 70

FORMAT_CHOICES = ("prores", "dnxhr", "h264", "ffv1", "png")


Extension = Callable[[Any, argparse.ArgumentParser], None]
"""Adds commands to ``river``: called with the sub-parsers and the common options parser. The
``river`` entry point (``bridge.server.cli:main``) adds ``serve`` and ``jobs`` this way, so the
engine never imports the bridge."""


def main(argv: Sequence[str] | None = None, *, extensions: Sequence[Extension] = ()) -> int:
    parser = build_parser(extensions)
    args = parser.parse_args(argv)
    # Resolved here, not with set_defaults: parent-parser actions are shared objects, and a
    # default set on the top parser would leak into every sub-parser and undo an earlier flag.
    args.debug = getattr(args, "debug", False) or _env_flag("RIVER_DEBUG")
    args.quiet = getattr(args, "quiet", False)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.handler(args) or 0)
    except Cancelled as exc:
        _error(f"cancelled ({exc}); nothing was left half-written")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        _error("interrupted; nothing was left half-written")
        return EXIT_CANCELLED
    except RiverError as exc:
        if args.debug:
            raise
        _error(str(exc))
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0  # `river media probe x --json | head` is fine
    except Exception as exc:
        if args.debug:
            raise
        _error(
            f"internal error: {type(exc).__name__}: {exc} — this is a bug in RIVER NLE; "
            "run again with --debug for the traceback and report it"
        )
        return EXIT_INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser(extensions: Sequence[Extension] = ()) -> argparse.ArgumentParser:
    # The global options are accepted before or after the command. Sub-parsers must not reset
    # them (argparse lets a sub-parser's default overwrite a value given earlier), hence SUPPRESS.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks instead of one-line errors (or set RIVER_DEBUG=1)",
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )

    parser = argparse.ArgumentParser(
        prog="river",
        parents=[common],
        description="RIVER NLE: reasoning video editing for your NLE's clips.",
    )
    parser.add_argument("--version", action="version", version=f"river-nle {__version__}")
    groups = parser.add_subparsers(title="commands", metavar="COMMAND")

    media = groups.add_parser("media", help="inspect and extract media", parents=[common])
    media_cmds = media.add_subparsers(title="media commands", metavar="COMMAND")
    p = media_cmds.add_parser(
        "probe", parents=[common], help="container, codec, exact rate, frames, timecode, audio"
    )
    p.add_argument("media", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_media_probe)

    p = media_cmds.add_parser(
        "extract", parents=[common], help="write a frame range with its audio and timecode"
    )
    p.add_argument("media", type=Path)
    p.add_argument(
        "--range",
        required=True,
        metavar="START:END",
        help="source frames, half-open: 30:120 is frames 30 to 119",
    )
    p.add_argument("--format", required=True, choices=FORMAT_CHOICES)
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output file (.mov for prores/dnxhr, .mp4 for h264, .mkv for ffv1) or folder (png)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (never a source)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_media_extract)

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
    cli_reasoning.add_twin_view(twin_cmds, common)
    cli_reasoning.add_commands(groups, common)
    cli_edit.add_command(groups, common)
    for extend in extensions:
        extend(groups, common)

    p = groups.add_parser(
        "demo", parents=[common], help="run what exists end to end, offline, on the bundled clip"
    )
    p.add_argument("--out", type=Path, default=Path("river-demo"), help="folder for the demo's outputs")
    p.set_defaults(handler=cmd_demo)
    return parser


# -- media -----------------------------------------------------------------------------------


def cmd_media_probe(args: argparse.Namespace) -> int:
    from river_core.media.probe import probe

    info = probe(args.media)
    if args.json:
        _print_json(info.to_json())
        return 0
    from river_core.media.rational import format_rate

    tc = info.start_timecode
    lines = [
        f"{info.path}  ({info.container}, {info.size_bytes / 1e6:.1f} MB)",
        f"  video     stream {info.video_index}: {info.codec}{' ' + info.profile if info.profile else ''}, "
        f"{info.width}×{info.height}, {info.pix_fmt}, {info.colorspace}/{info.color_range}",
        f"  rate      {format_rate(info.rate)} ({float(info.rate):.3f} fps), "
        + ("VARIABLE frame rate" if info.variable_frame_rate else "constant"),
        f"  frames    {info.frame_count} "
        f"(duration {format_rate(info.duration)} s ≈ {float(info.duration):.3f} s)",
        f"  timecode  {tc} ({'drop-frame' if tc.drop_frame else 'non-drop'}, {info.timecode_source})"
        if tc
        else "  timecode  none (counted from 00:00:00:00)",
    ]
    if info.rotation:
        w, h = info.display_size
        lines.append(f"  rotation  {info.rotation}° (displayed as {w}×{h})")
    if not info.audio:
        lines.append("  audio     none")
    for a in info.audio:
        lines.append(
            f"  audio     stream {a.index}: {a.codec}, {a.sample_rate} Hz, {a.layout} ({a.channels} ch)"
        )
    lines += [f"  warning   {w}" for w in info.warnings]
    print("\n".join(lines))
    return 0


def cmd_media_extract(args: argparse.Namespace) -> int:
    from river_core.media.extract import extract
    from river_core.media.probe import probe
    from river_core.media.rational import FrameRange

    info = probe(args.media)
    frame_range = FrameRange.parse(args.range, info.frame_count)
    with progress_bar(args) as progress:
        result = extract(
            args.media,
            frame_range,
            args.format,
            args.out,
            overwrite=args.overwrite,
            info=info,
            progress=progress,
        )
    if args.json:
        _print_json(result.to_json())
    else:
        print(
            f"wrote {result.path}: {result.frame_count} frames ({result.frame_range}) at "
            f"{result.to_json()['rate']}, first frame {result.timecode}, "
            f"{len(result.audio_samples)} audio track(s)"
        )
    return 0


# -- twin ------------------------------------------------------------------------------------


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


# -- demo ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from river_core.demo import run_demo

    def say(line: str) -> None:
        print(line, flush=True)

    with progress_bar(args) as progress:
        run_demo(args.out, say=say, progress=progress)
    return 0


# -- helpers ---------------------------------------------------------------------------------


@contextmanager
def progress_bar(args: argparse.Namespace) -> Iterator[ProgressCallback | None]:
    """tqdm bars on stderr, one per stage run; they appear only after a second and only on a terminal."""
    if args.quiet:
        yield None
        return
    from tqdm import tqdm

    bar: Any = None
    stage: str | None = None

    def update(event: ProgressEvent) -> None:
        nonlocal bar, stage
        if bar is not None and (event.stage != stage or event.done < bar.n):
            bar.close()  # a new stage, or the same stage run again
            bar = None
        if bar is None:
            bar = tqdm(
                total=event.total, desc=event.stage, unit=event.unit,
                delay=1.0, disable=None, leave=False, file=sys.stderr,
            )  # fmt: skip
            stage = event.stage
        bar.update(event.done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _error(message: str) -> None:
    print(f"river: error: {message}", file=sys.stderr)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def _terminate(signum: int, frame: object) -> None:
    # Turn SIGTERM into an exception so atomic writers remove their temporaries on the way out.
    raise Cancelled("terminated by signal")


if __name__ == "__main__":
    sys.exit(main())
