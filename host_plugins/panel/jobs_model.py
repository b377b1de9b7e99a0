"""The job list's model and its progress bar: a :class:`JobTableModel` of the server's jobs (updated in
place from polls and watched events, never rolled back by an older poll) and a :class:`ProgressDelegate`
painting the progress column with the style's own bar. Used by :mod:`host_plugins.panel.queue`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from bridge.client import TERMINAL_STATES, kind_name
from bridge.v1 import bridge_pb2

Job = bridge_pb2.Job

QUEUED = bridge_pb2.JOB_STATE_QUEUED
RUNNING = bridge_pb2.JOB_STATE_RUNNING
AWAITING = bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION
SUCCEEDED = bridge_pb2.JOB_STATE_SUCCEEDED
ACTIVE_STATES = frozenset({QUEUED, RUNNING, AWAITING})
STATE_TEXT = {
    bridge_pb2.JOB_STATE_UNSPECIFIED: "?",
    QUEUED: "queued",
    RUNNING: "running",
    AWAITING: "awaiting confirmation",
    SUCCEEDED: "succeeded",
    bridge_pb2.JOB_STATE_FAILED: "failed",
    bridge_pb2.JOB_STATE_CANCELLED: "cancelled",
}
STATE_COLOR = {
    AWAITING: QColor("#d68910"),
    bridge_pb2.JOB_STATE_FAILED: QColor("#c0392b"),
    bridge_pb2.JOB_STATE_CANCELLED: QColor("#7f8c8d"),
}

COLUMNS = ("Job", "Kind", "What", "State", "Progress", "Elapsed", "Remaining", "Queue")
ID_COL, KIND_COL, WHAT_COL, STATE_COL, PROGRESS_COL, ELAPSED_COL, REMAINING_COL, QUEUE_COL = range(8)
JOB_ROLE = Qt.ItemDataRole.UserRole + 1  # the Job message of the row
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2  # (stage, done, total | None, unit) while active, else None
SHORT_ID = 8
OFFLINE_TEXT = "server offline — reconnecting"
PAGE_SIZE = 500  # the server's largest page: one round trip for a typical queue


# -- text ---------------------------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """``7`` → ``"7 s"``, ``65`` → ``"1:05"``, ``3723`` → ``"1:02:03"``; None → ``"—"``."""
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_job(job: bridge_pb2.Job) -> str:
    """What the job does, in a few words: the query, or the targets and op, and the clip and range."""
    spec = job.spec
    what = spec.WhichOneof("what")
    if what == "query":
        head = f"“{spec.query}”"
    elif what == "targets":
        items = ", ".join(spec.targets.items)
        action = spec.op or ("remove" if spec.remove else f"→ {spec.prompt}" if spec.prompt else "generate")
        head = f"{action} {items}"
    elif what == "plan_json":
        head = "render a plan"
    else:
        head = kind_name(job.kind).lower()
    clip = Path(spec.media.path).name if spec.media.path else ""
    media = spec.media
    if media.HasField("range"):
        clip += f" [{media.range.start}:{media.range.end}]"
    elif media.range_text:
        clip += f" [{media.range_text}]"
    return f"{head} · {clip}" if clip else head


def _seconds(ts: Any) -> float | None:
    """A Timestamp as Unix seconds; None when unset."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.seconds + ts.nanos / 1e9


def _progress_text(progress: bridge_pb2.Progress) -> str:
    if not progress.stage:
        return ""
    unit = f" {progress.unit}s" if progress.unit else ""
    if progress.HasField("total"):
        return f"{progress.stage} {progress.done}/{progress.total}{unit}"
    return f"{progress.stage} {progress.done}{unit}" if progress.done else progress.stage


# -- the model ----------------------------------------------------------------------------------


