"""Workers started ahead (``Sandbox(prestart=n)``): each run still gets a fresh process, already locked
down; nothing leaks from one run to the next; a worker that died while it waited is never handed out;
the CPU budget is the run's alone; closing leaves no process behind; threads may call at once.

The hostile corpus runs through both paths in test_hostile.py. No test asserts wall-clock durations.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from river_core.reasoning import worker_pool
from river_core.reasoning.sandbox import Sandbox, SandboxInputError, SandboxLimits
from river_core.reasoning.twin_data import twin_data
from river_core.reasoning.worker_pool import WorkerPool, start_worker
from river_core.twin.schema import TwinDocument
from tests.reasoning.processes import stray_children

FAST = SandboxLimits(cpu_seconds=1, wall_seconds=20, memory_bytes=256 << 20)
OS_LAYERS = frozenset({"seccomp"})  # gate and restricted builtins off: the program can reach anything


@pytest.fixture
def pooled() -> Iterator[Sandbox]:
    with Sandbox(FAST, prestart=1) as sandbox:
        assert sandbox.warm_up(), "the pool did not get a worker ready"
        yield sandbox


@pytest.fixture
def data(small_twin: TwinDocument) -> dict[str, Any]:
    return twin_data(small_twin)


def waiting(sandbox: Sandbox) -> list[int]:
    assert sandbox._pool is not None
    return sandbox._pool.pids()


def wait_dead(pid: int) -> None:
    """Block until the child ``pid`` has ended, leaving it to its Popen to reap."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def reaped(pid: int) -> bool:
    """True once ``pid`` is no child of ours any more, not even a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_runs_through_a_worker_started_ahead(pooled: Sandbox, data: dict[str, Any]) -> None:
    before = waiting(pooled)
    result = pooled.run("print(len(objects()), sum(range(10)))", data)
    assert result.ok and result.stdout == "4 45\n", result.error
    assert result.isolation == pooled.isolation
    assert pooled.warm_up()
    after = waiting(pooled)
    assert len(after) == 1 and set(after).isdisjoint(before), "the worker that ran must not wait again"


def test_a_run_never_sees_what_the_previous_run_changed(data: dict[str, Any]) -> None:
    # Gate and restricted builtins off, so the first program can change the interpreter itself.
    with Sandbox(FAST, prestart=2, _layers=OS_LAYERS) as sandbox:
        sandbox.warm_up()
        poison = (
            "import builtins, json, sys\n"
            "builtins.LEAKED = 1\n"
            "builtins.abs = lambda x: -1\n"
            "json.loads = None\n"
            "sys.modules['leaked'] = json\n"
            "twin.clear()\n"
            "LEAKED_GLOBAL = 2\n"
            "print('poisoned')\n"
        )
        poisoned = sandbox.run(poison, data)
        assert poisoned.stdout == "poisoned\n", poisoned.error
        check = (
            "import builtins, json, sys\n"
            "print(hasattr(builtins, 'LEAKED'), abs(-1), json.loads('2'), 'leaked' in sys.modules,\n"
            "      'LEAKED_GLOBAL' in globals(), sorted(twin))\n"
        )
        result = sandbox.run(check, data)
    assert result.ok, result.error
    assert result.stdout == f"False 1 2 False False {sorted(data)}\n", result.stdout


def test_a_worker_killed_while_it_waited_is_never_handed_out(pooled: Sandbox) -> None:
    for pid in waiting(pooled):
        os.kill(pid, signal.SIGKILL)  # bubblewrap, or the worker: its sandbox dies with it
        wait_dead(pid)
    result = pooled.run("print('still here')")
    assert result.ok and result.stdout == "still here\n", result.error


def test_a_worker_that_dies_before_reading_the_request_is_replaced(
    pooled: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the liveness check cannot close: it dies between being handed out and the request."""
    assert pooled._pool is not None
    dying = start_worker([sys.executable, "-I", "-S", "-c", "pass"], b"\n")  # ends without reading
    monkeypatch.setattr(pooled._pool, "take", lambda: dying)
    result = pooled.run("print('replaced')")
    assert result.ok and result.stdout == "replaced\n", result.error
    assert dying.returncode == 0


