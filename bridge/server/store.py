"""The bridge's durable job store: jobs and their event logs in one embedded SQLite file (WAL).

Every job the bridge accepts is a row here, and every change to it (state moves, progress, plans,
results, errors) is an event with a per-job sequence number ``1, 2, 3, ...`` written in the same
transaction as the change, so a client that reconnects after ``kill -9`` of the server can resume its
event stream from the last seq it saw. The job spec is opaque bytes (a serialized protobuf the caller
owns); the store never interprets specs or job kinds.

Standard library only: no engine, no gRPC. One connection, shared by all threads under one lock.
"""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

STATES: Final[tuple[str, ...]] = (
    "QUEUED",
    "RUNNING",
    "AWAITING_CONFIRMATION",
    "SUCCEEDED",
    "FAILED",
    "CANCELLED",
)
TERMINAL: Final[frozenset[str]] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
ACTIVE: Final[frozenset[str]] = frozenset({"QUEUED", "RUNNING"})
EVENT_TYPES: Final[frozenset[str]] = frozenset({"state", "progress", "message", "plan", "results", "error"})

SCHEMA_VERSION: Final = 1

# Statements, not a script: executescript() would commit the transaction that guards the creation.
_SCHEMA: Final[tuple[str, ...]] = (
    """CREATE TABLE jobs (
        n INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused after a delete, so paging and order stay sound
        id TEXT NOT NULL UNIQUE,
        request_id TEXT NOT NULL UNIQUE,
        batch_id TEXT,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        spec BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        started_ms INTEGER,
        finished_ms INTEGER,
        progress TEXT,
        last_seq INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        results TEXT,
        plan TEXT,
        cancel_reason TEXT
    )""",
    "CREATE INDEX jobs_state ON jobs (state, n)",
    "CREATE INDEX jobs_batch ON jobs (batch_id, n)",
    """CREATE TABLE events (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    ) WITHOUT ROWID""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_JOB_COLUMNS = (
    "id, n, request_id, batch_id, kind, state, spec, created_ms, updated_ms, started_ms, finished_ms, "
    "progress, last_seq, error, results, plan, cancel_reason"
)


class StoreError(Exception):
    """Base of the job store's errors; also raised for an unusable store file or a closed store."""


class JobNotFound(StoreError, KeyError):
    """No job with this id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id}")
        self.job_id = job_id

    def __str__(self) -> str:  # KeyError would quote the message
        return f"no job {self.job_id}"


class QueueFull(StoreError):
    """Creating the jobs would put more active (QUEUED + RUNNING) jobs in the queue than allowed."""

    def __init__(self, active: int, limit: int, requested: int = 1) -> None:
        super().__init__(
            f"the queue holds {active} active jobs (limit {limit}) and this request adds {requested}; "
            "try again later"
        )
        self.active = active
        self.limit = limit
        self.requested = requested


class RequestConflict(StoreError):
    """The request id was used before for a different job spec or kind."""

    def __init__(self, request_id: str, job_id: str) -> None:
        super().__init__(
            f"request id {request_id!r} was already used for job {job_id} with a different spec; "
            "use a new request id for a new job"
        )
        self.request_id = request_id
        self.job_id = job_id


class StateConflict(StoreError):
    """The job is not in a state that allows the requested change."""

    def __init__(self, job_id: str, state: str, wanted: str) -> None:
        super().__init__(f"job {job_id} is {state}; cannot {wanted}")
        self.job_id = job_id
        self.state = state
        self.wanted = wanted


@dataclass(frozen=True)
class NewJob:
    """A job to create: the caller's idempotency key, its kind and its opaque spec."""

    request_id: str
    kind: str
    spec: bytes
    batch_id: str | None = None


@dataclass(frozen=True)
class JobRecord:
    """A job as stored, with the summary of its event log (latest progress, plan, results, error)."""

    id: str
    rowid: int
    request_id: str
    batch_id: str | None
    kind: str
    state: str
    spec: bytes
    created_ms: int
    updated_ms: int
    started_ms: int | None
    finished_ms: int | None
    progress: dict[str, Any] | None
    last_seq: int
    error: dict[str, Any] | None
    results: dict[str, Any] | None
    plan: dict[str, Any] | None
    cancel_reason: str | None

    @property
    def terminal(self) -> bool:
        """Whether the job is SUCCEEDED, FAILED or CANCELLED."""
        return self.state in TERMINAL


@dataclass(frozen=True)
class EventRecord:
    """One entry of a job's event log."""

    job_id: str
    seq: int
    time_ms: int
    type: str
    data: dict[str, Any]


def _dumps(data: dict[str, Any] | None) -> str | None:
    return None if data is None else json.dumps(data, sort_keys=True)


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _job(row: sqlite3.Row | tuple[Any, ...]) -> JobRecord:
    return JobRecord(
        id=row[0],
        rowid=row[1],
        request_id=row[2],
        batch_id=row[3],
        kind=row[4],
        state=row[5],
        spec=bytes(row[6]),
        created_ms=row[7],
        updated_ms=row[8],
        started_ms=row[9],
        finished_ms=row[10],
        progress=_loads(row[11]),
        last_seq=row[12],
        error=_loads(row[13]),
        results=_loads(row[14]),
        plan=_loads(row[15]),
        cancel_reason=row[16],
    )


class JobStore:
    """The job store in one SQLite file; safe to share between threads (gRPC handlers + the worker)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        # Waiters (event streams, wait_state) sleep on this; every commit that writes notifies it.
        self._cond = threading.Condition(self._lock)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode (isolation_level=None): transactions are opened explicitly with BEGIN IMMEDIATE so
        # the write lock is taken up front rather than upgraded halfway through.
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
        try:
            self._open(conn)
        except sqlite3.OperationalError as e:  # locked, read-only, out of disk: the file itself may be fine
            conn.close()
            raise StoreError(f"cannot open the job store {self.path}: {e}") from e
        except sqlite3.DatabaseError as e:  # not a database, or a corrupt one
            conn.close()
            raise StoreError(
                f"{self.path} is not a RIVER NLE job store ({e}); move it away and the bridge will start a "
                "new one"
            ) from e
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    def _open(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA busy_timeout = 10000")
        # Read the version before anything writes to the file: a newer store must be left untouched.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the job store {self.path} was written by a newer RIVER NLE (schema version {version}, this "
                f"one knows {SCHEMA_VERSION}); upgrade RIVER NLE or move the file away"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives a process crash (kill -9); only an OS crash may lose the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have created the schema meanwhile.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:
                tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
                if tables:
                    raise StoreError(
                        f"{self.path} is an SQLite database but not a RIVER NLE job store; move it away and "
                        "the bridge will start a new one"
                    )
                for statement in _SCHEMA:
                    conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- plumbing ---------------------------------------------------------------------------------------

    def __enter__(self) -> JobStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the job store {self.path} is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; waiters are woken once it commits."""
        with self._lock:
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._cond.notify_all()

    def _fetch(self, conn: sqlite3.Connection, job_id: str) -> JobRecord:
        row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return _job(row)

    def _append(
        self, conn: sqlite3.Connection, job_id: str, type: str, data: dict[str, Any], now: int
    ) -> int:
        """Appends one event inside the caller's transaction and keeps the job's summary columns in step."""
        row = conn.execute("SELECT last_seq FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        seq = int(row[0]) + 1
        text = json.dumps(data, sort_keys=True)
        conn.execute(
            "INSERT INTO events (job_id, seq, time_ms, type, data) VALUES (?, ?, ?, ?, ?)",
            (job_id, seq, now, type, text),
        )
        # The record summarises its log: the latest progress/plan/results/error event is also on the row.
        column = type if type in ("progress", "plan", "results", "error") else None
        if column is None:
            conn.execute("UPDATE jobs SET last_seq = ?, updated_ms = ? WHERE id = ?", (seq, now, job_id))
        else:
            conn.execute(
                f"UPDATE jobs SET last_seq = ?, updated_ms = ?, {column} = ? WHERE id = ?",
                (seq, now, text, job_id),
            )
        return seq

    def _move(
        self,
        conn: sqlite3.Connection,
        job: JobRecord,
        to: str,
        now: int,
        *,
        message: str = "",
        error: dict[str, Any] | None = None,
        results: dict[str, Any] | None = None,
        plan: dict[str, Any] | None = None,
    ) -> None:
        """Moves a job to `to` inside the caller's transaction; the state event comes last."""
        # Payload events first: a watcher that stops at a terminal state event has already seen them.
        for type, data in (("plan", plan), ("results", results), ("error", error)):
            if data is not None:
                self._append(conn, job.id, type, data, now)
        started = job.started_ms if job.started_ms is not None or to != "RUNNING" else now
        # A job that leaves a terminal state (a retry) is no longer finished.
        finished = now if to in TERMINAL else None
        cancel_reason = job.cancel_reason if to == "RUNNING" else None
        conn.execute(
            "UPDATE jobs SET state = ?, started_ms = ?, finished_ms = ?, cancel_reason = ? WHERE id = ?",
            (to, started, finished, cancel_reason, job.id),
        )
        self._append(conn, job.id, "state", {"state": to, "message": message}, now)

    # -- jobs -------------------------------------------------------------------------------------------

    def create(
        self, items: Sequence[NewJob], *, max_active: int | None = None
    ) -> list[tuple[JobRecord, bool]]:
        """Creates the jobs, all or none; returns each item's job and whether it was created now.

        A request id seen before with the same kind and spec returns that job (created False); with a
        different kind or spec it raises RequestConflict. With `max_active`, raises QueueFull when the new
        jobs would bring the active (QUEUED + RUNNING) jobs above it; a pure replay is never refused.
        """
        if not items:
            return []
        for item in items:
            if not item.request_id:
                raise ValueError("a job needs a non-empty request_id")
        now = self._now()
        out: list[tuple[JobRecord, bool]] = []
        with self._write() as conn:
            created = 0
            for item in items:
                spec = bytes(item.spec)
                row = conn.execute(
                    f"SELECT {_JOB_COLUMNS} FROM jobs WHERE request_id = ?", (item.request_id,)
                ).fetchone()
                if row is not None:
                    job = _job(row)
                    if job.spec != spec or job.kind != item.kind:
                        raise RequestConflict(item.request_id, job.id)
                    out.append((job, False))
                    continue
                job_id = self._new_id(conn)
                conn.execute(
                    "INSERT INTO jobs (id, request_id, batch_id, kind, state, spec, created_ms, updated_ms) "
                    "VALUES (?, ?, ?, ?, 'QUEUED', ?, ?, ?)",
                    (job_id, item.request_id, item.batch_id, item.kind, spec, now, now),
                )
                self._append(conn, job_id, "state", {"state": "QUEUED", "message": ""}, now)
                out.append((self._fetch(conn, job_id), True))
                created += 1
            if max_active is not None and created:
                active = self._count_active(conn)
                if active > max_active:
                    raise QueueFull(active - created, max_active, created)
        return out

    @staticmethod
    def _new_id(conn: sqlite3.Connection) -> str:
        while True:
            job_id = "j" + secrets.token_hex(10)[:19]
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                return job_id

    @staticmethod
    def _count_active(conn: sqlite3.Connection) -> int:
        marks = ", ".join("?" * len(ACTIVE))
        return int(
            conn.execute(f"SELECT count(*) FROM jobs WHERE state IN ({marks})", sorted(ACTIVE)).fetchone()[0]
        )

    def get(self, job_id: str) -> JobRecord:
        """The job with this id; JobNotFound if there is none."""
        with self._lock:
            return self._fetch(self._db(), job_id)

    def find_request(self, request_id: str) -> JobRecord | None:
        """The job created for this client request id, if any (retries look it up first)."""
        with self._lock:
            row = (
                self._db()
                .execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE request_id = ?", (request_id,))
                .fetchone()
            )
        return None if row is None else _job(row)

    def list(
        self,
        *,
        states: Collection[str] = (),
        kind: str | None = None,
        batch_id: str | None = None,
        limit: int = 50,
        before_rowid: int | None = None,
    ) -> list[JobRecord]:
        """Jobs matching all the given filters, newest first; `before_rowid` pages to older jobs."""
        clauses: list[str] = []
        params: list[Any] = []
        if states:
            unknown = set(states) - set(STATES)
            if unknown:
                raise ValueError(f"unknown job states {sorted(unknown)}; known: {', '.join(STATES)}")
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(states)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        if batch_id is not None:
            clauses.append("batch_id = ?")
            params.append(batch_id)
        if before_rowid is not None:
            clauses.append("n < ?")
            params.append(before_rowid)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(0, limit))
        with self._lock:
            rows = self._db().execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY n DESC LIMIT ?", params
            )
            return [_job(row) for row in rows.fetchall()]

    def queued(self) -> builtins.list[JobRecord]:
        """The QUEUED jobs, oldest first (the order they should run in)."""
        with self._lock:
            return self._queued(self._db())

    @staticmethod
    def _queued(conn: sqlite3.Connection) -> builtins.list[JobRecord]:
        rows = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'QUEUED' ORDER BY n")
        return [_job(row) for row in rows.fetchall()]

    def queue_position(self, job_id: str) -> int:
        """How many QUEUED jobs are ahead of this one (0 = next), or -1 if it is not QUEUED."""
        with self._lock:
            conn = self._db()
            job = self._fetch(conn, job_id)
            if job.state != "QUEUED":
                return -1
            row = conn.execute("SELECT count(*) FROM jobs WHERE state = 'QUEUED' AND n < ?", (job.rowid,))
            return int(row.fetchone()[0])

    def transition(
        self,
        job_id: str,
        to: str,
        *,
        allowed_from: Collection[str],
        message: str = "",
        error: dict[str, Any] | None = None,
        results: dict[str, Any] | None = None,
        plan: dict[str, Any] | None = None,
    ) -> JobRecord:
        """Moves the job to state `to` if it is in one of `allowed_from`; else StateConflict, nothing written.

        Given plan, results and error are stored on the job and logged as events before the state event.
        """
        if to not in STATES:
            raise ValueError(f"unknown job state {to!r}; known: {', '.join(STATES)}")
        now = self._now()
        with self._write() as conn:
            job = self._fetch(conn, job_id)
            if job.state not in allowed_from:
                raise StateConflict(
                    job_id,
                    job.state,
                    f"move it to {to} (allowed from {', '.join(sorted(allowed_from)) or 'nothing'})",
                )
            self._move(conn, job, to, now, message=message, error=error, results=results, plan=plan)
            return self._fetch(conn, job_id)

    def request_cancel(self, job_id: str, reason: str) -> JobRecord:
        """Cancels the job: at once if it has not started or awaits confirmation; a RUNNING job gets
        `cancel_reason` set for its runner to act on. Cancelling a cancelled job changes nothing;
        a SUCCEEDED or FAILED job raises StateConflict."""
        now = self._now()
        with self._write() as conn:
            job = self._fetch(conn, job_id)
            if job.state in ("QUEUED", "AWAITING_CONFIRMATION"):
                self._move(
                    conn,
                    job,
                    "CANCELLED",
                    now,
                    message=reason,
                    error={"kind": "cancelled", "message": reason},
                )
            elif job.state == "RUNNING":
                # A second request while the runner is still stopping adds nothing new.
                if job.cancel_reason is None:
                    conn.execute("UPDATE jobs SET cancel_reason = ? WHERE id = ?", (reason, job_id))
                    self._append(conn, job_id, "message", {"text": f"cancel requested: {reason}"}, now)
            elif job.state != "CANCELLED":
                raise StateConflict(job_id, job.state, "cancel it")
            return self._fetch(conn, job_id)

    def delete(self, job_id: str) -> JobRecord:
        """Removes the job and its events; returns the job as it was."""
        with self._write() as conn:
            job = self._fetch(conn, job_id)
            conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))  # events go by ON DELETE CASCADE
            return job

    def recover(self, reason: str) -> tuple[builtins.list[JobRecord], builtins.list[JobRecord]]:
        """At start-up: fails every RUNNING job as interrupted (its process is gone).

        Returns the jobs just failed and the QUEUED jobs, oldest first; AWAITING_CONFIRMATION jobs stay.
        """
        now = self._now()
        failed: list[JobRecord] = []
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'RUNNING' ORDER BY n"
            ).fetchall()
            for job in map(_job, rows):
                error = {"kind": "interrupted", "message": reason}
                self._move(conn, job, "FAILED", now, message=reason, error=error)
                failed.append(self._fetch(conn, job.id))
            return failed, self._queued(conn)

    # -- events -----------------------------------------------------------------------------------------

    def append_event(self, job_id: str, type: str, data: dict[str, Any]) -> int:
        """Appends an event to the job's log and returns its seq.

        A progress, plan, results or error event also becomes the job's latest `progress`, `plan`,
        `results` or `error`. State events come only from transition() and friends.
        """
        if type not in EVENT_TYPES or type == "state":
            known = ", ".join(sorted(EVENT_TYPES - {"state"}))
            raise ValueError(
                f"cannot append an event of type {type!r}; use transition() for state, or one of {known}"
            )
        now = self._now()
        with self._write() as conn:
            return self._append(conn, job_id, type, data, now)

    def events(self, job_id: str, after_seq: int = 0, limit: int = 1000) -> builtins.list[EventRecord]:
        """The job's events with seq > `after_seq`, oldest first, at most `limit`."""
        with self._lock:
            conn = self._db()
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise JobNotFound(job_id)
            rows = conn.execute(
                "SELECT seq, time_ms, type, data FROM events WHERE job_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (job_id, after_seq, max(0, limit)),
            ).fetchall()
            return [
                EventRecord(job_id, seq, time_ms, type, json.loads(data)) for seq, time_ms, type, data in rows
            ]

    def wait_events(self, job_id: str, after_seq: int, timeout: float) -> builtins.list[EventRecord]:
        """The job's events after `after_seq`, waiting up to `timeout` seconds for one; [] if none came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.events(job_id, after_seq)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._cond.wait(remaining)

    def wait_state(self, job_id: str, states: Collection[str], timeout: float) -> JobRecord:
        """The job once its state is in `states`, or as it is when `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                job = self.get(job_id)
                remaining = deadline - time.monotonic()
                if job.state in states or remaining <= 0:
                    return job
                self._cond.wait(remaining)

    def close(self) -> None:
        """Closes the store (again is fine); waiters wake and get StoreError."""
        with self._cond:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._cond.notify_all()
