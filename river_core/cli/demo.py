"""``river demo``: the main job, offline, on the clip bundled with the package.

It runs ``river edit`` twice on frames 30–62 of the bundled clip with the ``tiny`` profile (the
paper's model classes at tiny size with random weights, built in code: no download, and pixels
that mean nothing):

1. a query, end to end: twin → reasoner (a scripted rollout stands in for the LLM, whose weights
   are not available offline; its code runs in the sandbox over the real twin) → edit plan →
   Wan2.1-VACE render → composite → deliverables (ProRes with source timecode and same-range
   audio, matte, contact sheet, preview, provenance with QC);
2. explicit targets with an instant action (blur), written losslessly (FFV1): the twin comes from
   the cache, and the demo decodes its own output to check that every pixel outside the matte is
   the decoded source's, bit for bit.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from river_core import __version__
from river_core.atomic import write_bytes_atomic
from river_core.errors import RiverError
from river_core.media.rational import FrameRange, format_rate
from river_core.progress import CancelToken, ProgressCallback
from river_core.samples import bundled_sample

DEMO_RANGE = FrameRange(30, 63)  # 33 frames = 4k+1, one Wan2.1-VACE window
DEMO_QUERY = "make the biggest thing in the shot look like bronze"
_CODE = "target = largest()\nprint(target, object_info(target)['category'])"


def add_command(groups: Any, common: argparse.ArgumentParser) -> None:
    p = groups.add_parser(
        "demo", parents=[common], help="run what exists end to end, offline, on the bundled clip"
    )
    p.add_argument("--out", type=Path, default=Path("river-demo"), help="folder for the demo's outputs")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from river_core.cli.common import progress_bar

    def say(line: str) -> None:
        print(line, flush=True)

    with progress_bar(args) as progress:
        run_demo(args.out, say=say, progress=progress)
    return 0


def run_demo(
    out_dir: Path,
    *,
    say: Callable[[str], None] = print,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Run the demo into ``out_dir`` and return its summary (also written to ``summary.json``)."""
    from river_core.media import probe
    from river_core.pipeline import RiverPipeline
    from river_core.request import EditRequest

    out_dir = Path(out_dir)
    sample = bundled_sample()
    say(f"RIVER NLE {__version__} demo — offline, on the bundled clip {sample.name}")
    say("  profile tiny: the paper's model classes with random weights; the edited pixels are meaningless")
    info = probe(sample)
    say(
        f"0. source: {info.width}×{info.height}, {format_rate(info.rate)} fps, {info.frame_count} frames, "
        f"timecode {info.timecode_or_zero}, audio: {', '.join(a.codec for a in info.audio) or 'none'}"
    )
    # One pipeline for both jobs: each model is loaded once, when a job first needs it.
    pipe = RiverPipeline.from_pretrained("tiny")

    # 1. The main job from a query, step by step: the scripted rollout is written once the twin exists.
    query = EditRequest(
        sample, query=DEMO_QUERY, range=DEMO_RANGE, output=out_dir / "bronze", format="prores", overwrite=True
    )
    say(f'1. river edit {sample.name} "{DEMO_QUERY}" --range {DEMO_RANGE} --profile tiny --format prores '
        f"--out {out_dir / 'bronze'} --overwrite  (a scripted rollout stands in for the LLM)")  # fmt: skip
    job = pipe.start(query, progress=progress, cancel=cancel, say=lambda line: say(f"   {line}"))
    job.check_inputs()
    scripted = _scripted_llm(job.twin())
    pipe.use(llm=scripted["llm"])
    job.reason()
    job.plan()
    job.masks()
    first = job.deliver()
    assert first.plan is not None
    op = first.plan.operations[0]
    say(
        f"   reasoned: the sandbox answered object {scripted['target']} ({scripted['category']}); plan: "
        f'{op.kind} of object {op.targets[0].id} → "{op.attributes}"'
    )
    _say_delivery(say, first)

    # 2. Explicit targets, an instant operation, lossless output: checked pixel by pixel.
    blur = EditRequest(
        sample, targets=(str(scripted["target"]),), op="blur", range=DEMO_RANGE, output=out_dir / "blur",
        format="ffv1", overwrite=True,
    )  # fmt: skip
    say(
        f"2. river edit {sample.name} --targets {scripted['target']} --op blur --range {DEMO_RANGE} "
        f"--profile tiny --format ffv1 --out {out_dir / 'blur'} --overwrite"
    )
    second = pipe(blur, progress=progress, cancel=cancel)
    _say_delivery(say, second)
    check = _check_outside(sample, info, second)
    assert second.delivery is not None and second.delivery.media is not None
    say(
        f"   checked: {check['frames']} frames decoded from {second.delivery.media.name}; outside the matte "
        f"{check['outside_pixels']} pixels, bit-identical to the decoded source: "
        f"{'yes' if check['identical_outside'] else 'NO'}; twin from the cache: "
        f"{'yes' if second.twin_cache_hit else 'no'}; models loaded once: {_loads(pipe.loads)}"
    )
    if not check["identical_outside"]:
        raise RiverError("demo check failed: pixels outside the matte differ from the source")

    summary = {
        "version": __version__,
        "source": {
            "path": str(sample),
            **{k: info.to_json()[k] for k in ("rate", "frame_count", "width", "height")},
        },
        "range": str(DEMO_RANGE),
        "query_job": {**first.to_json(), "query": DEMO_QUERY, "target": scripted["target"]},
        "blur_job": {**second.to_json(), "check": check},
        "model_loads": pipe.loads,
    }
    write_bytes_atomic(
        out_dir / "summary.json", (json.dumps(summary, indent=2, default=str) + "\n").encode(), overwrite=True
    )
    say(f"done: outputs in {out_dir}/ (bronze/, blur/, summary.json)")
    return summary


