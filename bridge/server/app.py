"""The server process: a gRPC server on a private socket with a bearer token, health, reflection,
the job store, the runner and the discovery file clients find it by.

The socket lives in a 0700 runtime directory and the token in a 0600 discovery file, so only this
user can reach the engine; every call but health carries ``authorization: Bearer <token>``, checked
by an interceptor. Loopback TCP replaces the socket on Windows (the Python client has no Unix
sockets there) or on request (``--port``).
"""

from __future__ import annotations

import errno
import hmac
import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bridge import discovery
from bridge.server.config import ServerConfig
from bridge.server.runner import LocalRunner, Runner, remove_staging
from bridge.server.service import SERVICE_NAME, BridgeService, Readiness
from bridge.server.store import JobStore
from bridge.v1 import bridge_pb2, bridge_pb2_grpc
from river_core import __version__
from river_core.pipeline import RiverPipeline

log = logging.getLogger("river.bridge")

MAX_MESSAGE = 4 * 1024 * 1024  # requests carry paths and plans, never media
MAX_SEND = 16 * 1024 * 1024
OPEN_METHODS = ("/grpc.health.v1.Health/",)  # answered without a token: clients probe before they auth
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_SEND),
    ("grpc.keepalive_time_ms", 30_000),  # ping idle watch streams so dead clients are noticed
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.so_reuseport", 0),
]


