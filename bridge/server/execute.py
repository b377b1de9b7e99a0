"""What each job kind does on the engine, given a normalised spec.

- ``TWIN``: the twin of the range → ``<output>/twin.json``;
- ``PLAN``: twin + reasoner → ``<output>/plan.json`` and ``twin.json`` (a plan an editor can review,
  change and send back as a ``RENDER`` job);
- ``RENDER``: the given plan → the deliverables of :class:`~river_core.pipeline.RiverPipeline`;
- ``EDIT``: query or targets → plan → deliverables. With ``confirm`` the first run stops after the
  plan (steps 1–5) with a preview; once confirmed, the second run renders the confirmed plan.

Every output folder is written atomically; a cancelled or failed job leaves none.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bridge.v1 import bridge_pb2 as pb
from river_core.atomic import atomic_path
from river_core.media import FrameRange
from river_core.pipeline import PROFILES, EditJob, PipelineResult, Profile, RiverPipeline
from river_core.progress import CancelToken, ProgressCallback

PROPOSED_PLAN = "proposed_plan.json"
CONFIRMED_PLAN = "confirmed_plan.json"
TARGETS_SHEET = "targets.png"


@dataclass
class JobContext:
    """One run of one job: its spec, a private work folder and the runner's callbacks."""

    job_id: str
    spec: pb.EditSpec
    work_dir: Path
    progress: ProgressCallback
    say: Callable[[str], None]
    cancel: CancelToken
    emit_plan: Callable[[dict[str, Any]], None]


@dataclass
class Outcome:
    """How a run ended: ``results`` (SUCCEEDED) or a ``plan`` awaiting confirmation."""

    results: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    awaiting: bool = False


