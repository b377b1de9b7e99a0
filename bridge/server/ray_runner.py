"""The studio runner: Ray actors across a cluster, one loaded pipeline each, jobs spread over them.

:class:`RayRunner` implements the :class:`~bridge.server.runner.Runner` calls. It starts one actor per
GPU (``num_gpus=1``), or ``cpus`` CPU actors on machines without one; each actor builds its own
:class:`~river_core.pipeline.RiverPipeline` (the server's profile, device, dtype and LLM) and keeps it
warm. The server holds one thread per actor; each thread takes the next queued job, runs it on its
actor and writes what the actor streams back (progress, messages, the plan, finally the outcome) with
``store.transition`` / ``store.append_event``, exactly as the local worker does: the SQLite store stays
the single truth and only the server process writes it.

A cancel reaches the running actor (threaded actor: ``cancel`` runs beside ``run``) and trips the
engine's ``CancelToken``, checked between frames and windows. An actor that dies fails its job
(``interrupted``, naming the actor and node) and is replaced before the slot takes another job.

Media, outputs and job folders must be on storage every node sees at the same paths: at start each
actor checks a probe file the server wrote, and the server refuses to start otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from bridge.server.config import ServerConfig
from bridge.server.runner import PROGRESS_INTERVAL_S, error_kind, remove_staging
from bridge.server.store import JobNotFound, JobStore, StateConflict
from river_core.pipeline import RiverPipeline

log = logging.getLogger("river.bridge")

FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME", "TORCH_COMPILE_DISABLE")
PROBE_PREFIX = ".river-probe-"


class StorageNotShared(OSError):
    """An actor cannot see the media roots, output root or job folders at the server's paths."""


def pipeline_factory(config: ServerConfig, llm: str | None) -> Callable[[], RiverPipeline]:
    """What each actor calls to build its pipeline: the server's profile, device, dtype and LLM."""
    return functools.partial(
        RiverPipeline.from_pretrained, config.profile, device=config.device, dtype=config.dtype, llm=llm
    )


class PipelineActor:
    """One Ray actor: a loaded pipeline, one job at a time, cancellable while it runs.

    Ray runs it with ``max_concurrency=2`` so :meth:`cancel` is served while :meth:`run` streams.
    """

    def __init__(self, factory: Callable[[], RiverPipeline], threads: int | None, preload: bool) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)  # CPU actors sharing a machine: one core each, no oversubscription
        self.pipeline = factory()
        if preload:
            self.pipeline.preload()
        self._lock = threading.Lock()
        self._tokens: dict[str, Any] = {}
        self._early: dict[str, str] = {}  # cancels that arrived before their job started here

    def describe(self) -> dict[str, Any]:
        context = ray.get_runtime_context()
        return {
            "actor": context.get_actor_id(),
            "node": context.get_node_id(),
            "ip": ray.util.get_node_ip_address(),
            "host": os.uname().nodename,
            "pid": os.getpid(),
        }

    def check_storage(self, media_roots: list[str], output_root: str, jobs_dir: str, probe: str) -> list[str]:
        """What this node cannot see: ``probe`` is a file name the server wrote, with its name as its
        text, into the output root and the jobs folder."""
        problems = []
        for root in media_roots:
            if not Path(root).is_dir() or not os.access(root, os.R_OK | os.X_OK):
                problems.append(f"cannot read media root {root}")
        for name, folder in (("output root", output_root), ("jobs folder", jobs_dir)):
            path = Path(folder) / probe
            try:
                seen = path.read_text(encoding="utf-8")
            except OSError:
                problems.append(f"does not see the server's probe file in the {name} {folder}")
                continue
            if seen != probe:
                problems.append(f"reads another {path} than the server wrote (a different {name} {folder})")
            elif not os.access(folder, os.W_OK):
                problems.append(f"cannot write the {name} {folder}")
        return problems

    def cancel(self, job_id: str, reason: str) -> None:
        with self._lock:
            token = self._tokens.get(job_id)
            if token is None:
                self._early[job_id] = reason
            else:
                token.cancel(reason)

    def run(
        self, job_id: str, spec: bytes, plan_json: str | None, work_dir: str, cancel_reason: str | None
    ) -> Iterator[tuple[str, Any]]:
        """Run one job; yields ``(kind, data)`` events — ``started`` (this actor), ``progress``,
        ``message``, ``plan`` — and last ``("outcome", {...})``."""
        from bridge.server.execute import JobContext
        from bridge.v1 import bridge_pb2 as pb
        from river_core.progress import CancelToken

        token = CancelToken()
        with self._lock:
            self._tokens[job_id] = token
            cancel_reason = self._early.pop(job_id, None) or cancel_reason
        if cancel_reason is not None:
            token.cancel(cancel_reason)
        events: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        confirmed = None
        if plan_json is not None:
            from river_core.reasoning.plan import EditPlan

            confirmed = EditPlan.model_validate_json(plan_json)
        ctx = JobContext(
            job_id=job_id,
            spec=pb.EditSpec.FromString(spec),
            work_dir=Path(work_dir),
            progress=_coalesced(events.put),
            say=lambda line: events.put(("message", {"text": line})),
            cancel=token,
            emit_plan=lambda preview: events.put(("plan", preview)),
            confirmed_plan=confirmed,
        )
        # The engine reports through callbacks; it runs in a thread so this generator can yield them.
        worker = threading.Thread(target=self._execute, args=(ctx, events), daemon=True)
        worker.start()
        try:
            yield ("started", self.describe())
            while (item := events.get()) is not None:
                yield item
        finally:
            worker.join()
            with self._lock:
                self._tokens.pop(job_id, None)

    def _execute(self, ctx: Any, events: queue.Queue[tuple[str, Any] | None]) -> None:
        from bridge.server.execute import execute
        from river_core.errors import Cancelled, RiverError

        try:
            outcome = execute(ctx, self.pipeline)
            result: dict[str, Any] = {"status": "done", "results": outcome.results, "plan": outcome.plan}
            result["awaiting"] = outcome.awaiting
        except Cancelled as exc:
            result = {"status": "cancelled", "message": str(exc)}
        except RiverError as exc:
            result = {"status": "failed", "kind": error_kind(exc), "message": str(exc)}
        except Exception as exc:
            log.exception("job %s failed with an internal error", ctx.job_id)
            message = (
                f"internal error: {type(exc).__name__}: {exc} — a bug in RIVER NLE; the Ray worker log "
                f"of pid {os.getpid()} has the traceback"
            )
            result = {"status": "failed", "kind": "internal", "message": message}
        events.put(("outcome", result))
        events.put(None)


