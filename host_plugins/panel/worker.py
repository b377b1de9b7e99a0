"""Bridge calls off the UI thread: the panel never blocks on the server.

:class:`Connection` knows how to reach the server (its discovery file; starting ``river serve`` on
demand). :class:`Bridge` runs every call on a thread pool and hands the result back to the UI thread
as a Qt signal; :class:`JobWatch` follows one job's events on a thread of its own and survives a
server restart: it reconnects (re-reading the discovery file, whose address and token change) and
resumes with ``after_seq``, so the panel sees every event once.

    >>> bridge = Bridge(Connection())
    >>> bridge.status.connect(banner.show_status)
    >>> bridge.start()                                   # connect (or start the server), wait for models
    >>> bridge.call(lambda c: c.list_jobs(), done=queue.update, failed=banner.show_error)
    >>> watch = bridge.watch(job.id)
    >>> watch.event.connect(view.on_event)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from bridge.client import TERMINAL_STATES, BridgeError, RiverClient
from bridge.v1 import bridge_pb2

__all__ = ["Bridge", "Connection", "JobWatch", "error_text"]

# A lost server is looked for again after these pauses (then every 5 s, until the watch is stopped).
RECONNECT_S: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0)
# The codes after which a fresh connection (a new discovery file) may help.
LOST_CODES = frozenset({"UNAVAILABLE", "NO_SERVER", "BAD_DISCOVERY", "UNAUTHENTICATED", "CANCELLED"})


def error_text(exc: BaseException) -> str:
    """One line for the banner: a bridge error's details (they carry the fix), anything else named."""
    if isinstance(exc, BridgeError):
        return exc.details if exc.code not in ("INTERNAL", "UNKNOWN") else str(exc)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, (OSError, ValueError)) else text


class Connection:
    """How the panel reaches the server: ``discovery`` (default: the user's), ``start`` a server on
    demand with ``server_command`` (default ``$RIVER_SERVER_COMMAND``, else ``river serve``), running
    ``profile`` (the one the panel's jobs ask for; empty: the server's default). A server already
    running is used whatever its profile."""

    def __init__(
        self,
        discovery: Path | None = None,
        *,
        start: bool = True,
        server_command: Sequence[str] | None = None,
        profile: str = "",
        wait: float = 600.0,
        timeout: float = 30.0,
    ) -> None:
        self.discovery = discovery
        self.start = start
        self.server_command = list(server_command) if server_command else None
        self.profile = profile
        self.wait = wait
        self.timeout = timeout
        self._lock = threading.Lock()
        self._client: RiverClient | None = None
        self.started_server = False  # this panel started the server it talks to

    def client(self, *, start: bool | None = None) -> RiverClient:
        """The shared client (thread-safe), connecting — and starting a server when allowed — first."""
        with self._lock:
            if self._client is None:
                allowed = self.start if start is None else start and self.start
                self._client = RiverClient.connect(
                    self.discovery,
                    start=allowed,
                    server_command=self.server_command,
                    profile=self.profile,
                    wait=self.wait,
                    timeout=self.timeout,
                )
                self.started_server = self.started_server or self._client.server_process is not None
            return self._client

    def new_client(self) -> RiverClient:
        """A client of its own (its own channel) for a long stream; never starts a server."""
        return RiverClient.connect(self.discovery, start=False, timeout=self.timeout)

    def drop(self, client: RiverClient | None = None) -> None:
        """Forget the shared client (after the server went away) so the next call connects afresh."""
        with self._lock:
            if self._client is not None and (client is None or client is self._client):
                self._client.close()
                self._client = None

    def close(self) -> None:
        self.drop()


class _Relay(QObject):
    """Carries one call's outcome back to the thread this object lives in (the UI thread)."""

    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, work: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.work, self.relay = work, relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.work()
        except BaseException as exc:  # noqa: BLE001 — every failure goes to the UI as a banner
            self.relay.failed.emit(exc)
        else:
            self.relay.done.emit(result)


