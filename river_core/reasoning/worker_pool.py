"""Sandbox worker processes: start one, trade one request for one result, keep a few started ahead.

A worker (``_worker.py``) gets its setup on stdin when it starts, loads everything, locks itself down
and writes ``R``; it then waits, blocked in read(), for its one request. So a worker can be started long
before the code it will run exists: :class:`WorkerPool` keeps a few started, and each run takes one,
sends its request with :func:`exchange`, and the worker exits. No worker runs two requests: nothing a
program changes can reach the next one.

    >>> pool = WorkerPool(functools.partial(start_worker, argv, setup), size=1)  # doctest: +SKIP
    >>> worker = pool.take() or start_worker(argv, setup)                       # doctest: +SKIP
    >>> exchange(worker, request, limits).stdout                                 # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import selectors
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from river_core.reasoning.limits import SandboxLimits

Worker = subprocess.Popen[bytes]

_STDERR_CAP: Final = 64 * 1024
_EXIT_SECONDS: Final = 5.0  # after its result, a worker only exits: it has that long
_READY_SECONDS: Final = 60.0  # how long a pre-started worker may take to lock down (a loaded machine)


_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


class WorkerStartError(OSError):
    """The worker process could not be started at all (no interpreter, no bubblewrap binary)."""


@dataclass(frozen=True)
class Completed:
    """What came back from one worker: ``taken`` once it read the request (before that, a death is not
    the program's doing); ``stdout`` is the JSON result, without the protocol bytes."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    stopped: Literal["timeout", "output"] | None
    taken: bool


def start_worker(argv: list[str], setup: bytes) -> Worker:
    """Start a worker in its own session and hand it its setup (one line); it then waits for a request."""
    if os.name != "posix":
        raise WorkerStartError("the sandbox needs a POSIX system (Linux, or macOS with limits only)")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
            env={},  # nothing from our environment (tokens, paths) reaches the worker
            start_new_session=True,  # its own process group: one killpg ends it and anything it started
            close_fds=True,
        )
    except OSError as error:
        raise WorkerStartError(f"cannot start the sandbox worker ({argv[0]}): {error}") from error
    assert proc.stdin is not None
    try:
        proc.stdin.write(setup)  # ~40 KB: fits the pipe, or waits for the worker's first read
        proc.stdin.flush()
    except BrokenPipeError:
        pass  # it died at once: exchange() reports why, from its stderr
    return proc


def exchange(
    worker: Worker, request: bytes, limits: SandboxLimits, reap: Callable[[Worker], None] | None = None
) -> Completed:
    """Send ``request``, collect capped output and enforce the wall clock (from now).

    The worker is reaped here; or, when ``reap`` is given and the result came back whole, handed to
    ``reap`` while it exits: the end of a process (and of bubblewrap's namespaces) takes milliseconds
    the caller need not wait for. The result's ``returncode`` is then None.
    """
    assert worker.stdin is not None and worker.stdout is not None and worker.stderr is not None
    stdout_fd = worker.stdout.fileno()
    stdout_cap = 6 * limits.max_output_bytes + 64 * 1024  # JSON escapes up to 6 bytes per byte printed
    deadline = time.monotonic() + limits.wall_seconds
    out: dict[int, bytearray] = {stdout_fd: bytearray(), worker.stderr.fileno(): bytearray()}
    caps = {stdout_fd: stdout_cap, worker.stderr.fileno(): _STDERR_CAP}
    stopped: Literal["timeout", "output"] | None = None
    reported = False
    pending = memoryview(request)
    with selectors.DefaultSelector() as selector:
        os.set_blocking(worker.stdin.fileno(), False)
        selector.register(worker.stdin, selectors.EVENT_WRITE)
        selector.register(worker.stdout, selectors.EVENT_READ)
        selector.register(worker.stderr, selectors.EVENT_READ)
        while selector.get_map() and stopped is None and not reported:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = "timeout"
                break
            for key, _ in selector.select(remaining):
                fd = key.fd
                if key.fileobj is worker.stdin:
                    try:
                        pending = pending[os.write(fd, pending[: 1 << 16]) :]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(worker.stdin)
                        worker.stdin.close()
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                out[fd] += chunk
                if len(out[fd]) > caps[fd]:
                    stopped = "output"
                    break
                # The result is one line, and nothing else the worker writes there ends one.
                if fd == stdout_fd and reap is not None and chunk.endswith(b"\n"):
                    reported = True
                    break
    if stopped is None and not reported:
        try:
            worker.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stopped = "timeout"
    if stopped is not None:
        kill(worker)
    stdout, stderr = bytes(out[stdout_fd]), bytes(out[worker.stderr.fileno()])
    if reported and reap is not None:
        reap(worker)
    else:
        close_pipes(worker)
    stdout = stdout.removeprefix(b"R")  # a pool has read it already; a worker started now has not
    taken = stdout.startswith(b"A")
    return Completed(worker.returncode, stdout.removeprefix(b"A"), stderr, stopped, taken)