@dataclass
class WarmModels:
    """The editor and the reasoner LLM kept loaded between jobs (the expensive part of a job).

    One editor is kept: a job that needs another (profile, checkpoint, device) replaces it, so a
    GPU never holds two. Replayed LLMs are stateful scripts and are read anew for each job.
    """

    device: str | None = None
    dtype: str | None = None
    llm_spec: str | None = None
    _editor: tuple[tuple[Any, ...], Any] | None = None
    _llm: tuple[tuple[Any, ...], Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def editor(self, job: EditJob) -> Any:
        """The editor ``job`` asks for (``editor_loader`` of the pipeline)."""
        return self.load_editor(
            job.profile,
            model=job.model,
            revision=job.revision,
            device=job.device,
            dtype=job.dtype,
            offload=job.offload,
            seed=job.seed,
        )

    def load_editor(self, profile: str, **options: Any) -> Any:
        # The tiny profile's weights come from the seed; a paper checkpoint's do not.
        key = (
            (profile, *sorted(options.items()))
            if profile == "tiny"
            else (profile, *sorted((k, v) for k, v in options.items() if k != "seed"))
        )
        with self._lock:
            if self._editor is None or self._editor[0] != key:
                from river_core.editing.vace import load_editor

                self._editor = None  # drop the old one before loading the next
                self._editor = (key, load_editor(profile, **options))
            return self._editor[1]

    def llm(self, job: EditJob) -> Any:
        """The reasoner LLM ``job`` asks for (``llm_loader`` of the pipeline)."""
        return self.load_llm(job.llm or job.profile, device=job.device, dtype=job.dtype)

    def load_llm(self, spec: str, *, device: str | None, dtype: str | None) -> Any:
        from river_core.cli_reasoning import make_llm

        if spec.startswith("replay:"):
            return make_llm(spec)
        key = (spec, device, dtype)
        with self._lock:
            if self._llm is None or self._llm[0] != key:
                self._llm = None
                self._llm = (key, make_llm(spec, device=device, dtype=dtype))
            return self._llm[1]

    def preload(self, profile: str, say: Callable[[str], None]) -> None:
        """Load the profile's editor and reasoner now, so the first job does not wait for them."""
        say(f"loading the {profile} editor")
        self.load_editor(
            profile, model=None, revision=None, device=self.device, dtype=self.dtype, offload="auto", seed=0
        )
        spec = self.llm_spec or profile
        if not spec.startswith("replay:"):
            say(f"loading the reasoner LLM ({spec})")
            self.load_llm(spec, device=self.device, dtype=self.dtype)


def edit_job(spec: pb.EditSpec, models: WarmModels, *, plan_path: Path | None = None) -> EditJob:
    """The pipeline job for a normalised spec (``plan_path``: render that plan instead)."""
    what = spec.WhichOneof("what")
    r = spec.render
    return EditJob(
        media=Path(spec.media.path),
        out=Path(spec.output),
        query=spec.query if what == "query" and plan_path is None else None,
        plan_path=plan_path,
        targets=tuple(spec.targets.items) if what == "targets" and plan_path is None else (),
        action=spec.op,
        prompt=spec.prompt or None,
        color=spec.color or None,
        remove=spec.remove,
        frame_range=FrameRange(spec.media.range.start, spec.media.range.end),
        profile=_profile(spec.profile),
        fmt=spec.format,
        overwrite=spec.overwrite,
        llm=models.llm_spec,
        seed=r.seed if r.HasField("seed") else 0,
        steps=r.steps if r.HasField("steps") else None,
        guidance_scale=r.guidance_scale if r.HasField("guidance_scale") else None,
        conditioning_scale=r.conditioning_scale if r.HasField("conditioning_scale") else None,
        window=r.window if r.HasField("window") else None,
        overlap=r.overlap if r.HasField("overlap") else None,
        device=models.device,
        dtype=models.dtype,
        matte=not r.no_matte,
        preview=not r.no_preview,
        sheet=not r.no_sheet,
    )


def execute(ctx: JobContext, models: WarmModels) -> Outcome:
    """Run the job's kind; raises what the engine raises (the runner turns it into a state)."""
    kind = ctx.spec.kind
    if kind == pb.JOB_KIND_TWIN:
        return _twin(ctx, models)
    if kind == pb.JOB_KIND_PLAN:
        return _plan(ctx, models)
    if kind == pb.JOB_KIND_RENDER:
        plan_path = ctx.work_dir / "plan.json"
        plan_path.write_text(ctx.spec.plan_json, encoding="utf-8")
        return _render(ctx, models, plan_path)
    confirmed = ctx.work_dir / CONFIRMED_PLAN
    if confirmed.is_file():
        return _render(ctx, models, confirmed)
    return _render(ctx, models, None)


def _pipeline(ctx: JobContext, job: EditJob, models: WarmModels) -> RiverPipeline:
    return RiverPipeline(
        job,
        progress=ctx.progress,
        cancel=ctx.cancel,
        say=ctx.say,
        editor_loader=models.editor,
        llm_loader=models.llm,
    )


def _twin(ctx: JobContext, models: WarmModels) -> Outcome:
    from river_core.twin.build import build_twin
    from river_core.twin.schema import twin_json_text

    spec = ctx.spec
    media, out = Path(spec.media.path), Path(spec.output)
    outcome = build_twin(
        media,
        FrameRange(spec.media.range.start, spec.media.range.end),
        spec.query if spec.WhichOneof("what") == "query" else None,
        profile=_profile(spec.profile),
        device=models.device,
        dtype=models.dtype,
        seed=spec.render.seed if spec.render.HasField("seed") else 0,
        progress=ctx.progress,
        cancel=ctx.cancel,
    )
    twin = outcome.twin
    ctx.say(
        f"twin: {len(twin.frames)} frames, {len(twin.tracks)} objects"
        + (" (from the cache)" if outcome.cache_hit else f" (built in {outcome.elapsed_s:.1f} s)")
    )
    with atomic_path(out, directory=True, sources=[media], overwrite=spec.overwrite) as tmp:
        (tmp / "twin.json").write_text(twin_json_text(twin), encoding="utf-8")
    summary = {
        "cache": "hit" if outcome.cache_hit else "miss",
        "cache_key": outcome.cache_key,
        "frames": len(twin.frames),
        "tracks": len(twin.tracks),
        "objects": [{"id": t.id, "category": t.category} for t in twin.tracks],
    }
    return Outcome(
        results={
            "output_dir": str(out),
            "twin": str(out / "twin.json"),
            "frames": len(twin.frames),
            "summary_json": json.dumps(summary),
        }
    )


def _plan(ctx: JobContext, models: WarmModels) -> Outcome:
    from river_core.reasoning.plan import save_plan
    from river_core.twin.schema import twin_json_text

    spec = ctx.spec
    job = edit_job(spec, models)
    pipeline = _pipeline(ctx, job, models)
    pipeline.check_inputs()
    twin = pipeline.twin()
    pipeline.reason()
    plan = pipeline.plan()
    preview = plan_preview(pipeline, ctx, draw=False)
    ctx.emit_plan(preview)
    with atomic_path(job.out, directory=True, sources=[job.media], overwrite=job.overwrite) as tmp:
        save_plan(plan, tmp / "plan.json")
        (tmp / "twin.json").write_text(twin_json_text(twin), encoding="utf-8")
    return Outcome(
        results={
            "output_dir": str(job.out),
            "plan": str(job.out / "plan.json"),
            "twin": str(job.out / "twin.json"),
            "frames": len(twin.frames),
            "summary_json": json.dumps({"operations": len(plan.operations)}),
        },
        plan=preview,
    )


def _render(ctx: JobContext, models: WarmModels, plan_path: Path | None) -> Outcome:
    spec = ctx.spec
    job = edit_job(spec, models, plan_path=plan_path)
    pipeline = _pipeline(ctx, job, models)
    pipeline.check_inputs()
    pipeline.twin()
    if job.query is not None:
        pipeline.reason()
    pipeline.plan()
    pipeline.masks()
    awaiting = spec.confirm and plan_path is None
    preview = plan_preview(pipeline, ctx, draw=awaiting)
    if awaiting:
        from river_core.reasoning.plan import save_plan

        save_plan(pipeline.plan(), ctx.work_dir / PROPOSED_PLAN)
        return Outcome(plan=preview, awaiting=True)
    ctx.emit_plan(preview)
    return Outcome(results=delivery_results(pipeline.deliver()))


def plan_preview(pipeline: RiverPipeline, ctx: JobContext, *, draw: bool) -> dict[str, Any]:
    """The plan as the editor reviews it (fields of ``PlanPreview``); ``draw`` adds a contact
    sheet of the twin's masks over the range."""
    from river_core.cli_reasoning import describe_plan

    plan, twin = pipeline.state.plan, pipeline.state.twin
    assert plan is not None and twin is not None, "plan_preview runs after the plan step"
    targets = [
        {
            "id": t.id,
            "category": t.category,
            "attributes": t.attributes,
            "frames": [{"start": s.start, "end": s.end} for s in t.frames],
        }
        for op in plan.operations
        for t in op.targets
    ]
    preview: dict[str, Any] = {
        "plan_json": json.dumps(plan.to_json()),
        "explanation": describe_plan(plan),
        "targets": targets,
    }
    if draw:
        from river_core.twin.render import render_sheet

        sheet = render_sheet(twin, pipeline.job.media, ctx.work_dir / TARGETS_SHEET, count=6, overwrite=True)
        preview["preview_image"] = str(sheet)
    return preview


def delivery_results(result: PipelineResult) -> dict[str, Any]:
    """The fields of ``Results`` for a finished render."""
    d = result.delivery

    def path(p: Path | None) -> str:
        return "" if p is None else str(p)

    return {
        "output_dir": str(d.out_dir),
        "media": str(d.media),
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


def _profile(name: str) -> Profile:
    if name not in PROFILES:  # validate.normalise fills and checks it; a stored spec is trusted
        raise ValueError(f"unknown profile {name!r}")
    return cast("Profile", name)
