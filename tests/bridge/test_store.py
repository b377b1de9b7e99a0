"""The bridge's job store: idempotent all-or-nothing creation, state moves with their event log,
durability across reopen and a killed process, recovery, waiting, paging and thread safety."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from bridge.server.store import (
    ACTIVE,
    STATES,
    TERMINAL,
    EventRecord,
    JobNotFound,
    JobRecord,
    JobStore,
    NewJob,
    QueueFull,
    RequestConflict,
    StateConflict,
    StoreError,
)

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """A settable clock, so timestamps can be asserted exactly."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Any:
    with JobStore(tmp_path / "state" / "jobs.db", clock=clock) as s:
        yield s


def new(request_id: str, kind: str = "TWIN", spec: bytes = b"spec", batch_id: str | None = None) -> NewJob:
    return NewJob(request_id=request_id, kind=kind, spec=spec, batch_id=batch_id)


def make(store: JobStore, request_id: str, **kw: Any) -> JobRecord:
    [(job, created)] = store.create([new(request_id, **kw)])
    assert created
    return job


def to_state(store: JobStore, job: JobRecord, state: str) -> JobRecord:
    """Drives a fresh job to `state` along legal moves."""
    if state == "QUEUED":
        return job
    job = store.transition(job.id, "RUNNING", allowed_from={"QUEUED"})
    if state != "RUNNING":
        job = store.transition(job.id, state, allowed_from={"RUNNING"})
    return job


def seqs(store: JobStore, job_id: str) -> list[int]:
    return [e.seq for e in store.events(job_id)]


def in_thread(target: Any) -> tuple[threading.Thread, list[Any]]:
    """Runs `target` in a thread; its result (or exception) lands in the returned list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except Exception as e:  # noqa: BLE001 - the test inspects whatever the thread raised
            out.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# Waiters get far longer than the test allows them: one that returns only because its timeout ran out
# (a missed wake-up) is caught by woken(), not mistaken for success.
WAITER_TIMEOUT = 120.0


def woken(thread: threading.Thread) -> None:
    thread.join(10)
    assert not thread.is_alive(), "the waiter was not woken"


def signal_when_waiting(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set once a waiter has found nothing and blocks, so the wake-up path is what is tested."""
    blocked = threading.Event()
    real_wait = store._cond.wait

    def wait(timeout: float | None = None) -> bool:
        blocked.set()
        return real_wait(timeout)

    monkeypatch.setattr(store._cond, "wait", wait)
    return blocked


# -- creation -------------------------------------------------------------------------------------------


def test_constants() -> None:
    assert set(STATES) == {"QUEUED", "RUNNING", "AWAITING_CONFIRMATION", "SUCCEEDED", "FAILED", "CANCELLED"}
    assert frozenset({"SUCCEEDED", "FAILED", "CANCELLED"}) == TERMINAL
    assert frozenset({"QUEUED", "RUNNING"}) == ACTIVE


def test_create_and_get_round_trip(store: JobStore, clock: Clock) -> None:
    spec = b"\x00\x01binary\xff spec"
    [(job, created)] = store.create([new("r1", kind="RENDER", spec=spec, batch_id="b1")])
    assert created
    assert re.fullmatch(r"j[0-9a-f]{19}", job.id)
    assert store.get(job.id) == job
    assert (job.request_id, job.kind, job.spec, job.batch_id, job.state) == (
        "r1",
        "RENDER",
        spec,
        "b1",
        "QUEUED",
    )
    ms = int(clock.t * 1000)
    assert (job.created_ms, job.updated_ms, job.started_ms, job.finished_ms) == (ms, ms, None, None)
    assert (job.progress, job.error, job.results, job.plan, job.cancel_reason) == (None,) * 5
    assert job.last_seq == 1 and not job.terminal
    assert store.events(job.id) == [EventRecord(job.id, 1, ms, "state", {"state": "QUEUED", "message": ""})]
    with pytest.raises(ValueError):
        store.create([new("")])


