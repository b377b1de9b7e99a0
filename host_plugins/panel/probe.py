"""How responsive the UI thread is: a timer that should tick every few milliseconds records the largest
gap between its ticks. A gap far above the interval means the event loop was blocked that long.

    >>> probe = StallProbe().start()
    >>> ...                                  # drive the panel: poll, scroll, watch jobs
    >>> probe.stop()
    >>> assert probe.max_stall_ms < 50, probe.max_stall_ms
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer

__all__ = ["StallProbe"]


class StallProbe(QObject):
    """A ``interval_ms`` precise timer on the thread it is created in (the UI thread); ``max_stall_ms``
    is the longest time between two ticks (or between ``start()`` and the first), ``ticks`` their count.
    ``max_stall_cpu_ms`` is the CPU time the UI thread itself used during that longest gap: near the gap,
    the UI thread was busy (our work); near zero, it was waiting for a core (or Python's GIL)."""

    def __init__(self, interval_ms: int = 5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if interval_ms <= 0:
            raise ValueError(f"interval_ms {interval_ms} must be a positive number of milliseconds")
        self.interval_ms = interval_ms
        self.max_stall_ms = 0.0
        self.max_stall_cpu_ms = 0.0
        self.ticks = 0
        self._last: float | None = None
        self._last_cpu = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> StallProbe:
        """Reset and start measuring."""
        self.max_stall_ms = 0.0
        self.max_stall_cpu_ms = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._timer.start()
        return self

    def stop(self) -> float:
        """Stop measuring (counting the gap up to now) and return ``max_stall_ms``."""
        if self._timer.isActive():
            self._measure()
            self._timer.stop()
        self._last = None
        return self.max_stall_ms

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        self._measure()
        self.ticks += 1

    def _measure(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None and (gap := (now - self._last) * 1000.0) > self.max_stall_ms:
            self.max_stall_ms = gap
            self.max_stall_cpu_ms = (cpu - self._last_cpu) * 1000.0
        self._last, self._last_cpu = now, cpu
