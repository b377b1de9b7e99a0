"""Run model-written ``<execute>`` code against the twin, isolated in layers.

The code is hostile until proven otherwise: text inside the footage reaches the prompt and can steer
the model into writing an attack. Every layer below holds on its own; together they are the sandbox.

1. :mod:`~river_core.reasoning.gate`: an AST allow-list, checked here; refused code never starts a
   process.
2. The worker (``_worker.py``, stdlib only) gives the code restricted builtins, stripped copies of a
   few pure modules and a bounded ``print``.
3. The worker runs as a separate process: inside bubblewrap when it works (no network, private
   read-only filesystem without the project or home directories, uid 65534), under a seccomp filter it
   installs itself (no files, sockets, processes, signals to others), with resource limits (CPU, address
   space, files, processes), as uid 65534 when the host is root, and with a wall clock and output caps
   enforced from here.
4. JSON in over stdin, one JSON object out over stdout; nothing on the command line but the worker.

Starting an isolated worker costs far more than most programs take to run, so a sandbox keeps
``prestart`` workers started ahead of time, each already locked down and waiting for its request
(:mod:`~river_core.reasoning.worker_pool`). A worker still runs exactly one program: nothing one run
changes reaches the next.

    >>> with Sandbox() as sandbox:                                            # doctest: +SKIP
    ...     result = sandbox.run("print(len(objects()))", twin_data(doc))
    >>> result.ok, result.stdout, result.isolation.level                    # doctest: +SKIP
    (True, '4\\n', 'full')

POSIX only (bubblewrap and seccomp need Linux; on macOS only the resource limits apply).
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
import json
import marshal
import os
import shutil
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal

from river_core.errors import RiverError
from river_core.reasoning.gate import check_code
from river_core.reasoning.limits import SandboxInputError, SandboxLimits
from river_core.reasoning.worker_pool import (
    Completed,
    Worker,
    WorkerPool,
    WorkerStartError,
    exchange,
    start_worker,
)

HERE: Final = Path(__file__).resolve().parent
NOBODY: Final = 65534  # the conventional unprivileged uid/gid
# The layers that may be switched off, for tests only (see Sandbox).
ALL_LAYERS: Final = frozenset({"gate", "builtins", "seccomp"})
MAX_PRESTART: Final = 64
ErrorKind = Literal["gate", "syntax", "runtime", "timeout", "cpu", "memory", "output", "crash"]

_BWRAP_REMEDY: Final = "install the 'bubblewrap' package (e.g. `apt install bubblewrap`)"


class SandboxUnavailableError(RiverError, RuntimeError):
    """The isolation asked for cannot be provided on this machine; the message says how to get it."""


@dataclass(frozen=True)
class Isolation:
    """Which OS layers protect a run: "full" = namespaces + seccomp + rlimits, "minimal" = rlimits only.

    ``notes`` says, one line each, what is missing and how to get it; it is empty only when the level is
    "full" and no layer was switched off.
    """

    level: Literal["full", "partial", "minimal"]
    namespaces: bool
    seccomp: bool
    rlimits: bool
    uid: int | None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain data for logs and the CLI."""
        return {**asdict(self), "notes": list(self.notes)}


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of one run: what the code printed, or one clear line saying why it failed."""

    ok: bool
    stdout: str
    error: str | None
    error_kind: ErrorKind | None
    elapsed_ms: float
    truncated: bool
    isolation: Isolation

    def to_json(self) -> dict[str, Any]:
        """``{"ok", "stdout", "error", "error_kind", "elapsed_ms", "truncated", "isolation": {...}}``."""
        return {
            "ok": self.ok,
            "stdout": self.stdout,
            "error": self.error,
            "error_kind": self.error_kind,
            "elapsed_ms": self.elapsed_ms,
            "truncated": self.truncated,
            "isolation": self.isolation.to_json(),
        }


class Sandbox:
    """Runs model-written code in an isolated worker process, one fresh process per run.

    ``namespaces``: "auto" uses bubblewrap when it works here, "require" raises
    :class:`SandboxUnavailableError` when it does not, "off" never uses it.

    ``prestart``: how many workers to keep started ahead, each loaded, locked down and waiting for its
    request, so a run pays only for its own code (the pool fills from the first :meth:`run` on). One is
    enough for one caller that runs programs one after another; give as many as threads call at once.
    0 starts a worker per run. Safe to use from several threads; :meth:`close` (or ``with``) ends the
    waiting workers, as does garbage collection or the interpreter's exit.

    ``_layers`` is for tests only: the subset of {"gate", "builtins", "seccomp"} to keep, so a test can
    prove that each remaining layer holds on its own. Never pass it in production code.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        namespaces: Literal["auto", "require", "off"] = "auto",
        prestart: int = 1,
        _layers: frozenset[str] = ALL_LAYERS,
    ) -> None:
        if namespaces not in ("auto", "require", "off"):
            raise SandboxInputError(f"namespaces must be 'auto', 'require' or 'off', got {namespaces!r}")
        if not isinstance(prestart, int) or not 0 <= prestart <= MAX_PRESTART:
            raise SandboxInputError(
                f"prestart must be a whole number of workers from 0 to {MAX_PRESTART}, got {prestart!r}"
            )
        if not _layers <= ALL_LAYERS:
            raise SandboxInputError(f"unknown sandbox layers {sorted(_layers - ALL_LAYERS)}")
        self.limits = limits or SandboxLimits()
        self._layers = frozenset(_layers)
        self._use_bwrap = False
        if namespaces != "off":
            self._use_bwrap = _bwrap_probe().ok
            if namespaces == "require" and not self._use_bwrap:
                raise SandboxUnavailableError(_bwrap_probe().note)
        self._namespaces_mode = namespaces
        self._isolation: Isolation | None = None
        self._argv = _worker_argv(self._use_bwrap)
        self._setup = _setup(self.limits, self._layers, self._use_bwrap)
        self._pool: WorkerPool | None = None
        self._finalizer: Callable[[], None] = lambda: None
        if prestart:
            # The pool holds no reference to the sandbox, so dropping the sandbox closes the pool.
            self._pool = WorkerPool(functools.partial(start_worker, self._argv, self._setup), prestart)
            self._finalizer = weakref.finalize(self, self._pool.close)

    @property
    def isolation(self) -> Isolation:
        """What :meth:`run` will use on this machine (probed once per process; runs no model code)."""
        if self._isolation is None:
            report = _worker_probe(self._use_bwrap)
            self._isolation = self._describe(report.seccomp and "seccomp" in self._layers, report)
        return self._isolation

    def run(self, code: str, data: dict[str, Any] | None = None) -> ExecutionResult:
        """Run ``code`` with the twin API's names built from ``data`` (None: no twin, no helpers).

        Never raises for anything the code does: failures come back as ``ok=False`` with ``error_kind``
        "gate", "syntax", "runtime", "timeout", "cpu", "memory", "output" or "crash". Raises
        :class:`SandboxInputError` when ``data`` is not plain JSON data and
        :class:`SandboxUnavailableError` when no worker process can be started (e.g. on Windows).
        """
        started = time.perf_counter()
        # 1. The gate: refused code never reaches a process.
        if "gate" in self._layers:
            verdict = check_code(code)
            if verdict.kind is not None:
                lines = "; ".join(verdict.problems)
                error = f"blocked by the sandbox gate: {lines}" if verdict.kind == "gate" else lines
                return self._result(False, "", error, verdict.kind, started, False, self.isolation)
        # 2. The request, on stdin.
        request = self._request(code, data)
        # 3. A worker, isolated and locked down, with the wall clock and output caps enforced here.
        done = self._exchange(request)
        return self._interpret(done, started)

    def warm_up(self, timeout: float = 60.0) -> bool:
        """Start the ``prestart`` workers now and wait until they are ready (before timing, or training).

        Returns False if they were not ready within ``timeout`` seconds, or if ``prestart`` is 0.
        """
        return self._pool is not None and self._pool.fill(timeout)

    def close(self) -> None:
        """End the workers started ahead (idempotent); later runs start a worker each."""
        self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps -----------------------------------------------------------------------------------

    def _request(self, code: str, data: dict[str, Any] | None) -> bytes:
        # One line of JSON (ASCII: no newline inside), then the data's JSON, which the worker parses
        # twice for its two private copies.
        try:
            text = json.dumps(data, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as error:
            raise SandboxInputError(f"the twin data must be plain JSON data: {error}") from None
        header = json.dumps({"code": code})
        return f"{header}\n{text}".encode("utf-8", "surrogatepass")

    def _exchange(self, request: bytes) -> Completed:
        if self._pool is None:
            return exchange(_start(self._argv, self._setup), request, self.limits)
        worker = self._pool.take()
        if worker is not None:
            done = exchange(worker, request, self.limits, self._pool.reap)
            if done.taken or done.stopped is not None:
                return done
            # It died before it read the request (killed while it waited): not the program's doing.
        return exchange(_start(self._argv, self._setup), request, self.limits, self._pool.reap)

    def _interpret(self, done: Completed, started: float) -> ExecutionResult:
        limits = self.limits
        report = _parse_report(done.stdout)
        isolation = self.isolation
        if report is not None and "seccomp" in report and report["seccomp"] != isolation.seccomp:
            isolation = self._describe(bool(report["seccomp"]), _ProbeReport.from_worker(report))
        if done.stopped == "timeout":
            error = f"Timeout: the program ran longer than {limits.wall_seconds:g} s (limit wall_seconds)"
            return self._result(False, "", error, "timeout", started, False, isolation)
        if done.stopped == "output":
            error = "OutputLimitExceeded: the worker wrote more than the host reads; it was stopped"
            return self._result(False, "", error, "output", started, True, isolation)
        if report is not None:
            return self._result(
                bool(report.get("ok")),
                str(report.get("stdout", "")),
                report.get("error"),
                report.get("error_kind"),
                started,
                bool(report.get("truncated")),
                isolation,
            )
        rc = done.returncode
        # The worker's CPU timer (SIGPROF) or the kernel's RLIMIT_CPU (SIGXCPU); bubblewrap reports a
        # signal as 128 + n.
        if rc in (-signal.SIGPROF, 128 + signal.SIGPROF, -signal.SIGXCPU, 128 + signal.SIGXCPU):
            used = f"more than {limits.cpu_seconds} s of CPU time (limit cpu_seconds)"
            error = f"CPUTimeExceeded: the program used {used}"
            return self._result(False, "", error, "cpu", started, False, isolation)
        stderr = done.stderr.decode("utf-8", "replace")
        if "MemoryError" in stderr:
            error = f"MemoryError: the program ran out of memory (limit memory_bytes={limits.memory_bytes})"
            return self._result(False, "", error, "memory", started, False, isolation)
        last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "no message")
        error = f"the sandbox worker died (exit status {rc}): {last[:300]}"
        return self._result(False, "", error, "crash", started, False, isolation)

    def _describe(self, seccomp: bool, report: _ProbeReport) -> Isolation:
        notes: list[str] = []
        namespaces = self._use_bwrap
        if not namespaces:
            if self._namespaces_mode == "off":
                notes.append("namespace isolation switched off (namespaces='off'): no private filesystem")
            else:
                notes.append(_bwrap_probe().note)
        if not seccomp and "seccomp" in self._layers:
            notes.append(report.seccomp_note or "the system-call filter could not be installed")
        if self._layers != ALL_LAYERS:
            notes.append(f"TEST ONLY: layers switched off: {', '.join(sorted(ALL_LAYERS - self._layers))}")
        if report.uid == 0:
            notes.append("the code runs as root: run the engine as an ordinary user or install bubblewrap")
        level: Literal["full", "partial", "minimal"] = (
            "full" if namespaces and seccomp else "partial" if namespaces or seccomp else "minimal"
        )
        return Isolation(level, namespaces, seccomp, True, report.uid, tuple(n for n in notes if n))

    def _result(
        self,
        ok: bool,
        stdout: str,
        error: str | None,
        kind: Any,
        started: float,
        truncated: bool,
        isolation: Isolation,
    ) -> ExecutionResult:
        elapsed = (time.perf_counter() - started) * 1000
        return ExecutionResult(ok, stdout, error, kind if not ok else None, elapsed, truncated, isolation)


