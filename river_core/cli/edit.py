"""``river edit``: the main job from the command line — flags → :class:`~river_core.request.EditRequest`
→ :class:`~river_core.pipeline.RiverPipeline`. Every rule between the flags is the request's."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from river_core.cli.common import progress_bar, say_to
from river_core.errors import UsageError
from river_core.media.formats import DELIVERY_FORMATS
from river_core.request import DELIVERABLES, OPS, EditRequest

EPILOG = """examples:
  river edit clip.mov "make the animal she is playing with look like bronze" --range 30:111 --out edit1
  river edit clip.mov "blur whoever touches the ball last" --range 01:00:04:00-01:00:08:00 --out redacted
  river edit clip.mov --plan plan.json --out edit2            (render a reviewed plan, over its range)
  river edit clip.mov --targets 3 --op blur --range 0:240 --handles 12 --out redacted
  river edit clip.mov --targets dog --op generate --prompt "a bronze statue of a dog" --out bronze
  river edit clip.mov --targets 2 --op recolor --color teal --deliver media,matte --name car_teal --out car

Ranges are source frames START:END (half-open; 275: and :17 work) or the clip's timecode
HH:MM:SS:FF-HH:MM:SS:FF (';' for drop-frame). --targets ids are those of the twin of that range
(river twin objects); --handles only widens what is rendered.

The output folder gets the edited media (source timecode, same-range audio), the matte (PNG sequence
and ProRes 4444 with alpha), a before/after preview movie, a contact sheet and provenance.json (with
QC); --deliver picks among them. It appears only when everything is written; the source is never
modified, and --overwrite replaces only a folder RIVER wrote."""


def add_command(groups: Any, common: argparse.ArgumentParser) -> None:
    p = groups.add_parser(
        "edit",
        parents=[common],
        help="edit a clip range: query → twin → plan → render → deliverables",
        description="Edit a range of a clip: from a query, a reviewed plan, or explicit targets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("media", type=Path)
    p.add_argument("query", nargs="?", help="the editing request (reasoned into a plan)")
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--plan", type=Path, help="render this plan (river reason … --out PLAN.json), not a query"
    )
    what.add_argument(
        "--targets", help="objects of the twin: ids or categories, comma-separated (3,5 or dog)"
    )
    p.add_argument("--op", choices=OPS, help="what to do to the targets (default generate)")
    p.add_argument("--prompt", help='--op generate: what the targets become, e.g. "a bronze statue of a dog"')
    p.add_argument("--remove", action="store_true", help="--op generate: remove the targets (inpainted)")
    p.add_argument("--color", help="--op recolor (needed), mask_out, highlight: a CSS color name or #RRGGBB")
    p.add_argument(
        "--range",
        metavar="RANGE",
        help="START:END frames or HH:MM:SS:FF-HH:MM:SS:FF timecode "
        "(default: the twin's, the plan's, or the whole clip)",
    )
    p.add_argument("--handles", type=int, default=0, metavar="N", help="extra frames rendered each side")
    p.add_argument(
        "--profile",
        default="paper",
        metavar="paper|tiny|DIR",
        help="paper: the paper's checkpoints; tiny: same classes, random tiny weights, offline (meaningless "
        "pixels); DIR: a folder with a river_pipeline.json",
    )
    p.add_argument("--format", choices=DELIVERY_FORMATS, default="prores", help="edited media format")
    p.add_argument(
        "--deliver",
        metavar="LIST",
        help=f"what to write, comma-separated from {','.join(DELIVERABLES)} (default all; provenance always)",
    )
    p.add_argument("--name", help="file name of the edited media, without extension (default MEDIA_edit)")
    p.add_argument("--out", type=Path, required=True, help="output folder (created; see --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an output folder RIVER wrote before")
    p.add_argument(
        "--twin", type=Path, help="use this twin.json instead of building (or reading the cached) twin"
    )
    p.add_argument("--llm", help="reasoner for a query: paper|tiny|transformers:DIR|openai:URL|replay:FILE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="denoising steps (paper 50, tiny 2)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance (default 5.0)")
    p.add_argument("--conditioning-scale", type=float, help="VACE conditioning scale (default 1.0)")
    p.add_argument("--window", type=int, help="frames per VACE window, 4k+1 (default 81)")
    p.add_argument("--overlap", type=int, help="frames shared by consecutive windows (default 16)")
    p.add_argument(
        "--model", help="VACE checkpoint: hub id (e.g. Wan-AI/Wan2.1-VACE-14B-diffusers) or folder"
    )
    p.add_argument("--revision", help="checkpoint revision")
    p.add_argument(
        "--offload",
        choices=("auto", "none", "model", "sequential"),
        default="auto",
        help="CPU offload on CUDA (auto: model offload, fits the 1.3B stack on a 24 GB card)",
    )
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--no-cache", action="store_true", help="rebuild the twin even if the cache holds it")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_edit)


def request_from_args(args: argparse.Namespace) -> EditRequest:
    """The request ``river edit``'s flags describe (the request checks how they fit together)."""
    from river_core.atomic import check_output_path
    from river_core.reasoning.plan import load_plan

    plan = None
    if args.plan is not None:
        check_output_path(args.out, sources=[args.plan], overwrite=args.overwrite)
        if args.out.resolve() in args.plan.resolve().parents:
            raise UsageError(f"--out {args.out} holds the plan {args.plan}; choose a new folder", "output")
        plan = load_plan(args.plan)
    targets = (
        tuple(t.strip() for t in args.targets.split(",") if t.strip()) if args.targets is not None else ()
    )
    if args.targets is not None and not targets:
        raise UsageError("--targets is empty; list object ids or categories, e.g. --targets 3,5", "targets")
    deliver = DELIVERABLES
    if args.deliver is not None:
        deliver = tuple(d.strip() for d in args.deliver.split(",") if d.strip())
    return EditRequest(
        media=args.media,
        query=args.query,
        targets=targets,
        plan=plan,
        op=args.op,
        prompt=args.prompt,
        remove=args.remove,
        color=args.color,
        range=args.range,
        handles=args.handles,
        twin=args.twin,
        output=args.out,
        overwrite=args.overwrite,
        format=args.format,
        name=args.name,
        deliver=frozenset(deliver),
        seed=args.seed,
        steps=args.steps,
        guidance=args.guidance,
        conditioning_scale=args.conditioning_scale,
        window=args.window,
        overlap=args.overlap,
        use_cache=not args.no_cache,
    )


