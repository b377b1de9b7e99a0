"""Progress reporting and cooperative cancellation shared by every long operation.

A long function takes ``progress`` (a callable receiving :class:`ProgressEvent`) and ``cancel``
(a :class:`CancelToken`). It reports after each unit of work and calls ``cancel.raise_if_cancelled()``
between units, so a cancelled job stops at a clean boundary and cleans up its temporary outputs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from river_core.errors import Cancelled


@dataclass(frozen=True)
class ProgressEvent:
    """``done`` of ``total`` units of ``stage`` are finished (``total`` is None when unknown)."""

    stage: str
    done: int
    total: int | None
    unit: str = "frame"


ProgressCallback = Callable[[ProgressEvent], None]


class CancelToken:
    """A thread-safe flag a caller sets to stop a long operation at its next checkpoint."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        self._reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled(self._reason)


def report(
    progress: ProgressCallback | None, stage: str, done: int, total: int | None, unit: str = "frame"
) -> None:
    """Call ``progress`` if given; a helper so call sites stay one line."""
    if progress is not None:
        progress(ProgressEvent(stage, done, total, unit))


def check(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None:
        cancel.raise_if_cancelled()