# -- the worker process ----------------------------------------------------------------------------


def _start(argv: list[str], setup: bytes) -> Worker:
    try:
        return start_worker(argv, setup)
    except WorkerStartError as error:
        raise SandboxUnavailableError(str(error)) from error


def _setup(limits: SandboxLimits, layers: frozenset[str], use_bwrap: bool) -> bytes:
    """The worker's setup line: everything it needs before a request exists."""
    setup = {
        "twin_api": _twin_api_code(),
        "limits": asdict(limits),
        "layers": {"builtins": "builtins" in layers, "seccomp": "seccomp" in layers},
        "seccomp_library": _seccomp_library(),
        "drop_to": [NOBODY, NOBODY] if not use_bwrap and _is_root() else None,
    }
    return json.dumps(setup).encode() + b"\n"


def _is_root() -> bool:
    return hasattr(os, "getuid") and os.getuid() == 0


def _parse_report(stdout: bytes) -> dict[str, Any] | None:
    try:
        report = json.loads(stdout)
    except ValueError:
        return None
    return report if isinstance(report, dict) and "ok" in report else None


@functools.lru_cache(maxsize=1)
def _twin_api_code() -> str:
    """The twin API compiled once here (the worker runs the same interpreter), marshalled, in base64."""
    source = (HERE / "twin_api.py").read_text(encoding="utf-8")
    code = compile(source, "twin_api.py", "exec", dont_inherit=True)
    return base64.b64encode(marshal.dumps(code)).decode("ascii")


