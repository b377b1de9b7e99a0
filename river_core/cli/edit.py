"""``river edit``: the main job from the command line (see :mod:`river_core.pipeline`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from river_core.errors import RiverError

FORMAT_CHOICES = ("prores", "dnxhr", "h264", "ffv1", "png")
OP_CHOICES = ("generate", "blur", "pixelate", "recolor", "matte")

EPILOG = """examples:
  river edit clip.mov "make the animal she is playing with look like bronze" --range 30:111 --out edit1
  river edit clip.mov --plan plan.json --out edit2            (render a reviewed plan)
  river edit clip.mov --targets 3 --op blur --range 0:240 --out redacted
  river edit clip.mov --targets dog --op generate --prompt "a bronze statue of a dog" --out bronze

The output folder gets the edited media (source timecode, same-range audio), the matte (PNG sequence
and ProRes 4444 with alpha), a before/after contact sheet, a preview movie and provenance.json (with
QC). It appears only when everything is written; the source is never modified."""


def add_command(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = groups.add_parser(
        "edit",
        parents=[common],
        help="edit a clip range: query → twin → plan → VACE render → deliverables",
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
        "--targets", help="explicit objects of the twin: ids or categories, comma-separated (3,5 or dog)"
    )
    p.add_argument(
        "--op", choices=OP_CHOICES, default="generate", help="what to do to the targets (default generate)"
    )
    p.add_argument("--prompt", help='--op generate: what the targets become, e.g. "a bronze statue of a dog"')
    p.add_argument(
        "--remove", action="store_true", help="--op generate: remove the targets (the region is inpainted)"
    )
    p.add_argument("--color", help="--op recolor: a CSS color name or #RRGGBB")
    p.add_argument(
        "--range", metavar="START:END", help="source frames, half-open (default: the plan's, or the clip)"
    )
    p.add_argument(
        "--profile",
        choices=("paper", "tiny"),
        default="paper",
        help="paper: the paper's checkpoints; tiny: same classes, random tiny weights, offline "
        "(meaningless pixels)",
    )
    p.add_argument(
        "--format", choices=FORMAT_CHOICES, default="prores", help="edited media format (default prores)"
    )
    p.add_argument(
        "--out", type=Path, required=True, help="output folder (created; must not exist unless --overwrite)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder (never a source)"
    )
    p.add_argument(
        "--twin", type=Path, help="use this twin.json instead of building (or reading the cached) twin"
    )
    p.add_argument(
        "--llm", help="reasoner LLM for a query: paper|tiny|transformers:DIR|openai:URL|replay:FILE"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="denoising steps (paper 50, tiny 2)")
    p.add_argument(
        "--guidance", type=float, dest="guidance_scale", help="classifier-free guidance (default 5.0)"
    )
    p.add_argument("--conditioning-scale", type=float, help="VACE conditioning scale (default 1.0)")
    p.add_argument("--window", type=int, help="frames per VACE window, 4k+1 (default 81)")
    p.add_argument("--overlap", type=int, help="frames shared by consecutive windows (default 16)")
    p.add_argument(
        "--model", help="VACE checkpoint: hub id (e.g. Wan-AI/Wan2.1-VACE-14B-diffusers) or local folder"
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
    p.add_argument("--no-matte", action="store_true", help="do not write the matte")
    p.add_argument("--no-preview", action="store_true", help="do not write preview.mp4")
    p.add_argument("--no-sheet", action="store_true", help="do not write contact_sheet.png")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_edit)


def job_from_args(args: argparse.Namespace) -> object:
    from river_core.media import FrameRange, probe
    from river_core.pipeline import EditJob

    if args.query is not None and (args.plan or args.targets):
        raise RiverError("give either a query or --plan/--targets, not both")
    if args.query is None and not (args.plan or args.targets):
        raise RiverError(
            'say what to change: river edit MEDIA "query", --plan PLAN.json, or --targets IDS --op ACTION'
        )
    if args.op != "generate" and (args.prompt or args.remove):
        raise RiverError(f"--prompt and --remove go with --op generate, not --op {args.op}")
    if args.op == "recolor" and not args.color:
        raise RiverError("--op recolor needs --color (a CSS color name or #RRGGBB)")
    frame_range = None
    if args.range:
        frame_range = FrameRange.parse(args.range, probe(args.media).frame_count)
    targets = tuple(t for t in (args.targets or "").split(",") if t.strip())
    if args.targets is not None and not targets:
        raise RiverError("--targets is empty; list object ids or categories, e.g. --targets 3,5")
    return EditJob(
        media=args.media,
        out=args.out,
        query=args.query,
        plan_path=args.plan,
        targets=targets,
        action=args.op,
        prompt=args.prompt,
        color=args.color,
        remove=args.remove,
        frame_range=frame_range,
        profile=args.profile,
        fmt=args.format,
        overwrite=args.overwrite,
        twin_path=args.twin,
        llm=args.llm,
        seed=args.seed,
        steps=args.steps,
        guidance_scale=args.guidance_scale,
        conditioning_scale=args.conditioning_scale,
        window=args.window,
        overlap=args.overlap,
        model=args.model,
        revision=args.revision,
        offload=args.offload,
        device=args.device,
        dtype=args.dtype,
        use_cache=not args.no_cache,
        matte=not args.no_matte,
        preview=not args.no_preview,
        sheet=not args.no_sheet,
    )


def cmd_edit(args: argparse.Namespace) -> int:
    from river_core.cli.common import progress_bar
    from river_core.pipeline import EditJob, RiverPipeline

    job = job_from_args(args)
    assert isinstance(job, EditJob)

    def say(line: str) -> None:
        if not args.json and not args.quiet:
            print(line, flush=True)

    with progress_bar(args) as progress:
        result = RiverPipeline(job, progress=progress, say=say).run()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    d = result.delivery
    print(f"wrote {d.out_dir}/: {d.frames} frames from {job.media.name} {job.frame_range or ''}".rstrip())
    print(f"  edited media: {d.media.name} (timecode {d.timecode}, audio samples {list(d.audio_samples)})")
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
    state = "passed" if qc.passed else "FLAGGED"
    print(
        f"  QC {state}: "
        + (
            "outside the region identical to the source"
            if qc.identical_outside
            else f"PSNR outside {qc.psnr_outside_db} dB"
        )
    )
    for flag in qc.flags:
        print(f"    - {flag}")
    if job.profile == "tiny":
        print(
            "  note: the tiny profile runs the real classes with random weights; its pixels are meaningless"
        )
    return 0
