"""The light, typed client of the RIVER NLE bridge (``river.bridge.v1``).

Host plugins import this beside the NLE: it needs grpcio and protobuf only, never torch or numpy.
Every method returns the generated message types (``bridge_pb2.Job`` …) and raises
:class:`BridgeError` (a one-line ``CODE: details``) instead of ``grpc.RpcError``.

>>> from bridge.client import RiverClient, state_name
>>> with RiverClient.connect(start=True) as river:            # starts `river serve` if none runs
...     job = river.submit_edit("/media/clip.mov", query="make the dog bronze", frames=(30, 111))
...     for event in river.watch(job.id):
...         print(event.seq, event.WhichOneof("event"))
...     done = river.get_job(job.id)
...     print(state_name(done.state), done.results.media)
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bridge.discovery import (
    API_VERSION,
    Discovery,
    DiscoveryError,
    discovery_path,
    log_path,
    pid_alive,
    read_discovery,
    server_lock_held,
)
from bridge.v1 import bridge_pb2, bridge_pb2_grpc

SERVICE_NAME: Final = "river.bridge.v1.RiverBridge"
TERMINAL_STATES: Final[frozenset[int]] = frozenset(
    {bridge_pb2.JOB_STATE_SUCCEEDED, bridge_pb2.JOB_STATE_FAILED, bridge_pb2.JOB_STATE_CANCELLED}
)
KINDS: Final = {
    "edit": bridge_pb2.JOB_KIND_EDIT,
    "twin": bridge_pb2.JOB_KIND_TWIN,
    "plan": bridge_pb2.JOB_KIND_PLAN,
    "render": bridge_pb2.JOB_KIND_RENDER,
}
MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
# Keepalive pings notice a dead server during a long, quiet WatchJob; the server must permit pings
# without calls (grpc.keepalive_permit_without_calls=1), as `river serve` does.
CHANNEL_OPTIONS: Final = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
)
WAIT_SLICE_S = 60.0  # WaitJob is re-issued in slices so a dead connection is noticed within a minute
WATCH_BACKOFF_S: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0)  # ~26 s in all
RETRY_BACKOFF_S: tuple[float, ...] = (0.2, 0.5, 1.0)  # idempotent unary calls, on UNAVAILABLE

TIMECODE_FORM: Final = "HH:MM:SS:FF, ';' before FF for drop frame"
# The engine's timecode syntax (river_core.media.rational), which this module cannot import; whether
# the frames fit the clip's rate is the server's to say.
_TIMECODE = re.compile(r"\d{1,2}[:;.,][0-5]\d[:;.,][0-5]\d[:;.,]\d{2,3}")

_R = TypeVar("_R")
_RENDER_FIELDS = tuple(f.name for f in bridge_pb2.RenderOptions.DESCRIPTOR.fields)


class BridgeError(Exception):
    """A failed bridge call: ``code`` is the gRPC status name (or ``NO_SERVER``, ``BAD_DISCOVERY``)."""

    def __init__(self, code: str, details: str) -> None:
        self.code = code
        self.details = " ".join(details.split())  # one line, whatever the server sent
        super().__init__(f"{code}: {self.details}")


def bridge_error(exc: grpc.RpcError, address: str = "") -> BridgeError:
    """The BridgeError for a failed gRPC call, with a remedy where the status alone is unhelpful."""
    code_fn = getattr(exc, "code", None)
    code = code_fn() if callable(code_fn) else None
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    details_fn = getattr(exc, "details", None)
    details = (details_fn() if callable(details_fn) else None) or str(exc)
    if name == "UNAVAILABLE":
        where = f" at {address}" if address else ""
        details = (
            f"the RIVER NLE server{where} is not answering ({details}); "
            "start it with `river serve` or check its log"
        )
    elif name == "DEADLINE_EXCEEDED":
        details = f"the server did not answer in time ({details}); it may be overloaded, try again"
    return BridgeError(name, details)


def state_name(state: int) -> str:
    """``JOB_STATE_SUCCEEDED`` → ``"SUCCEEDED"``."""
    return bridge_pb2.JobState.Name(state).removeprefix("JOB_STATE_")


def kind_name(kind: int) -> str:
    """``JOB_KIND_EDIT`` → ``"EDIT"``."""
    return bridge_pb2.JobKind.Name(kind).removeprefix("JOB_KIND_")


def kind_value(kind: str) -> bridge_pb2.JobKind:
    """``"edit"``, ``"twin"``, ``"plan"`` or ``"render"`` (any case) → the JobKind value."""
    try:
        return KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}") from None


def is_timecode(text: str) -> bool:
    """``"01:00:00:00"`` or ``"00:59:59;29"`` (drop frame) is one; the frames' fit to the rate is not
    checked here (the clip's rate is the server's to know)."""
    return _TIMECODE.fullmatch(text.strip()) is not None


def state_value(state: str) -> int:
    """``"succeeded"`` or ``"JOB_STATE_SUCCEEDED"`` (any case) → the JobState value."""
    name = state.upper()
    name = name if name.startswith("JOB_STATE_") else f"JOB_STATE_{name}"
    if name == "JOB_STATE_UNSPECIFIED" or name not in bridge_pb2.JobState.keys():  # noqa: SIM118 (not a dict)
        choices = [state_name(v).lower() for v in bridge_pb2.JobState.values() if v]
        raise ValueError(f"state {state!r} is not one of {', '.join(choices)}")
    return bridge_pb2.JobState.Value(name)


class RiverClient:
    """A connection to one bridge server.

    >>> river = RiverClient("unix:/run/user/1000/river-nle/bridge.sock", token)
    >>> river.capabilities().profiles
    ['paper', 'tiny']
    """

    def __init__(self, address: str, token: str, *, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout
        self.discovery: Discovery | None = None
        self.server_process: subprocess.Popen[bytes] | None = None  # set when connect() started it
        kind = (
            grpc.LocalConnectionType.UDS
            if address.startswith("unix:")
            else grpc.LocalConnectionType.LOCAL_TCP
        )
        credentials = grpc.composite_channel_credentials(
            grpc.local_channel_credentials(kind), grpc.access_token_call_credentials(token)
        )
        self._channel = grpc.secure_channel(address, credentials, options=list(CHANNEL_OPTIONS))
        self._stub = bridge_pb2_grpc.RiverBridgeStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    # -- connecting ----------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        discovery: Path | None = None,
        *,
        start: bool = False,
        server_command: Sequence[str] | None = None,
        profile: str = "",
        wait: float = 120.0,
        timeout: float = 30.0,
    ) -> RiverClient:
        """The client of the running server (from its discovery file), starting one if asked.

        ``start=True`` runs ``server_command`` (else ``$RIVER_SERVER_COMMAND``, else ``river serve``)
        detached, so the server outlives this process, and waits up to ``wait`` seconds for it. A server
        runs one model profile: with ``profile`` (the one the jobs to come ask for) the command gets
        ``--profile PROFILE`` added, so it does not load the default (paper) profile and then refuse them.
        A server already running is used as it is, whatever its profile.
        """
        try:
            path = discovery_path() if discovery is None else Path(discovery)
            client, why = cls._try_discovery(path, timeout)
        except DiscoveryError as exc:
            raise BridgeError("BAD_DISCOVERY", str(exc)) from exc
        if client is not None:
            return client
        if not start:
            raise BridgeError(
                "NO_SERVER", f"no RIVER NLE server is running ({why}); start one with `river serve`"
            )
        command = list(server_command) if server_command else _default_server_command()
        if profile:
            command += ["--profile", profile]
        return cls._start_server(command, path, discovery is not None, wait, timeout)

    @classmethod
    def _try_discovery(cls, path: Path, timeout: float) -> tuple[RiverClient | None, str]:
        info = read_discovery(path)
        if info is None:
            return None, f"no {path}"
        if info.api_version != API_VERSION:
            raise BridgeError(
                "FAILED_PRECONDITION",
                f"the server (pid {info.pid}) speaks {info.api_version}, this client {API_VERSION}; "
                "install matching versions of the host plugin and the engine",
            )
        if not pid_alive(info.pid):
            return None, f"the server in {path}, pid {info.pid}, is gone"
        client = cls(info.address, info.token, timeout=timeout)
        client.discovery = info
        try:
            client.health(timeout=2.0)
        except BridgeError as exc:
            client.close()
            return None, f"the server at {info.address}, pid {info.pid}, does not answer: {exc.code}"
        return client, ""

    @classmethod
    def _start_server(
        cls, command: list[str], path: Path, explicit_path: bool, wait: float, timeout: float
    ) -> RiverClient:
        log = log_path()
        env = dict(os.environ)
        if explicit_path:
            env["RIVER_BRIDGE_DISCOVERY"] = str(path.absolute())  # the server writes where we look
        # A new session (POSIX) or process group (Windows): no SIGHUP/SIGINT from our terminal, so the
        # server outlives this process and the NLE that started it.
        detach: dict[str, Any] = {"start_new_session": True}
        if sys.platform == "win32":
            detach = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}
        fd = os.open(log, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT, env=env,
                close_fds=True, **detach,
            )  # fmt: skip
        except OSError as exc:
            raise BridgeError(
                "NO_SERVER", f"cannot run {shlex.join(command)} ({exc.strerror}); set RIVER_SERVER_COMMAND"
            ) from exc
        finally:
            os.close(fd)
        _SPAWNED.append(proc)  # keep it referenced: Popen warns when collected while its child runs
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            code = proc.poll()
            try:
                client, _ = cls._try_discovery(path, timeout)
            except DiscoveryError as exc:
                raise BridgeError("BAD_DISCOVERY", str(exc)) from exc
            if client is not None:
                client.server_process = (
                    proc if client.discovery and client.discovery.pid == proc.pid else None
                )
                return client
            # Exiting while another process holds the server lock means another client won the race
            # to start the server: wait for its discovery file instead.
            if code is not None and not server_lock_held(path.with_suffix(".lock")):
                raise BridgeError(
                    "NO_SERVER", f"the server exited with code {code}; see {log}: {_last_line(log)}"
                )
            if time.monotonic() > deadline:
                raise BridgeError(
                    "NO_SERVER",
                    f"the server (pid {proc.pid}) did not come up within {wait:g} s; it may still be "
                    f"starting, see {log}: {_last_line(log)}",
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    # -- health --------------------------------------------------------------------------------

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The health status of ``service`` ("" = the server): SERVING, NOT_SERVING, SERVICE_UNKNOWN…"""
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            response = self._health.Check(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return "SERVICE_UNKNOWN"
            raise bridge_error(exc, self.address) from exc
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the bridge service is SERVING (models loaded); BridgeError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        status = "UNKNOWN"
        while True:
            try:
                status = self.health(SERVICE_NAME, timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            except BridgeError as exc:
                if exc.code not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                    raise
                status = exc.code
            if status == "SERVING":
                return
            if time.monotonic() >= deadline:
                raise BridgeError(
                    "DEADLINE_EXCEEDED",
                    f"the server at {self.address} was not ready after {timeout:g} s (health: {status}); "
                    "see its log",
                )
            time.sleep(0.2)

    # -- calls ---------------------------------------------------------------------------------

    def _call(
        self, method: Callable[..., _R], request: Any, *, retry: bool = False, timeout: float | None = None
    ) -> _R:
        """One unary call; ``retry`` re-sends the same request on UNAVAILABLE (for idempotent calls)."""
        attempts = RETRY_BACKOFF_S if retry else ()
        for attempt in range(len(attempts) + 1):
            try:
                return method(request, timeout=self.timeout if timeout is None else timeout)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == len(attempts):
                    raise bridge_error(exc, self.address) from exc
                time.sleep(attempts[attempt])
        raise AssertionError("unreachable")

    def capabilities(self) -> bridge_pb2.Capabilities:
        """Versions, profiles, models, formats, operations, media roots and limits of the server."""
        return self._call(self._stub.GetCapabilities, bridge_pb2.GetCapabilitiesRequest(), retry=True)

    @staticmethod
    def edit_spec(
        media: str | os.PathLike[str],
        *,
        kind: str = "edit",
        frames: tuple[int, int] | None = None,
        range_text: str = "",
        rate: tuple[int, int] | None = None,
        timecode: str = "",
        handles: int = 0,
        query: str | None = None,
        targets: Sequence[str] | None = None,
        plan_json: str | None = None,
        op: str = "",
        prompt: str = "",
        remove: bool = False,
        color: str = "",
        profile: str = "",
        format: str = "",
        name: str = "",
        deliver: Sequence[str] | None = None,
        output: str = "",
        overwrite: bool = False,
        confirm: bool = False,
        render: Mapping[str, Any] | None = None,
        host_context: Mapping[str, str] | None = None,
    ) -> bridge_pb2.EditSpec:
        """The EditSpec of one job (see :meth:`submit_edit`); ValueError names an argument that does
        not fit the message. Every rule between the fields is the server's (INVALID_ARGUMENT naming them).

        >>> spec = river.edit_spec("clip.mov", targets=["dog"], op="blur", frames=(0, 240))
        >>> river.submit_batch([spec, river.edit_spec("b.mov", query="remove the sign")])
        """
        # abspath, not resolve(): normalized, but through the same symlinks the host uses.
        path = os.path.abspath(os.fspath(media))  # noqa: PTH100
        if timecode and not is_timecode(timecode):
            raise ValueError(f"timecode {timecode!r} is not a timecode ({TIMECODE_FORM})")
        ref = bridge_pb2.MediaRef(path=path, timecode=timecode, handles=handles, range_text=range_text)
        if frames is not None and range_text:
            raise ValueError("give the range as frames or as range_text, not both")
        if frames is not None:
            start, end = frames
            if start < 0 or end <= start:
                raise ValueError(f"frames {frames!r} must be (start, end) with 0 <= start < end, half-open")
            ref.range.CopyFrom(bridge_pb2.FrameRange(start=start, end=end))
        if rate is not None:
            num, den = rate
            if num <= 0 or den <= 0:
                raise ValueError(f"rate {rate!r} must be (num, den) with both positive, e.g. (30000, 1001)")
            ref.rate.CopyFrom(bridge_pb2.Rate(num=num, den=den))
        if handles < 0:
            raise ValueError(f"handles {handles} must be 0 or more frames")
        spec = bridge_pb2.EditSpec(
            kind=kind_value(kind), media=ref, op=op, prompt=prompt, remove=remove, color=color,
            profile=profile, format=format, name=name, deliver=list(deliver or ()), output=output,
            overwrite=overwrite, confirm=confirm, host_context=dict(host_context or {}),
        )  # fmt: skip
        given = [
            name
            for name, v in (("query", query), ("targets", targets), ("plan_json", plan_json))
            if v is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give at most one of query, targets or plan_json, not {' and '.join(given)}")
        if query is not None:
            spec.query = query
        elif targets is not None:
            if isinstance(targets, str):
                raise ValueError(f"targets must be a list of ids or categories, not the string {targets!r}")
            spec.targets.CopyFrom(bridge_pb2.Targets(items=[t.strip() for t in targets if t.strip()]))
        elif plan_json is not None:
            spec.plan_json = plan_json
        if render is not None:
            unknown = sorted(set(render) - set(_RENDER_FIELDS))
            if unknown:
                raise ValueError(f"render options {unknown} are not among {', '.join(_RENDER_FIELDS)}")
            # Only the values given: unset optional fields keep the profile's defaults (seed 0 is set).
            try:
                options = bridge_pb2.RenderOptions(**{k: v for k, v in render.items() if v is not None})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"render options {dict(render)!r}: {exc}") from None
            spec.render.CopyFrom(options)
        return spec

    def submit_edit(
        self,
        media: str | os.PathLike[str],
        *,
        kind: str = "edit",
        frames: tuple[int, int] | None = None,
        range_text: str = "",
        rate: tuple[int, int] | None = None,
        timecode: str = "",
        handles: int = 0,
        query: str | None = None,
        targets: Sequence[str] | None = None,
        plan_json: str | None = None,
        op: str = "",
        prompt: str = "",
        remove: bool = False,
        color: str = "",
        profile: str = "",
        format: str = "",
        name: str = "",
        deliver: Sequence[str] | None = None,
        output: str = "",
        overwrite: bool = False,
        confirm: bool = False,
        render: Mapping[str, Any] | None = None,
        host_context: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> bridge_pb2.Job:
        """Queue one job and return it at once (QUEUED).

        ``media`` is made absolute here (the server's working directory is not ours); ``frames`` is the
        half-open source range (or ``range_text`` as an editor types it: ``"275:"``,
        ``"01:00:01:00-01:00:02:10"``), ``rate`` the host's (num, den); at most one of ``query``,
        ``targets`` or ``plan_json`` says what to change; ``render`` holds RenderOptions fields (seed,
        steps, …); ``deliver`` picks deliverables (Capabilities.deliverables), ``name`` the media's file
        name; ``output`` is a folder name under the server's output root (or an absolute path in it).

        ``request_id`` makes the call idempotent: the same id returns the same job, so a retry after a
        lost answer never queues twice. It defaults to a fresh one per call.

        >>> job = river.submit_edit("clip.mov", query="make the dog bronze", frames=(30, 111), output="edit1")
        """
        spec = RiverClient.edit_spec(
            media, kind=kind, frames=frames, range_text=range_text, rate=rate, timecode=timecode,
            handles=handles, query=query, targets=targets, plan_json=plan_json, op=op, prompt=prompt,
            remove=remove, color=color, profile=profile, format=format, name=name, deliver=deliver,
            output=output, overwrite=overwrite, confirm=confirm, render=render, host_context=host_context,
        )  # fmt: skip
        return self.submit(spec, request_id=request_id)

    def submit(self, spec: bridge_pb2.EditSpec, *, request_id: str | None = None) -> bridge_pb2.Job:
        """Queue one job from a built :meth:`edit_spec`; retried on UNAVAILABLE with the same request_id."""
        request = bridge_pb2.SubmitEditRequest(request_id=request_id or uuid.uuid4().hex, spec=spec)
        return self._call(self._stub.SubmitEdit, request, retry=True)

    def submit_batch(
        self,
        specs: Sequence[bridge_pb2.EditSpec],
        *,
        batch_id: str = "",
        request_ids: Sequence[str] | None = None,
    ) -> bridge_pb2.SubmitBatchResponse:
        """Queue several jobs as one batch, all or none (build the specs with :meth:`edit_spec`)."""
        ids = list(request_ids) if request_ids is not None else [uuid.uuid4().hex for _ in specs]
        if len(ids) != len(specs):
            raise ValueError(f"{len(ids)} request_ids for {len(specs)} specs; give one per spec")
        edits = [
            bridge_pb2.SubmitEditRequest(request_id=rid, spec=spec)
            for rid, spec in zip(ids, specs, strict=True)
        ]
        request = bridge_pb2.SubmitBatchRequest(batch_id=batch_id, edits=edits)
        return self._call(self._stub.SubmitBatch, request, retry=True)

    def get_job(self, job_id: str) -> bridge_pb2.Job:
        """The job as it stands."""
        return self._call(self._stub.GetJob, bridge_pb2.GetJobRequest(job_id=job_id), retry=True)

    def list_jobs(
        self,
        *,
        states: Sequence[int] = (),
        kind: str | None = None,
        batch_id: str = "",
        page_size: int = 50,
        page_token: str = "",
    ) -> bridge_pb2.ListJobsResponse:
        """One page of jobs, newest first; pass ``next_page_token`` back for the next, or use iter_jobs."""
        request = bridge_pb2.ListJobsRequest(
            states=cast("list[bridge_pb2.JobState]", list(states)),
            kind=kind_value(kind) if kind else bridge_pb2.JOB_KIND_UNSPECIFIED,
            batch_id=batch_id, page_size=page_size, page_token=page_token,
        )  # fmt: skip
        return self._call(self._stub.ListJobs, request, retry=True)

    def iter_jobs(
        self, *, states: Sequence[int] = (), kind: str | None = None, batch_id: str = "", page_size: int = 50
    ) -> Iterator[bridge_pb2.Job]:
        """Every matching job, newest first, fetching pages as needed."""
        token = ""
        seen: set[str] = set()
        while True:
            page = self.list_jobs(
                states=states, kind=kind, batch_id=batch_id, page_size=page_size, page_token=token
            )
            yield from page.jobs
            token = page.next_page_token
            if not token or token in seen:  # a server repeating a token would loop forever
                return
            seen.add(token)

    def watch(
        self, job_id: str, after_seq: int = 0, *, reconnect: bool = True, until_awaiting: bool = True
    ) -> Iterator[bridge_pb2.JobEvent]:
        """The job's events with ``seq > after_seq``, in order, as they happen.

        Ends after a terminal state event (and, with ``until_awaiting``, after AWAITING_CONFIRMATION).
        A broken stream is re-opened from the last seq seen, so the caller sees no gap and no repeat.

        >>> for event in river.watch(job.id):
        ...     if event.HasField("progress"):
        ...         print(event.progress.stage, event.progress.done, event.progress.total)
        """
        last = after_seq
        failures = 0
        while True:
            stream = self._stub.WatchJob(bridge_pb2.WatchJobRequest(job_id=job_id, after_seq=last))
            try:
                for event in stream:
                    if event.seq <= last:
                        continue  # already delivered before a reconnect
                    last = event.seq
                    failures = 0
                    yield event
                    if _stops(event, until_awaiting):
                        return
                lost = "the stream ended early"
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or not reconnect:
                    raise bridge_error(exc, self.address) from exc
                lost = f"{exc.code().name}: {exc.details()}"
            finally:
                stream.cancel()  # also when the caller stops iterating: free the server's stream
            if not reconnect:
                return
            # A clean end without a terminal event: the job may have ended before after_seq.
            if lost == "the stream ended early":
                job = self.get_job(job_id)
                awaiting = job.state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION
                ended = job.state in TERMINAL_STATES or (until_awaiting and awaiting)
                if ended and job.last_seq <= last:
                    return
            if failures == len(WATCH_BACKOFF_S):
                raise BridgeError(
                    "UNAVAILABLE",
                    f"lost the events of job {job_id} after seq {last} ({lost}) and could not reconnect; "
                    f"check the server, then: river jobs watch {job_id} --after-seq {last}",
                )
            time.sleep(WATCH_BACKOFF_S[failures])
            failures += 1

    def cancel(self, job_id: str, reason: str = "") -> bridge_pb2.Job:
        """Ask the job to stop; it ends CANCELLED and leaves no output."""
        return self._call(
            self._stub.CancelJob, bridge_pb2.CancelJobRequest(job_id=job_id, reason=reason), retry=True
        )

    def wait(self, job_id: str, timeout: float = 3600.0) -> bridge_pb2.Job:
        """Block until the job is terminal or awaits confirmation, or ``timeout`` s pass; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            step = min(WAIT_SLICE_S, remaining)
            request = bridge_pb2.WaitJobRequest(job_id=job_id, timeout_ms=int(step * 1000))
            job = self._call(self._stub.WaitJob, request, retry=True, timeout=step + self.timeout)
            if job.state in TERMINAL_STATES or job.state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION:
                return job
            if time.monotonic() >= deadline:
                return job

    def delete(self, job_id: str, *, delete_outputs: bool = False) -> bridge_pb2.DeleteJobResponse:
        """Forget a finished job; ``delete_outputs`` also removes its output folder."""
        request = bridge_pb2.DeleteJobRequest(job_id=job_id, delete_outputs=delete_outputs)
        return self._call(self._stub.DeleteJob, request)

    def confirm(self, job_id: str, plan_json: str | None = None) -> bridge_pb2.Job:
        """Render a job awaiting confirmation: with its plan as proposed, or with ``plan_json`` instead."""
        request = bridge_pb2.ConfirmPlanRequest(job_id=job_id, plan_json=plan_json or "")
        return self._call(self._stub.ConfirmPlan, request)

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the channel (a server started by :meth:`connect` keeps running)."""
        self._channel.close()

    def __enter__(self) -> RiverClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_SPAWNED: list[subprocess.Popen[bytes]] = []


def _stops(event: bridge_pb2.JobEvent, until_awaiting: bool) -> bool:
    if event.WhichOneof("event") != "state":
        return False
    state = event.state.state
    return state in TERMINAL_STATES or (
        until_awaiting and state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION
    )


def _default_server_command() -> list[str]:
    if command := os.environ.get("RIVER_SERVER_COMMAND"):
        return shlex.split(command, posix=os.name != "nt")
    beside = Path(sys.executable).parent / ("river.exe" if sys.platform == "win32" else "river")
    if beside.is_file():
        return [str(beside), "serve"]
    if found := shutil.which("river"):
        return [found, "serve"]
    raise BridgeError(
        "NO_SERVER",
        "no RIVER NLE server is running and the `river` command is not installed here; install the "
        "engine (scripts/setup.sh) or set RIVER_SERVER_COMMAND",
    )


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return "(no log)"
    last = next((line for line in reversed(lines) if line), "(empty log)")
    return last if len(last) <= 300 else last[:297] + "..."
