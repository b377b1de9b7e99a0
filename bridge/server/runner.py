"""Runners execute queued jobs. :class:`Runner` is the interface; :class:`LocalRunner` is the
worker a workstation needs: one job at a time (one GPU), models kept warm between jobs,
cooperative cancellation between frames, windows and denoising steps.

The worker holds the server's one :class:`~river_core.pipeline.RiverPipeline`: its models are loaded
once and serve every job. A studio runner (Ray actors across GPUs, one pipeline each) implements the
same four calls: ``start``, ``submit`` (the job is already QUEUED in the store), ``cancel`` and
``stop``; it reports through the store
exactly as the local worker does (``transition`` and ``append_event``), so the service, the event
stream and the client do not change.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from typing import Any, Protocol

from bridge.server.config import ServerConfig
from bridge.server.execute import JobContext, execute
from bridge.server.store import JobNotFound, JobStore, StateConflict
from bridge.v1 import bridge_pb2 as pb
from river_core.errors import (
    Cancelled,
    MediaError,
    ModelUnavailableError,
    OutputError,
    RangeError,
    RiverError,
    TwinValidationError,
)
from river_core.pipeline import RiverPipeline
from river_core.progress import CancelToken, ProgressEvent

log = logging.getLogger("river.bridge")

PROGRESS_INTERVAL_S = 0.1  # progress events are coalesced to this rate per stage (first and last kept)


class Runner(Protocol):
    """What the service needs from whatever executes jobs."""

    def start(self) -> None: ...

    def submit(self, job_id: str) -> None:
        """Run the job (QUEUED in the store) when a worker is free."""

    def cancel(self, job_id: str, reason: str) -> None:
        """Ask a running job to stop at its next checkpoint."""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs; a running one is re-queued for the next start."""


def error_kind(exc: BaseException) -> str:
    """The ``JobError.kind`` for an engine exception."""
    from river_core.pipeline import PipelineError
    from river_core.reasoning.plan import PlanError
    from river_core.targets import TargetError

    for kinds, name in (
        ((MediaError,), "media"),
        ((RangeError,), "range"),
        ((OutputError,), "output"),
        ((ModelUnavailableError,), "model"),
        ((PipelineError, TwinValidationError, TargetError, PlanError), "plan"),
        ((RiverError,), "invalid"),
    ):
        if isinstance(exc, kinds):
            return name
    return "internal"


class LocalRunner:
    """One worker thread, one job at a time, from a FIFO queue."""

    def __init__(self, store: JobStore, config: ServerConfig, pipeline: RiverPipeline) -> None:
        self.store, self.config, self.pipeline = store, config, pipeline
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._current: tuple[str, CancelToken] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="river-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def cancel(self, job_id: str, reason: str) -> None:
        with self._lock:
            if self._current is not None and self._current[0] == job_id:
                self._current[1].cancel(reason)

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        with self._lock:
            if self._current is not None:
                self._current[1].cancel("the server is stopping")
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def current(self) -> str | None:
        with self._lock:
            return None if self._current is None else self._current[0]

    # -- the worker ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._stopping:
            try:
                self._run(job_id)
            except Exception:  # the store itself failed: keep serving the other jobs
                log.exception("job %s: the runner could not record its outcome", job_id)

    def _run(self, job_id: str) -> None:
        token = CancelToken()
        try:
            record = self.store.transition(
                job_id, "RUNNING", allowed_from={"QUEUED"}, message="running on the local worker"
            )
        except (JobNotFound, StateConflict):
            return  # cancelled or deleted while it waited
        with self._lock:
            self._current = (job_id, token)
        try:
            if (reason := self.store.get(job_id).cancel_reason) is not None:
                token.cancel(reason)  # cancelled between the transition and now
            spec = pb.EditSpec.FromString(record.spec)
            confirmed = None
            if record.plan and record.plan.get("confirmed"):
                from river_core.reasoning.plan import EditPlan

                confirmed = EditPlan.model_validate_json(record.plan["plan_json"])
            work_dir = self.config.jobs_dir / job_id
            work_dir.mkdir(parents=True, exist_ok=True)
            ctx = JobContext(
                job_id=job_id,
                spec=spec,
                work_dir=work_dir,
                progress=self._progress(job_id),
                say=lambda line: self._event(job_id, "message", {"text": line}),
                cancel=token,
                emit_plan=lambda preview: self._event(job_id, "plan", preview),
                confirmed_plan=confirmed,
            )
            self._finish(job_id, ctx)
        finally:
            with self._lock:
                self._current = None

    def _finish(self, job_id: str, ctx: JobContext) -> None:
        running = {"RUNNING"}
        try:
            outcome = execute(ctx, self.pipeline)
        except Cancelled as exc:
            if self._stopping:
                self.store.transition(
                    job_id, "QUEUED", allowed_from=running,
                    message="re-queued: the server stopped; the job runs again when it restarts",
                )  # fmt: skip
            else:
                self.store.transition(
                    job_id, "CANCELLED", allowed_from=running, message=str(exc),
                    error={"kind": "cancelled", "message": f"{exc}; nothing was written"},
                )  # fmt: skip
        except RiverError as exc:
            self.store.transition(
                job_id, "FAILED", allowed_from=running, message=str(exc),
                error={"kind": error_kind(exc), "message": str(exc)},
            )  # fmt: skip
        except Exception as exc:
            log.exception("job %s failed with an internal error", job_id)
            message = (
                f"internal error: {type(exc).__name__}: {exc} — a bug in RIVER NLE; the server log "
                "has the traceback"
            )
            self.store.transition(
                job_id, "FAILED", allowed_from=running, message=message,
                error={"kind": "internal", "message": message},
            )  # fmt: skip
        else:
            if outcome.awaiting:
                self.store.transition(
                    job_id, "AWAITING_CONFIRMATION", allowed_from=running, plan=outcome.plan,
                    message="the plan is ready for review: confirm it to render, or cancel the job",
                )  # fmt: skip
            else:
                self.store.transition(
                    job_id, "SUCCEEDED", allowed_from=running, results=outcome.results, message="done"
                )

    def _event(self, job_id: str, kind: str, data: dict[str, Any]) -> None:
        self.store.append_event(job_id, kind, data)

    def _progress(self, job_id: str) -> Any:
        last: dict[str, float] = {}

        def progress(event: ProgressEvent) -> None:
            now = time.monotonic()
            edge = event.done <= 1 or (event.total is not None and event.done >= event.total)
            if not edge and now - last.get(event.stage, 0.0) < PROGRESS_INTERVAL_S:
                return
            last[event.stage] = now
            data = {"stage": event.stage, "done": event.done, "total": event.total, "unit": event.unit}
            self.store.append_event(job_id, "progress", data)

        return progress


def remove_staging(output: str) -> list[str]:
    """Remove the hidden temporaries an interrupted job left beside its output folder (the
    atomic writers stage as ``.<name>.river-tmp-*``); the output itself never half-exists."""
    from pathlib import Path

    out = Path(output)
    removed = []
    if out.parent.is_dir():
        for tmp in out.parent.glob(f".{out.stem}.river-tmp-*"):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            removed.append(str(tmp))
    return removed
