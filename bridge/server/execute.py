"""What each job kind does on the engine, given a normalised spec: the engine's request through the
server's one :class:`~river_core.pipeline.RiverPipeline` (models loaded once, kept warm).

- ``TWIN``: the twin of the range → ``<output>/twin.json``;
- ``PLAN``: twin + reasoner → ``<output>/plan.json`` and ``twin.json`` (a plan an editor can review,
  change and send back as a ``RENDER`` job);
- ``RENDER``: the given plan → the deliverables;
- ``EDIT``: query or targets → plan → deliverables. With ``confirm`` the first run stops after the
  plan (steps 1–5) with a preview and keeps the twin it was made on, so :func:`check_confirmed_plan`
  can check an edited plan when the editor confirms it; the second run renders the confirmed plan.

Every output folder is written atomically; a cancelled or failed job leaves none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.server.validate import engine_request
from bridge.v1 import bridge_pb2 as pb
from river_core.media.rational import frames_to_ranges
from river_core.pipeline import PipelineJob, PipelineResult, RiverPipeline
from river_core.progress import CancelToken, ProgressCallback
from river_core.reasoning.plan import EditPlan, describe_plan, plan_problems
from river_core.twin.schema import load_twin, summarize_tracks, twin_json_text

PROPOSED_TWIN = "proposed_twin.json"
TARGETS_SHEET = "targets.png"
OVERLAYS = "overlays"  # the strip of frames and a mask PNG per object, for the panel to draw


@dataclass
class JobContext:
    """One run of one job: its spec, the plan the editor confirmed (if any), a private work folder
    and the runner's callbacks."""

    job_id: str
    spec: pb.EditSpec
    work_dir: Path
    progress: ProgressCallback
    say: Callable[[str], None]
    cancel: CancelToken
    emit_plan: Callable[[dict[str, Any]], None]
    confirmed_plan: EditPlan | None = None


@dataclass
class Outcome:
    """How a run ended: ``results`` (SUCCEEDED) or a ``plan`` awaiting confirmation."""

    results: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    awaiting: bool = False


def execute(ctx: JobContext, pipeline: RiverPipeline) -> Outcome:
    """Run the job's kind; raises what the engine raises (the runner turns it into a state)."""
    request = engine_request(ctx.spec, plan=ctx.confirmed_plan)
    job = pipeline.start(request, progress=ctx.progress, cancel=ctx.cancel, say=ctx.say)
    if request.kind == "twin":
        result = job.run()
        return Outcome(results=_folder_results(result))
    if request.kind == "plan":
        result = job.run()
        preview = plan_preview(job, ctx, draw=False)
        ctx.emit_plan(preview)
        return Outcome(results=_folder_results(result), plan=preview)
    job.check_inputs()
    twin = job.twin()
    if request.query is not None:
        job.reason()
    job.plan()
    job.masks()
    if ctx.spec.confirm and ctx.confirmed_plan is None:
        (ctx.work_dir / PROPOSED_TWIN).write_text(twin_json_text(twin), encoding="utf-8")
        return Outcome(plan=plan_preview(job, ctx, draw=True), awaiting=True)
    ctx.emit_plan(plan_preview(job, ctx, draw=False, confirmed=ctx.confirmed_plan is not None))
    return Outcome(results=delivery_results(job.deliver()))


def check_confirmed_plan(work_dir: Path, plan: EditPlan) -> list[str]:
    """Why ``plan`` cannot be rendered on the twin the job proposed its plan on (empty: it can)."""
    twin = load_twin(work_dir / PROPOSED_TWIN)
    if plan.twin.content_hash != twin.video.content_hash:
        return ["it was made on other media than this job's"]
    problems = plan_problems(plan, twin)
    if not plan.operations:
        problems.append("it has no operations")
    return problems


def plan_preview(job: PipelineJob, ctx: JobContext, *, draw: bool, confirmed: bool = False) -> dict[str, Any]:
    """The plan as the editor reviews it (fields of ``PlanPreview``); ``draw`` adds a contact
    sheet of the twin's masks over the range."""
    plan, twin = job.state.plan, job.state.twin
    assert plan is not None and twin is not None, "plan_preview runs after the plan step"
    targets = [
        {
            "id": t.id,
            "category": t.category,
            "attributes": t.attributes,
            "frames": [r.to_json() for r in t.frames],
        }
        for op in plan.operations
        for t in op.targets
    ]
    preview: dict[str, Any] = {
        "plan_json": json.dumps(plan.to_json()),
        "explanation": describe_plan(plan),
        "targets": targets,
        "confirmed": confirmed,
    }
    if draw:
        from river_core.twin.render import render_overlay_assets, render_sheet

        sheet = render_sheet(twin, job.request.media, ctx.work_dir / TARGETS_SHEET, count=6, overwrite=True)
        preview["preview_image"] = str(sheet)
        strip, numbers, masks = render_overlay_assets(twin, job.request.media, ctx.work_dir / OVERLAYS)
        preview["overlay_frames"] = str(strip)
        preview["overlay_frame_numbers"] = numbers
        preview["overlay_masks"] = str(masks)
        spans: dict[int, list[int]] = {}
        for entry in twin.frames:
            for obj in entry.objects:
                spans.setdefault(obj.id, []).append(entry.index)
        preview["objects"] = [
            {
                "id": track.id,
                "category": track.category,
                "attributes": track.attributes,
                "frames": [r.to_json() for r in frames_to_ranges(sorted(spans.get(track.id, [])))],
            }
            for track in summarize_tracks(twin.frames)
        ]
    return preview


def _folder_results(result: PipelineResult) -> dict[str, Any]:
    """The fields of ``Results`` for a twin or plan job."""
    out = result.output_dir
    assert out is not None, "the server always names an output folder"
    twin = result.twin
    summary = {
        "range": str(result.frames),
        "cache": None if result.twin_cache_hit is None else ("hit" if result.twin_cache_hit else "miss"),
        "frames": len(twin.frames),
        "objects": [
            {
                "id": t.id,
                "category": t.category,
                "attributes": t.attributes,
                "frames": f"{t.first_frame}:{t.last_frame + 1}",
            }
            for t in twin.tracks
        ],
    }
    if result.plan is not None:
        summary["operations"] = len(result.plan.operations)
    return {
        "output_dir": str(out),
        "twin": str(out / "twin.json"),
        "plan": str(out / "plan.json") if result.plan is not None else "",
        "frames": len(twin.frames),
        "summary_json": json.dumps(summary),
    }


def delivery_results(result: PipelineResult) -> dict[str, Any]:
    """The fields of ``Results`` for a finished render."""
    d = result.delivery
    assert d is not None

    def path(p: Path | None) -> str:
        return "" if p is None else str(p)

    return {
        "output_dir": str(d.out_dir),
        "media": path(d.media),
        "matte_dir": path(d.matte_dir),
        "matte_movie": path(d.matte_movie),
        "preview": path(d.preview),
        "contact_sheet": path(d.sheet),
        "provenance": str(d.provenance),
        "frames": d.frames,
        "timecode": str(d.timecode),
        "qc_passed": d.qc.passed,
        "qc_flags": list(d.qc.flags),
        "summary_json": json.dumps(result.to_json(), default=str),
    }
