"""``river eval --bridge``: the tasks of an evaluation as jobs on a running ``river serve``.

The client side only (grpcio and protobuf, never the engine): :func:`connect` finds the server through
its discovery file, as ``river jobs`` does, and returns a :class:`JobBackend` that queues one batch of
PLAN (a model's plan and twin) or TWIN (a twin, for a baseline that plans locally) jobs and yields each
job's outcome as a plain dict, in task order. ``river_core.eval.run`` turns the outcomes into samples
and scores them; it finds this module through the ``river_nle.eval_backends`` entry point (the engine
never imports the bridge).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from bridge.client import TERMINAL_STATES, BridgeError, RiverClient, state_name
from bridge.v1 import bridge_pb2

KINDS: Final = ("plan", "twin")
JOB_TIMEOUT_S: Final = 24 * 3600.0


class JobBackend:
    """Jobs of one evaluation on one server. ``errors``: what its calls raise (the caller turns them into
    its own one-line error)."""

    errors: tuple[type[Exception], ...] = (BridgeError, ValueError)

    def __init__(self, client: RiverClient) -> None:
        self.client = client

    @property
    def address(self) -> str:
        return self.client.address

    def profile(self) -> str:
        """The server's default profile (its pipeline's)."""
        return str(self.client.capabilities().default_profile)

    def run(self, requests: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Queue ``requests`` (``{"kind": "plan"|"twin", "media", "range", "query"}``) as one batch and
        yield each outcome in order once its job ends (:func:`outcome`). Jobs still queued or running when
        the caller stops (an error, Ctrl-C) are cancelled."""
        for r in requests:
            if r["kind"] not in KINDS:
                raise ValueError(f"job kind {r['kind']!r} is not one of {KINDS}")
        specs = [
            RiverClient.edit_spec(
                r["media"], kind=r["kind"], range_text=r.get("range") or "", query=r.get("query")
            )
            for r in requests
        ]
        if not specs:
            return
        batch = self.client.submit_batch(specs, batch_id=f"eval-{uuid.uuid4().hex[:12]}")
        ids = [job.id for job in batch.jobs]
        finished: set[str] = set()
        try:
            for job_id in ids:
                job = self.client.wait(job_id, timeout=JOB_TIMEOUT_S)
                if job.state not in TERMINAL_STATES:
                    raise BridgeError(
                        "DEADLINE_EXCEEDED", f"job {job_id} is still {state_name(job.state)}; see river jobs"
                    )
                finished.add(job_id)
                yield outcome(job)
        finally:
            for job_id in ids:
                if job_id not in finished:
                    # already ended, or the server is gone: nothing left to stop
                    with contextlib.suppress(BridgeError):
                        self.client.cancel(job_id, "river eval stopped")

    def close(self) -> None:
        self.client.close()


def outcome(job: bridge_pb2.Job) -> dict[str, Any]:
    """A finished job as plain data: ``ok``; ``error_kind`` and ``error`` (the JobError); ``plan`` and
    ``twin`` (paths of its plan.json and twin.json, "" when none); ``seconds`` (started → ended)."""
    ok = job.state == bridge_pb2.JOB_STATE_SUCCEEDED
    seconds = 0.0
    if job.HasField("start_time") and job.HasField("end_time"):
        seconds = max(0.0, (job.end_time.ToNanoseconds() - job.start_time.ToNanoseconds()) / 1e9)
    return {
        "id": job.id,
        "ok": ok,
        "state": state_name(job.state),
        "error_kind": "" if ok else job.error.kind or "cancelled",
        "error": "" if ok else job.error.message or state_name(job.state),
        "plan": job.results.plan if ok else "",
        "twin": job.results.twin if ok else "",
        "seconds": seconds,
    }


def connect(discovery: Path | None = None) -> JobBackend:
    """The backend of the running server (its discovery file; ``river serve`` starts one). Raises
    ``BridgeError`` (``NO_SERVER``: none runs)."""
    return JobBackend(RiverClient.connect(discovery))
