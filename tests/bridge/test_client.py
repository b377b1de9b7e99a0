"""The bridge client against a real gRPC server on a Unix socket, serving a fake servicer.

The fake keeps jobs in memory and checks the bearer token itself; tests drive its jobs' events.
Nothing inside the client is mocked: only the server on the other side of the socket is ours.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bridge import client as client_module
from bridge.client import TERMINAL_STATES, BridgeError, RiverClient, kind_value, state_name, state_value
from bridge.discovery import (
    API_VERSION,
    Discovery,
    discovery_path,
    lock_path,
    log_path,
    pid_alive,
    unix_address,
    write_discovery,
)
from bridge.v1 import bridge_pb2 as pb
from bridge.v1 import bridge_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789"
AWAITING = pb.JOB_STATE_AWAITING_CONFIRMATION


class FakeBridge(bridge_pb2_grpc.RiverBridgeServicer):
    """An in-memory RiverBridge: enough behaviour to exercise every client call."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.cond = threading.Condition()
        self.jobs: dict[str, pb.Job] = {}
        self.events: dict[str, list[pb.JobEvent]] = {}
        self.by_request: dict[str, str] = {}
        self.metadata: list[dict[str, Any]] = []
        self.submits: list[pb.SubmitEditRequest] = []
        self.watch_requests: list[pb.WatchJobRequest] = []
        self.wait_timeouts: list[int] = []
        self.list_requests: list[pb.ListJobsRequest] = []
        self.confirms: list[pb.ConfirmPlanRequest] = []
        self.drop_watch: dict[str, tuple[int, str]] = {}  # job → (after k events, "abort" | "end"), once
        self.replay_on_resume = False  # a buggy server: resumed streams start again from seq 1
        self.lose_submit_answers = 0  # record the job, then answer UNAVAILABLE (a lost answer)
        self.script: list[dict[str, Any]] = []  # events every submitted job goes through, 20 ms apart

    # -- driving jobs from tests ---------------------------------------------------------------

    def add_job(self, spec: pb.EditSpec | None = None, request_id: str = "", batch_id: str = "") -> pb.Job:
        spec = spec or pb.EditSpec(
            kind=pb.JOB_KIND_EDIT, media=pb.MediaRef(path="/media/clip.mov"), query="q"
        )
        with self.cond:
            job = pb.Job(
                id=uuid.uuid4().hex[:12], request_id=request_id, batch_id=batch_id, kind=spec.kind, spec=spec
            )
            job.create_time.GetCurrentTime()
            self.jobs[job.id] = job
            self.events[job.id] = []
        self.emit(job.id, state=pb.StateChange(state=pb.JOB_STATE_QUEUED))
        return self.jobs[job.id]

    def emit(self, job_id: str, **fields: Any) -> pb.JobEvent:
        with self.cond:
            job, events = self.jobs[job_id], self.events[job_id]
            event = pb.JobEvent(job_id=job_id, seq=len(events) + 1, **fields)
            event.time.GetCurrentTime()
            events.append(event)
            job.last_seq = event.seq
            which = event.WhichOneof("event")
            if which == "state":
                job.state = event.state.state
            elif which in ("progress", "results", "error", "plan"):
                getattr(job, which).CopyFrom(getattr(event, which))
            self.cond.notify_all()
            return event

    def state(self, job_id: str, state: int, message: str = "") -> None:
        self.emit(job_id, state=pb.StateChange(state=state, message=message))  # type: ignore[arg-type]

    def finish(self, job_id: str, state: int = pb.JOB_STATE_SUCCEEDED) -> None:
        """Run a job through a typical life to ``state``."""
        self.state(job_id, pb.JOB_STATE_RUNNING)
        self.emit(job_id, progress=pb.Progress(stage="twin", done=1, total=2, unit="frame"))
        self.emit(job_id, message="building the twin")
        if state == pb.JOB_STATE_SUCCEEDED:
            self.emit(
                job_id,
                results=pb.Results(
                    output_dir="/out/edit1", media="/out/edit1/clip.mov", frames=81, qc_passed=True
                ),
            )
        elif state == pb.JOB_STATE_FAILED:
            self.emit(job_id, error=pb.JobError(kind="media", message="the clip is gone"))
        elif state == AWAITING:
            plan = pb.PlanPreview(plan_json="{}", explanation="turn the dog (id 3) into bronze")
            plan.targets.add(id=3, category="dog", frames=[pb.FrameRange(start=30, end=111)])
            self.emit(job_id, plan=plan)
        messages = {pb.JOB_STATE_CANCELLED: "stopped by the editor", pb.JOB_STATE_FAILED: "the clip is gone"}
        self.state(job_id, state, messages.get(state, ""))

    def _auth(self, context: grpc.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata())
        self.metadata.append(metadata)
        if metadata.get("authorization") != f"Bearer {self.token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bridge token")

    def _job(self, job_id: str, context: grpc.ServicerContext) -> pb.Job:
        if job_id not in self.jobs:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {job_id}; list them with river jobs list")
        return self.jobs[job_id]

    def _run_script(self, job_id: str) -> None:
        for fields in self.script:
            time.sleep(0.02)
            self.emit(job_id, **fields)

    # -- the service ---------------------------------------------------------------------------

    def GetCapabilities(self, request: Any, context: grpc.ServicerContext) -> pb.Capabilities:
        self._auth(context)
        return pb.Capabilities(
            server_version="0.0-test", api_version=API_VERSION, pid=os.getpid(), ready=True,
            profiles=["tiny"], default_profile="tiny", ops=["generate", "blur"], formats=["prores", "h264"],
            deliverables=["media", "matte"],
        )  # fmt: skip

    def SubmitEdit(self, request: pb.SubmitEditRequest, context: grpc.ServicerContext) -> pb.Job:
        self._auth(context)
        self.submits.append(request)
        if not os.path.isabs(request.spec.media.path):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "media.path must be absolute")
        job = self._submit(request, "")
        if self.lose_submit_answers:
            self.lose_submit_answers -= 1
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset (the answer was lost)")
        return job

    def _submit(self, request: pb.SubmitEditRequest, batch_id: str) -> pb.Job:
        with self.cond:
            if request.request_id in self.by_request:
                return self.jobs[self.by_request[request.request_id]]
            job = self.add_job(request.spec, request.request_id, batch_id)
            self.by_request[request.request_id] = job.id
        if self.script:
            threading.Thread(target=self._run_script, args=(job.id,), daemon=True).start()
        return job

    def SubmitBatch(self, request: pb.SubmitBatchRequest, context: grpc.ServicerContext) -> Any:
        self._auth(context)
        batch_id = request.batch_id or "batch-" + uuid.uuid4().hex[:6]
        jobs = [self._submit(edit, batch_id) for edit in request.edits]
        return pb.SubmitBatchResponse(batch_id=batch_id, jobs=jobs)

    def GetJob(self, request: pb.GetJobRequest, context: grpc.ServicerContext) -> pb.Job:
        self._auth(context)
        return self._job(request.job_id, context)

    def ListJobs(self, request: pb.ListJobsRequest, context: grpc.ServicerContext) -> pb.ListJobsResponse:
        self._auth(context)
        self.list_requests.append(request)
        jobs = [
            j
            for j in reversed(self.jobs.values())
            if (not request.states or j.state in request.states)
            and (not request.kind or j.kind == request.kind)
            and (not request.batch_id or j.batch_id == request.batch_id)
        ]
        start, size = int(request.page_token or 0), request.page_size or 50
        token = str(start + size) if start + size < len(jobs) else ""
        return pb.ListJobsResponse(jobs=jobs[start : start + size], next_page_token=token)

    def WatchJob(self, request: pb.WatchJobRequest, context: grpc.ServicerContext) -> Iterator[pb.JobEvent]:
        self._auth(context)
        self.watch_requests.append(request)
        self._job(request.job_id, context)
        drop = self.drop_watch.pop(request.job_id, None)
        index = 0 if self.replay_on_resume and request.after_seq else request.after_seq
        sent = 0
        while context.is_active():
            with self.cond:
                events, job = self.events[request.job_id], self.jobs[request.job_id]
                if index >= len(events) and job.state not in TERMINAL_STATES:
                    self.cond.wait(0.05)
                batch, done = events[index:], job.state in TERMINAL_STATES
            for event in batch:
                if drop and sent == drop[0]:
                    if drop[1] == "abort":
                        context.abort(grpc.StatusCode.UNAVAILABLE, "the server is restarting")
                    return
                yield event
                sent += 1
                index += 1
            if done and not batch:
                return

    def CancelJob(self, request: pb.CancelJobRequest, context: grpc.ServicerContext) -> pb.Job:
        self._auth(context)
        job = self._job(request.job_id, context)
        if job.state in TERMINAL_STATES:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"job {job.id} is already {state_name(job.state)}"
            )
        job.error.CopyFrom(pb.JobError(kind="cancelled", message=request.reason))
        self.state(job.id, pb.JOB_STATE_CANCELLED, request.reason)
        return job

    def WaitJob(self, request: pb.WaitJobRequest, context: grpc.ServicerContext) -> pb.Job:
        self._auth(context)
        self.wait_timeouts.append(request.timeout_ms)
        job = self._job(request.job_id, context)
        deadline = time.monotonic() + request.timeout_ms / 1000
        with self.cond:
            while job.state not in TERMINAL_STATES and job.state != AWAITING and time.monotonic() < deadline:
                self.cond.wait(max(0.0, deadline - time.monotonic()))
            return pb.Job().FromString(job.SerializeToString())

    def DeleteJob(self, request: pb.DeleteJobRequest, context: grpc.ServicerContext) -> pb.DeleteJobResponse:
        self._auth(context)
        self._job(request.job_id, context)
        del self.jobs[request.job_id]
        return pb.DeleteJobResponse(job_id=request.job_id, outputs_deleted=request.delete_outputs)

    def ConfirmPlan(self, request: pb.ConfirmPlanRequest, context: grpc.ServicerContext) -> pb.Job:
        self._auth(context)
        self.confirms.append(request)
        job = self._job(request.job_id, context)
        if job.state != AWAITING:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"job {job.id} is not awaiting confirmation")
        self.state(job.id, pb.JOB_STATE_RUNNING, "rendering the confirmed plan")
        return job


