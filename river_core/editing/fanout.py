"""Hand a stream of items, in order, to several sinks, each in its own worker thread.

Encoders spend their time in FFmpeg and zlib, which release the GIL (measured with PyAV 18.1 and
Pillow 13: a thread polling every millisecond was held up ~6 ms by a 110 ms ProRes frame and ~4 ms by
a 32 ms PNG save, against the full 33 ms by pure Python), so the deliverables of one range encode side
by side. Each sink gets a bounded queue (a few items deep, so memory stays flat): the producer blocks
when a sink falls behind, and every sink sees every item in order.

The first error in any worker is kept and re-raised, as it was raised, in the producer's thread at
its next :meth:`FanOut.put` or :meth:`FanOut.finish`; a failure or :meth:`FanOut.stop` makes every
other worker stop before its next item. ``concurrent=False`` runs the same sinks one after another in
the caller's thread (for comparison and debugging); the outputs are the same.

>>> fan = FanOut([encoder_a, encoder_b])                            # doctest: +SKIP
>>> try:
...     for frame in frames:
...         fan.put(frame)
...     fan.finish()                    # each sink's finish(), in its own thread
... finally:
...     fan.stop()                      # after a failure: stop and wait for every worker
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from river_core.progress import CancelToken, check

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

_DEPTH = 3  # items queued per sink
_POLL_S = 0.05  # how often a blocked producer looks for a failure or a cancel


class Sink(Protocol[T_contra]):
    """One consumer: ``write`` each item in order, then ``finish`` once (flush and close)."""

    name: str

    def write(self, item: T_contra) -> None: ...

    def finish(self) -> None: ...


class _End:
    """Queued after the last item: finish the sink."""


class _Stop:
    """Queued on stop: leave without finishing."""


_END, _STOP = _End(), _Stop()


class FanOut(Generic[T]):
    """Feeds every item to each sink (see the module). Not reusable: one stream per instance."""

    def __init__(
        self,
        sinks: Sequence[Sink[T]],
        *,
        concurrent: bool = True,
        depth: int = _DEPTH,
        cancel: CancelToken | None = None,
    ) -> None:
        self.sinks, self.concurrent, self.cancel = list(sinks), concurrent, cancel
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._halt = threading.Event()  # a worker failed, or stop() was called
        self._queues: list[queue.Queue[T | _End | _Stop]] = []
        self._threads: list[threading.Thread] = []
        if concurrent:
            for sink in self.sinks:
                q: queue.Queue[T | _End | _Stop] = queue.Queue(maxsize=depth)
                thread = threading.Thread(
                    target=self._work, args=(sink, q), name=f"river-deliver-{sink.name}", daemon=True
                )
                self._queues.append(q)
                self._threads.append(thread)
                thread.start()

    def put(self, item: T) -> None:
        """Hand ``item`` to every sink (blocks while a sink's queue is full)."""
        if not self.concurrent:
            for sink in self.sinks:
                sink.write(item)
            return
        for q in self._queues:
            self._put(q, item)

    def finish(self) -> None:
        """Finish every sink after its last item and wait for all of them; raise the first error."""
        if not self.concurrent:
            for sink in self.sinks:
                sink.finish()
            return
        for q in self._queues:
            self._put(q, _END)
        for thread in self._threads:
            thread.join()
        self._raise_first_error()

    def stop(self) -> None:
        """Stop every worker before its next item and wait for them (safe to call more than once)."""
        self._halt.set()
        for q in self._queues:
            while True:  # drop what is queued, so the stop signal fits
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
            with contextlib.suppress(queue.Full):  # only if its worker already left: nobody reads it
                q.put_nowait(_STOP)
        for thread in self._threads:
            thread.join()

    # -- inside -------------------------------------------------------------------------------

    def _put(self, q: queue.Queue[T | _End | _Stop], item: T | _End) -> None:
        while True:
            self._raise_first_error()
            check(self.cancel)
            try:
                q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def _raise_first_error(self) -> None:
        with self._lock:
            error = self._error
        if error is not None:
            raise error

    def _work(self, sink: Sink[T], q: queue.Queue[T | _End | _Stop]) -> None:
        try:
            while True:
                item = q.get()
                if isinstance(item, _Stop) or self._halt.is_set():
                    return
                if isinstance(item, _End):
                    sink.finish()
                    return
                check(self.cancel)
                sink.write(item)
        except BaseException as exc:  # noqa: BLE001 - kept for the producer, which re-raises it
            with self._lock:
                if self._error is None:
                    self._error = exc
            self._halt.set()
