"""RiverPipeline: the models loaded once; requests in, finished, frame-exact, non-destructive edits out.

>>> pipe = RiverPipeline.from_pretrained("tiny")  # doctest: +SKIP
>>> pipe(EditRequest(clip, query="make the dog look like bronze", range="30:63", output=Path("bronze")))
>>> pipe(EditRequest(clip, targets=("3",), op="blur", range="01:00:01:00-01:00:02:10", output=Path("r")))

A pipeline owns its components — the twin builder's stages, the reasoner LLM and the video editor —
typed by Protocols, each loaded at most once, when a job first needs it (or at once with
:meth:`RiverPipeline.preload`), and replaceable one at a time (``from_pretrained(..., editor=mine)``).
``pipe(request)`` runs a job; :meth:`RiverPipeline.start` returns the :class:`PipelineJob`, whose
numbered steps are public so a server can show the plan before the expensive render:

1. :meth:`~PipelineJob.check_inputs` — probe the media, resolve the range, check the output folder;
2. :meth:`~PipelineJob.twin` — the twin of the range the user chose (cached), widened by handles;
3. :meth:`~PipelineJob.reason` — the reasoner turns the query into an edit plan (query jobs only);
4. :meth:`~PipelineJob.plan` — the plan to render: reasoned, reviewed, or from explicit targets;
5. :meth:`~PipelineJob.masks` — the edit regions per frame, checked against the twin;
6. :meth:`~PipelineJob.render` — Wan2.1-VACE over overlapping windows, and the instant operations;
7. :meth:`~PipelineJob.composite` — the edit inside its alpha, source bytes elsewhere;
8. :meth:`~PipelineJob.encode` — the deliverables, written atomically in one folder;
9. :meth:`~PipelineJob.qc` — PSNR/SSIM outside the region, temporal stability, flags.

Steps 6–9 stream: each rendered frame is composited, written and measured before the next window is
decoded, so memory does not grow with the range. Every step reports progress and checks the cancel
token; a cancelled or failed job leaves nothing at the output folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import numpy as np

from river_core import __version__, components
from river_core.atomic import atomic_path, check_output_path
from river_core.components import PROFILES, Component, Profile, profile_of
from river_core.editing.deliver import Delivery, DeliveryResult, DeliverySpec
from river_core.editing.masks import MaskShape
from river_core.editing.qc import QCReport, QCThresholds
from river_core.editing.render import (
    Editor,
    EditRequestError,
    FrameRenderer,
    RenderedFrame,
    RenderRequest,
    check_request,
    frame_regions,
)
from river_core.errors import RiverError
from river_core.media import FrameRange, MediaInfo, format_rate, probe
from river_core.media.rational import ranges_text
from river_core.progress import CancelToken, ProgressCallback, check, report
from river_core.reasoning.plan import (
    TWIN_QUERY,
    EditPlan,
    plan_problems,
    save_plan,
    twin_mismatch,
    twin_query,
    twin_ref,
)
from river_core.request import EditRequest, RequestError
from river_core.targets import explicit_plan, with_handles
from river_core.twin.build import WarmStages
from river_core.twin.schema import TwinDocument, load_twin, twin_json_text

if TYPE_CHECKING:
    from river_core.editing.vace import RenderSettings
    from river_core.reasoning.llm import ReasonerLLM
    from river_core.twin.builder import StageLoader

STEPS: Final = ("check_inputs", "twin", "reason", "plan", "masks", "render", "composite", "encode", "qc")
T = TypeVar("T")


class PipelineError(RiverError, ValueError):
    """A job that cannot run as asked."""


@dataclass
class PipelineResult:
    """What a job produced. Every job has its twin; plan and edit jobs a plan; edits a delivery."""

    kind: str
    twin: TwinDocument
    frames: FrameRange
    plan: EditPlan | None = None
    delivery: DeliveryResult | None = None
    rendered: FrameRange | None = None  # the frames the delivered media covers: frames widened by handles
    output_dir: Path | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    twin_cache_hit: bool | None = None
    rendered_windows: int = 0
    skipped_windows: int = 0

    @property
    def qc(self) -> QCReport:
        if self.delivery is None:
            raise PipelineError(f"a {self.kind} job renders nothing, so it has no QC")
        return self.delivery.qc

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "range": str(self.frames),
            "output_dir": None if self.output_dir is None else str(self.output_dir),
            "objects": [
                {"id": t.id, "category": t.category, "frames": f"{t.first_frame}:{t.last_frame + 1}"}
                for t in self.twin.tracks
            ],
            "twin_cache": None if self.twin_cache_hit is None else ("hit" if self.twin_cache_hit else "miss"),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
        if self.plan is not None:
            body["operations"] = [
                {"id": op.id, "kind": op.kind, "targets": [t.id for t in op.targets]}
                for op in self.plan.operations
            ]
        if self.delivery is not None:
            body.update(self.delivery.to_json())
            if self.rendered is not None:
                body["rendered"] = str(self.rendered)
            body["windows"] = {"rendered": self.rendered_windows, "skipped": self.skipped_windows}
        return body


class RiverPipeline:
    """The loaded components and the settings they were loaded with; ``pipe(request)`` runs a job.

    Build one with :meth:`from_pretrained`. ``stages`` provides the twin builder's stages (a
    :class:`~river_core.twin.build.WarmStages`), ``editor`` the video editor, ``llm`` the reasoner;
    ``llm_spec`` is the ``--llm`` spec the reasoner came from (a ``replay:`` spec is re-read for
    every job: it is a script, not a model).
    """

    def __init__(
        self,
        *,
        profile: Profile,
        stages: WarmStages,
        editor: Component[Editor],
        llm: Component[ReasonerLLM],
        llm_spec: str | None = None,
        stage_loader: StageLoader | None = None,
        qc: QCThresholds | None = None,
        source: str | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise PipelineError(f"profile {profile!r} is not one of: {', '.join(PROFILES)}")
        self.profile: Profile = profile
        self.stages, self.editor, self.llm, self.llm_spec = stages, editor, llm, llm_spec
        self.stage_loader = stage_loader
        self.qc_thresholds = qc
        self.source = source or profile

    @classmethod
    def from_pretrained(
        cls,
        profile_or_dir: str | Path = "paper",
        *,
        device: str | None = None,
        dtype: str | None = None,
        offload: str = "auto",
        llm: str | ReasonerLLM | None = None,
        editor: str | Editor | None = None,
        revision: str | None = None,
        twin_models: Mapping[str, str] | None = None,
        stage_loader: StageLoader | None = None,
        seed: int = 0,
        qc: QCThresholds | None = None,
        preload: bool = False,
        say: Callable[[str], None] | None = None,
    ) -> RiverPipeline:
        """A pipeline for ``"paper"`` (the paper's checkpoints from the Hugging Face cache or their
        local folders), ``"tiny"`` (the same classes at tiny size with random weights, built in code:
        offline, meaningless pixels) or a folder holding a ``river_pipeline.json`` that names each
        component (see :func:`read_manifest`).

        ``llm`` is a ``--llm`` spec or a reasoner; ``editor`` a VACE checkpoint (hub id or folder) or
        an editor; ``twin_models`` points twin roles (detector, tracker, depth, describer) at other
        checkpoints; ``stage_loader`` replaces twin model loading (tests). Nothing is loaded until a
        job needs it, unless ``preload``.
        """
        base, manifest = profile_of(profile_or_dir)
        if manifest:
            llm = llm if llm is not None else manifest.get("reasoner")
            editor = editor if editor is not None else manifest.get("editor")
            twin_models = {**manifest.get("twin", {}), **(twin_models or {})}
        stages = WarmStages(base, models=twin_models, device=device, dtype=dtype, seed=seed)  # type: ignore[arg-type]
        editor_component = components.editor_component(
            base, editor, revision=revision, device=device, dtype=dtype, offload=offload, seed=seed, say=say
        )
        llm_component, spec = components.reasoner_component(base, llm, device=device, dtype=dtype, say=say)
        pipe = cls(
            profile=base, stages=stages, editor=editor_component, llm=llm_component, llm_spec=spec,
            stage_loader=stage_loader, qc=qc, source=str(profile_or_dir),
        )  # fmt: skip
        if preload:
            pipe.preload()
        return pipe

    # -- components --------------------------------------------------------------------------------

    def preload(self, *, twin: bool = False) -> None:
        """Load the editor and the reasoner now (and the twin stages with ``twin``), so the first
        job does not wait for them."""
        self.editor.get()
        if not self._replays:
            self.llm.get()
        if twin and self.stage_loader is None:
            for role in self.stages.specs:
                self.stages(role)

    def use(self, *, editor: Editor | None = None, llm: ReasonerLLM | None = None) -> None:
        """Replace a component with a ready object (the next job uses it; nothing is loaded for it)."""
        if editor is not None:
            self.editor.close()
            self.editor = Component("editor", value=editor)
        if llm is not None:
            self.llm.close()
            self.llm, self.llm_spec = Component("reasoner", value=llm), None

    @property
    def loads(self) -> dict[str, int]:
        """How often each model was loaded: a pipeline serving many jobs loads each once."""
        counts = {"editor": self.editor.loads, "reasoner": self.llm.loads}
        counts.update(self.stages.loads)
        return counts

    def reasoner_llm(self) -> ReasonerLLM:
        """The reasoner for the next job (a replayed rollout is read anew for every job)."""
        if self._replays:
            from river_core.reasoning.llms import load_llm

            assert self.llm_spec is not None
            return load_llm(self.llm_spec)
        return self.llm.get()

    @property
    def _replays(self) -> bool:
        from river_core.reasoning.llms import replayed

        return self.llm_spec is not None and replayed(self.llm_spec)

    def close(self) -> None:
        """Free every loaded model."""
        self.editor.close()
        self.llm.close()
        self.stages.close()

    # -- jobs ----------------------------------------------------------------------------------------

    def __call__(
        self,
        request: EditRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        say: Callable[[str], None] | None = None,
    ) -> PipelineResult:
        """Run ``request`` through every step its kind needs."""
        return self.start(request, progress=progress, cancel=cancel, say=say).run()

    def start(
        self,
        request: EditRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        say: Callable[[str], None] | None = None,
    ) -> PipelineJob:
        """The job for ``request``, to run step by step (or all at once with :meth:`PipelineJob.run`)."""
        return PipelineJob(self, request, progress=progress, cancel=cancel, say=say)


@dataclass
class JobState:
    """What the steps of one job have worked out so far."""

    info: MediaInfo | None = None
    frames: FrameRange | None = None  # the range the user chose
    render_frames: FrameRange | None = None  # what is rendered: frames widened by handles
    given_twin: TwinDocument | None = None
    twin: TwinDocument | None = None  # the twin whose ids the user saw and the plan uses
    render_twin: TwinDocument | None = None  # the twin over render_frames, with the same ids
    twin_cache: dict[str, Any] = field(default_factory=dict)
    plan: EditPlan | None = None
    render_request: RenderRequest | None = None
    renderer: FrameRenderer | None = None
    delivery: DeliveryResult | None = None
    output_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


class PipelineJob:
    """One request through the pipeline's numbered steps (see the module docstring)."""

    def __init__(
        self,
        pipeline: RiverPipeline,
        request: EditRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        say: Callable[[str], None] | None = None,
        shape: MaskShape | None = None,
    ) -> None:
        self.pipeline, self.request = pipeline, request
        self.progress, self.cancel = progress, cancel
        self.say = say or (lambda _line: None)
        self.shape = shape
        self.state = JobState()

    def run(self) -> PipelineResult:
        """Every step the request's kind needs, in order."""
        self.check_inputs()
        self.twin()
        if self.request.kind == "twin":
            return self.write_outputs()
        if self.request.query is not None:
            self.reason()
        self.plan()
        if self.request.kind == "plan":
            return self.write_outputs()
        self.masks()
        return self.deliver()

    def deliver(self) -> PipelineResult:
        """Steps 6–9 on a job whose plan and masks are ready (a server runs 1–5 first, shows the
        plan, then calls this)."""
        delivery = self.encode(self.composite(self.render()))
        self.qc()
        return self._result(delivery=delivery, output_dir=delivery.out_dir)

    # -- 1. inputs -------------------------------------------------------------------------------

    def check_inputs(self) -> tuple[MediaInfo, FrameRange]:
        """Probe the media, resolve the range (of the twin or plan when none is given), refuse an
        output that would overwrite an input or a folder RIVER did not write."""
        started = time.monotonic()
        check(self.cancel)
        request = self.request
        info = probe(request.media)
        twin_range, media_hash = None, None
        if request.twin is not None or (request.plan is not None and request.use_cache):
            from river_core.twin.cache import TwinCache

            media_hash = TwinCache().media_hash(request.media)  # memoized: the twin's build reuses it
            if request.plan is not None and request.plan.twin.content_hash != media_hash:
                # Before any twin is built: a plan's ids mean nothing on other media.
                raise RequestError(
                    "plan",
                    f"the plan was made on other media (content {request.plan.twin.content_hash[:19]}…) "
                    f"than {request.media}; reason a plan on this media (river reason) or edit the clip "
                    "the plan was made on",
                )
        if request.twin is not None:
            given = load_twin(request.twin)
            if media_hash != given.video.content_hash:
                raise RequestError(
                    "twin",
                    f"{request.twin} was built from other media than {request.media}; build the twin for it "
                    "(river twin build) or leave {twin} out",
                )
            if request.plan is not None and (differ := twin_mismatch(request.plan, given)):
                raise RequestError(
                    "plan",
                    f"the plan was made on another twin than {request.twin}: {'; '.join(differ)}; give the "
                    "twin it was made on as {twin}, or leave {twin} out",
                )
            self.state.given_twin, twin_range = given, given.video.frame_range
        frames = request.frames(info, twin_range=twin_range)
        render_frames = request.render_frames(info, frames)
        out = request.output
        if request.kind == "edit" and out is None:
            raise RequestError("output", "an edit needs an output folder: the deliverables go there")
        if out is not None:
            inputs = [request.media, *([request.twin] if request.twin else [])]
            check_output_path(out, sources=inputs, overwrite=request.overwrite, directory=True)
            for source in inputs:
                if out.resolve() in source.resolve().parents:
                    raise RequestError("output", f"{out} holds the input {source}; choose a new folder")
            if out.exists() and not out.is_dir():
                raise RequestError("output", f"{out} is a file; the job writes a folder, give a folder name")
        self.state.info, self.state.frames, self.state.render_frames = info, frames, render_frames
        self._done("check_inputs", started)
        return info, frames

    # -- 2. twin ---------------------------------------------------------------------------------

    def twin(self) -> TwinDocument:
        """The twin whose object ids the request means: the given ``--twin``, else the twin of the
        plan's range (a reviewed plan) or of the chosen range, built or from the cache. With handles,
        also the twin of the rendered range, its objects renamed to these ids."""
        started = time.monotonic()
        check(self.cancel)
        _, frames = self._inputs()
        request = self.request
        render_frames = self.state.render_frames
        assert render_frames is not None
        if self.state.given_twin is not None:
            twin = self.state.given_twin
            self.state.twin_cache = {"hit": None, "path": str(request.twin)}
        else:
            core = request.plan.twin.frame_range if request.plan is not None else frames
            twin, hit, key = self._build(core)
            self.state.twin_cache = {"hit": hit, "key": key}
        covered = twin.video.frame_range
        if covered.start <= render_frames.start and render_frames.end <= covered.end:
            render_twin = twin
        else:
            from river_core.twin.extend import extend_twin

            wide = FrameRange(min(covered.start, render_frames.start), max(covered.end, render_frames.end))
            render_twin = extend_twin(twin, self._build(wide)[0])
            self.say(f"handles: frames {ranges_text(wide.minus(covered))} from the twin of {wide}, same ids")
        self.state.twin, self.state.render_twin = twin, render_twin
        self.state.models["twin"] = [m.model_dump(mode="json") for m in twin.provenance.models]
        self._done("twin", started)
        return twin

    def _build(self, frame_range: FrameRange) -> tuple[TwinDocument, bool, str]:
        from river_core.twin.build import build_twin

        pipe, request = self.pipeline, self.request
        # A reviewed plan's ids are those of the twin it was made on: build (find) that twin again.
        query = twin_query(request.plan) if request.plan is not None else request.query
        outcome = build_twin(
            request.media,
            frame_range,
            query,
            stages=pipe.stages if pipe.stage_loader is None else None,
            stage_loader=pipe.stage_loader,
            profile=pipe.profile,
            use_cache=request.use_cache,
            progress=self.progress,
            cancel=self.cancel,
        )
        twin = outcome.twin
        self.say(
            f"twin of {frame_range}: {len(twin.frames)} frames, {len(twin.tracks)} objects "
            + ("(from the cache)" if outcome.cache_hit else f"(built in {outcome.elapsed_s:.1f} s)")
        )
        return twin, outcome.cache_hit, outcome.cache_key

    # -- 3. reason -------------------------------------------------------------------------------

    def reason(self) -> EditPlan:
        """The reasoner's plan for the query (LLM + sandboxed code over the twin)."""
        started = time.monotonic()
        check(self.cancel)
        twin = self._require(self.state.twin, "twin")
        query = self.request.query
        if query is None:
            raise PipelineError("only a query is reasoned; this request has targets or a plan")
        from river_core.reasoning.reasoner import Reasoner, ReasonerSettings

        llm = self.pipeline.reasoner_llm()
        replay = llm.info.kind == "replay"
        reasoner = Reasoner(
            llm, settings=ReasonerSettings(samples=1 if replay else 4, seed=self.request.seed)
        )
        plan = reasoner(twin, query, progress=self.progress, cancel=self.cancel)
        plan = plan.model_copy(update={"provenance": {**plan.provenance, TWIN_QUERY: query}})
        self.state.plan = plan
        info = llm.info
        self.state.models["reasoner"] = {"llm": info.to_json() if hasattr(info, "to_json") else str(info)}
        self.state.settings["reasoner"] = {
            "samples": reasoner.settings.samples,
            "seed": reasoner.settings.seed,
        }
        kinds = ", ".join(sorted({op.kind for op in plan.operations}))
        self.say(f"plan: {len(plan.operations)} operation(s) reasoned from the query ({kinds})")
        self._done("reason", started)
        return plan

    # -- 4. plan ---------------------------------------------------------------------------------

    def plan(self) -> EditPlan:
        """The plan to render: reasoned (step 3), the request's reviewed plan, or built from its
        explicit targets. It must fit the twin."""
        started = time.monotonic()
        check(self.cancel)
        twin = self._require(self.state.twin, "twin")
        request = self.request
        if self.state.plan is not None:
            plan = self.state.plan
        elif request.plan is not None:
            plan = request.plan
            differ = twin_mismatch(plan, twin)
            if differ:
                raise PipelineError(
                    f"the plan was made on another twin than this edit's ({'; '.join(differ)}); reason a "
                    f"plan on {request.media} (river reason), or edit the clip and range the plan was made on"
                )
            if plan.twin.twin_digest != twin_ref(twin).twin_digest:
                self.say(
                    "note: this twin is not the one the plan was made on (rebuilt?); its ids are checked"
                )
        else:
            plan = explicit_plan(twin, request, self._inputs()[1])
        problems = plan_problems(plan, twin)
        if problems:
            raise PipelineError("the plan does not fit the twin: " + "; ".join(problems))
        if not plan.operations:
            raise PipelineError(
                "the plan has no operations: the request changes nothing in this range; "
                "check the query or the targets"
            )
        self.state.plan = plan
        self._done("plan", started)
        return plan

    # -- 5. masks --------------------------------------------------------------------------------

    def masks(self) -> RenderRequest:
        """The render request and a check that its regions exist: fails early (before any model
        loads) when no target appears in the range."""
        started = time.monotonic()
        check(self.cancel)
        info, _ = self._inputs()
        render_frames = self._require(self.state.render_frames, "check_inputs")
        twin = self._require(self.state.render_twin, "twin")
        plan = self._require(self.state.plan, "plan")
        covered = self._require(self.state.twin, "twin").video.frame_range
        operations = tuple(with_handles(op, twin, covered, render_frames) for op in plan.operations)
        try:
            request = RenderRequest(operations, shape=self.shape)
            check_request(request, twin, info, render_frames)
        except EditRequestError as exc:
            raise PipelineError(str(exc)) from None
        edited = [f for f in render_frames if any(f in s for op in operations for s in op.frames)]
        if not edited:
            spans = ranges_text(s for op in plan.operations for s in op.frames)
            raise PipelineError(f"no operation touches frames {render_frames}; the plan's frames are {spans}")
        probe_frames = edited[:: max(1, len(edited) // 8)]
        area = [float(r.matte.mean()) for r in frame_regions(request, twin, probe_frames).values()]
        if max(area) == 0.0:
            raise PipelineError("the targets' masks are empty in every frame checked; rebuild the twin")
        self.state.render_request = request
        self.state.settings["mask"] = {
            "edited_frames": len(edited),
            "mean_region_fraction": round(float(np.mean(area)), 5),
            "shape": None if self.shape is None else vars(self.shape),
        }
        report(self.progress, "masks", 1, 1, unit="step")
        self._done("masks", started)
        return request

    # -- 6. render -------------------------------------------------------------------------------

    def render(self) -> Iterator[RenderedFrame]:
        """Rendered frames in order (lazy): VACE over windows for generative operations, the
        instant operations frame by frame."""
        info, _ = self._inputs()
        render_frames = self._require(self.state.render_frames, "check_inputs")
        twin = self._require(self.state.render_twin, "twin")
        request = self._require(self.state.render_request, "masks")
        pipe = self.pipeline
        editor = settings = size = None
        if request.generative:
            started = time.monotonic()
            from river_core.editing.vace import model_size

            editor = pipe.editor.get()
            settings = render_settings(self.request, pipe.profile)
            upright = (info.height, info.width) if (info.rotation // 90) % 2 else (info.width, info.height)
            size = model_size(pipe.profile, *upright)
            self.state.models["editor"] = editor.info.to_json()
            self.state.settings["render"] = {**settings.to_json(), "model_size": list(size)}
            self._done("load_editor", started)
        renderer = FrameRenderer(
            self.request.media, info, render_frames, twin, request, editor=editor, settings=settings,
            model_size=size, progress=self.progress, cancel=self.cancel,
        )  # fmt: skip
        self.state.renderer = renderer
        self.state.settings["operations"] = request.kinds
        return self._timed_iter("render", renderer.frames())

    # -- 7. composite ----------------------------------------------------------------------------

    def composite(self, frames: Iterator[RenderedFrame]) -> Iterator[tuple[RenderedFrame, np.ndarray]]:
        """Each rendered frame with its output: the edits inside their alphas, source bytes elsewhere."""
        for frame in frames:
            started = time.monotonic()
            output = frame.composite()
            self.state.timings["composite"] = self.state.timings.get("composite", 0.0) + _ms(started)
            yield frame, output

    # -- 8. encode -------------------------------------------------------------------------------

    def encode(self, frames: Iterator[tuple[RenderedFrame, np.ndarray]]) -> DeliveryResult:
        """Write every deliverable into the output folder (atomically, as one folder) and the provenance."""
        info, _ = self._inputs()
        render_frames = self._require(self.state.render_frames, "check_inputs")
        request = self.request
        assert request.output is not None
        spec = DeliverySpec(
            out_dir=request.output,
            fmt=request.format,
            stem=request.name or f"{request.media.stem}_edit",
            deliver=request.deliver,
            overwrite=request.overwrite,
        )
        started = time.monotonic()
        n = len(render_frames)
        with Delivery(
            request.media, info, render_frames, spec, qc=self.pipeline.qc_thresholds, cancel=self.cancel
        ) as delivery:
            for k, (frame, output) in enumerate(frames):
                if frame.index != render_frames.start + k:
                    raise RiverError(
                        f"internal: frame {frame.index} arrived where {render_frames.start + k} was due"
                    )
                delivery.write(frame.source, output, frame.matte)
                report(self.progress, "encode", k + 1, n)
            self.state.timings["encode"] = (
                _ms(started)
                - self.state.timings.get("render", 0.0)
                - self.state.timings.get("composite", 0.0)
            )
            result = delivery.finish(self.provenance())
        self.state.delivery = result
        return result

    # -- 9. qc -----------------------------------------------------------------------------------

    def qc(self) -> QCReport:
        """The render QC (measured while encoding); says each flag."""
        result = self._require(self.state.delivery, "encode")
        for flag in result.qc.flags:
            self.say(f"QC: {flag}")
        return result.qc

    # -- twin and plan jobs ----------------------------------------------------------------------

    def write_outputs(self) -> PipelineResult:
        """A twin or plan job's folder (when the request names one): ``twin.json`` (and ``plan.json``),
        written atomically."""
        twin = self._require(self.state.twin, "twin")
        request = self.request
        out = request.output
        if out is not None:
            with atomic_path(
                out, directory=True, sources=[request.media], overwrite=request.overwrite
            ) as tmp:
                (tmp / "twin.json").write_text(twin_json_text(twin), encoding="utf-8")
                if self.state.plan is not None:
                    save_plan(self.state.plan, tmp / "plan.json")
        return self._result(output_dir=out)

    # -- provenance ------------------------------------------------------------------------------

    def provenance(self) -> dict[str, Any]:
        """Everything needed to know how the deliverables were made (the QC is added on writing)."""
        info, frames = self._inputs()
        twin = self._require(self.state.twin, "twin")
        plan = self._require(self.state.plan, "plan")
        request = self.request
        ref = twin_ref(twin, str(request.twin) if request.twin else None)
        return {
            "river_nle": __version__,
            "created": _now(),
            "job": {
                **request.to_json(),
                "media": str(request.media.resolve()),
                "range": str(frames),
                "rendered": str(self.state.render_frames),
                "rate": format_rate(info.rate),
                "timecode": str(info.timecode_or_zero + frames.start),
                "profile": self.pipeline.profile,
                "pipeline": self.pipeline.source,
            },
            "twin": {
                "schema_version": twin.schema_version,
                "digest": ref.twin_digest,
                "content_hash": twin.video.content_hash,
                "frame_range": twin.video.frame_range.to_json(),
                "builder": twin.provenance.builder,
                "builder_version": twin.provenance.builder_version,
                "cache": self.state.twin_cache,
            },
            "models": self.state.models,
            "settings": self.state.settings,
            "plan": plan.to_json(),
            "timings_ms": {k: round(v, 1) for k, v in self.state.timings.items()},
            "notes": (
                ["tiny profile: real model classes with random weights; the pixels are meaningless"]
                if self.pipeline.profile == "tiny"
                else []
            ),
        }

    # -- internals -------------------------------------------------------------------------------

    def _result(
        self, *, delivery: DeliveryResult | None = None, output_dir: Path | None = None
    ) -> PipelineResult:
        renderer = self.state.renderer
        return PipelineResult(
            kind=self.request.kind,
            twin=self._require(self.state.twin, "twin"),
            frames=self._inputs()[1],
            plan=self.state.plan,
            delivery=delivery,
            rendered=self.state.render_frames if delivery is not None else None,
            output_dir=output_dir,
            timings_ms=dict(self.state.timings),
            twin_cache_hit=self.state.twin_cache.get("hit"),
            rendered_windows=renderer.rendered_windows if renderer else 0,
            skipped_windows=renderer.skipped_windows if renderer else 0,
        )

    def _inputs(self) -> tuple[MediaInfo, FrameRange]:
        if self.state.info is None or self.state.frames is None:
            return self.check_inputs()
        return self.state.info, self.state.frames

    def _require(self, value: T | None, step: str) -> T:
        if value is None:
            raise PipelineError(f"run the {step} step first")
        return value

    def _done(self, step: str, started: float) -> None:
        self.state.timings[step] = self.state.timings.get(step, 0.0) + _ms(started)

    def _timed_iter(self, step: str, frames: Iterator[RenderedFrame]) -> Iterator[RenderedFrame]:
        while True:
            started = time.monotonic()
            try:
                frame = next(frames)
            except StopIteration:
                self._done(step, started)
                return
            self._done(step, started)
            yield frame


def render_settings(request: EditRequest, profile: str) -> RenderSettings:
    """The VACE settings of ``profile`` with the request's overrides."""
    from river_core.editing.vace import RenderSettings

    overrides: dict[str, Any] = {"seed": request.seed}
    for name, value in (
        ("steps", request.steps),
        ("guidance_scale", request.guidance),
        ("conditioning_scale", request.conditioning_scale),
        ("window", request.window),
        ("overlap", request.overlap),
    ):
        if value is not None:
            overrides[name] = value
    return replace(RenderSettings.for_profile(profile), **overrides)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0


def _now() -> str:
    from river_core.twin.schema import now_iso

    return now_iso()


__all__ = [
    "PROFILES",
    "STEPS",
    "PipelineError",
    "PipelineJob",
    "PipelineResult",
    "RiverPipeline",
    "render_settings",
]