class JobTableModel(QAbstractTableModel):
    """Jobs, newest first, one row each. :meth:`set_jobs` takes a fresh ``ListJobs`` answer and
    changes only what changed (rows inserted, removed, updated), so selection and scrolling stay put;
    :meth:`apply_event` folds a watched job's event in between polls."""

    def __init__(self, parent: QObject | None = None, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.clock = clock  # wall clock: the server's timestamps are Unix times
        self._jobs: list[bridge_pb2.Job] = []
        self._rows: dict[str, int] = {}
        self._rates: dict[str, tuple[str, float, int]] = {}  # job id → (stage, monotonic t0, done at t0)
        self.offline = False

    # -- access ---------------------------------------------------------------------------------

    def jobs(self) -> list[bridge_pb2.Job]:
        return list(self._jobs)

    def job(self, row: int) -> bridge_pb2.Job:
        return self._jobs[row]

    def row_of(self, job_id: str) -> int | None:
        return self._rows.get(job_id)

    def find(self, job_id: str) -> bridge_pb2.Job | None:
        row = self._rows.get(job_id)
        return None if row is None else self._jobs[row]

    # -- Qt -------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._jobs):
            return None
        job = self._jobs[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(job, col)
        if role == JOB_ROLE:
            return job
        if role == PROGRESS_ROLE:
            if col != PROGRESS_COL or job.state not in (RUNNING, AWAITING) or not job.progress.stage:
                return None
            p = job.progress
            return (p.stage, p.done, p.total if p.HasField("total") else None, p.unit)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(job, col)
        if role == Qt.ItemDataRole.ForegroundRole:
            if self.offline:
                return QGuiApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            if col in (STATE_COL, PROGRESS_COL):
                return STATE_COLOR.get(job.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (ELAPSED_COL, REMAINING_COL, QUEUE_COL):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, job: bridge_pb2.Job, col: int) -> str:
        if col == ID_COL:
            return job.id[:SHORT_ID]
        if col == KIND_COL:
            return kind_name(job.kind).lower()
        if col == WHAT_COL:
            return describe_job(job)
        if col == STATE_COL:
            return STATE_TEXT.get(job.state, str(job.state))
        if col == PROGRESS_COL:
            if job.state in (bridge_pb2.JOB_STATE_FAILED, bridge_pb2.JOB_STATE_CANCELLED):
                return job.error.message
            if job.state == SUCCEEDED:
                return f"done · {job.results.frames} frames" if job.results.frames else "done"
            return _progress_text(job.progress) if job.state != QUEUED else ""
        if col == ELAPSED_COL:
            return format_duration(self.elapsed(job)) if _seconds(job.start_time) is not None else ""
        if col == REMAINING_COL:
            return format_duration(self.remaining(job)) if job.state == RUNNING else ""
        if col == QUEUE_COL:
            return f"#{job.queue_position + 1}" if job.state == QUEUED else ""
        return ""

    def _tooltip(self, job: bridge_pb2.Job, col: int) -> str | None:
        if col == ID_COL:
            return job.id
        if col == WHAT_COL:
            return f"{describe_job(job)}\n{job.spec.media.path}"
        if col in (STATE_COL, PROGRESS_COL) and job.error.message:
            return f"{job.error.kind}: {job.error.message}"
        if col in (STATE_COL, PROGRESS_COL) and job.results.output_dir:
            return job.results.output_dir
        return None

    # -- time -----------------------------------------------------------------------------------

    def elapsed(self, job: bridge_pb2.Job) -> float | None:
        """Seconds from start to end, or to now while the job is not over."""
        start = _seconds(job.start_time)
        if start is None:
            return None
        end = _seconds(job.end_time) if job.state in TERMINAL_STATES else None
        return max(0.0, (end if end is not None else self.clock()) - start)

    def remaining(self, job: bridge_pb2.Job) -> float | None:
        """Seconds left in the current stage at the rate seen so far; None when the total is unknown
        or no rate has been seen yet."""
        p = job.progress
        rate = self._rates.get(job.id)
        if not p.HasField("total") or rate is None or rate[0] != p.stage:
            return None
        _, t0, done0 = rate
        now = time.monotonic()
        if p.done <= done0 or now <= t0:
            return None
        return max(0, p.total - p.done) * (now - t0) / (p.done - done0)

    def _note_progress(self, job: bridge_pb2.Job) -> None:
        p = job.progress
        rate = self._rates.get(job.id)
        if job.state != RUNNING or not p.stage:
            self._rates.pop(job.id, None)
        elif rate is None or rate[0] != p.stage or p.done < rate[2]:
            self._rates[job.id] = (p.stage, time.monotonic(), p.done)

    def tick(self) -> None:
        """Repaint the clocks (elapsed, remaining) of the jobs not yet over."""
        for row, job in enumerate(self._jobs):
            if job.state in (RUNNING, AWAITING):
                self.dataChanged.emit(self.index(row, ELAPSED_COL), self.index(row, REMAINING_COL))

    # -- changes --------------------------------------------------------------------------------

    def set_offline(self, offline: bool) -> None:
        """Grey the whole list (it is the last one seen) while the server is away."""
        if offline != self.offline:
            self.offline = offline
            if self._jobs:
                last = self.index(len(self._jobs) - 1, len(COLUMNS) - 1)
                self.dataChanged.emit(self.index(0, 0), last)

    def set_jobs(self, jobs: Sequence[bridge_pb2.Job]) -> None:
        """Make the rows those of ``jobs`` (newest first), keeping what a watch saw after the poll."""
        fresh = {job.id: job for job in jobs}
        order = list(fresh)
        # 1. rows gone (deleted here or elsewhere)
        for row in reversed(range(len(self._jobs))):
            if self._jobs[row].id not in fresh:
                self.beginRemoveRows(QModelIndex(), row, row)
                gone = self._jobs.pop(row)
                self._rates.pop(gone.id, None)
                self.endRemoveRows()
        # 2. new rows, at their place
        present = {job.id for job in self._jobs}
        for i, job_id in enumerate(order):
            if job_id not in present:
                row = min(i, len(self._jobs))
                self.beginInsertRows(QModelIndex(), row, row)
                self._jobs.insert(row, bridge_pb2.Job(id=job_id))  # filled in by step 4
                self.endInsertRows()
        self._reindex()
        # 3. the order changed (rare: ids are listed by creation time)
        if [job.id for job in self._jobs] != order:
            self._reorder(order)
        # 4. contents
        for row, job_id in enumerate(order):
            self._update(row, fresh[job_id])

    def upsert(self, job: bridge_pb2.Job) -> None:
        """Add ``job`` (at the top: it is the newest) or update its row, e.g. from an action's answer."""
        row = self._rows.get(job.id)
        if row is None:
            self.beginInsertRows(QModelIndex(), 0, 0)
            self._jobs.insert(0, bridge_pb2.Job(id=job.id))
            self.endInsertRows()
            self._reindex()
            row = 0
        self._update(row, job)

    def remove(self, job_id: str) -> None:
        row = self._rows.get(job_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        self._jobs.pop(row)
        self._rates.pop(job_id, None)
        self.endRemoveRows()
        self._reindex()

    def apply_event(self, event: bridge_pb2.JobEvent) -> bridge_pb2.Job | None:
        """Fold a watched job's event into its row; the updated job, or None when the row already
        knew it (a poll was ahead of the stream) or the job is not listed."""
        row = self._rows.get(event.job_id)
        if row is None:
            return None
        job = self._jobs[row]
        if event.seq <= job.last_seq:
            return None
        kind = event.WhichOneof("event")
        if kind == "progress":
            job.progress.CopyFrom(event.progress)
        elif kind == "results":
            job.results.CopyFrom(event.results)
        elif kind == "error":
            job.error.CopyFrom(event.error)
        elif kind == "plan":
            job.plan.CopyFrom(event.plan)
        elif kind == "state":
            job.state = event.state.state
            if job.state == RUNNING and _seconds(job.start_time) is None:
                job.start_time.CopyFrom(event.time)
            if job.state in TERMINAL_STATES:
                job.end_time.CopyFrom(event.time)
            if job.state == QUEUED:
                job.ClearField("progress")  # re-queued: it starts again from the beginning
            else:
                job.queue_position = 0
        job.last_seq = event.seq
        job.update_time.CopyFrom(event.time)
        self._note_progress(job)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return job

    def _update(self, row: int, job: bridge_pb2.Job) -> None:
        old = self._jobs[row]
        if job.last_seq < old.last_seq:
            # A watch already brought newer events than this answer holds: keep them.
            if old.queue_position == job.queue_position:
                return
            old.queue_position = job.queue_position
        elif old == job:
            return
        else:
            self._jobs[row] = copy = bridge_pb2.Job()
            copy.CopyFrom(job)
            self._note_progress(copy)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def _reorder(self, order: list[str]) -> None:
        self.layoutAboutToBeChanged.emit()
        by_id = {job.id: job for job in self._jobs}
        new_row = {job_id: row for row, job_id in enumerate(order)}
        moved_from = self.persistentIndexList()
        moved_to = [
            self.index(new_row[self._jobs[i.row()].id], i.column()) if i.isValid() else QModelIndex()
            for i in moved_from
        ]
        self._jobs = [by_id[job_id] for job_id in order]
        self._reindex()
        self.changePersistentIndexList(moved_from, moved_to)
        self.layoutChanged.emit()

    def _reindex(self) -> None:
        self._rows = {job.id: row for row, job in enumerate(self._jobs) if job.id}


# -- the progress column ------------------------------------------------------------------------


class ProgressDelegate(QStyledItemDelegate):
    """The style's own progress bar for a job that runs (busy when the stage has no total); plain
    text for the others. Drawn by QStyle, so it follows the theme and the screen's pixel ratio."""

    def paint(self, painter: Any, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        progress = index.data(PROGRESS_ROLE)
        if progress is None:
            super().paint(painter, option, index)
            return
        stage, done, total, unit = progress
        widget = option.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 2, -2, -2)  # type: ignore[attr-defined]
        bar.state = option.state | QStyle.StateFlag.State_Horizontal  # type: ignore[attr-defined]
        if index.model() is not None and _is_offline(index):
            bar.state &= ~QStyle.StateFlag.State_Enabled
        bar.palette = option.palette  # type: ignore[attr-defined]
        bar.fontMetrics = option.fontMetrics  # type: ignore[attr-defined]
        bar.direction = option.direction  # type: ignore[attr-defined]
        bar.minimum = 0
        if total is None or total <= 0:
            bar.maximum = 0  # busy: the stage does not know how much is left
            bar.progress = 0
        else:
            scale = max(1, -(-total // 1_000_000))  # QStyle counts in int: keep huge totals in range
            bar.maximum = int(total // scale)
            bar.progress = int(min(done, total) // scale)
        units = f" {unit}s" if unit else ""
        bar.text = f"{stage} {done}/{total}{units}" if total is not None else f"{stage} {done}{units}"
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)


def _is_offline(index: QModelIndex) -> bool:
    model = index.model()
    while isinstance(model, QSortFilterProxyModel):
        model = model.sourceModel()
    return bool(getattr(model, "offline", False))


# -- the widget ---------------------------------------------------------------------------------