def test_the_cpu_limit_ends_a_busy_loop_through_the_pool() -> None:
    with Sandbox(FAST, prestart=1, _layers=OS_LAYERS) as sandbox:
        sandbox.warm_up()
        result = sandbox.run("while True:\n    pass\n")
    assert (result.ok, result.error_kind) == (False, "cpu"), result.error
    assert result.error is not None and "cpu_seconds" in result.error


def test_a_worker_started_long_before_gets_its_whole_cpu_budget() -> None:
    """Neither its start nor its wait is charged: 90 % of cpu_seconds, measured by the program, fits."""
    with Sandbox(FAST, prestart=1, _layers=OS_LAYERS) as sandbox:
        sandbox.warm_up()
        time.sleep(1.0)  # idle a while (no assertion on time: the program measures its own CPU time)
        budget = 0.9 * FAST.cpu_seconds
        code = (
            "import time\n"
            "start = time.process_time()\n"
            f"while time.process_time() - start < {budget}:\n"
            "    pass\n"
            "print('done')\n"
        )
        result = sandbox.run(code)
    assert result.ok and result.stdout == "done\n", result.error


def test_close_ends_every_worker_and_leaves_no_zombie(data: dict[str, Any]) -> None:
    sandbox = Sandbox(FAST, prestart=2)
    assert sandbox.warm_up()
    for _ in range(3):
        assert sandbox.run("print(1)", data).ok
    assert sandbox.warm_up()
    pids = waiting(sandbox)
    assert len(pids) == 2
    sandbox.close()
    sandbox.close()  # idempotent
    assert waiting(sandbox) == []
    assert all(reaped(pid) for pid in pids)
    assert stray_children() == []
    # Closed, it still runs: a worker started for the run.
    assert sandbox.run("print(2)").stdout == "2\n"
    assert waiting(sandbox) == []


def test_dropping_the_sandbox_closes_its_pool() -> None:
    with Sandbox(FAST, prestart=1) as kept:
        sandbox = Sandbox(FAST, prestart=1)
        assert sandbox.warm_up()
        pids = waiting(sandbox)
        del sandbox
        gc.collect()
        assert all(reaped(pid) for pid in pids)
        assert kept.run("print(3)").stdout == "3\n"


def test_many_threads_at_once_each_get_their_own_answer(data: dict[str, Any]) -> None:
    with Sandbox(FAST, prestart=2) as sandbox:
        sandbox.warm_up()

        def run(i: int) -> tuple[bool, str]:
            result = sandbox.run(f"print({i} * {i}, len(objects()))", data)
            return result.ok, result.stdout

        with ThreadPoolExecutor(max_workers=6) as threads:
            results = list(threads.map(run, range(12)))
    assert results == [(True, f"{i * i} 4\n") for i in range(12)]
    assert stray_children() == []


def test_prestart_is_validated() -> None:
    for bad in (-1, 1.5, "2", 10_000):
        with pytest.raises(SandboxInputError, match="prestart"):
            Sandbox(FAST, prestart=bad)  # type: ignore[arg-type]
    assert Sandbox(FAST, prestart=0).warm_up() is False


def test_a_pool_whose_workers_never_get_ready_pauses_instead_of_looping() -> None:
    starts: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        starts.append(start_worker([sys.executable, "-I", "-S", "-c", "pass"], b"\n"))
        return starts[-1]

    with WorkerPool(start, size=2) as pool:
        assert pool.fill(timeout=30) is False
        assert len(starts) == 1 and pool.pids() == []
        assert pool.take() is None  # the caller starts its own; the pool tries once more
        assert pool.fill(timeout=30) is False
        assert len(starts) == 2
    assert all(p.returncode is not None for p in starts)
    assert pool.pids() == [] and not worker_pool.waiting_pids() & {p.pid for p in starts}