class TokenInterceptor(grpc.ServerInterceptor):
    """``UNAUTHENTICATED`` unless the call carries the server's bearer token (health is open)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        if details.method.startswith(OPEN_METHODS):
            return continuation(details)
        given = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(given.encode(), self._expected):
            return continuation(details)
        handler = continuation(details)
        message = (
            "missing bearer token: send `authorization: Bearer <token>` from the discovery file"
            if not given
            else "wrong bearer token: read the current one from the discovery file (the server restarted?)"
        )
        return _refusal(handler, message)


def _refusal(handler: Any, message: str) -> Any:
    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler is None:
        return None
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)


class BridgeServer:
    """``start()`` → serving (models may still load), ``stop()`` → gone, discovery file removed."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        llm: str | None = None,
        say: Callable[[str], None] | None = None,
        pipeline: RiverPipeline | None = None,
    ) -> None:
        self.config = config
        self.say = say or (lambda line: log.info("%s", line))
        self.readiness = Readiness()
        self.llm = llm
        if config.runner == "ray" and pipeline is not None:
            raise ValueError("a pipeline built in this process cannot go to Ray actors: each builds its own")
        # One pipeline for every job: each model is loaded once (at start, or when a job first needs it).
        # With Ray each actor holds its own, so the server process loads none.
        self.pipeline = (
            None
            if config.runner == "ray"
            else pipeline
            or RiverPipeline.from_pretrained(
                config.profile, device=config.device, dtype=config.dtype, llm=llm, say=self.say
            )
        )
        self.discovery_file = config.discovery or discovery.discovery_path()
        self.address = ""
        self.token = discovery.new_token()
        self._lock_fds: list[int] = []
        self._socket: Path | None = None
        self._server: grpc.Server | None = None
        self._executor: futures.ThreadPoolExecutor | None = None
        self._health = health.HealthServicer(experimental_non_blocking=True)
        self.store: JobStore | None = None
        self.runner: Runner | None = None
        self._stopped = threading.Event()

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> discovery.Discovery:
        """Serve; a start that fails (a port in use, an unusable job store …) leaves nothing held."""
        self._take_lock()
        try:
            return self._start()
        except BaseException:
            self.stop(grace=0)
            raise

    def _start(self) -> discovery.Discovery:
        config = self.config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        config.outputs.mkdir(parents=True, exist_ok=True)
        store = self.store = JobStore(config.db_path)
        failed, queued = store.recover(
            "interrupted: the server stopped while the job was running (crash or kill); nothing was "
            "written to its output; submit it again"
        )
        for record in failed:
            output = _spec_output(record.spec)
            removed = remove_staging(output) if output else []
            self.say(
                f"job {record.id} was running when the server stopped: FAILED"
                + (f" (removed {len(removed)} temporaries)" if removed else "")
            )
        runner = self.runner = self._runner(store)
        runner.start()  # Ray: actors up and storage checked before anything is served
        service = BridgeService(store, runner, config, self.readiness, __version__, os.getpid())
        self._executor = futures.ThreadPoolExecutor(
            max_workers=config.workers, thread_name_prefix="river-rpc"
        )
        server = self._server = grpc.server(
            self._executor,
            interceptors=[TokenInterceptor(self.token)],
            options=SERVER_OPTIONS,
            maximum_concurrent_rpcs=config.workers * 4,
        )
        bridge_pb2_grpc.add_RiverBridgeServicer_to_server(service, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        from grpc_reflection.v1alpha import reflection

        names = (
            bridge_pb2.DESCRIPTOR.services_by_name["RiverBridge"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, server)
        self.address = self._bind(server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        server.start()
        for record in queued:
            runner.submit(record.id)
        if queued:
            self.say(f"re-queued {len(queued)} job(s) that were waiting when the server stopped")
        info = discovery.Discovery(
            address=self.address,
            token=self.token,
            pid=os.getpid(),
            version=__version__,
            started=_now_iso(),
            state_dir=str(config.state_dir),
        )
        discovery.write_discovery(info, self.discovery_file)
        self.say(f"river serve {info.version}: {info.address} (pid {info.pid})")
        self.say(f"  discovery: {self.discovery_file}   state: {config.state_dir}")
        roots = ", ".join(str(r) for r in config.media_roots)
        self.say(f"  media roots: {roots}   outputs: {config.outputs}")
        if config.preload and self.pipeline is not None:  # Ray actors preloaded as they started
            threading.Thread(target=self._preload, name="river-preload", daemon=True).start()
        else:
            self._set_health(health_pb2.HealthCheckResponse.SERVING)
        return info

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` (True) or the timeout (False)."""
        return self._stopped.wait(timeout)

    def stop(self, grace: float = 5.0) -> None:
        """Stop serving: refuse new work, end streams, re-queue a running job, remove the discovery
        file and the socket. Idempotent."""
        if self._stopped.is_set():
            return
        self.readiness.stopping = True
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.runner is not None:
            self.runner.stop(timeout=60.0)
        if self._server is not None:
            self._server.stop(grace).wait()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)  # its threads end with their calls
        if self.store is not None:
            self.store.close()
        discovery.remove_discovery(os.getpid(), self.discovery_file)
        if self._socket is not None:
            self._socket.unlink(missing_ok=True)
        self._release_lock()
        self._stopped.set()

    # -- internals -------------------------------------------------------------------------------

    def _runner(self, store: JobStore) -> Runner:
        if self.pipeline is not None:
            return LocalRunner(store, self.config, self.pipeline)
        try:
            from bridge.server.ray_runner import RayRunner, pipeline_factory
        except ImportError:
            raise OSError("install the ray extra: pip install 'river-nle[ray]'") from None
        config = self.config
        factory = pipeline_factory(config, self.llm)
        return RayRunner(
            store, config, factory, address=config.ray_address, cpus=config.ray_cpus, say=self.say
        )

    def _preload(self) -> None:
        assert self.pipeline is not None, "only the local runner preloads in the server process"
        self.readiness.loading = "editor and reasoner"
        try:
            self.pipeline.preload()
        except Exception as exc:  # the server still serves; the jobs that need the model fail with this
            log.warning("preloading the %s models failed", self.config.profile, exc_info=True)
            self.say(f"warning: could not preload the {self.config.profile} models: {exc}")
        self.readiness.loading = None
        if not self.readiness.stopping:
            self._set_health(health_pb2.HealthCheckResponse.SERVING)
            self.say("ready")

    def _set_health(self, status: Any) -> None:
        for name in ("", SERVICE_NAME):
            self._health.set(name, status)

    def _bind(self, server: grpc.Server) -> str:
        config = self.config
        if config.port is not None or not discovery.uds_supported():
            wanted = config.port or 0
            # Asked first, in Python: a port grpc cannot bind costs a C-core log line on stderr and a
            # RuntimeError that does not say why (GRPC_VERBOSITY is read only when grpc is imported).
            if wanted and (problem := _tcp_port_problem(wanted)):
                raise OSError(problem)
            port = _add_port(server, f"127.0.0.1:{wanted}", grpc.LocalConnectionType.LOCAL_TCP)
            if port == 0:  # taken between the check and the bind
                raise OSError(_tcp_port_problem(wanted) or f"could not listen on 127.0.0.1:{wanted}")
            return f"127.0.0.1:{port}"
        sock = Path(config.socket or discovery.default_socket_path()).absolute()
        if len(str(sock)) > 100:
            raise OSError(f"socket path {sock} is too long for a Unix socket (≤ 100 bytes); pass --socket")
        sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)  # a stale socket of a dead server (we hold the lock)
        address = discovery.unix_address(sock)
        if _add_port(server, address, grpc.LocalConnectionType.UDS) == 0:
            raise OSError(f"could not listen on {address}")
        sock.chmod(0o600)
        self._socket = sock
        return address

    def _take_lock(self) -> None:
        """One server per runtime directory (one discovery file) and per state directory (one job
        store: a second server would fail the first one's running jobs as interrupted)."""
        if os.name == "nt":
            return  # no flock: Windows relies on the discovery file's pid check
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.discovery_file.with_suffix(".lock"), self.config.state_dir / "server.lock"):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = _flock(path)
            if fd is None:
                self._release_lock()
                running = discovery.read_discovery(self.discovery_file)
                where = f" (pid {running.pid}, {running.address})" if running else ""
                raise ServerRunning(
                    f"another RIVER NLE server is running{where} and holds {path}; use it, or stop it first"
                )
            self._lock_fds.append(fd)

    def _release_lock(self) -> None:
        while self._lock_fds:
            os.close(self._lock_fds.pop())


def _add_port(server: grpc.Server, address: str, kind: grpc.LocalConnectionType) -> int:
    """The port bound, 0 when it could not be (grpcio raises RuntimeError for that; older ones return 0)."""
    try:
        return int(server.add_secure_port(address, grpc.local_server_credentials(kind)))
    except RuntimeError:
        return 0


def _tcp_port_problem(port: int) -> str | None:
    """Why ``port`` on 127.0.0.1 cannot be listened on (a one-line message naming the fix), or None.

    The probe binds as grpc does (SO_REUSEADDR on POSIX, so a port in TIME_WAIT counts as free)."""
    fix = "pick another --port, or --port 0 for a free one"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if os.name == "posix":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on 127.0.0.1 is in use (another server?); {fix}"
            if exc.errno == errno.EACCES:
                return f"port {port} on 127.0.0.1 needs privileges (ports below 1024 do); {fix}"
            return f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); {fix}"
    return None


def _flock(path: Path) -> int | None:
    """An exclusive, non-blocking lock on ``path`` (None if another process holds it); the kernel
    drops it when the process dies, kill -9 included."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class ServerRunning(RuntimeError):
    """Another server holds this runtime directory."""


def _spec_output(blob: bytes) -> str:
    spec = bridge_pb2.EditSpec()
    spec.ParseFromString(blob)
    return spec.output


def _now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