def _coalesced(put: Callable[[tuple[str, Any]], None]) -> Callable[[Any], None]:
    """Progress events at most every ``PROGRESS_INTERVAL_S`` per stage (first and last kept), as the
    local worker writes them: fewer messages from the actor."""
    last: dict[str, float] = {}

    def progress(event: Any) -> None:
        now = time.monotonic()
        edge = event.done <= 1 or (event.total is not None and event.done >= event.total)
        if not edge and now - last.get(event.stage, 0.0) < PROGRESS_INTERVAL_S:
            return
        last[event.stage] = now
        data = {"stage": event.stage, "done": event.done, "total": event.total, "unit": event.unit}
        put(("progress", data))

    return progress


@dataclass
class Slot:
    """One actor and what the server knows of it."""

    index: int
    actor: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    generation: int = 0  # how many times this slot's actor was replaced

    @property
    def name(self) -> str:
        i = self.info
        where = f"pid {i.get('pid')} on {i.get('host')} {i.get('ip')}"
        return f"ray actor {self.index}.{self.generation} ({i.get('actor', '?')[:8]}, {where})"


class RayRunner:
    """Jobs over ``actors`` Ray actors, each taking the next queued job when it is free.

    ``address`` joins a running cluster (``"auto"`` or ``ray://…``); none starts a local one (or uses
    the Ray this process already initialised). ``cpus`` asks for that many CPU actors (one core each);
    without it, one actor per GPU in the cluster. ``factory`` builds each actor's pipeline.
    """

    def __init__(
        self,
        store: JobStore,
        config: ServerConfig,
        factory: Callable[[], RiverPipeline],
        *,
        address: str | None = None,
        cpus: int | None = None,
        threads: int | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.store, self.config, self.factory = store, config, factory
        self.address, self.cpus = address, cpus
        self.threads = threads if threads is not None else (1 if cpus else None)
        self.say = say or (lambda line: log.info("%s", line))
        self.slots: list[Slot] = []
        self.assignments: dict[str, str] = {}  # job id → the actor that ran it last (its share of a batch)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._running: dict[str, Slot] = {}
        self._stopping = False
        self._owns_ray = False
        self._threads: list[threading.Thread] = []
        self._actor_class: Any = None

    # -- Runner ----------------------------------------------------------------------------------

    def start(self) -> None:
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING)
            self._owns_ray = True
        count, resources = self._actor_count()
        remote: Any = ray.remote  # its typed overloads do not take options as **kwargs
        self._actor_class = remote(**resources, max_concurrency=2, max_restarts=0)(PipelineActor)
        self.slots = [Slot(i) for i in range(count)]
        try:
            self._start_actors()
        except BaseException:
            self._release()  # a refused start leaves no actor holding a GPU or CPU
            raise
        kind = "GPU" if "num_gpus" in resources else "CPU"
        self.say(f"  ray: {count} {kind} actor(s) on {len(ray.nodes())} node(s), one pipeline each")
        for slot in self.slots:
            thread = threading.Thread(target=self._serve, args=(slot,), name=f"river-ray-{slot.index}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def _start_actors(self) -> None:
        for slot in self.slots:  # all created first: they build their pipelines in parallel
            slot.actor = self._new_actor()
        for slot in self.slots:
            try:
                slot.info = ray.get(slot.actor.describe.remote())
            except RayActorError as exc:
                why = _line(exc)
                raise OSError(f"Ray actor {slot.index} could not load its pipeline: {why}") from None
        if problems := self._storage_problems(self.slots):
            raise StorageNotShared(
                "media and outputs must be on storage every Ray node sees at the same paths: "
                + "; ".join(problems)
            )

    def _release(self) -> None:
        for slot in self.slots:
            if slot.actor is not None:
                with contextlib.suppress(RayActorError, ValueError):
                    ray.kill(slot.actor)  # frees its GPU/CPU for the next server
                slot.actor = None
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def cancel(self, job_id: str, reason: str) -> None:
        with self._lock:
            slot = self._running.get(job_id)
        if slot is not None:
            slot.actor.cancel.remote(job_id, reason)

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        with self._lock:
            running = list(self._running.items())
        for job_id, slot in running:
            slot.actor.cancel.remote(job_id, "the server is stopping")
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._release()

    @property
    def current(self) -> list[str]:
        with self._lock:
            return list(self._running)

    # -- the actors ------------------------------------------------------------------------------

    def _actor_count(self) -> tuple[int, dict[str, Any]]:
        if self.cpus:
            return self.cpus, {"num_cpus": 1}
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus < 1:
            raise OSError(
                "the Ray cluster has no GPU: give --ray-cpus N for CPU actors, or join a cluster with GPUs"
            )
        return gpus, {"num_gpus": 1, "num_cpus": 1}

    def _new_actor(self) -> Any:
        env = {k: v for k, v in os.environ.items() if k.startswith("RIVER_") or k in FORWARDED_ENV}
        options = {"runtime_env": {"env_vars": env}} if env else {}
        return self._actor_class.options(**options).remote(self.factory, self.threads, self.config.preload)

    def _roots(self) -> tuple[list[str], str, str]:
        config = self.config
        return [str(r) for r in config.media_roots], str(config.outputs), str(config.jobs_dir)

    def _storage_problems(self, slots: list[Slot]) -> list[str]:
        """What the slots' nodes cannot see: each reads back a probe file the server writes into the
        output root and the jobs folder, and checks the media roots."""
        probe = PROBE_PREFIX + secrets.token_hex(8)
        written = []
        try:
            for folder in (self.config.outputs, self.config.jobs_dir):
                folder.mkdir(parents=True, exist_ok=True)
                (folder / probe).write_text(probe, encoding="utf-8")
                written.append(folder / probe)
            checks = [slot.actor.check_storage.remote(*self._roots(), probe) for slot in slots]
            problems = []
            for slot, found in zip(slots, ray.get(checks), strict=True):
                problems += [f"node {slot.info['host']} ({slot.info['ip']}) {p}" for p in found]
            return problems
        finally:
            for path in written:
                path.unlink(missing_ok=True)

    def _replace(self, slot: Slot) -> None:
        """A new actor in the slot of one that died (its storage checked like the first ones': a
        problem is logged, and the jobs it runs fail with what the engine finds)."""
        with contextlib.suppress(RayActorError, ValueError):
            ray.kill(slot.actor)
        slot.generation += 1
        slot.actor = self._new_actor()
        slot.info = ray.get(slot.actor.describe.remote())
        self.say(f"replaced a dead actor with {slot.name}")
        for problem in self._storage_problems([slot]):
            self.say(f"warning: {problem}")

    # -- one server thread per actor -------------------------------------------------------------

    def _serve(self, slot: Slot) -> None:
        while (job_id := self._queue.get()) is not None and not self._stopping:
            try:
                self._run(slot, job_id)
            except Exception:  # the store or Ray itself failed: keep serving the other jobs
                log.exception("job %s: the Ray runner could not record its outcome", job_id)

    def _run(self, slot: Slot, job_id: str) -> None:
        try:
            record = self.store.transition(
                job_id, "RUNNING", allowed_from={"QUEUED"}, message=f"running on {slot.name}"
            )
        except (JobNotFound, StateConflict):
            return  # cancelled or deleted while it waited
        with self._lock:
            self._running[job_id] = slot
            self.assignments[job_id] = slot.name
        try:
            plan_json = record.plan["plan_json"] if record.plan and record.plan.get("confirmed") else None
            work_dir = self.config.jobs_dir / job_id
            work_dir.mkdir(parents=True, exist_ok=True)
            reason = self.store.get(job_id).cancel_reason
            stream = slot.actor.run.options(num_returns="streaming").remote(
                job_id, record.spec, plan_json, str(work_dir), reason
            )
            outcome, started = None, False
            try:
                for ref in stream:
                    kind, data = ray.get(ref)
                    if kind == "outcome":
                        outcome = data
                    elif kind == "started":
                        started = True
                    else:
                        self.store.append_event(job_id, kind, data)
            except (RayActorError, ActorUnavailableError) as exc:
                self._actor_lost(slot, job_id, record.spec, started, exc)
                return
            assert outcome is not None, "the actor's stream ends with the outcome"
            self._record(job_id, outcome)
        finally:
            with self._lock:
                self._running.pop(job_id, None)

    def _record(self, job_id: str, outcome: dict[str, Any]) -> None:
        running = {"RUNNING"}
        status = outcome["status"]
        if status == "cancelled":
            if self._stopping:
                self.store.transition(
                    job_id, "QUEUED", allowed_from=running,
                    message="re-queued: the server stopped; the job runs again when it restarts",
                )  # fmt: skip
            else:
                message = outcome["message"]
                self.store.transition(
                    job_id, "CANCELLED", allowed_from=running, message=message,
                    error={"kind": "cancelled", "message": f"{message}; nothing was written"},
                )  # fmt: skip
        elif status == "failed":
            self.store.transition(
                job_id, "FAILED", allowed_from=running, message=outcome["message"],
                error={"kind": outcome["kind"], "message": outcome["message"]},
            )  # fmt: skip
        elif outcome["awaiting"]:
            self.store.transition(
                job_id, "AWAITING_CONFIRMATION", allowed_from=running, plan=outcome["plan"],
                message="the plan is ready for review: confirm it to render, or cancel the job",
            )  # fmt: skip
        else:
            self.store.transition(
                job_id, "SUCCEEDED", allowed_from=running, results=outcome["results"], message="done"
            )

    def _actor_lost(self, slot: Slot, job_id: str, spec: bytes, started: bool, exc: Exception) -> None:
        why = _line(exc)
        name = slot.name
        if not started and not self._stopping:
            # The actor was gone before the job began: nothing ran, so the job waits for the next actor.
            message = f"re-queued: {name} was gone before the job began"
            self.store.transition(job_id, "QUEUED", allowed_from={"RUNNING"}, message=message)
            self._replace(slot)
            self._queue.put(job_id)
            return
        message = (
            f"interrupted: {name} died while running the job ({type(exc).__name__}: {why}); "
            "nothing was written to its output; submit it again"
        )
        log.warning("job %s: %s", job_id, message)
        self.store.transition(
            job_id, "FAILED", allowed_from={"RUNNING"}, message=message,
            error={"kind": "interrupted", "message": message},
        )  # fmt: skip
        from bridge.v1 import bridge_pb2 as pb

        if output := pb.EditSpec.FromString(spec).output:
            remove_staging(output)
        if not self._stopping:
            self._replace(slot)


def _line(exc: BaseException) -> str:
    """The first line of a Ray error (they carry tracebacks), at most 200 characters."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