def cmd_edit(args: argparse.Namespace) -> int:
    from river_core.pipeline import RiverPipeline

    request = request_from_args(args)
    say = say_to(args)
    pipe = RiverPipeline.from_pretrained(
        args.profile, device=args.device, dtype=args.dtype, offload=args.offload, llm=args.llm,
        editor=args.model, revision=args.revision, say=say,
    )  # fmt: skip
    with progress_bar(args) as progress:
        result = pipe(request, progress=progress, say=say)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
        return 0
    d = result.delivery
    assert d is not None
    source = f"{request.media.name} {result.frames}"
    print(f"wrote {d.out_dir}/: {d.frames} frames of {source}, first frame {d.timecode}")
    if d.media is not None:
        print(f"  edited media: {d.media.name} (audio samples {list(d.audio_samples)})")
    for label, path in (
        ("matte", d.matte_dir),
        ("matte movie", d.matte_movie),
        ("preview", d.preview),
        ("contact sheet", d.sheet),
        ("provenance", d.provenance),
    ):
        if path is not None:
            print(f"  {label}: {path.name}")
    qc = result.qc
    inside = "identical to the source" if qc.identical_outside else f"PSNR {qc.psnr_outside_db} dB"
    print(f"  QC {'passed' if qc.passed else 'FLAGGED'}: outside the edit region {inside}")
    for flag in qc.flags:
        print(f"    - {flag}")
    if pipe.profile == "tiny":
        print(
            "  note: the tiny profile runs the real classes with random weights; its pixels are meaningless"
        )
    return 0
