"""``river eval``'s loop: every task through the reasoner (or a baseline), scored, one line each.

1. Check the settings and the report folder; read ``samples.jsonl`` (a rerun skips finished task ids,
   so an interrupted run resumes and ends with the same report).
2. Load the reasoner once (a ``--llm`` spec, or a baseline: ``oracle``, ``nouns``) and, for media tasks
   or ``--render``, the pipeline of ``--profile`` once.
3. Per task: its twin (the task's twin file, or built by the pipeline from its media range); the plan,
   timed, with its execute rounds and model tokens; the reasoning metrics against the gold; with
   ``--render``, the edit rendered through the pipeline's own steps and the editing metrics
   (:mod:`river_core.eval.editing`). The sample is appended to ``samples.jsonl`` and flushed.
4. ``report.md``, ``metrics.csv`` and the plots (:mod:`river_core.eval.report`), written atomically.

``--render instant`` renders the plans whose operations are all instant (blur, recolor, …) and records
"needs --render full" for generative ones; ``full`` renders everything (Wan2.1-VACE for generative ones).
Synthetic twin tasks have no media, so they are scored on reasoning only.

``--bridge`` (:class:`_JobRunner`): the same samples from jobs on a running ``river serve`` (README).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from river_core.errors import RiverError, UsageError
from river_core.eval.baselines import baseline_plan, is_baseline
from river_core.eval.datasets import EvalDataset, EvalTask, image_sequence_clip
from river_core.eval.metrics import j_and_f, target_set_scores, temporal_iou
from river_core.progress import CancelToken, ProgressCallback, check, report
from river_core.reasoning.plan import EditPlan, PlanError
from river_core.twin.schema import TwinDocument, load_twin

RENDER_MODES: Final = ("none", "instant", "full")
SAMPLES: Final = "samples.jsonl"
RUN_FILE: Final = "run.json"
# Settings that change the numbers: a resumed run must have the same ones.
_IDENTITY: Final = (
    "dataset",
    "llm",
    "profile",
    "render",
    "max_new_tokens",
    "max_rounds",
    "prompt",
    "seed",
    "judge",
    "bridge",
)
# With --bridge the server's reasoner decodes with its own settings: these are not the run's.
_NOT_WITH_BRIDGE: Final = ("max_new_tokens", "max_rounds", "prompt")
# A job that failed for one of these reasons is the task's answer (no valid plan); any other stops the run.
_PLAN_FAILURES: Final = ("plan", "invalid")


@dataclass
class EvalSettings:
    """How ``river eval`` runs. ``prompt`` None: the trained model's own (``DIR/reasoner.json``)."""

    llm: str
    profile: str = "tiny"
    render: str = "none"
    limit: int | None = None
    max_new_tokens: int = 1024
    max_rounds: int = 4
    prompt: str | None = None
    seed: int = 0
    judge: str | None = None
    workers: int = 1
    bridge: bool = False
    device: str | None = None
    dtype: str | None = None
    dataset: str = field(default="", metadata={"help": "filled in by evaluate()"})

    def __post_init__(self) -> None:
        if self.render not in RENDER_MODES:
            raise UsageError(
                f"--render {self.render!r} is not one of: {', '.join(RENDER_MODES)}", field="render"
            )
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}", field="limit")
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}", field="workers")
        if self.max_new_tokens < 1:
            raise UsageError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")
        if self.bridge and self.workers > 1:
            raise UsageError(
                "--workers and --bridge exclude each other: with --bridge the server runs the jobs"
            )
        if self.bridge and self.render != "none":
            raise UsageError(
                f"--render {self.render} with --bridge is not implemented yet: run rendered evaluations in "
                "process (drop --bridge)"
            )

    def identity(self) -> dict[str, Any]:
        values = asdict(self)
        return {k: None if self.bridge and k in _NOT_WITH_BRIDGE else values[k] for k in _IDENTITY}


def read_samples(out: Path) -> list[dict[str, Any]]:
    """The finished samples of a report folder; a last line cut by an interruption is dropped."""
    path = out / SAMPLES
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # the half-written line of an interrupted run: that task runs again
    return rows