def kill(worker: Worker) -> None:
    """End the worker's whole group (the worker, or bubblewrap, whose sandbox dies with it) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def close_pipes(worker: Worker) -> None:
    for stream in (worker.stdin, worker.stdout, worker.stderr):
        if stream is not None:
            stream.close()


class WorkerPool:
    """Keeps ``size`` workers started, locked down and waiting; :meth:`take` hands each out once.

    Safe to call from several threads. One background thread starts the workers, one at a time, from
    the first :meth:`take` or :meth:`fill` on, and lives as long as the pool: bubblewrap and the worker
    die with the *thread* that started them (PR_SET_PDEATHSIG), so a worker is never started from a
    caller's thread that may end before the worker is used. A worker that died while it waited is
    dropped, never handed out. A worker that fails to get ready pauses the pool until the next
    :meth:`take`, so a broken machine costs one failed start per run, not a busy loop. Another thread
    reaps the workers handed back by :meth:`reap`. :meth:`close` ends every worker and both threads.
    """

    def __init__(self, start: Callable[[], Worker], size: int) -> None:
        if size < 1:
            raise ValueError(f"a WorkerPool needs size >= 1, got {size}")
        self.size = size
        self._start = start
        self._idle: list[Worker] = []
        self._starting: Worker | None = None
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._paused = False
        self._closed = False
        self._exiting: queue.SimpleQueue[Worker | None] = queue.SimpleQueue()
        self._reaper: threading.Thread | None = None
        _POOLS.add(self)

    def take(self) -> Worker | None:
        """A started worker waiting for its request, or None when none is (the caller starts its own)."""
        with self._changed:
            if self._closed:
                return None
            self._start_filling()
            worker = None
            while self._idle and worker is None:
                candidate = self._idle.pop(0)
                if candidate.poll() is None:
                    worker = candidate
                else:  # died while it waited (killed, out of memory): drop it
                    close_pipes(candidate)
            self._changed.notify_all()
            return worker

    def reap(self, worker: Worker) -> None:
        """Let a worker that has reported end in the background; :meth:`close` waits for it."""
        with self._changed:
            if not self._closed:
                if self._reaper is None:
                    self._reaper = threading.Thread(target=self._reap, name="sandbox-reaper", daemon=True)
                    self._reaper.start()
                self._exiting.put(worker)
                return
        _reap(worker)

    def fill(self, timeout: float) -> bool:
        """Start filling now and wait until ``size`` workers are ready; False if one failed to start or
        that took longer than ``timeout`` seconds."""
        with self._changed:
            if self._closed:
                return False
            self._start_filling()
            self._changed.wait_for(lambda: self._full() or self._paused or self._closed, timeout)
            return self._full() and not self._closed

    def _full(self) -> bool:
        return len(self._idle) >= self.size

    def pids(self) -> list[int]:
        """The process ids of the workers started and not yet handed out."""
        with self._changed:
            return [w.pid for w in self._idle] + ([self._starting.pid] if self._starting else [])

    def close(self) -> None:
        """End every waiting worker and the starting thread; later :meth:`take` calls return None."""
        with self._changed:
            self._closed = True
            workers, self._idle = self._idle, []
            if self._starting is not None:  # its readiness wait then sees end of file
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._starting.pid, signal.SIGKILL)
            self._changed.notify_all()
            threads = [t for t in (self._thread, self._reaper) if t is not None]
        self._exiting.put(None)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()
        for worker in workers:
            kill(worker)
            close_pipes(worker)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reap(self) -> None:
        while (worker := self._exiting.get()) is not None:
            _reap(worker)

    def _start_filling(self) -> None:  # with the lock held
        if self._thread is None or not self._thread.is_alive():  # not started, or died of a bug
            self._thread = threading.Thread(target=self._fill, name="sandbox-worker-pool", daemon=True)
            self._thread.start()
        self._paused = False
        self._changed.notify_all()

    def _fill(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._closed or (len(self._idle) < self.size and not self._paused)
                )
                if self._closed:
                    return
            try:
                worker = self._start()
            except OSError:
                with self._changed:
                    self._paused = True
                    self._changed.notify_all()
                continue
            with self._changed:
                self._starting = worker
                closed = self._closed
            ready = not closed and _wait_ready(worker)
            with self._changed:
                self._starting = None
                if ready and not self._closed:
                    self._idle.append(worker)
                    self._changed.notify_all()
                    continue
                self._paused = True
                self._changed.notify_all()
            kill(worker)
            close_pipes(worker)


def _reap(worker: Worker) -> None:
    """Wait for a worker that has reported to end; one that lingers is killed."""
    try:
        worker.wait(_EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        kill(worker)
    close_pipes(worker)


def waiting_pids() -> set[int]:
    """The process ids of the workers waiting in every open pool of this process (for leak checks)."""
    return {pid for pool in list(_POOLS) for pid in pool.pids()}


def _wait_ready(worker: Worker) -> bool:
    """Read the worker's ``R``: it has loaded everything, locked itself down and waits for a request."""
    assert worker.stdout is not None
    fd = worker.stdout.fileno()
    readable, _, _ = select.select([fd], [], [], _READY_SECONDS)
    return bool(readable) and os.read(fd, 1) == b"R"