def serve(fake: FakeBridge, socket: Path) -> grpc.Server:
    """A real gRPC server for ``fake`` on a Unix socket, with the standard health service."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[
            ("grpc.keepalive_permit_without_calls", 1),  # the client pings every 30 s, idle or not
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
        ],
    )
    bridge_pb2_grpc.add_RiverBridgeServicer_to_server(fake, server)
    checker = health.HealthServicer()
    checker.set("", health_pb2.HealthCheckResponse.SERVING)
    checker.set(client_module.SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    server.add_secure_port(unix_address(socket), grpc.local_server_credentials(grpc.LocalConnectionType.UDS))
    server.start()
    return server


@dataclass
class Served:
    fake: FakeBridge
    server: grpc.Server
    address: str

    def client(self, token: str = TOKEN) -> RiverClient:
        return RiverClient(self.address, token, timeout=5.0)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime dir with a short path (AF_UNIX paths are limited to ~107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="rb-", dir="/tmp"))
    monkeypatch.setenv("RIVER_RUNTIME_DIR", str(path))
    monkeypatch.delenv("RIVER_BRIDGE_DISCOVERY", raising=False)
    monkeypatch.delenv("RIVER_SERVER_COMMAND", raising=False)
    monkeypatch.setattr(client_module, "WATCH_BACKOFF_S", (0.01,) * 10)
    monkeypatch.setattr(client_module, "RETRY_BACKOFF_S", (0.01, 0.01))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_fake(runtime: Path) -> Served:
    """A fake server in this process, with its discovery file written as `river serve` would."""
    fake, socket = FakeBridge(), runtime / "bridge.sock"
    server = serve(fake, socket)
    write_discovery(Discovery(address=unix_address(socket), token=TOKEN, pid=os.getpid(), version="0.0-test"))
    return Served(fake, server, unix_address(socket))


@pytest.fixture
def bridge(runtime: Path) -> Iterator[Served]:
    served = start_fake(runtime)
    yield served
    served.server.stop(None)


# -- calls, the token, errors ----------------------------------------------------------------


def test_every_call_carries_the_token_and_health_needs_none(bridge: Served) -> None:
    with bridge.client() as river:
        assert river.capabilities().api_version == API_VERSION
        assert bridge.fake.metadata[-1]["authorization"] == f"Bearer {TOKEN}"
    with bridge.client(token="wrong") as river:
        assert river.health() == "SERVING" and river.health(client_module.SERVICE_NAME) == "SERVING"
        assert river.health("no.such.Service") == "SERVICE_UNKNOWN"
        with pytest.raises(BridgeError) as caught:
            river.capabilities()
    assert caught.value.code == "UNAUTHENTICATED"
    assert str(caught.value) == "UNAUTHENTICATED: missing or wrong bridge token"


def test_errors_are_one_line_bridge_errors_with_the_status_name(bridge: Served, runtime: Path) -> None:
    with bridge.client() as river:
        with pytest.raises(BridgeError) as caught:
            river.get_job("nope")
        assert caught.value.code == "NOT_FOUND" and str(caught.value).startswith("NOT_FOUND: no job nope")
        job = bridge.fake.add_job()
        bridge.fake.finish(job.id)
        with pytest.raises(BridgeError, match=r"^FAILED_PRECONDITION: job \w+ is already SUCCEEDED$"):
            river.cancel(job.id)
    nobody = RiverClient(unix_address(runtime / "nobody.sock"), TOKEN, timeout=2)
    with nobody, pytest.raises(BridgeError) as caught:
        nobody.get_job("x")
    assert caught.value.code == "UNAVAILABLE"
    assert "river serve" in str(caught.value) and "\n" not in str(caught.value)


def test_submit_edit_builds_the_spec(bridge: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with bridge.client() as river:
        job = river.submit_edit(
            "media/../clip.mov", kind="Twin", frames=(30, 111), rate=(30000, 1001), timecode="01:00:00;00",
            handles=8, query="the dog", op="blur", profile="tiny", format="h264", output="edit1",
            overwrite=True, confirm=True, render={"seed": 0, "steps": 4, "guidance_scale": None},
            host_context={"nle": "resolve", "timeline": "Main"},
        )  # fmt: skip
    sent = bridge.fake.submits[-1]
    spec = sent.spec
    assert spec.media.path == str(tmp_path / "clip.mov")  # absolute, normalized: the server's cwd differs
    assert (spec.media.range.start, spec.media.range.end) == (30, 111)
    assert (spec.media.rate.num, spec.media.rate.den) == (30000, 1001)
    assert (spec.media.timecode, spec.media.handles) == ("01:00:00;00", 8)
    assert spec.kind == pb.JOB_KIND_TWIN and spec.WhichOneof("what") == "query" and spec.query == "the dog"
    assert (spec.op, spec.profile, spec.format, spec.output) == ("blur", "tiny", "h264", "edit1")
    assert spec.overwrite and spec.confirm and not spec.remove
    assert spec.render.HasField("seed") and spec.render.seed == 0  # seed 0 is a choice, not "unset"
    assert spec.render.steps == 4 and not spec.render.HasField("guidance_scale")
    assert dict(spec.host_context) == {"nle": "resolve", "timeline": "Main"}
    assert len(sent.request_id) == 32 and job.spec == spec and state_name(job.state) == "QUEUED"


def test_edit_spec_fills_one_what_and_checks_its_arguments() -> None:
    spec = RiverClient.edit_spec("/m/a.mov", targets=[" 3", "dog", ""], op="pixelate")
    assert spec.WhichOneof("what") == "targets" and list(spec.targets.items) == ["3", "dog"]
    spec = RiverClient.edit_spec("/m/a.mov", kind="render", plan_json='{"edits": []}')
    assert spec.WhichOneof("what") == "plan_json" and spec.kind == pb.JOB_KIND_RENDER
    spec = RiverClient.edit_spec("/m/a.mov", kind="twin")
    assert spec.WhichOneof("what") is None
    assert (
        not spec.HasField("render") and not spec.media.HasField("range") and not spec.media.HasField("rate")
    )
    with pytest.raises(ValueError, match="at most one of query, targets or plan_json, not query and targets"):
        RiverClient.edit_spec("/m/a.mov", query="x", targets=["3"])
    with pytest.raises(ValueError, match="edit, twin, plan, render"):
        RiverClient.edit_spec("/m/a.mov", kind="cut")
    with pytest.raises(ValueError, match="frames"):
        RiverClient.edit_spec("/m/a.mov", frames=(50, 10))
    with pytest.raises(ValueError, match=r"\['cfg'\] are not among seed, steps"):
        RiverClient.edit_spec("/m/a.mov", render={"cfg": 3})
    with pytest.raises(ValueError, match="not the string"):
        RiverClient.edit_spec("/m/a.mov", targets="dog")
    for bad in ("garbage", "1:00:00", "01:00:00:00:00", "01:60:00:00", "01:00:00:5"):
        with pytest.raises(ValueError, match=rf"timecode '{bad}' is not a timecode \(HH:MM:SS:FF"):
            RiverClient.edit_spec("/m/a.mov", kind="twin", timecode=bad)
    for good in ("01:00:00:00", "00:59:59;29", "1:00:00:00", "00:00:10:119"):
        assert RiverClient.edit_spec("/m/a.mov", kind="twin", timecode=good).media.timecode == good
    assert kind_value("PLAN") == pb.JOB_KIND_PLAN and state_value("awaiting_confirmation") == AWAITING
    with pytest.raises(ValueError, match="queued, running"):
        state_value("done")


def test_a_request_id_makes_submit_idempotent(bridge: Served) -> None:
    with bridge.client() as river:
        first = river.submit_edit("/m/a.mov", query="q", request_id="nle-42")
        again = river.submit_edit("/m/a.mov", query="q", request_id="nle-42")
        other = river.submit_edit("/m/a.mov", query="q")
        another = river.submit_edit("/m/a.mov", query="q")
    assert first.id == again.id and len({first.id, other.id, another.id}) == 3
    assert [s.request_id for s in bridge.fake.submits[:2]] == ["nle-42", "nle-42"]
    assert bridge.fake.submits[2].request_id != bridge.fake.submits[3].request_id


def test_a_lost_answer_is_retried_with_the_same_request_id(bridge: Served) -> None:
    bridge.fake.lose_submit_answers = 2
    with bridge.client() as river:
        job = river.submit_edit("/m/a.mov", query="q")
    ids = {s.request_id for s in bridge.fake.submits}
    assert len(bridge.fake.submits) == 3 and len(ids) == 1 and len(bridge.fake.jobs) == 1
    assert job.request_id in ids


def test_submit_batch(bridge: Served) -> None:
    with bridge.client() as river:
        specs = [
            river.edit_spec("/m/a.mov", query="q"),
            river.edit_spec("/m/b.mov", targets=["3"], op="blur"),
        ]
        done = river.submit_batch(specs, batch_id="b1", request_ids=["r1", "r2"])
        assert done.batch_id == "b1" and [j.request_id for j in done.jobs] == ["r1", "r2"]
        assert [j.spec.media.path for j in done.jobs] == ["/m/a.mov", "/m/b.mov"]
        with pytest.raises(ValueError, match="1 request_ids for 2 specs"):
            river.submit_batch(specs, request_ids=["r3"])


def test_iter_jobs_follows_pages_and_filters(bridge: Served) -> None:
    ids = [bridge.fake.add_job().id for _ in range(7)]
    bridge.fake.finish(ids[0])
    with bridge.client() as river:
        assert [j.id for j in river.iter_jobs(page_size=3)] == ids[::-1]
        assert [r.page_token for r in bridge.fake.list_requests] == ["", "3", "6"]
        done = river.list_jobs(states=[pb.JOB_STATE_SUCCEEDED], kind="edit")
        assert [j.id for j in done.jobs] == [ids[0]] and done.next_page_token == ""
        assert bridge.fake.list_requests[-1].kind == pb.JOB_KIND_EDIT
        assert not river.list_jobs(kind="render").jobs


def test_cancel_confirm_delete(bridge: Served) -> None:
    fake = bridge.fake
    running, awaiting = fake.add_job(), fake.add_job()
    fake.finish(awaiting.id, AWAITING)
    with bridge.client() as river:
        assert river.cancel(running.id, "wrong clip").state == pb.JOB_STATE_CANCELLED
        assert fake.jobs[running.id].error.message == "wrong clip"
        assert river.confirm(awaiting.id, '{"edited": true}').state == pb.JOB_STATE_RUNNING
        assert fake.confirms[-1].plan_json == '{"edited": true}'
        assert river.delete(running.id, delete_outputs=True).outputs_deleted
        assert running.id not in fake.jobs


# -- watch -----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["abort", "end"])
def test_watch_resumes_a_broken_stream_without_gap_or_repeat(bridge: Served, how: str) -> None:
    job = bridge.fake.add_job()
    bridge.fake.finish(job.id)
    bridge.fake.drop_watch[job.id] = (3, how)
    with bridge.client() as river:
        seqs = [e.seq for e in river.watch(job.id)]
    assert seqs == list(range(1, bridge.fake.jobs[job.id].last_seq + 1))
    assert [r.after_seq for r in bridge.fake.watch_requests] == [0, 3]


def test_watch_drops_events_a_server_sends_again(bridge: Served) -> None:
    job = bridge.fake.add_job()
    bridge.fake.finish(job.id)
    bridge.fake.drop_watch[job.id] = (2, "abort")
    bridge.fake.replay_on_resume = True
    with bridge.client() as river:
        seqs = [e.seq for e in river.watch(job.id, after_seq=1)]
    assert seqs == list(range(2, bridge.fake.jobs[job.id].last_seq + 1))


@pytest.mark.timeout(20)
def test_watch_follows_live_events_and_stops_at_awaiting_confirmation(bridge: Served) -> None:
    fake = bridge.fake
    job = fake.add_job()
    threading.Timer(0.2, fake.finish, args=(job.id, AWAITING)).start()
    with bridge.client() as river:
        events = list(river.watch(job.id))  # the server keeps the stream open: the client must stop
        assert events[-1].state.state == AWAITING
        assert [e.WhichOneof("event") for e in events][-2:] == ["plan", "state"]

        def render() -> None:
            fake.state(job.id, pb.JOB_STATE_RUNNING)
            fake.emit(job.id, progress=pb.Progress(stage="render", done=1, total=1))
            fake.state(job.id, pb.JOB_STATE_SUCCEEDED)

        threading.Timer(0.2, render).start()
        rest = list(river.watch(job.id, after_seq=events[-1].seq, until_awaiting=False))
    assert [e.seq for e in rest] == list(range(events[-1].seq + 1, events[-1].seq + 4))
    assert rest[-1].state.state == pb.JOB_STATE_SUCCEEDED


def test_watch_past_a_finished_job_returns_at_once(bridge: Served) -> None:
    job = bridge.fake.add_job()
    bridge.fake.finish(job.id)
    with bridge.client() as river:
        assert list(river.watch(job.id, after_seq=bridge.fake.jobs[job.id].last_seq)) == []
    assert len(bridge.fake.watch_requests) == 1


def test_watch_gives_up_after_bounded_reconnects(bridge: Served) -> None:
    job = bridge.fake.add_job()
    bridge.fake.drop_watch[job.id] = (1, "abort")
    with bridge.client() as river:
        events = river.watch(job.id)
        assert next(events).seq == 1
        bridge.server.stop(None)
        with pytest.raises(BridgeError) as caught:
            next(events)
    assert caught.value.code == "UNAVAILABLE"
    assert f"river jobs watch {job.id} --after-seq 1" in str(caught.value)


# -- wait ------------------------------------------------------------------------------------


def test_wait_reissues_waitjob_in_slices(bridge: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "WAIT_SLICE_S", 0.2)
    job = bridge.fake.add_job()
    threading.Timer(0.7, bridge.fake.finish, args=(job.id,)).start()
    with bridge.client() as river:
        done = river.wait(job.id, timeout=10)
        assert done.state == pb.JOB_STATE_SUCCEEDED
        assert len(bridge.fake.wait_timeouts) >= 3 and max(bridge.fake.wait_timeouts) <= 200
        bridge.fake.wait_timeouts.clear()
        stuck = bridge.fake.add_job()
        started = time.monotonic()
        assert river.wait(stuck.id, timeout=0.3).state == pb.JOB_STATE_QUEUED
    assert 0.25 < time.monotonic() - started < 2.0
    assert sum(bridge.fake.wait_timeouts) <= 300


# -- connect: discovery, starting a server on demand -------------------------------------------


def test_connect_without_a_server_says_how_to_start_one(runtime: Path) -> None:
    with pytest.raises(BridgeError) as caught:
        RiverClient.connect()
    assert caught.value.code == "NO_SERVER"
    assert str(caught.value) == (
        f"NO_SERVER: no RIVER NLE server is running (no {runtime / 'bridge.json'}); "
        "start one with `river serve`"
    )


def test_connect_ignores_a_dead_or_silent_server(runtime: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    address = unix_address(runtime / "bridge.sock")
    write_discovery(Discovery(address=address, token=TOKEN, pid=child.pid, version="x"))
    with pytest.raises(BridgeError, match=f"pid {child.pid}, is gone"):
        RiverClient.connect()
    write_discovery(Discovery(address=address, token=TOKEN, pid=os.getpid(), version="x"))
    with pytest.raises(BridgeError, match="does not answer: UNAVAILABLE"):
        RiverClient.connect()


def test_connect_reads_the_discovery_file(bridge: Served, runtime: Path) -> None:
    with RiverClient.connect() as river:
        assert river.discovery is not None and river.discovery.pid == os.getpid()
        assert river.capabilities().server_version == "0.0-test"
        river.wait_ready(timeout=5)
    moved = runtime / "elsewhere.json"
    discovery_path().rename(moved)
    with RiverClient.connect(moved) as river:
        assert river.address == bridge.address


SERVER_SCRIPT = f"""
import os, signal, sys, threading
sys.path.insert(0, {str(ROOT)!r})
from bridge.discovery import Discovery, default_socket_path, remove_discovery, unix_address, write_discovery
from tests.bridge.test_client import TOKEN, FakeBridge, serve
print("fake server starting", flush=True)
server = serve(FakeBridge(), default_socket_path())
write_discovery(Discovery(unix_address(default_socket_path()), TOKEN, os.getpid(), "0.0-test"))
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
while not stop.wait(0.1):
    pass
