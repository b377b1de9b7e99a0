"""RiverPipeline: a clip range and a request in, a finished, frame-exact, non-destructive edit out.

The steps are public methods, run in order by :meth:`RiverPipeline.run` (or one by one, e.g. by a
server that shows the plan to the editor before the expensive render):

1. :meth:`~RiverPipeline.check_inputs` — probe the media, check the range and the output folder;
2. :meth:`~RiverPipeline.twin` — the digital twin of the range (cached by content + range + models);
3. :meth:`~RiverPipeline.reason` — the reasoner turns the query into an edit plan (query jobs only);
4. :meth:`~RiverPipeline.plan` — the plan to render: reasoned, read from a file, or explicit targets;
5. :meth:`~RiverPipeline.masks` — the edit regions per frame, checked against the twin;
6. :meth:`~RiverPipeline.render` — Wan2.1-VACE over overlapping windows, or an instant action;
7. :meth:`~RiverPipeline.composite` — the edit inside the feathered region, source bytes elsewhere;
8. :meth:`~RiverPipeline.encode` — the deliverables, written atomically in one folder;
9. :meth:`~RiverPipeline.qc` — PSNR/SSIM outside the region, temporal stability, flags.

Steps 6–9 stream: each rendered frame is composited, written and measured before the next window is
decoded, so memory does not grow with the range. Every step reports progress and checks the cancel
token; a cancelled or failed job leaves nothing at the output folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from river_core import __version__
from river_core.atomic import check_output_path
from river_core.editing.deliver import Delivery, DeliveryResult, DeliverySpec
from river_core.editing.masks import MaskShape
from river_core.editing.qc import QCReport, QCThresholds
from river_core.editing.render import (
    ACTIONS,
    EditRequest,
    EditRequestError,
    FrameRenderer,
    RenderedFrame,
    check_request,
    frame_regions,
)
from river_core.errors import RiverError
from river_core.media import FrameRange, MediaInfo, format_rate, probe
from river_core.progress import CancelToken, ProgressCallback, check, report
from river_core.reasoning.plan import (
    EditPlan,
    FrameSpan,
    Operation,
    Target,
    load_plan,
    plan_problems,
    twin_ref,
)
from river_core.twin.schema import TwinDocument, load_twin

Profile = Literal["paper", "tiny"]
PROFILES: Final = ("paper", "tiny")
STEPS: Final = ("check_inputs", "twin", "reason", "plan", "masks", "render", "composite", "encode", "qc")


class PipelineError(RiverError, ValueError):
    """A job that cannot run as asked."""


@dataclass(frozen=True)
class EditJob:
    """What the editor asked for. Exactly one of ``query``, ``plan_path`` or ``targets`` says what
    to change; ``action`` says how (``generate`` renders with Wan2.1-VACE)."""

    media: Path
    out: Path
    query: str | None = None
    plan_path: Path | None = None
    targets: tuple[str, ...] = ()  # object ids or categories of the twin
    action: str = "generate"
    prompt: str | None = None  # generate with explicit targets: the new look
    color: str | None = None  # recolor
    remove: bool = False  # generate with explicit targets: remove them instead
    frame_range: FrameRange | None = None
    profile: Profile = "paper"
    fmt: str = "prores"
    overwrite: bool = False
    twin_path: Path | None = None
    llm: str | None = None  # --llm spec; default per profile
    seed: int = 0
    steps: int | None = None
    guidance_scale: float | None = None
    conditioning_scale: float | None = None
    window: int | None = None
    overlap: int | None = None
    model: str | None = None  # VACE checkpoint: hub id or local folder
    revision: str | None = None
    offload: str = "auto"
    device: str | None = None
    dtype: str | None = None
    use_cache: bool = True
    matte: bool = True
    preview: bool = True
    sheet: bool = True
    shape: MaskShape | None = None

    def __post_init__(self) -> None:
        given = [self.query is not None, self.plan_path is not None, bool(self.targets)]
        if sum(given) != 1:
            raise PipelineError(
                'say what to change in exactly one way: a query (river edit MEDIA "query"), '
                "--plan PLAN.json, or --targets IDS --op ACTION"
            )
        if self.profile not in PROFILES:
            raise PipelineError(f"profile {self.profile!r} is not one of: {', '.join(PROFILES)}")
        if self.action not in ACTIONS:
            raise PipelineError(f"--op {self.action!r} is not one of: {', '.join(ACTIONS)}")
        if self.action != "generate" and not self.targets and self.plan_path is None:
            raise PipelineError(
                f"--op {self.action} needs --targets (or a --plan) to know what to {self.action}"
            )
        if self.targets and self.action == "generate" and not (self.prompt or self.remove):
            raise PipelineError(
                '--op generate with --targets needs --prompt "the new look" (or --remove to remove them)'
            )
        if self.query is not None and not self.query.strip():
            raise PipelineError(
                'the query is empty; say what to change, e.g. "make the dog look like bronze"'
            )


@dataclass
class PipelineResult:
    """What a job produced, for the CLI, the bridge and tests."""

    plan: EditPlan
    delivery: DeliveryResult
    timings_ms: dict[str, float]
    twin_cache_hit: bool | None
    rendered_windows: int
    skipped_windows: int

    @property
    def qc(self) -> QCReport:
        return self.delivery.qc

    def to_json(self) -> dict[str, Any]:
        return {
            **self.delivery.to_json(),
            "operations": len(self.plan.operations),
            "twin_cache": None if self.twin_cache_hit is None else ("hit" if self.twin_cache_hit else "miss"),
            "windows": {"rendered": self.rendered_windows, "skipped": self.skipped_windows},
            "timings_ms": self.timings_ms,
        }


@dataclass
class _State:
    info: MediaInfo | None = None
    frame_range: FrameRange | None = None
    twin: TwinDocument | None = None
    twin_cache: dict[str, Any] = field(default_factory=dict)
    plan: EditPlan | None = None
    request: EditRequest | None = None
    renderer: FrameRenderer | None = None
    delivery: DeliveryResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


class RiverPipeline:
    """Runs one :class:`EditJob`. ``editor_loader`` and ``llm_loader`` replace model loading
    (tests, servers that keep models warm)."""

    def __init__(
        self,
        job: EditJob,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        say: Callable[[str], None] | None = None,
        editor_loader: Callable[[EditJob], Any] | None = None,
        llm_loader: Callable[[EditJob], Any] | None = None,
        qc_thresholds: QCThresholds | None = None,
    ) -> None:
        self.job = job
        self.progress, self.cancel = progress, cancel
        self.say = say or (lambda _line: None)
        self._editor_loader, self._llm_loader = editor_loader, llm_loader
        self.qc_thresholds = qc_thresholds
        self.state = _State()

    # -- the whole job -----------------------------------------------------------------------

    def run(self) -> PipelineResult:
        """Every step in order."""
        self.check_inputs()
        self.twin()
        if self.job.query is not None:
            self.reason()
        self.plan()
        self.masks()
        return self.deliver()

    def deliver(self) -> PipelineResult:
        """Steps 6–9 on a job whose plan and masks are ready (a server runs 1–5 first, shows the
        plan, then calls this)."""
        delivery = self.encode(self.composite(self.render()))
        self.qc()
        return PipelineResult(
            plan=self._require(self.state.plan, "plan"),
            delivery=delivery,
            timings_ms=dict(self.state.timings),
            twin_cache_hit=self.state.twin_cache.get("hit"),
            rendered_windows=self.state.renderer.rendered_windows if self.state.renderer else 0,
            skipped_windows=self.state.renderer.skipped_windows if self.state.renderer else 0,
        )

    # -- 1. inputs ---------------------------------------------------------------------------

    def check_inputs(self) -> tuple[MediaInfo, FrameRange]:
        """Probe the media, resolve and check the range, refuse an output that would overwrite the
        source or an existing folder (without ``overwrite``)."""
        started = time.monotonic()
        check(self.cancel)
        job = self.job
        info = probe(job.media)
        frame_range = job.frame_range
        if frame_range is None and job.plan_path is not None:
            plan_range = _plan_range(job.plan_path)
            frame_range = plan_range
        frame_range = frame_range or FrameRange(0, info.frame_count)
        frame_range.check_within(info.frame_count)
        check_output_path(job.out, sources=[job.media], overwrite=job.overwrite)
        if job.out.resolve() in job.media.resolve().parents:
            raise PipelineError(f"--out {job.out} holds the source media; choose a new folder")
        if job.out.exists() and not job.out.is_dir():
            raise PipelineError(f"--out {job.out} is a file; the edit writes a folder, give a folder name")
        self.state.info, self.state.frame_range = info, frame_range
        self._done("check_inputs", started)
        return info, frame_range

    # -- 2. twin -----------------------------------------------------------------------------

    def twin(self) -> TwinDocument:
        """The twin of the range: the given ``--twin``, else built (or taken from the cache)."""
        started = time.monotonic()
        check(self.cancel)
        _, frame_range = self._inputs()
        job = self.job
        if job.twin_path is not None:
            twin = load_twin(job.twin_path)
            from river_core.twin.cache import TwinCache

            if TwinCache().media_hash(job.media) != twin.video.content_hash:
                raise PipelineError(
                    f"{job.twin_path} was built from other media than {job.media}; build the twin for it "
                    "(river twin build) or leave --twin out"
                )
            self.state.twin_cache = {"hit": None, "path": str(job.twin_path)}
        else:
            from river_core.twin.build import build_twin

            outcome = build_twin(
                job.media,
                frame_range,
                job.query,
                profile=job.profile,
                device=job.device,
                dtype=job.dtype,
                use_cache=job.use_cache,
                seed=job.seed,
                progress=self.progress,
                cancel=self.cancel,
            )
            twin = outcome.twin
            self.state.twin_cache = {"hit": outcome.cache_hit, "key": outcome.cache_key}
            self.say(
                f"twin: {len(twin.frames)} frames, {len(twin.tracks)} objects "
                + ("(from the cache)" if outcome.cache_hit else f"(built in {outcome.elapsed_s:.1f} s)")
            )
        self.state.twin = twin
        self.state.models["twin"] = [m.model_dump(mode="json") for m in twin.provenance.models]
        self._done("twin", started)
        return twin

    # -- 3. reason ---------------------------------------------------------------------------

    def reason(self) -> EditPlan:
        """The reasoner's plan for the query (LLM + sandboxed code over the twin)."""
        started = time.monotonic()
        check(self.cancel)
        twin = self._require(self.state.twin, "twin")
        job = self.job
        assert job.query is not None
        from river_core.reasoning.reasoner import Reasoner, ReasonerSettings

        if self._llm_loader is not None:
            llm = self._llm_loader(job)
        else:
            from river_core.cli_reasoning import make_llm

            llm = make_llm(job.llm or job.profile, device=job.device, dtype=job.dtype)
        replay = llm.info.kind == "replay"
        reasoner = Reasoner(llm, settings=ReasonerSettings(samples=1 if replay else 4, seed=job.seed))
        plan = reasoner(twin, job.query, progress=self.progress, cancel=self.cancel)
        self.state.plan = plan
        self.state.models["reasoner"] = {
            "llm": llm.info.to_json() if hasattr(llm.info, "to_json") else str(llm.info)
        }
        self.state.settings["reasoner"] = {
            "samples": reasoner.settings.samples,
            "seed": reasoner.settings.seed,
        }
        self.say(f"plan: {len(plan.operations)} operation(s) reasoned from the query")
        self._done("reason", started)
        return plan

    # -- 4. plan -----------------------------------------------------------------------------

    def plan(self) -> EditPlan:
        """The plan to render: reasoned (step 3), read from ``--plan``, or built from ``--targets``."""
        started = time.monotonic()
        check(self.cancel)
        twin = self._require(self.state.twin, "twin")
        job = self.job
        if self.state.plan is not None:
            plan = self.state.plan
        elif job.plan_path is not None:
            plan = load_plan(job.plan_path, twin)
            if plan.twin.content_hash != twin.video.content_hash:
                raise PipelineError(
                    f"{job.plan_path} was planned on other media (content {plan.twin.content_hash[:19]}…) "
                    f"than {job.media}; plan again on this media"
                )
        else:
            plan = explicit_plan(twin, job.targets, job, self._inputs()[1])
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

    # -- 5. masks ----------------------------------------------------------------------------

    def masks(self) -> EditRequest:
        """The edit request and a check that its regions exist: fails early (before any model
        loads) when a target never appears in the range."""
        started = time.monotonic()
        check(self.cancel)
        info, frame_range = self._inputs()
        twin = self._require(self.state.twin, "twin")
        plan = self._require(self.state.plan, "plan")
        job = self.job
        action = job.action
        request = EditRequest(tuple(plan.operations), action=action, color=job.color, shape=job.shape)
        check_request(request, twin, info, frame_range)
        edited = [
            f
            for f in range(frame_range.start, frame_range.end)
            if any(s.start <= f < s.end for op in plan.operations for s in op.frames)
        ]
        if not edited:
            raise PipelineError(
                f"no operation touches frames {frame_range}; the plan's frames are "
                + ", ".join(f"{s.start}:{s.end}" for op in plan.operations for s in op.frames)
            )
        probe_frames = edited[:: max(1, len(edited) // 8)]
        area = [float(r.region.mean()) for r in frame_regions(request, twin, probe_frames).values()]
        if max(area) == 0.0:
            raise PipelineError("the targets' masks are empty in every frame checked; rebuild the twin")
        self.state.request = request
        self.state.settings["mask"] = {
            "edited_frames": len(edited),
            "mean_region_fraction": round(float(np.mean(area)), 5),
            "shape": None if job.shape is None else vars(job.shape),
        }
        report(self.progress, "masks", 1, 1, unit="step")
        self._done("masks", started)
        return request

    # -- 6. render ---------------------------------------------------------------------------

    def render(self) -> Iterator[RenderedFrame]:
        """Rendered frames in order (lazy): VACE over windows, or the instant action."""
        info, frame_range = self._inputs()
        twin = self._require(self.state.twin, "twin")
        request = self._require(self.state.request, "masks")
        job = self.job
        editor = settings = size = None
        if request.generative:
            started = time.monotonic()
            from river_core.editing.vace import RenderSettings, model_size

            editor = self._editor_loader(job) if self._editor_loader else self._load_editor()
            settings = _render_settings(job)
            upright = (info.height, info.width) if (info.rotation // 90) % 2 else (info.width, info.height)
            size = model_size(job.profile, *upright)
            self.state.models["editor"] = editor.info.to_json()
            self.state.settings["render"] = {**settings.to_json(), "model_size": list(size)}
            assert isinstance(settings, RenderSettings)
            self._done("load_editor", started)
        renderer = FrameRenderer(
            job.media,
            info,
            frame_range,
            twin,
            request,
            editor=editor,
            settings=settings,
            model_size=size,
            progress=self.progress,
            cancel=self.cancel,
        )
        self.state.renderer = renderer
        self.state.settings["action"] = request.action
        return self._timed_iter("render", renderer.frames())

    # -- 7. composite ------------------------------------------------------------------------

    def composite(self, frames: Iterator[RenderedFrame]) -> Iterator[tuple[RenderedFrame, np.ndarray]]:
        """Each rendered frame with its output: the edit inside the alpha, source bytes elsewhere."""
        for frame in frames:
            started = time.monotonic()
            output = frame.composite()
            self.state.timings["composite"] = self.state.timings.get("composite", 0.0) + _ms(started)
            yield frame, output

    # -- 8. encode ---------------------------------------------------------------------------

    def encode(self, frames: Iterator[tuple[RenderedFrame, np.ndarray]]) -> DeliveryResult:
        """Write every deliverable into ``out`` (atomically, as one folder) and the provenance."""
        info, frame_range = self._inputs()
        job = self.job
        spec = DeliverySpec(
            out_dir=job.out,
            fmt=job.fmt,
            stem=_stem(job),
            matte=job.matte,
            preview=job.preview,
            sheet=job.sheet,
            overwrite=job.overwrite,
        )
        started = time.monotonic()
        n = len(frame_range)
        with Delivery(
            job.media, info, frame_range, spec, qc=self.qc_thresholds, cancel=self.cancel
        ) as delivery:
            for k, (frame, output) in enumerate(frames):
                if frame.index != frame_range.start + k:
                    raise RiverError(
                        f"internal: frame {frame.index} arrived where {frame_range.start + k} was due"
                    )
                delivery.write(frame.source, output, frame.alpha)
                report(self.progress, "encode", k + 1, n)
            self.state.timings["encode"] = (
                _ms(started)
                - self.state.timings.get("render", 0.0)
                - (self.state.timings.get("composite", 0.0))
            )
            result = delivery.finish(self.provenance())
        self.state.delivery = result
        return result

    # -- 9. qc -------------------------------------------------------------------------------

    def qc(self) -> QCReport:
        """The render QC (measured while encoding); says each flag."""
        result = self._require(self.state.delivery, "encode")
        report_ = result.qc
        for flag in report_.flags:
            self.say(f"QC: {flag}")
        return report_

    # -- provenance --------------------------------------------------------------------------

    def provenance(self) -> dict[str, Any]:
        """Everything needed to know how the deliverables were made (the QC is added on writing)."""
        info, frame_range = self._inputs()
        twin = self._require(self.state.twin, "twin")
        plan = self._require(self.state.plan, "plan")
        job = self.job
        ref = twin_ref(twin, str(job.twin_path) if job.twin_path else None)
        return {
            "river_nle": __version__,
            "created": _now(),
            "job": {
                "media": str(job.media.resolve()),
                "range": str(frame_range),
                "rate": format_rate(info.rate),
                "query": job.query,
                "plan_file": str(job.plan_path) if job.plan_path else None,
                "targets": list(job.targets),
                "action": job.action,
                "prompt": job.prompt,
                "color": job.color,
                "profile": job.profile,
                "format": job.fmt,
                "seed": job.seed,
            },
            "twin": {
                "schema_version": twin.schema_version,
                "digest": ref.twin_digest,
                "content_hash": twin.video.content_hash,
                "frame_range": [twin.video.frame_range.start, twin.video.frame_range.end],
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
                if job.profile == "tiny"
                else []
            ),
        }

    # -- internals ---------------------------------------------------------------------------

    def _load_editor(self) -> Any:
        from river_core.editing.vace import load_editor

        job = self.job
        self.say(
            "loading the Wan2.1-VACE editor" + (" (tiny, random weights)" if job.profile == "tiny" else "")
        )
        return load_editor(
            job.profile,
            model=job.model,
            revision=job.revision,
            device=job.device,
            dtype=job.dtype,
            offload=job.offload,
            seed=job.seed,
        )

    def _inputs(self) -> tuple[MediaInfo, FrameRange]:
        if self.state.info is None or self.state.frame_range is None:
            return self.check_inputs()
        return self.state.info, self.state.frame_range

    def _require(self, value: Any, step: str) -> Any:
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


def explicit_plan(
    twin: TwinDocument, targets: tuple[str, ...], job: EditJob, frame_range: FrameRange
) -> EditPlan:
    """A plan for explicit ``--targets`` (object ids or categories): one operation over their frames
    in the range. ``generate`` changes them to ``job.prompt`` (or removes them with ``job.remove``)."""
    by_id: dict[int, list[int]] = {}
    category: dict[int, str] = {}
    attributes: dict[int, str] = {}
    for entry in twin.frames:
        if entry.index in frame_range:
            for obj in entry.objects:
                by_id.setdefault(obj.id, []).append(entry.index)
                category.setdefault(obj.id, obj.category)
                attributes.setdefault(obj.id, obj.attributes)
    known = ", ".join(f"{i} ({category[i]})" for i in sorted(by_id)) or "none"
    chosen: list[int] = []
    for item in targets:
        text = item.strip()
        if text.isdigit():
            if int(text) not in by_id:
                raise PipelineError(
                    f"object {text} is not in the twin for {frame_range}; its objects: {known}"
                )
            chosen.append(int(text))
        else:
            matches = [i for i in sorted(by_id) if category[i].lower() == text.lower()]
            if not matches:
                raise PipelineError(
                    f"no object of category {text!r} in the twin for {frame_range}; its objects: {known}"
                )
            chosen.extend(matches)
    chosen = sorted(set(chosen))
    from river_core.reasoning.plan import frame_spans

    target_list = [
        Target(
            id=i,
            category=category[i],
            attributes=attributes[i],
            frames=[FrameSpan(start=s.start, end=s.end) for s in frame_spans(sorted(by_id[i]))],
        )
        for i in chosen
    ]
    if job.action == "generate" and job.remove:
        kind, new_category, new_attributes = "remove", None, None
        prompt = " ".join(
            f"In frame {t.frames[0].start}, object {t.id} with category {t.category} is removed."
            for t in target_list
        )
    else:
        kind = "appearance"
        look = job.prompt or {"blur": "blurred", "pixelate": "pixelated", "matte": "unchanged"}.get(
            job.action, f"recolored {job.color}"
        )
        new_category, new_attributes = None, look
        prompt = " ".join(
            f"In frame {t.frames[0].start}, object {t.id} with category {t.category} has attributes {look}."
            for t in target_list
        )
    op = Operation(
        id="op1",
        kind=kind,
        targets=target_list,
        category=new_category or (target_list[0].category if kind != "remove" else None),
        attributes=new_attributes,
        prompt=prompt,
    )
    return EditPlan(
        query=job.prompt or f"{job.action} {', '.join(targets)}",
        twin=twin_ref(twin),
        operations=[op],
        provenance={"source": "explicit targets", "targets": list(targets), "action": job.action},
    )


def _render_settings(job: EditJob) -> Any:
    from river_core.editing.vace import RenderSettings

    base = RenderSettings.for_profile(job.profile)
    overrides: dict[str, Any] = {"seed": job.seed}
    for name, value in (
        ("steps", job.steps),
        ("guidance_scale", job.guidance_scale),
        ("conditioning_scale", job.conditioning_scale),
        ("window", job.window),
        ("overlap", job.overlap),
    ):
        if value is not None:
            overrides[name] = value
    from dataclasses import replace

    return replace(base, **overrides)


def _plan_range(path: Path) -> FrameRange | None:
    """The twin range a plan file was made on (read without validating the rest)."""
    import json

    try:
        span = json.loads(path.read_text(encoding="utf-8"))["twin"]["frame_range"]
        return FrameRange(int(span["start"]), int(span["end"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # load_plan reports what is wrong with the file


def _stem(job: EditJob) -> str:
    return f"{job.media.stem}_edit"


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0


def _now() -> str:
    from river_core.twin.schema import now_iso

    return now_iso()


__all__ = [
    "STEPS",
    "EditJob",
    "EditRequestError",
    "PipelineError",
    "PipelineResult",
    "RiverPipeline",
    "explicit_plan",
]