def test_unknown_job_is_a_key_error_with_a_plain_message(store: JobStore) -> None:
    with pytest.raises(JobNotFound) as info:
        store.get("jnope")
    assert isinstance(info.value, KeyError) and isinstance(info.value, StoreError)
    assert info.value.job_id == "jnope"
    assert str(info.value) == "no job jnope"
    for call in (lambda: store.events("jnope"), lambda: store.append_event("jnope", "message", {"text": ""})):
        with pytest.raises(JobNotFound):
            call()


def test_same_request_id_and_spec_returns_the_same_job(store: JobStore) -> None:
    job = make(store, "r1")
    [(again, created)] = store.create([new("r1")])
    assert not created and again == job
    assert seqs(store, job.id) == [1]
    # Within one call the second item is the first one's job.
    [(a, a_new), (b, b_new)] = store.create([new("r2"), new("r2")])
    assert (a_new, b_new) == (True, False) and a.id == b.id
    assert len(store.list()) == 2


@pytest.mark.parametrize("changed", [{"spec": b"other"}, {"kind": "PLAN"}])
def test_conflicting_request_id_creates_nothing(store: JobStore, changed: dict[str, Any]) -> None:
    job = make(store, "r1")
    with pytest.raises(RequestConflict) as info:
        store.create([new("r1", **changed)])
    assert info.value.request_id == "r1"
    assert [j.id for j in store.list()] == [job.id]
    assert store.get(job.id) == job


def test_batch_is_all_or_nothing(store: JobStore) -> None:
    original = make(store, "taken")
    batch = [new("b1", batch_id="B"), new("b2", batch_id="B"), new("taken", spec=b"different", batch_id="B")]
    with pytest.raises(RequestConflict):
        store.create(batch)
    assert [j.id for j in store.list()] == [original.id]
    assert store.list(batch_id="B") == []
    # The same batch without the conflict goes through, and the ids it gets are fresh.
    created = store.create(batch[:2])
    assert [c for _, c in created] == [True, True]


def test_queue_full_counts_only_queued_and_running(store: JobStore) -> None:
    make(store, "queued")
    to_state(store, make(store, "running"), "RUNNING")
    for state in ("AWAITING_CONFIRMATION", "SUCCEEDED", "FAILED", "CANCELLED"):
        to_state(store, make(store, state), state)
    before = store.list()
    with pytest.raises(QueueFull) as info:
        store.create([new("n1"), new("n2")], max_active=3)
    assert (info.value.active, info.value.limit) == (2, 3)
    assert "2 active" in str(info.value) and "3" in str(info.value)
    assert store.list() == before
    [(_, created)] = store.create([new("n1")], max_active=3)
    assert created
    # A replay of an accepted request is never refused, even when the queue is full.
    assert store.create([new("n1")], max_active=1)[0][1] is False
    with pytest.raises(QueueFull):
        store.create([new("n2")], max_active=3)


# -- state moves and the event log ------------------------------------------------------------------


def test_transition_enforces_allowed_from_and_writes_nothing_on_conflict(store: JobStore) -> None:
    job = make(store, "r1")
    with pytest.raises(StateConflict) as info:
        store.transition(job.id, "SUCCEEDED", allowed_from={"RUNNING"}, results={"x": 1})
    assert (info.value.job_id, info.value.state) == (job.id, "QUEUED")
    assert "QUEUED" in str(info.value) and "SUCCEEDED" in str(info.value)
    assert store.get(job.id) == job
    assert seqs(store, job.id) == [1]
    with pytest.raises(ValueError):
        store.transition(job.id, "DONE", allowed_from={"QUEUED"})
    with pytest.raises(JobNotFound):
        store.transition("jnope", "RUNNING", allowed_from={"QUEUED"})


