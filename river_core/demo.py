"""``river demo``: the main job, offline, on the clip bundled with the package.

Until the edit pipeline exists (twin builder → reasoner → VACE render), the demo runs everything
that does exist end to end and checks its own results: probe in rational time, frame-exact
extraction (FFV1 bit-identical to the decoded source; ProRes with source timecode and same-range
audio), the model-resolution letterbox and its inverse, and a synthetic scene with an exact
digital twin that validates against the schema, then the reasoner on that twin: a scripted rollout
(no LLM weights are available offline) whose code runs in the sandbox, and whose edit becomes a
validated edit plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from river_core import __version__
from river_core.atomic import write_bytes_atomic
from river_core.errors import RiverError
from river_core.media import (
    FrameRange,
    Placement,
    Timecode,
    VideoReader,
    content_hash,
    extract,
    format_rate,
    probe,
)
from river_core.progress import CancelToken, ProgressCallback
from river_core.twin.schema import TwinDocument, save_twin, validate_twin
from river_core.twin.synthetic import random_scene

DEMO_RANGE = FrameRange(30, 63)  # 33 frames = 4k+1, a Wan2.1-VACE window
MODEL_SIZE = (832, 480)  # Wan2.1-VACE at 480p


def bundled_sample() -> Path:
    """The 3-second sample clip shipped in ``river_core/data/samples`` (Apache-2.0, see its README)."""
    path = Path(str(resources.files("river_core") / "data" / "samples" / "dog_3s.mp4"))
    if not path.is_file():
        raise RiverError(f"the bundled sample clip is missing ({path}); reinstall river-nle")
    return path


def run_demo(
    out_dir: Path,
    *,
    say: Callable[[str], None] = print,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Run the demo into ``out_dir`` and return its summary (also written to ``summary.json``)."""
    out_dir = Path(out_dir)
    sample = bundled_sample()
    say(f"RIVER NLE {__version__} demo — offline, on the bundled clip {sample.name}")
    say("  (the VACE editing pipeline is not built yet: this runs media, twin and reasoner end to end)")

    info = probe(sample)
    say(
        f"1. probe: {info.width}×{info.height}, {format_rate(info.rate)} fps, {info.frame_count} frames, "
        f"timecode {info.timecode_or_zero}, audio: {', '.join(a.codec for a in info.audio) or 'none'}"
    )

    lossless = extract(
        sample,
        DEMO_RANGE,
        "ffv1",
        out_dir / "dog_30-63.mkv",
        overwrite=True,
        info=info,
        progress=progress,
        cancel=cancel,
    )
    with VideoReader(sample, info) as src, VideoReader(lossless.path) as out:
        identical = bool(np.array_equal(src.read(DEMO_RANGE), out.read(FrameRange(0, len(DEMO_RANGE)))))
    if not identical:
        raise RiverError("demo check failed: the FFV1 extract is not bit-identical to the source frames")
    say(
        f"2. extract {DEMO_RANGE} → {lossless.path.name}: {lossless.frame_count} frames, first frame "
        f"{lossless.timecode}, bit-identical to the decoded source: yes"
    )

    prores = extract(
        sample,
        DEMO_RANGE,
        "prores",
        out_dir / "dog_30-63.mov",
        overwrite=True,
        info=info,
        progress=progress,
        cancel=cancel,
    )
    prores_info = probe(prores.path)
    say(
        f"3. extract {DEMO_RANGE} → {prores.path.name}: ProRes 422 HQ, {prores_info.frame_count} frames at "
        f"{format_rate(prores_info.rate)}, timecode {prores_info.start_timecode}, "
        f"audio {list(prores.audio_samples)} samples"
    )

    placement = Placement.fit((info.width, info.height), MODEL_SIZE)
    with VideoReader(sample, info) as src:
        middle = FrameRange(46, 47)
        model_view = src.read(middle, fit=placement)[0]
        original = src.read(middle)[0]
    back = placement.to_source(model_view)
    round_trip_psnr = _psnr(back, original)
    _save_png(out_dir / "model_view.png", model_view)
    say(
        f"4. model view: {info.width}×{info.height} → {MODEL_SIZE[0]}×{MODEL_SIZE[1]} letterbox (content "
        f"{placement.content_w}×{placement.content_h} at y={placement.top}), back to source: "
        f"{round_trip_psnr:.1f} dB PSNR → model_view.png"
    )

    scene = random_scene(seed=7, width=320, height=192, num_frames=33)
    clip = scene.write_clip(
        out_dir / "synthetic.mkv", timecode=Timecode.parse("01:00:00;00", scene.rate), overwrite=True
    )
    twin = scene.ground_truth(
        path=str(clip), content_hash=content_hash(clip), timecode=Timecode.parse("01:00:00;00", scene.rate)
    )
    twin_path = save_twin(twin, out_dir / "synthetic_twin.json")
    checked = validate_twin(twin_path)
    clip_info = probe(clip)
    if (clip_info.frame_count, clip_info.width, clip_info.height) != (
        len(checked.frames),
        checked.video.width,
        checked.video.height,
    ):
        raise RiverError("demo check failed: the synthetic twin does not describe its clip")
    n_objects = len(checked.object_ids())
    say(
        f"5. synthetic scene: {clip.name} ({clip_info.width}×{clip_info.height}, "
        f"{clip_info.frame_count} frames, timecode {clip_info.start_timecode}) "
        f"with an exact twin of {n_objects} tracks → "
        f"{twin_path.name} (valid against `river twin schema`)"
    )

    reasoning = _reason_step(checked, twin_path, out_dir)
    say(
        f'6. reason: "{reasoning["query"]}" → code in the sandbox ({reasoning["isolation"]} isolation) '
        f"answers object {reasoning['target']} → {Path(reasoning['plan']).name}: {reasoning['kind']} of "
        f"object {reasoning['target']} over frames {reasoning['frames']} "
        "(a scripted rollout stands in for the LLM)"
    )
    if reasoning["isolation"] != "full":
        say(f"   warning: sandbox isolation is {reasoning['isolation']}: {reasoning['isolation_notes']}")

    summary = {
        "version": __version__,
        "source": {
            "path": str(sample),
            **{k: info.to_json()[k] for k in ("rate", "frame_count", "width", "height")},
        },
        "extract_ffv1": {**lossless.to_json(), "bit_identical": identical},
        "extract_prores": prores.to_json(),
        "model_view": {
            "size": list(MODEL_SIZE),
            "content_box": list(placement.content_box),
            "round_trip_psnr_db": round(round_trip_psnr, 2),
        },
        "synthetic": {"clip": str(clip), "twin": str(twin_path), "tracks": n_objects},
        "reasoning": reasoning,
    }
    write_bytes_atomic(out_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    say(f"done: outputs in {out_dir}/ (summary.json lists them)")
    return summary


DEMO_QUERY = "make the object closest to the camera look like gold"


def _reason_step(twin: TwinDocument, twin_path: Path, out_dir: Path) -> dict[str, Any]:
    """Query → sandboxed code → edit → plan, through the real protocol, sandbox and validation."""
    from river_core.reasoning.plan import save_plan
    from river_core.reasoning.reasoner import Reasoner
    from river_core.reasoning.replay import ReplayLLM
    from river_core.reasoning.sandbox import Sandbox
    from river_core.reasoning.twin_data import twin_data

    sandbox = Sandbox()
    code = "target = closest_to_camera()\nprint(target, object_info(target)['category'])"
    probe_run = sandbox.run(code, twin_data(twin))
    if not probe_run.ok:
        raise RiverError(f"demo check failed: the sandbox could not run the twin query ({probe_run.error})")
    target = int(probe_run.stdout.split()[0])
    category = next(t.category for t in twin.tracks if t.id == target)
    edit = {
        "objects": [{"id": target, "category": category, "attributes": f"a {category} made of polished gold"}]
    }
    rollout = (
        "The closest object has the smallest depth; ask the twin.</think>\n"
        f"<execute>\n{code}\n</execute>\n"
        f"<think>Object {target} is closest; make it gold.</think>\n"
        f"<edit>{json.dumps(edit)}</edit>"
    )
    reasoner = Reasoner(ReplayLLM(rollout, name="scripted demo rollout"), sandbox=sandbox)
    plan = reasoner(twin, DEMO_QUERY, twin_path=str(twin_path))
    op = plan.operations[0]
    if [t.id for t in op.targets] != [target]:
        raise RiverError(f"demo check failed: the plan targets {[t.id for t in op.targets]}, not {target}")
    plan_path = save_plan(plan, out_dir / "plan.json")
    frames = ", ".join(f"{s.start}-{s.end - 1}" for s in op.targets[0].frames)
    return {
        "query": DEMO_QUERY,
        "target": target,
        "kind": op.kind,
        "frames": frames,
        "plan": str(plan_path),
        "isolation": sandbox.isolation.level,
        "isolation_notes": "; ".join(sandbox.isolation.notes),
    }


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _save_png(path: Path, image: np.ndarray) -> None:
    from river_core.atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
