"""Store records → API messages. The store keeps results, plans and events in the proto's JSON
shape, so conversion is ``ParseDict`` plus the enums and timestamps."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from bridge.server.store import EventRecord, JobRecord
from bridge.v1 import bridge_pb2 as pb

KINDS: dict[str, Any] = {
    "TWIN": pb.JOB_KIND_TWIN,
    "PLAN": pb.JOB_KIND_PLAN,
    "RENDER": pb.JOB_KIND_RENDER,
    "EDIT": pb.JOB_KIND_EDIT,
}
STATES: dict[str, Any] = {name: pb.JobState.Value(f"JOB_STATE_{name}") for name in
          ("QUEUED", "RUNNING", "AWAITING_CONFIRMATION", "SUCCEEDED", "FAILED", "CANCELLED")}  # fmt: skip
STATE_NAMES = {value: name for name, value in STATES.items()}
KIND_NAMES = {value: name for name, value in KINDS.items()}


def job_message(record: JobRecord, *, queue_position: int = -1, brief: bool = False) -> pb.Job:
    """The ``Job`` for a record; ``brief`` leaves out the large fields (plan documents, summaries)
    so a page of ``ListJobs`` stays small."""
    job = pb.Job(
        id=record.id,
        request_id=record.request_id,
        batch_id=record.batch_id or "",
        kind=KINDS[record.kind],
        state=STATES[record.state],
        last_seq=record.last_seq,
        queue_position=max(queue_position, 0),
    )
    job.spec.ParseFromString(record.spec)
    job.create_time.FromMilliseconds(record.created_ms)
    job.update_time.FromMilliseconds(record.updated_ms)
    if record.started_ms is not None:
        job.start_time.FromMilliseconds(record.started_ms)
    if record.finished_ms is not None:
        job.end_time.FromMilliseconds(record.finished_ms)
    if record.progress:
        _parse(record.progress, job.progress)
    if record.error:
        _parse(record.error, job.error)
    if record.results:
        _parse(record.results, job.results)
    if record.plan:
        _parse(record.plan, job.plan)
    if brief:
        if job.spec.WhichOneof("what") == "plan_json":
            job.spec.ClearField("plan_json")
        job.plan.plan_json = ""
        del job.plan.objects[:]
        job.results.summary_json = ""
    return job


def event_message(event: EventRecord) -> pb.JobEvent:
    message = pb.JobEvent(job_id=event.job_id, seq=event.seq)
    message.time.FromMilliseconds(event.time_ms)
    data = event.data
    if event.type == "state":
        message.state.state = STATES[data["state"]]
        message.state.message = data.get("message", "")
    elif event.type == "progress":
        _parse(data, message.progress)
    elif event.type == "message":
        message.message = data.get("text", "")
    elif event.type == "plan":
        _parse(data, message.plan)
    elif event.type == "results":
        _parse(data, message.results)
    elif event.type == "error":
        _parse(data, message.error)
    return message


def _parse(data: dict[str, Any], into: Any) -> None:
    json_format.ParseDict({k: v for k, v in data.items() if v is not None}, into, ignore_unknown_fields=True)