def _scripted_llm(twin: Any) -> dict[str, Any]:
    """A replayed rollout whose code asks the twin for its largest object and edits it to bronze.

    The rollout is written after the twin exists (the tiny twin's objects are random), but the
    reasoner runs it for real: the code goes through the sandbox and the edit through validation.
    """
    from river_core.reasoning.replay import ReplayLLM
    from river_core.reasoning.sandbox import Sandbox
    from river_core.reasoning.twin_data import twin_data

    if not twin.object_ids():
        raise RiverError("demo: the tiny twin found no object in the range; nothing to edit")
    run = Sandbox().run(_CODE, twin_data(twin))
    if not run.ok:
        raise RiverError(f"demo check failed: the sandbox could not run the twin query ({run.error})")
    target = int(run.stdout.split()[0])
    category = next(t.category for t in twin.tracks if t.id == target)
    edit = {"objects": [{"id": target, "category": category, "attributes": f"a {category} cast in bronze"}]}
    rollout = (
        "The biggest thing has the largest size; ask the twin.</think>\n"
        f"<execute>\n{_CODE}\n</execute>\n"
        f"<think>Object {target} is the largest; make it bronze.</think>\n"
        f"<edit>{json.dumps(edit)}</edit>"
    )
    return {"llm": ReplayLLM(rollout, name="scripted demo rollout"), "target": target, "category": category}


def _loads(loads: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in loads.items() if n) or "none"


def _say_delivery(say: Callable[[str], None], result: Any) -> None:
    d = result.delivery
    assert d is not None
    files = [p.name + ("/" if p.is_dir() else "") for p in sorted(d.out_dir.iterdir())]
    say(
        f"   wrote {d.out_dir.name}/: {d.frames} frames, first frame {d.timecode}, audio samples "
        f"{list(d.audio_samples)}; files: {', '.join(files)}"
    )
    qc = result.qc
    say(
        "   QC: outside the edit region "
        + ("identical to the source" if qc.identical_outside else f"PSNR {qc.psnr_outside_db} dB")
        + (f"; {len(qc.flags)} flag(s), said above" if qc.flags else "; no flags")
    )


def _check_outside(sample: Path, info: Any, result: Any) -> dict[str, Any]:
    """Decode the lossless output and the source; compare every pixel where the matte is 0."""
    import numpy as np
    from PIL import Image

    from river_core.media import VideoReader

    d = result.delivery
    assert d is not None and d.matte_dir is not None and d.media is not None
    mattes = sorted(d.matte_dir.glob("*.png"))
    with VideoReader(sample, info) as src, VideoReader(d.media) as out:
        source = src.read(DEMO_RANGE)
        edited = out.read(FrameRange(0, len(DEMO_RANGE)))
    outside = np.stack([np.asarray(Image.open(p)) == 0 for p in mattes])
    same = bool(np.array_equal(source[outside], edited[outside]))
    return {
        "frames": int(edited.shape[0]),
        "matte_frames": len(mattes),
        "outside_pixels": int(outside.sum()),
        "inside_pixels": int((~outside).sum()),
        "identical_outside": same and len(mattes) == edited.shape[0] == len(DEMO_RANGE),
    }
