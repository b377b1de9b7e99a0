"""The ``river.bridge.v1.RiverBridge`` servicer: requests checked, jobs stored, runner told.

Status codes as gRPC intends them: ``INVALID_ARGUMENT`` naming the field, ``NOT_FOUND`` for an
unknown job or file, ``PERMISSION_DENIED`` for a path outside the roots, ``FAILED_PRECONDITION`` for
a job in the wrong state, ``ALREADY_EXISTS`` for a reused request id or an existing output,
``RESOURCE_EXHAUSTED`` for a full queue, ``UNAVAILABLE`` while models load or the server stops.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from bridge.server import validate
from bridge.server.config import PathRefused, ServerConfig, resolve_output
from bridge.server.convert import KIND_NAMES, STATE_NAMES, event_message, job_message
from bridge.server.execute import check_confirmed_plan
from bridge.server.runner import Runner
from bridge.server.store import (
    TERMINAL,
    JobNotFound,
    JobRecord,
    JobStore,
    NewJob,
    QueueFull,
    RequestConflict,
    StateConflict,
    StoreError,
)
from bridge.server.validate import RequestError, check_job_id, invalid
from bridge.v1 import bridge_pb2 as pb
from bridge.v1 import bridge_pb2_grpc as pb_grpc
from river_core.reasoning.plan import EditPlan, describe_plan

log = logging.getLogger("river.bridge")

SERVICE_NAME = "river.bridge.v1.RiverBridge"
MAX_PAGE = 500
MAX_WAIT_MS = 3_600_000
WATCH_POLL_S = 1.0  # how often a quiet watch stream checks that its client is still there
_Fn = TypeVar("_Fn", bound=Callable[..., Any])


class Readiness:
    """Whether the engine's models are loaded; Submit and Confirm wait for it (``UNAVAILABLE``)."""

    def __init__(self) -> None:
        self.loading: str | None = None
        self.stopping = False

    def check(self) -> None:
        if self.stopping:
            raise RequestError(grpc.StatusCode.UNAVAILABLE, "the server is stopping; retry on the next one")
        if self.loading is not None:
            raise RequestError(
                grpc.StatusCode.UNAVAILABLE,
                f"the engine is loading its models ({self.loading}); retry when health is SERVING",
            )