def evaluate(
    dataset: EvalDataset,
    out: Path,
    settings: EvalSettings,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    say: Callable[[str], None] | None = None,
    backend: Any = None,
    pipeline: Any = None,
) -> list[dict[str, Any]]:
    """Run ``dataset`` into the report folder ``out`` (module docstring); the samples in task order.

    ``backend``: with ``settings.bridge``, the server's jobs (``bridge.eval_jobs.JobBackend``);
    ``pipeline``: a pipeline to run in process instead of loading ``settings.profile``'s."""
    say = say or (lambda _line: None)
    # 1. Settings, report folder, finished samples.
    settings.dataset = str(Path(dataset.path).resolve())
    tasks = dataset.tasks[: settings.limit] if settings.limit else list(dataset.tasks)
    if not tasks:
        raise RiverError(f"{dataset.path}: no tasks to evaluate")
    if settings.bridge:
        if backend is None:
            raise UsageError("--bridge needs a server's jobs (bridge.eval_jobs.connect())")
        twins = [t.id for t in tasks if t.media is None and t.frames_dir is None]
        if twins:
            raise UsageError(
                f"{dataset.path}: {len(twins)} of {len(tasks)} tasks are twin tasks (e.g. {twins[0]}) "
                "with no media for a server job; run them in process (drop --bridge)"
            )
    _check_run_file(out, settings)
    done = {s["id"]: s for s in read_samples(out) if s.get("id") in {t.id for t in tasks}}
    todo = [t for t in tasks if t.id not in done]
    if done:
        say(f"resuming: {len(done)} of {len(tasks)} tasks already in {out / SAMPLES}")
    # 2. Models, each loaded once (per worker process with --workers).
    with (out / SAMPLES).open("a", encoding="utf-8") as sink:
        for k, sample in enumerate(_samples(todo, settings, out, say, backend, pipeline)):
            check(cancel)
            # 3. One task, one line, on disk before the next is taken.
            done[sample["id"]] = sample
            sink.write(json.dumps(sample, ensure_ascii=False) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            report(progress, "eval", len(tasks) - len(todo) + k + 1, len(tasks), unit="task")
    return [done[t.id] for t in tasks]


def _samples(
    todo: list[EvalTask],
    settings: EvalSettings,
    out: Path,
    say: Callable[[str], None],
    backend: Any = None,
    pipeline: Any = None,
) -> Iterator[dict[str, Any]]:
    """The samples of ``todo``: in order in this process, or as they finish in ``settings.workers``
    processes (spawned: each loads its own models; greedy decoding makes the samples the same), or in
    order as the server's jobs end (``--bridge``)."""
    if settings.bridge:
        yield from _JobRunner(settings, out, backend, say).samples(todo)
        return
    if settings.workers <= 1 or len(todo) <= 1 or pipeline is not None:
        runner = _Runner(settings, out, say, pipeline)
        try:
            for task in todo:
                yield runner.run(task)
        finally:
            runner.close()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    with ProcessPoolExecutor(
        min(settings.workers, len(todo)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(settings, out),
    ) as pool:
        futures = [pool.submit(_run_in_worker, task) for task in todo]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


_WORKER: _Runner | None = None


def _start_worker(settings: EvalSettings, out: Path) -> None:
    global _WORKER
    _WORKER = _Runner(settings, out, lambda _line: None)


def _run_in_worker(task: EvalTask) -> dict[str, Any]:
    assert _WORKER is not None, "the worker was not initialized"
    return _WORKER.run(task)


def check_report_folder(out: Path) -> None:
    """Refuse a report folder that cannot be one: an existing file, or a path through a file."""
    from river_core.errors import OutputError

    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; the report is a folder: give a new folder name")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise OutputError(f"--out {out}: {parent} is a file, not a folder; give a folder path for the report")


def _check_run_file(out: Path, settings: EvalSettings) -> None:
    from river_core.atomic import write_bytes_atomic
    from river_core.errors import OutputError

    check_report_folder(out)
    path = out / RUN_FILE
    mine = settings.identity()
    if path.is_file():
        theirs = json.loads(path.read_text(encoding="utf-8"))
        theirs.setdefault("bridge", False)  # a run.json written before --bridge existed
        differ = [k for k in _IDENTITY if theirs.get(k) != mine.get(k)]
        if differ:
            shown = ", ".join(f"{k} {theirs.get(k)!r} → {mine.get(k)!r}" for k in differ)
            raise UsageError(
                f"{out} holds a run with other settings ({shown}); "
                "give a new --out, or the same settings to resume"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not a `river eval` report folder; give a new --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"--out {out}: cannot create the report folder ({exc.strerror}); check the path"
        ) from None
    write_bytes_atomic(path, (json.dumps(mine, indent=2) + "\n").encode())


class _Recorder:
    """A ``ReasonerLLM`` that keeps its sessions, so the loop can count the model's own tokens."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.sessions: list[Any] = []

    @property
    def info(self) -> Any:
        return self.llm.info

    def start(self, system: str, user: str, settings: Any) -> Any:
        session = self.llm.start(system, user, settings)
        self.sessions.append(session)
        return session

    def tokens(self) -> int:
        total = 0
        for s in self.sessions:
            mask = getattr(s, "completion_mask", None)
            if mask is not None:
                total += int(sum(mask))
            else:  # a server's session: estimate from the generated text
                from river_core.reasoning.view import estimate_tokens

                total += sum(estimate_tokens(seg.text) for seg in s.segments if seg.source == "generated")
        return total


class _Runner:
    def __init__(
        self, settings: EvalSettings, out: Path, say: Callable[[str], None], pipeline: Any = None
    ) -> None:
        self.settings, self.out, self.say = settings, out, say
        self._llm: Any = None
        self._pipe: Any = pipeline
        self._own_pipe = pipeline is None
        self._editing: Any = None
        self._twins: dict[Path, TwinDocument] = {}

    # -- components ---------------------------------------------------------------------------------

    def llm(self) -> Any:
        if self._llm is None:
            from river_core.reasoning.llms import load_llm

            self._llm = load_llm(self.settings.llm, device=self.settings.device, dtype=self.settings.dtype)
        return self._llm

    def pipe(self) -> Any:
        if self._pipe is None:
            from river_core.pipeline import RiverPipeline

            self._pipe = RiverPipeline.from_pretrained(
                self.settings.profile,
                device=self.settings.device,
                dtype=self.settings.dtype,
                llm=None if is_baseline(self.settings.llm) else self.settings.llm,
                seed=self.settings.seed,
            )
        return self._pipe

    def editing(self) -> Any:
        if self._editing is None:
            from river_core.eval.editing import EditingScorer

            self._editing = EditingScorer(
                self.settings.profile, judge=self.settings.judge, seed=self.settings.seed
            )
        return self._editing

    def twin(self, path: Path) -> TwinDocument:
        """A twin file, loaded once while its scene's tasks run (they share it)."""
        if path not in self._twins:
            self._twins = {path: load_twin(path)}
        return self._twins[path]

    def close(self) -> None:
        if self._pipe is not None and self._own_pipe:
            self._pipe.close()

    # -- one task -----------------------------------------------------------------------------------

    def run(self, task: EvalTask) -> dict[str, Any]:
        job = None
        if task.twin is not None:
            twin = self.twin(task.twin)
        else:
            job = self._job(task)
            job.check_inputs()
            twin = job.twin()
        started = time.monotonic()
        plan, error, rounds, tokens = self._plan(task, twin)
        seconds = time.monotonic() - started
        sample = _sample(task, twin, plan, error, rounds, tokens, seconds, self.out)
        if self.settings.render != "none":
            sample["render"] = self._render(task, job, plan)
            sample["paths"].update(sample["render"].pop("paths", {}))
        return sample

    def _job(self, task: EvalTask, *, render: bool = False) -> Any:
        from river_core.request import EditRequest

        media = task.media or image_sequence_clip(task, self.out / "media")
        if not render:
            return self.pipe().start(EditRequest(media, kind="plan", query=task.query, range=task.range))
        request = EditRequest(
            media,
            kind="edit",
            query=task.query,
            range=task.range,
            output=self.out / "renders" / task.id,
            overwrite=True,
            format="ffv1",
            deliver=frozenset({"media"}),
            seed=self.settings.seed,
        )
        return self.pipe().start(request)

    def _plan(self, task: EvalTask, twin: TwinDocument) -> tuple[EditPlan | None, str | None, int, int]:
        """(plan or None, why not, execute rounds, model tokens)."""
        if is_baseline(self.settings.llm):
            try:
                return baseline_plan(self.settings.llm, task.task, twin, task.query), None, 0, 0
            except PlanError as exc:
                return None, str(exc), 0, 0
        from river_core.reasoning.reasoner import NoValidPlanError, Reasoner, ReasonerSettings

        recorder = _Recorder(self.llm())
        reasoner = Reasoner(
            recorder,
            settings=ReasonerSettings(
                samples=1,
                max_execute_rounds=self.settings.max_rounds,
                max_new_tokens=self.settings.max_new_tokens,
                temperature=0.0,
                seed=self.settings.seed,
                prompt=self.settings.prompt or _trained_prompt(self.settings.llm),
            ),
        )
        try:
            plan = reasoner(twin, task.query)
        except NoValidPlanError as exc:
            rollout = exc.attempts[-1].rollout if exc.attempts else ""
            reason = exc.attempts[-1].reason if exc.attempts else "no attempt"
            return None, reason, rollout.count("</execute>"), recorder.tokens()
        except RiverError as exc:
            return None, str(exc), 0, recorder.tokens()
        return plan, None, len(plan.trace.executions), recorder.tokens()

    def _render(self, task: EvalTask, job: Any, plan: EditPlan | None) -> dict[str, Any]:
        if plan is None:
            return {"rendered": False, "why": "no valid plan"}
        if task.media is None and task.frames_dir is None:
            return {"rendered": False, "why": "a twin task has no media to render"}
        if self.settings.render == "instant" and not all(op.instant for op in plan.operations):
            kinds = ", ".join(sorted({op.kind for op in plan.operations if not op.instant}))
            return {"rendered": False, "why": f"generative operation ({kinds}): needs --render full"}
        job = self._job(task, render=True)
        job.check_inputs()
        job.twin()
        job.state.plan = plan
        job.plan()
        job.masks()
        frames: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        started = time.monotonic()
        job.encode(_keep(job.composite(job.render()), frames, every=_stride(job)))
        qc = job.qc()
        render_s = time.monotonic() - started
        metrics = self.editing().score(task.query, plan, job.state.render_twin, frames, qc)
        folder = self.out / "renders" / task.id
        paths = {"render": str(folder.relative_to(self.out))}
        media = sorted(folder.glob("*.mkv"))
        if media:
            paths["media"] = str(media[0].relative_to(self.out))
        return {"rendered": True, "render_seconds": round(render_s, 3), "metrics": metrics, "paths": paths}


def _sample(
    task: EvalTask,
    twin: TwinDocument | None,
    plan: EditPlan | None,
    error: str | None,
    rounds: int,
    tokens: int,
    seconds: float,
    out: Path,
) -> dict[str, Any]:
    """One line of ``samples.jsonl`` (without the render), the plan saved under ``out/plans``; ``twin``
    is None only without a plan (a job that failed)."""
    sample: dict[str, Any] = {
        "id": task.id,
        "level": task.level,
        "category": task.category,
        "query": task.query,
        "valid": plan is not None,
        "error": error,
        "targets": _plan_targets_text(plan),
        "gold": None
        if task.gold_ids is None
        else {str(i): _ranges(task.gold_frames[i]) for i in task.gold_ids},  # type: ignore[index]
        "operations": []
        if plan is None
        else [{"kind": op.kind, "targets": [t.id for t in op.targets]} for op in plan.operations],
        "scores": score_plan(plan, task, twin),
        "rounds": rounds,
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "render": None,
        "paths": {},
    }
    if plan is not None:
        from river_core.reasoning.plan import save_plan

        plan_path = out / "plans" / f"{task.id}.json"
        save_plan(plan, plan_path)
        sample["paths"]["plan"] = str(plan_path.relative_to(out))
    return sample


class _JobRunner:
    """``--bridge``: each task a job on the server (PLAN; TWIN for a baseline, which plans here), the
    outcomes scored here as in process. The server's reasoner is the one it was started with."""

    def __init__(self, settings: EvalSettings, out: Path, backend: Any, say: Callable[[str], None]) -> None:
        self.settings, self.out, self.backend, self.say = settings, out, backend, say

    def samples(self, todo: list[EvalTask]) -> Iterator[dict[str, Any]]:
        baseline = is_baseline(self.settings.llm)
        try:
            requests = [
                {
                    "kind": "twin" if baseline else "plan",
                    "media": str(task.media or image_sequence_clip(task, self.out / "media")),
                    "range": task.range,
                    "query": task.query,
                }
                for task in todo
            ]
            self.say(
                f"{len(requests)} {requests[0]['kind'] if requests else ''} jobs on {self.backend.address}"
            )
            for task, result in zip(todo, self.backend.run(requests), strict=False):
                yield self._sample(task, result)
        except RiverError:
            raise  # ours (a UsageError is also a ValueError)
        except self.backend.errors as exc:
            raise RiverError(f"--bridge ({self.backend.address}): {exc}") from None

    def _sample(self, task: EvalTask, result: dict[str, Any]) -> dict[str, Any]:
        if not result["ok"]:
            if result["error_kind"] not in _PLAN_FAILURES:
                raise RiverError(
                    f"task {task.id}: job {result['id']} {result['state']} ({result['error_kind']}): "
                    f"{result['error']}; rerun the same command to resume"
                )
            return _sample(task, None, None, result["error"], 0, 0, result["seconds"], self.out)
        twin = load_twin(result["twin"])
        if is_baseline(self.settings.llm):
            started = time.monotonic()
            try:
                plan, error = baseline_plan(self.settings.llm, task.task, twin, task.query), None
            except PlanError as exc:
                plan, error = None, str(exc)
            return _sample(task, twin, plan, error, 0, 0, time.monotonic() - started, self.out)
        from river_core.reasoning.plan import load_plan

        plan = load_plan(result["plan"], twin)
        check_server_llm(self.settings.llm, plan.provenance.get("llm"))
        rounds, tokens = len(plan.trace.executions), _rollout_tokens(plan.trace.rollout)
        return _sample(task, twin, plan, None, rounds, tokens, result["seconds"], self.out)


def _rollout_tokens(rollout: str) -> int:
    """The model's tokens in a rollout the server wrote, estimated (its sessions are not visible): the
    text less the ``<results>`` the sandbox injected."""
    import re

    from river_core.reasoning.view import estimate_tokens

    return estimate_tokens(re.sub(r"<results>.*?</results>", "", rollout, flags=re.DOTALL))


def check_server_llm(spec: str, info: Any) -> None:
    """Refuse a server whose reasoner (``info``: a plan's ``provenance["llm"]``) is not ``--llm spec``
    (``server``: whatever it runs)."""
    if spec == "server" or not isinstance(info, dict):
        return
    from river_core.reasoning.llm import PAPER_MODEL_ID, split_model_fragment
    from river_core.reasoning.llm_transformers import TINY_MODEL_ID
    from river_core.reasoning.llms import parse_llm_spec

    kind, arg = parse_llm_spec(spec)
    theirs_kind, model = str(info.get("kind")), str(info.get("model"))

    def same_path(a: str, b: str) -> bool:
        return a == b or Path(a).expanduser().resolve() == Path(b).expanduser().resolve()

    if kind == "tiny":
        ok = theirs_kind == "transformers" and model == TINY_MODEL_ID
    elif kind in ("paper", "transformers"):
        ok = theirs_kind == "transformers" and same_path(model, arg or PAPER_MODEL_ID)
    elif kind == "replay":
        ok = theirs_kind == "replay" and same_path(model, arg or "")
    else:  # openai: the served model, when the spec names one
        name = split_model_fragment(arg or "")[1]
        ok = theirs_kind == "openai" and (not name or name == model)
    if not ok:
        raise UsageError(
            f"the server's reasoner is {theirs_kind}:{model}, not --llm {spec}: restart the server with "
            f"`river serve --llm {spec}`, or drop --llm to evaluate the server's own"
        )


def _stride(job: Any) -> int:
    n = len(job.state.render_frames)
    return max(1, n // 8)  # about 8 frames measured per clip


def _keep(
    frames: Iterator[tuple[Any, np.ndarray]],
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]],
    *,
    every: int,
) -> Iterator[tuple[Any, np.ndarray]]:
    """The composited frames, passed on; every ``every``-th kept as (source, output, matte, index)."""
    for k, (frame, output) in enumerate(frames):
        if k % every == 0:
            kept.append((np.array(frame.source), np.array(output), np.array(frame.matte), frame.index))
        yield frame, output


def score_plan(plan: EditPlan | None, task: EvalTask, twin: TwinDocument | None) -> dict[str, float | None]:
    """The reasoning metrics of ``plan`` (None: no valid plan, 0 on all; the twin is then not read)
    against ``task``'s gold."""
    has_ids = task.gold_ids is not None
    if plan is None:
        zero = 0.0
        return {
            "target_acc": zero if has_ids else None,
            "target_f1": zero if has_ids else None,
            "j": zero,
            "f": zero,
            "jf": zero,
            "tiou": zero,
        }
    assert twin is not None, "a plan is scored on its twin"
    predicted = plan_frames(plan)
    acc = f1 = None
    if has_ids:
        acc, f1 = target_set_scores(predicted, task.gold_ids or [])
    shape = (twin.video.height, twin.video.width)
    pred_masks = _masks(twin, predicted)
    if task.gold_masks is not None:
        from river_core.twin.masks import decode_mask

        gold_masks = {f: decode_mask(rle) for f, rle in task.gold_masks.items()}
    else:
        gold_masks = _masks(twin, task.gold_frames or {})
    j, fm, jf = j_and_f(pred_masks, gold_masks, shape)
    pred_all = set().union(*predicted.values()) if predicted else set()
    tiou = temporal_iou(pred_all, task.all_gold_frames)
    return {"target_acc": acc, "target_f1": f1, "j": j, "f": fm, "jf": jf, "tiou": tiou}


def plan_frames(plan: EditPlan) -> dict[int, set[int]]:
    """{object id: frames} over all of the plan's operations."""
    out: dict[int, set[int]] = {}
    for op in plan.operations:
        for target in op.targets:
            out.setdefault(target.id, set()).update(f for r in target.frames for f in range(r.start, r.end))
    return out


def _masks(twin: TwinDocument, frames_of: dict[int, set[int]]) -> dict[int, np.ndarray]:
    """Per frame, the union of the masks of the given objects in their given frames."""
    from river_core.twin.masks import decode_mask

    out: dict[int, np.ndarray] = {}
    for entry in twin.frames:
        for o in entry.objects:
            if entry.index in frames_of.get(o.id, ()):
                m = decode_mask(o.mask.rle)
                out[entry.index] = out[entry.index] | m if entry.index in out else m
    # a gold or predicted frame where the object is not visible is an empty mask there
    shape = (twin.video.height, twin.video.width)
    for frames in frames_of.values():
        for f in frames:
            out.setdefault(f, np.zeros(shape, dtype=bool))
    return out


def _ranges(frames: set[int]) -> str:
    from river_core.media.rational import frames_to_ranges, ranges_text

    return ranges_text(frames_to_ranges(sorted(frames)))


def _plan_targets_text(plan: EditPlan | None) -> dict[str, str]:
    return {} if plan is None else {str(i): _ranges(f) for i, f in sorted(plan_frames(plan).items())}


def _trained_prompt(spec: str) -> str:
    """The prompt style a trained model was trained with (``DIR/reasoner.json``), else ``full``."""
    kind, _, where = spec.partition(":")
    path = Path(where) / "reasoner.json"
    if kind == "transformers" and path.is_file():
        try:
            prompt = json.loads(path.read_text(encoding="utf-8")).get("prompt")
        except (OSError, ValueError, AttributeError):
            prompt = None
        if isinstance(prompt, str):
            return prompt
    return "full"


def summary_of(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts of a run (for the CLI's last line)."""
    return {"tasks": len(samples), "valid": sum(1 for s in samples if s["valid"])}