class Bridge(QObject):
    """All bridge calls of the panel, on a thread pool; results and errors come back as signals.

    ``status`` says where the connection stands: ``("connecting" | "starting" | "loading" | "ready" |
    "offline", message)``; ``capabilities`` carries the server's ``Capabilities`` once it is ready.
    """

    status = Signal(str, str)
    capabilities = Signal(object)

    def __init__(self, connection: Connection, parent: QObject | None = None, *, threads: int = 4) -> None:
        super().__init__(parent)
        self.connection = connection
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._relays: set[_Relay] = set()
        self._watches: set[JobWatch] = set()
        self.state = "offline"
        self._dropped = False  # a ready server stopped answering calls: the next answer means it is back
        self.caps: bridge_pb2.Capabilities | None = None

    # -- calls ---------------------------------------------------------------------------------

    def run(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """``work()`` on the pool; ``done(result)`` or ``failed(exc)`` on the UI thread."""
        relay = _Relay()  # created here: it lives in the caller's (UI) thread
        self._relays.add(relay)

        def finish() -> None:
            self._relays.discard(relay)
            relay.deleteLater()

        def on_done(result: object) -> None:
            finish()
            if done is not None:
                done(result)

        def on_failed(exc: object) -> None:
            finish()
            if failed is not None:
                failed(exc if isinstance(exc, BaseException) else RuntimeError(str(exc)))

        relay.done.connect(on_done)
        relay.failed.connect(on_failed)
        self.pool.start(_Task(work, relay))

    def call(
        self,
        fn: Callable[[RiverClient], Any],
        done: Callable[[Any], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
        *,
        start: bool = False,
    ) -> None:
        """``fn(client)`` off the UI thread. A lost server is looked up again once (it may have been
        restarted with a new address); ``start`` lets this call start one."""

        def work() -> Any:
            client = self.connection.client(start=start)
            try:
                return fn(client)
            except BridgeError as exc:
                if exc.code not in LOST_CODES:
                    raise
                self.connection.drop(client)
                return fn(self.connection.client(start=start))

        def answered(result: Any) -> None:
            if self.state == "offline" and self._dropped:  # the server is back (maybe a new one)
                self._dropped = False
                self._set_status("ready", "the RIVER NLE server answers again")
            if done is not None:
                done(result)

        def lost(exc: BaseException) -> None:
            if isinstance(exc, BridgeError) and exc.code in LOST_CODES:
                self._dropped = self._dropped or self.state == "ready"
                self._set_status("offline", error_text(exc))
            if failed is not None:
                failed(exc)

        self.run(work, answered, lost)

    # -- connecting ----------------------------------------------------------------------------

    def start(self, *, start_server: bool = True) -> None:
        """Connect (starting the server when allowed), wait until its models are loaded, then emit
        ``capabilities``. ``status`` tells the panel what it is waiting for."""
        self._set_status("connecting", "looking for the RIVER NLE server")
        relay_status = _StatusRelay()
        relay_status.status.connect(self._set_status)
        self._relays.add(relay_status)  # type: ignore[arg-type]

        def work() -> bridge_pb2.Capabilities:
            try:
                client = self.connection.client(start=False)
            except BridgeError as exc:
                if not (start_server and self.connection.start) or exc.code != "NO_SERVER":
                    raise
                relay_status.status.emit("starting", "starting the RIVER NLE server (`river serve`)")
                client = self.connection.client(start=True)
            deadline = time.monotonic() + self.connection.wait
            while True:  # a server busy loading its engine may answer late: that is loading, not offline
                try:
                    caps = client.capabilities()
                    break
                except BridgeError as exc:
                    if exc.code != "DEADLINE_EXCEEDED" or time.monotonic() > deadline:
                        raise
                    relay_status.status.emit("loading", "the server is loading its models")
            if not caps.ready:
                relay_status.status.emit("loading", "the server is loading its models")
                client.wait_ready(max(1.0, deadline - time.monotonic()))
                caps = client.capabilities()
            return caps

        def ready(caps: bridge_pb2.Capabilities) -> None:
            self._relays.discard(relay_status)  # type: ignore[arg-type]
            self.caps = caps
            profile = caps.default_profile or "?"
            self._set_status("ready", f"server {caps.server_version} ready (profile {profile})")
            self.capabilities.emit(caps)

        def offline(exc: BaseException) -> None:
            self._relays.discard(relay_status)  # type: ignore[arg-type]
            self._set_status("offline", error_text(exc))

        self.run(work, ready, offline)

    def _set_status(self, state: str, message: str) -> None:
        self.state = state
        self.status.emit(state, message)

    # -- watching ------------------------------------------------------------------------------

    def watch(self, job_id: str, after_seq: int = 0, *, until_awaiting: bool = False) -> JobWatch:
        """Follow ``job_id``'s events from ``after_seq`` on; connect to its signals, then ``start()``."""
        watch = JobWatch(self.connection, job_id, after_seq, until_awaiting=until_awaiting, parent=self)
        self._watches.add(watch)
        watch.finished.connect(lambda: self._watches.discard(watch))
        return watch

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Stop every watch and wait for the calls in flight (jobs on the server go on)."""
        for watch in list(self._watches):
            watch.stop()
        self.pool.waitForDone(wait_ms)
        for watch in list(self._watches):
            watch.join(wait_ms / 1000)


class _StatusRelay(QObject):
    status = Signal(str, str)


class JobWatch(QObject):
    """One job's events, streamed on a thread of its own, across server restarts.

    Signals: ``event(JobEvent)`` for each event once and in order; ``link(str)`` — ``"lost: why"``
    when the server went away, ``"resumed"`` when the stream is back; ``finished()`` when the job
    reached a terminal state (or awaits confirmation, with ``until_awaiting``) or the watch was stopped.
    """

    event = Signal(object)
    link = Signal(str)
    finished = Signal()

    def __init__(
        self,
        connection: Connection,
        job_id: str,
        after_seq: int = 0,
        *,
        until_awaiting: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.connection, self.job_id = connection, job_id
        self.last_seq = after_seq
        self.until_awaiting = until_awaiting
        self._stop = threading.Event()
        self._client: RiverClient | None = None
        self._client_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"watch-{job_id}", daemon=True)

    def start(self) -> JobWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the job itself goes on); closing the channel ends a blocked stream."""
        self._stop.set()
        with self._client_lock:
            if self._client is not None:
                self._client.close()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        failures = 0
        lost = False
        try:
            while not self._stop.is_set():
                try:
                    with self._client_lock:
                        if self._stop.is_set():
                            return
                        self._client = self.connection.new_client()
                    if lost:
                        self.link.emit("resumed")
                        lost = False
                    failures = 0
                    if self._follow(self._client):
                        return
                except BridgeError as exc:
                    if self._stop.is_set():
                        return
                    if exc.code not in LOST_CODES:
                        self.link.emit(f"failed: {error_text(exc)}")
                        return
                    if not lost:
                        self.link.emit(f"lost: {error_text(exc)}")
                        lost = True
                finally:
                    with self._client_lock:
                        if self._client is not None:
                            self._client.close()
                            self._client = None
                self._stop.wait(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])
                failures += 1
        finally:
            self.finished.emit()

    def _follow(self, client: RiverClient) -> bool:
        """Stream until the job ends (True) or the stream ends early (False: reconnect)."""
        for event in client.watch(
            self.job_id, self.last_seq, reconnect=False, until_awaiting=self.until_awaiting
        ):
            if self._stop.is_set():
                return True
            self.last_seq = event.seq
            self.event.emit(event)
            if event.HasField("state") and _ends(event.state.state, self.until_awaiting):
                return True
        if self._stop.is_set():
            return True
        job = client.get_job(self.job_id)  # a clean end without a terminal event: is it over?
        return _ends(job.state, self.until_awaiting) and job.last_seq <= self.last_seq


def _ends(state: int, until_awaiting: bool) -> bool:
    awaiting = state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION
    return state in TERMINAL_STATES or (until_awaiting and awaiting)