remove_discovery(os.getpid())
server.stop(None)
"""


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


@pytest.mark.timeout(60)
def test_connect_starts_a_detached_server_on_demand(runtime: Path) -> None:
    river = RiverClient.connect(start=True, server_command=[sys.executable, "-c", SERVER_SCRIPT], wait=30)
    proc = river.server_process
    assert proc is not None and river.discovery is not None and river.discovery.pid == proc.pid
    try:
        assert river.capabilities().pid == proc.pid
        assert os.getsid(proc.pid) != os.getsid(0), "the server must be in its own session"
        assert "fake server starting" in log_path().read_text()
        river.close()
        with RiverClient.connect(start=True, server_command=["false"]) as again:  # running: not started again
            assert again.discovery is not None and again.discovery.pid == proc.pid
            assert again.server_process is None
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.timeout(60)
def test_the_started_server_outlives_the_client_process(runtime: Path) -> None:
    client_script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from bridge.client import RiverClient
        command = [sys.executable, "-c", {SERVER_SCRIPT!r}]
        river = RiverClient.connect(start=True, server_command=command, wait=30)
        print(river.capabilities().pid)
        """
    )
    # The client leads its own process group, like an NLE run from a terminal.
    nle = subprocess.Popen(
        [sys.executable, "-c", client_script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    out, err = nle.communicate(timeout=60)
    assert nle.returncode == 0, err
    pid = int(out)
    try:
        # Closing the terminal (or an NLE ending its process group) hangs up the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(nle.pid, signal.SIGHUP)
        time.sleep(0.2)
        assert pid_alive(pid), "the server died with the client that started it"
        with RiverClient.connect() as river:
            assert river.capabilities().pid == pid
    finally:
        kill(pid)


def test_a_server_that_exits_at_once_is_reported_with_its_log(runtime: Path) -> None:
    command = [sys.executable, "-c", "print('loading the models failed: no GPU'); raise SystemExit(3)"]
    with pytest.raises(BridgeError) as caught:
        RiverClient.connect(start=True, server_command=command, wait=20)
    assert caught.value.code == "NO_SERVER"
    assert f"exited with code 3; see {log_path()}: loading the models failed: no GPU" in str(caught.value)


def test_a_server_that_does_not_come_up_in_time(runtime: Path) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(BridgeError, match=r"did not come up within 0.5 s") as caught:
        RiverClient.connect(start=True, server_command=command, wait=0.5)
    for proc in client_module._SPAWNED:
        if proc.poll() is None and f"pid {proc.pid}" in str(caught.value):
            proc.kill()
            proc.wait()


def test_losing_the_start_race_waits_for_the_winner(bridge: Served, runtime: Path) -> None:
    """Our server exits at once (another holds the lock); the winner's discovery file appears later."""
    import fcntl

    saved = discovery_path().read_bytes()
    discovery_path().unlink()
    fd = os.open(lock_path(), os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)

    def winner_is_up() -> None:
        write_discovery(Discovery.from_json(__import__("json").loads(saved)))

    threading.Timer(0.6, winner_is_up).start()
    try:
        command = [sys.executable, "-c", "raise SystemExit('another server holds the lock')"]
        with RiverClient.connect(start=True, server_command=command, wait=20) as river:
            assert river.discovery is not None and river.discovery.pid == os.getpid()
            assert river.server_process is None
    finally:
        os.close(fd)


def test_no_river_command_says_how_to_install(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(runtime / "python"))
    monkeypatch.setenv("PATH", str(runtime))
    with pytest.raises(
        BridgeError, match=r"install the engine \(scripts/setup.sh\) or set RIVER_SERVER_COMMAND"
    ):
        RiverClient.connect(start=True)
    monkeypatch.setenv("RIVER_SERVER_COMMAND", "'/no such/river' serve --flag")
    with pytest.raises(BridgeError, match=r"cannot run '/no such/river' serve --flag"):
        RiverClient.connect(start=True)


def test_a_server_started_for_a_profile_is_started_with_it(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`river serve` runs the paper profile unless told: a client whose jobs ask for tiny must say so."""
    argv_file = runtime / "argv"
    river_cmd = runtime / "river"  # the `river` beside the interpreter, as an install has it
    river_cmd.write_text(f'#!/bin/sh\necho "$@" > {argv_file}\nexit 3\n')
    river_cmd.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(runtime / "python"))
    with pytest.raises(BridgeError, match="exited with code 3"):
        RiverClient.connect(start=True, profile="tiny", wait=20)
    assert argv_file.read_text().split() == ["serve", "--profile", "tiny"]
    with pytest.raises(BridgeError, match="exited with code 3"):
        RiverClient.connect(start=True, wait=20)  # no profile asked for: the server's default
    assert argv_file.read_text().split() == ["serve"]