def _rpc(method: _Fn) -> _Fn:
    """Turn request and store errors into statuses; anything else is INTERNAL (and logged)."""

    @functools.wraps(method)
    def wrapper(self: BridgeService, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except RequestError as exc:
            code, message = exc.code, exc.message
        except JobNotFound as exc:
            code, message = grpc.StatusCode.NOT_FOUND, str(exc)
        except QueueFull as exc:
            code, message = grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
        except RequestConflict as exc:
            code, message = grpc.StatusCode.ALREADY_EXISTS, str(exc)
        except StateConflict as exc:
            code, message = grpc.StatusCode.FAILED_PRECONDITION, str(exc)
        except StoreError as exc:  # the store is closed (stopping) or cannot be written
            log.warning("%s: %s", method.__name__, exc)
            code, message = grpc.StatusCode.UNAVAILABLE, f"the job store is unavailable: {exc}"
        except Exception as exc:
            log.exception("%s failed", method.__name__)
            code = grpc.StatusCode.INTERNAL
            message = f"internal error in {method.__name__}: {type(exc).__name__}; the server log has details"
        context.abort(code, message)

    return wrapper  # type: ignore[return-value]


class BridgeService(pb_grpc.RiverBridgeServicer):
    def __init__(
        self, store: JobStore, runner: Runner, config: ServerConfig, readiness: Readiness, version: str,
        pid: int,
    ) -> None:  # fmt: skip
        self.store, self.runner, self.config, self.readiness = store, runner, config, readiness
        self.version, self.pid = version, pid
        self._submit_lock = threading.Lock()  # one idempotency decision at a time

    @_rpc
    def GetCapabilities(self, request: pb.GetCapabilitiesRequest, context: Any) -> pb.Capabilities:
        from river_core.twin.profiles import model_specs

        models = {str(role): spec.model_id for role, spec in model_specs(self.config.profile).items()}  # type: ignore[arg-type]
        from river_core.editing.vace import PAPER_MODEL_ID

        models.setdefault(
            "editor", PAPER_MODEL_ID if self.config.profile == "paper" else "tiny (built in code)"
        )
        return pb.Capabilities(
            server_version=self.version,
            api_version="river.bridge.v1",
            profiles=list(validate.PROFILES),
            default_profile=self.config.profile,
            models=models,
            formats=list(validate.FORMATS),
            ops=list(validate.OPS),
            deliverables=list(validate.DELIVERABLES),
            kinds=list(KIND_NAMES),
            media_roots=[str(r) for r in self.config.media_roots],
            output_root=str(self.config.outputs),
            max_queue=self.config.max_queue,
            ready=self.readiness.loading is None,
            pid=self.pid,
        )

    @_rpc
    def SubmitEdit(self, request: pb.SubmitEditRequest, context: Any) -> pb.Job:
        self.readiness.check()
        ((record, _created),) = self._submit([request], batch_id=None, field="")  # fmt: skip
        return self._job(record)

    @_rpc
    def SubmitBatch(self, request: pb.SubmitBatchRequest, context: Any) -> pb.SubmitBatchResponse:
        self.readiness.check()
        if not request.edits:
            raise invalid("edits", "is empty; give at least one SubmitEditRequest")
        if len(request.edits) > self.config.max_queue:
            raise invalid(
                "edits", f"{len(request.edits)} jobs; a batch holds at most {self.config.max_queue}"
            )
        batch_id = validate.check_request_id(request.batch_id, "batch_id") or f"b{uuid.uuid4().hex[:19]}"
        done = self._submit(list(request.edits), batch_id=batch_id, field="edits")
        return pb.SubmitBatchResponse(batch_id=batch_id, jobs=[self._job(r) for r, _ in done])

    def _submit(
        self, requests: list[pb.SubmitEditRequest], *, batch_id: str | None, field: str
    ) -> list[tuple[JobRecord, bool]]:
        items = []
        for i, req in enumerate(requests):
            where = f"{field}[{i}]." if field else ""
            try:
                request_id = validate.check_request_id(req.request_id) or uuid.uuid4().hex
                existing = self.store.find_request(request_id)
                spec = validate.normalise(req.spec, request_id, self.config, new_output=existing is None)
            except RequestError as exc:
                raise RequestError(exc.code, where + exc.message) from None
            items.append(
                NewJob(
                    request_id, KIND_NAMES[spec.kind], spec.SerializeToString(deterministic=True), batch_id
                )
            )
        with self._submit_lock:
            done = self.store.create(items, max_active=self.config.max_queue)
        for record, created in done:
            if created:
                self.runner.submit(record.id)
        return done

    @_rpc
    def GetJob(self, request: pb.GetJobRequest, context: Any) -> pb.Job:
        return self._job(self.store.get(check_job_id(request.job_id)))

    @_rpc
    def ListJobs(self, request: pb.ListJobsRequest, context: Any) -> pb.ListJobsResponse:
        states = []
        for value in request.states:
            if value not in STATE_NAMES:
                raise invalid("states", f"{value} is not a job state")
            states.append(STATE_NAMES[value])
        if request.kind and request.kind not in KIND_NAMES:
            raise invalid("kind", f"{request.kind} is not a job kind")
        if request.page_size < 0:
            raise invalid("page_size", f"{request.page_size} must be ≥ 0 (0: the default, 50)")
        size = min(request.page_size or 50, MAX_PAGE)
        before = None
        if request.page_token:
            if not request.page_token.isdigit() or len(request.page_token) > 18:
                raise invalid("page_token", "is not a token this server gave (pass next_page_token as is)")
            before = int(request.page_token)
        records = self.store.list(
            states=states,
            kind=KIND_NAMES.get(request.kind),
            batch_id=request.batch_id or None,
            limit=size + 1,
            before_rowid=before,
        )
        page = records[:size]
        token = str(page[-1].rowid) if len(records) > size else ""
        return pb.ListJobsResponse(jobs=[self._job(r, brief=True) for r in page], next_page_token=token)

    def WatchJob(self, request: pb.WatchJobRequest, context: grpc.ServicerContext) -> Iterator[pb.JobEvent]:
        try:
            job_id = check_job_id(request.job_id)
            if request.after_seq < 0:
                raise invalid("after_seq", f"{request.after_seq} must be ≥ 0")
            self.store.get(job_id)
        except RequestError as exc:
            context.abort(exc.code, exc.message)
        except JobNotFound as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        after = request.after_seq
        while context.is_active():
            if self.readiness.stopping:
                context.abort(
                    grpc.StatusCode.UNAVAILABLE, f"the server is stopping; resume with after_seq={after}"
                )
            try:
                events = self.store.wait_events(job_id, after, WATCH_POLL_S)
                if not events:
                    job = self.store.get(job_id)
                    if job.terminal and job.last_seq <= after:
                        return
            except JobNotFound:
                context.abort(grpc.StatusCode.NOT_FOUND, f"job {job_id} was deleted")
            except StoreError:  # closed under us: the server is stopping
                context.abort(
                    grpc.StatusCode.UNAVAILABLE, f"the server is stopping; resume with after_seq={after}"
                )
            for event in events:
                yield event_message(event)
                after = event.seq
                if event.type == "state" and event.data.get("state") in TERMINAL:
                    return

    @_rpc
    def CancelJob(self, request: pb.CancelJobRequest, context: Any) -> pb.Job:
        job_id = check_job_id(request.job_id)
        reason = (request.reason or "cancelled by the client")[:500]
        record = self.store.request_cancel(job_id, reason)
        if record.state == "RUNNING":
            self.runner.cancel(job_id, reason)
        return self._job(self.store.get(job_id))

    @_rpc
    def WaitJob(self, request: pb.WaitJobRequest, context: Any) -> pb.Job:
        job_id = check_job_id(request.job_id)
        if not 0 <= request.timeout_ms <= MAX_WAIT_MS:
            raise invalid("timeout_ms", f"{request.timeout_ms} must be 0–{MAX_WAIT_MS} (an hour)")
        states = TERMINAL | {"AWAITING_CONFIRMATION"}
        timeout = request.timeout_ms / 1000
        remaining = context.time_remaining()
        if remaining is not None:
            timeout = min(timeout, max(0.0, remaining - 0.5))  # answer before the client's deadline
        return self._job(self.store.wait_state(job_id, states, timeout))

    @_rpc
    def DeleteJob(self, request: pb.DeleteJobRequest, context: Any) -> pb.DeleteJobResponse:
        job_id = check_job_id(request.job_id)
        record = self.store.get(job_id)
        if not record.terminal:
            raise RequestError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {job_id} is {record.state}; cancel it first, and delete it once it has ended",
            )
        output = (record.results or {}).get("output_dir", "")
        removed = False
        if request.delete_outputs and output:
            try:
                folder = resolve_output(output, self.config.outputs)
            except PathRefused as exc:
                raise RequestError(grpc.StatusCode.PERMISSION_DENIED, f"delete_outputs: {exc}") from None
            if folder.is_dir():
                shutil.rmtree(folder)
                removed = True
        self.store.delete(job_id)
        shutil.rmtree(self.config.jobs_dir / job_id, ignore_errors=True)
        return pb.DeleteJobResponse(job_id=job_id, outputs_deleted=removed)

    @_rpc
    def ConfirmPlan(self, request: pb.ConfirmPlanRequest, context: Any) -> pb.Job:
        self.readiness.check()
        job_id = check_job_id(request.job_id)
        record = self.store.get(job_id)
        if record.state != "AWAITING_CONFIRMATION":
            raise RequestError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {job_id} is {record.state}, not AWAITING_CONFIRMATION; only a job submitted with "
                "confirm stops for its plan",
            )
        proposed = record.plan or {}
        if request.plan_json:
            plan = validate.check_plan_json(request.plan_json, "plan_json")
            try:
                problems = check_confirmed_plan(self.config.jobs_dir / job_id, plan)
            except FileNotFoundError:
                raise RequestError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"job {job_id} has lost the twin its plan was made on; submit the job again",
                ) from None
            if problems:
                raise invalid(
                    "plan_json",
                    "does not fit the job's twin: "
                    + "; ".join(problems[:6])
                    + f"; job {job_id} still awaits "
                    "confirmation: fix the plan and confirm again, or cancel the job",
                )
            note = "plan confirmed as changed by the editor"
        else:
            plan = EditPlan.model_validate_json(proposed["plan_json"])
            note = "plan confirmed as proposed"
        confirmed = {
            **proposed,
            "plan_json": json.dumps(plan.to_json()),
            "explanation": describe_plan(plan),
            "targets": [
                {"id": t.id, "category": t.category, "attributes": t.attributes,
                 "frames": [r.to_json() for r in t.frames]}
                for op in plan.operations
                for t in op.targets
            ],
            "confirmed": True,
        }  # fmt: skip
        self.store.transition(
            job_id, "QUEUED", allowed_from={"AWAITING_CONFIRMATION"}, message=note, plan=confirmed
        )
        self.runner.submit(job_id)
        return self._job(self.store.get(job_id))

    def _job(self, record: JobRecord, *, brief: bool = False) -> pb.Job:
        position = self.store.queue_position(record.id) if record.state == "QUEUED" else -1
        return job_message(record, queue_position=position, brief=brief)


__all__ = ["SERVICE_NAME", "BridgeService", "Readiness"]