def test_transition_stamps_started_once_and_finished_on_terminal(store: JobStore, clock: Clock) -> None:
    job = make(store, "r1")
    clock.t += 1.5
    running = store.transition(job.id, "RUNNING", allowed_from={"QUEUED"})
    started = int(clock.t * 1000)
    assert (running.started_ms, running.finished_ms, running.updated_ms) == (started, None, started)
    clock.t += 1
    store.transition(job.id, "AWAITING_CONFIRMATION", allowed_from={"RUNNING"})
    clock.t += 1
    again = store.transition(job.id, "RUNNING", allowed_from={"AWAITING_CONFIRMATION"})
    assert again.started_ms == started
    clock.t += 1
    done = store.transition(job.id, "SUCCEEDED", allowed_from={"RUNNING"}, message="done")
    now = int(clock.t * 1000)
    assert (done.state, done.started_ms, done.finished_ms, done.updated_ms) == (
        "SUCCEEDED",
        started,
        now,
        now,
    )
    assert done.terminal and done.created_ms == job.created_ms
    assert store.events(job.id)[-1].data == {"state": "SUCCEEDED", "message": "done"}


def test_transition_logs_plan_results_error_before_the_state(store: JobStore) -> None:
    job = to_state(store, make(store, "r1"), "RUNNING")
    plan, results, error = (
        {"steps": [1, 2]},
        {"out": "/tmp/x.mp4"},
        {"kind": "oom", "message": "out of memory"},
    )
    failed = store.transition(
        job.id, "FAILED", allowed_from={"RUNNING"}, message="boom", plan=plan, results=results, error=error
    )
    tail = store.events(job.id)[-4:]
    assert [e.type for e in tail] == ["plan", "results", "error", "state"]
    assert [e.data for e in tail] == [plan, results, error, {"state": "FAILED", "message": "boom"}]
    assert (failed.plan, failed.results, failed.error) == (plan, results, error)
    assert failed.last_seq == tail[-1].seq


def test_seqs_are_contiguous_across_event_types(store: JobStore) -> None:
    job = make(store, "r1")
    store.transition(job.id, "RUNNING", allowed_from={"QUEUED"})
    returned = [
        store.append_event(job.id, "progress", {"stage": "decode", "done": 1, "total": 10, "unit": "frames"}),
        store.append_event(job.id, "message", {"text": "hello"}),
        store.append_event(job.id, "plan", {"p": 1}),
        store.append_event(
            job.id, "progress", {"stage": "decode", "done": 5, "total": None, "unit": "frames"}
        ),
    ]
    store.transition(job.id, "AWAITING_CONFIRMATION", allowed_from={"RUNNING"}, plan={"p": 2})
    store.append_event(job.id, "results", {"r": 1})
    assert returned == [3, 4, 5, 6]
    final = store.get(job.id)
    assert seqs(store, job.id) == list(range(1, final.last_seq + 1)) and final.last_seq == 9
    assert final.progress == {"stage": "decode", "done": 5, "total": None, "unit": "frames"}
    assert (final.plan, final.results) == ({"p": 2}, {"r": 1})
    assert [e.seq for e in store.events(job.id, after_seq=4, limit=2)] == [5, 6]
    for bad in ("state", "bogus"):
        with pytest.raises(ValueError):
            store.append_event(job.id, bad, {})
    assert store.get(job.id).last_seq == 9


# -- durability and recovery ----------------------------------------------------------------------------


def populate(store: JobStore) -> None:
    make(store, "q")
    running = to_state(store, make(store, "run", kind="RENDER", batch_id="B"), "RUNNING")
    store.append_event(running.id, "progress", {"stage": "s", "done": 1, "total": 2, "unit": "steps"})
    to_state(store, make(store, "wait", kind="PLAN"), "AWAITING_CONFIRMATION")
    done = to_state(store, make(store, "done"), "RUNNING")
    store.transition(done.id, "SUCCEEDED", allowed_from={"RUNNING"}, results={"path": "/o.mp4"})


def snapshot(store: JobStore) -> tuple[list[JobRecord], dict[str, list[EventRecord]]]:
    jobs = store.list(limit=1000)
    return jobs, {j.id: store.events(j.id) for j in jobs}