@functools.lru_cache(maxsize=1)
def _worker_source() -> str:
    return (HERE / "_worker.py").read_text(encoding="utf-8")


def _python() -> str:
    # The real interpreter, not a venv shim: -I -S ignores the venv anyway, and bubblewrap binds its
    # install prefix only.
    return os.path.realpath(sys.executable)


def _worker_argv(use_bwrap: bool) -> list[str]:
    # The worker's source goes on the command line so that no project file must be visible to it; the
    # request (code and data) never does: it goes over stdin.
    command = [_python(), "-I", "-S", "-B", "-c", _worker_source()]
    return [*_bwrap_prefix(), *command] if use_bwrap else command


def _bwrap_prefix() -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    argv += ["--uid", str(NOBODY), "--gid", str(NOBODY), "--hostname", "sandbox"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    bound: list[str] = []
    # Only what the interpreter needs: the system's binaries and libraries, and the Python install.
    for path in ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin"):
        if Path(path).is_symlink():  # merged /usr: /lib -> usr/lib, keep it a link
            argv += ["--symlink", str(Path(path).readlink()), path]
        elif Path(path).is_dir():
            argv += ["--ro-bind", path, path]
            bound.append(path)
    for path in (os.path.realpath(sys.base_prefix), str(Path(_python()).parent)):
        if not any(path == b or path.startswith(b + "/") for b in bound):
            argv += ["--ro-bind", path, path]
            bound.append(path)
    return [*argv, "--chdir", "/"]


# -- probes (once per process) ---------------------------------------------------------------------


@dataclass(frozen=True)
class _BwrapProbe:
    ok: bool
    note: str


@dataclass(frozen=True)
class _ProbeReport:
    seccomp: bool
    seccomp_note: str | None
    uid: int | None

    @classmethod
    def from_worker(cls, report: dict[str, Any]) -> _ProbeReport:
        return cls(bool(report.get("seccomp")), report.get("seccomp_note"), report.get("uid"))


@functools.lru_cache(maxsize=1)
def _bwrap_probe() -> _BwrapProbe:
    """Whether bubblewrap exists and can build the sandbox here (containers often forbid namespaces)."""
    if not sys.platform.startswith("linux"):
        return _BwrapProbe(
            False, "namespace isolation needs Linux with bubblewrap; only resource limits apply"
        )
    if shutil.which("bwrap") is None:
        return _BwrapProbe(False, f"bubblewrap not found: {_BWRAP_REMEDY} for namespace isolation")
    try:
        done = subprocess.run(
            [*_bwrap_prefix(), _python(), "-I", "-S", "-B", "-c", "import ctypes, json"],
            capture_output=True,
            timeout=30,
            env={},
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return _BwrapProbe(False, f"bubblewrap failed to start ({error}): namespace isolation is off")
    if done.returncode != 0:
        why = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        return _BwrapProbe(
            False,
            f"bubblewrap cannot create its sandbox here ({why[:200]}): allow unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1, or the AppArmor userns restriction) or run "
            "outside a container that forbids them",
        )
    return _BwrapProbe(True, "")


@functools.lru_cache(maxsize=2)
def _worker_probe(use_bwrap: bool) -> _ProbeReport:
    """Run the worker once with empty code: did seccomp load, which uid does code run as?"""
    limits = SandboxLimits(wall_seconds=30)
    worker = _start(_worker_argv(use_bwrap), _setup(limits, ALL_LAYERS, use_bwrap))
    done = exchange(worker, b'{"code": ""}\nnull', limits)
    report = _parse_report(done.stdout)
    if report is None:
        why = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        return _ProbeReport(False, f"the sandbox worker failed its probe run ({why[:200]})", None)
    return _ProbeReport.from_worker(report)


@functools.lru_cache(maxsize=1)
def _seccomp_library() -> str | None:
    """The absolute path of libseccomp, so the worker finds it without /etc/ld.so.cache (not bound)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("seccomp")
    if name is None:
        return None
    try:
        ctypes.CDLL(name)
        for line in Path("/proc/self/maps").read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) >= 6 and Path(fields[-1]).name.startswith("libseccomp"):
                return fields[-1]
    except OSError:
        return None
    return name
