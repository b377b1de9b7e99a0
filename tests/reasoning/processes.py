"""Which child processes of the test process are left behind, the workers waiting in pools aside."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from river_core.reasoning.worker_pool import waiting_pids


def _stdlib_daemon(process: Any) -> bool:
    """multiprocessing's resource tracker: one per process that ever used a spawn context (an earlier
    test's ``river eval --workers`` starts it), living as long as that process by design; not a sandbox's."""
    import psutil

    try:
        return "multiprocessing.resource_tracker" in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):  # gone meanwhile, or not ours
        return False


def stray_children() -> list[Any]:
    """This process's descendants that are not (inside) a worker waiting in a sandbox's pool.

    Asks a few times, a moment apart: a process just killed needs the kernel to finish with it, and a
    pool may be between starting a worker and listing it. Needs psutil.
    """
    import psutil

    strays: list[Any] = []
    for _ in range(100):
        waiting = set()
        for pid in waiting_pids():
            waiting.add(pid)
            with contextlib.suppress(psutil.NoSuchProcess):
                waiting.update(p.pid for p in psutil.Process(pid).children(recursive=True))
        strays = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.pid not in waiting and not _stdlib_daemon(p)
        ]
        if not strays:
            return []
        time.sleep(0.05)
    return strays