def test_close_and_reopen_keeps_jobs_and_events(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "jobs.db"
    with JobStore(path, clock=clock) as store:
        populate(store)
        before = snapshot(store)
    with JobStore(path, clock=clock) as store:
        assert snapshot(store) == before
        assert len(before[0]) == 4


def test_commits_survive_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from bridge.server.store import JobStore, NewJob
        store = JobStore(Path({str(path)!r}))
        [(job, _)] = store.create([NewJob("r1", "TWIN", b"spec")])
        store.transition(job.id, "RUNNING", allowed_from={{"QUEUED"}})
        store.append_event(job.id, "message", {{"text": "last words"}})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0, done.stderr  # it was killed, not closed
    with JobStore(path) as store:
        [job] = store.list()
        assert job.state == "RUNNING"
        assert [e.type for e in store.events(job.id)] == ["state", "state", "message"]
        [failed], queued = store.recover("the server stopped")
        assert failed.id == job.id and queued == []


def test_recover_fails_running_and_returns_queued_oldest_first(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "jobs.db"
    with JobStore(path, clock=clock) as store:
        q1, q2 = make(store, "q1"), make(store, "q2")
        running = to_state(store, make(store, "run"), "RUNNING")
        waiting = to_state(store, make(store, "wait"), "AWAITING_CONFIRMATION")
        q3 = make(store, "q3")
    clock.t += 10
    with JobStore(path, clock=clock) as store:
        failed, queued = store.recover("server restarted")
        assert [j.id for j in queued] == [q1.id, q2.id, q3.id]
        [job] = failed
        assert job.id == running.id and job.state == "FAILED"
        assert job.error == {"kind": "interrupted", "message": "server restarted"}
        assert job.finished_ms == int(clock.t * 1000)
        tail = store.events(job.id)[-2:]
        assert [(e.type, e.data) for e in tail] == [
            ("error", {"kind": "interrupted", "message": "server restarted"}),
            ("state", {"state": "FAILED", "message": "server restarted"}),
        ]
        assert seqs(store, job.id) == list(range(1, job.last_seq + 1))
        assert store.get(waiting.id) == waiting
        assert store.recover("again") == ([], queued)


# -- cancellation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["QUEUED", "AWAITING_CONFIRMATION"])
def test_cancel_before_running_is_immediate(store: JobStore, state: str) -> None:
    job = to_state(store, make(store, "r1"), state)
    cancelled = store.request_cancel(job.id, "user asked")
    assert cancelled.state == "CANCELLED" and cancelled.terminal and cancelled.finished_ms is not None
    assert cancelled.error == {"kind": "cancelled", "message": "user asked"}
    tail = store.events(job.id)[-2:]
    assert [e.type for e in tail] == ["error", "state"] and tail[-1].data["state"] == "CANCELLED"
    # Cancelling again is a no-op.
    assert store.request_cancel(job.id, "again") == cancelled


def test_cancel_running_records_the_request_for_the_runner(store: JobStore) -> None:
    job = to_state(store, make(store, "r1"), "RUNNING")
    asked = store.request_cancel(job.id, "user asked")
    assert (asked.state, asked.cancel_reason) == ("RUNNING", "user asked")
    last = store.events(job.id)[-1]
    assert (last.seq, last.type, last.data) == (
        job.last_seq + 1,
        "message",
        {"text": "cancel requested: user asked"},
    )
    assert store.request_cancel(job.id, "twice").last_seq == asked.last_seq
    ended = store.transition(job.id, "CANCELLED", allowed_from={"RUNNING"}, error={"kind": "cancelled"})
    assert ended.state == "CANCELLED" and ended.cancel_reason is None


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED"])
def test_cancel_finished_job_conflicts(store: JobStore, state: str) -> None:
    job = to_state(store, make(store, "r1"), state)
    with pytest.raises(StateConflict) as info:
        store.request_cancel(job.id, "too late")
    assert info.value.state == state
    assert store.get(job.id) == job


# -- waiting --------------------------------------------------------------------------------------------


def test_wait_events_wakes_when_another_thread_appends(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = make(store, "r1")
    blocked = signal_when_waiting(store, monkeypatch)
    thread, out = in_thread(lambda: store.wait_events(job.id, after_seq=1, timeout=WAITER_TIMEOUT))
    assert blocked.wait(10)
    store.append_event(job.id, "message", {"text": "hi"})
    woken(thread)
    [events] = out
    assert [(e.seq, e.type, e.data) for e in events] == [(2, "message", {"text": "hi"})]


def test_wait_events_returns_at_once_when_there_are_events_and_empty_on_timeout(store: JobStore) -> None:
    job = make(store, "r1")
    assert [e.seq for e in store.wait_events(job.id, after_seq=0, timeout=10)] == [1]
    assert store.wait_events(job.id, after_seq=1, timeout=0.05) == []
    with pytest.raises(JobNotFound):
        store.wait_events("jnope", after_seq=0, timeout=0.05)


def test_wait_events_raises_when_the_job_is_deleted_meanwhile(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = make(store, "r1")
    blocked = signal_when_waiting(store, monkeypatch)
    thread, out = in_thread(lambda: store.wait_events(job.id, after_seq=1, timeout=WAITER_TIMEOUT))
    assert blocked.wait(10)
    store.delete(job.id)
    woken(thread)
    assert isinstance(out[0], JobNotFound)


def test_close_wakes_waiters(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    job = make(store, "r1")
    blocked = signal_when_waiting(store, monkeypatch)
    thread, out = in_thread(lambda: store.wait_state(job.id, {"SUCCEEDED"}, timeout=WAITER_TIMEOUT))
    assert blocked.wait(10)
    store.close()
    woken(thread)
    assert isinstance(out[0], StoreError)
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.get(job.id)


def test_wait_state(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    job = make(store, "r1")
    assert store.wait_state(job.id, {"QUEUED"}, timeout=10) == job
    assert store.wait_state(job.id, TERMINAL, timeout=0.05) == job
    blocked = signal_when_waiting(store, monkeypatch)
    thread, out = in_thread(lambda: store.wait_state(job.id, TERMINAL, timeout=WAITER_TIMEOUT))
    assert blocked.wait(10)
    store.transition(job.id, "RUNNING", allowed_from={"QUEUED"})
    store.transition(job.id, "SUCCEEDED", allowed_from={"RUNNING"}, results={"ok": True})
    woken(thread)
    [final] = out
    assert final.state == "SUCCEEDED" and final.results == {"ok": True}


# -- listing, queue, delete -----------------------------------------------------------------------------


def test_list_pages_newest_first_and_filters(store: JobStore) -> None:
    jobs = [
        make(store, f"r{i}", kind="RENDER" if i % 2 else "TWIN", batch_id="B" if i < 3 else None)
        for i in range(7)
    ]
    to_state(store, jobs[1], "RUNNING")
    to_state(store, jobs[4], "SUCCEEDED")
    pages: list[list[JobRecord]] = []
    before: int | None = None
    while True:
        page = store.list(limit=3, before_rowid=before)
        if not page:
            break
        pages.append(page)
        before = page[-1].rowid
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [j.id for p in pages for j in p] == [j.id for j in reversed(jobs)]

    def ids(found: list[JobRecord]) -> list[str]:
        return [j.id for j in found]

    assert ids(store.list(states=["RUNNING", "SUCCEEDED"])) == [jobs[4].id, jobs[1].id]
    assert ids(store.list(kind="RENDER")) == [jobs[5].id, jobs[3].id, jobs[1].id]
    assert ids(store.list(batch_id="B")) == [jobs[2].id, jobs[1].id, jobs[0].id]
    assert ids(store.list(batch_id="B", kind="TWIN", states=["QUEUED"])) == [jobs[2].id, jobs[0].id]
    assert ids(store.list(kind="EDIT")) == []
    with pytest.raises(ValueError):
        store.list(states=["DONE"])


def test_queue_order_and_position(store: JobStore) -> None:
    a, b, c = make(store, "a"), make(store, "b"), make(store, "c")
    assert [store.queue_position(j.id) for j in (a, b, c)] == [0, 1, 2]
    store.transition(a.id, "RUNNING", allowed_from={"QUEUED"})
    assert [store.queue_position(j.id) for j in (a, b, c)] == [-1, 0, 1]
    assert [j.id for j in store.queued()] == [b.id, c.id]


def test_delete_removes_job_and_events(store: JobStore) -> None:
    job = to_state(store, make(store, "r1"), "SUCCEEDED")
    other = make(store, "r2")
    assert store.delete(job.id) == job
    with pytest.raises(JobNotFound):
        store.get(job.id)
    with pytest.raises(JobNotFound):
        store.events(job.id)
    with pytest.raises(JobNotFound):
        store.delete(job.id)
    assert store._db().execute("SELECT count(*) FROM events WHERE job_id = ?", (job.id,)).fetchone()[0] == 0
    assert store.get(other.id) == other
    # The request id is free again; the new job is a new job, and row ids are never reused.
    fresh = make(store, "r1")
    assert fresh.id != job.id and fresh.rowid > other.rowid


# -- refusing files we must not touch -------------------------------------------------------------------


def test_newer_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    with pytest.raises(StoreError, match="newer RIVER NLE"):
        JobStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    conn.close()


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    path.write_bytes(b"this is not a database, " * 200)
    with pytest.raises(StoreError) as info:
        JobStore(path)
    assert str(path) in str(info.value) and "move it away" in str(info.value)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a RIVER NLE job store"):
        JobStore(path)


def test_store_file_is_wal(store: JobStore) -> None:
    assert store._db().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db().execute("PRAGMA user_version").fetchone()[0] == 1


# -- threads --------------------------------------------------------------------------------------------


def test_many_threads_create_and_append(store: JobStore) -> None:
    existing = [make(store, f"pre{i}") for i in range(4)]
    creators, appenders = 32, 4
    barrier = threading.Barrier(creators + appenders)
    appended: dict[int, list[int]] = {}

    def create(t: int) -> list[JobRecord]:
        barrier.wait(10)
        return [
            job for i in range(4) for job, _ in store.create([new(f"t{t}-{i}", spec=f"{t}/{i}".encode())])
        ]

    def append(t: int) -> None:
        barrier.wait(10)
        job = existing[t]
        appended[t] = [
            store.append_event(job.id, "progress", {"stage": "x", "done": i, "total": 50, "unit": "f"})
            for i in range(50)
        ]

    results: list[list[Any]] = []
    threads = []
    for t in range(creators):
        thread, out = in_thread(lambda t=t: create(t))
        threads.append(thread)
        results.append(out)
    for t in range(appenders):
        thread, out = in_thread(lambda t=t: append(t))
        threads.append(thread)
        results.append(out)
    for thread in threads:
        thread.join(30)
    errors = [r for out in results for r in out if isinstance(r, BaseException)]
    assert errors == []
    created = [job for out in results[:creators] for job in out[0]]
    assert len(created) == 128 and len({j.id for j in created}) == 128
    jobs = store.list(limit=1000)
    assert len(jobs) == 132
    for job in jobs:
        assert seqs(store, job.id) == list(range(1, job.last_seq + 1))
    for t, got in appended.items():
        assert got == list(range(2, 52))
        assert store.get(existing[t].id).progress == {"stage": "x", "done": 49, "total": 50, "unit": "f"}


def test_find_request_returns_the_job_of_a_request_id(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    ((job, _),) = store.create([NewJob("rid-1", "TWIN", b"spec")])
    assert store.find_request("rid-1") == job
    assert store.find_request("rid-2") is None
    store.close()
