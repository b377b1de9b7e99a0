"""The job queue: every job of the server (this panel's, other panels', `river jobs`'), newest first, live.

A :class:`JobTableModel` holds the jobs; :class:`ProgressDelegate` paints the progress column with the
style's own progress bar. :class:`JobQueue` polls ``ListJobs`` off the UI thread about once a second
(one call in flight at a time) and watches the running, awaiting and next queued jobs, so progress
arrives between polls. While the server is down it keeps the last list greyed under a one-line
"server offline — reconnecting" and keeps polling; a restarted server (new address, new token) is
found again and the watches resume where they stopped. Closing the queue stops its watches, never
the jobs.

    >>> queue = JobQueue(bridge)
    >>> queue.error.connect(banner.show_error)
    >>> queue.job_finished.connect(lambda job: before_after.show(job.results))
    >>> queue.job_awaiting.connect(explain.review)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QColor, QDesktopServices, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from bridge.client import TERMINAL_STATES, BridgeError, RiverClient, kind_name
from bridge.v1 import bridge_pb2
from host_plugins.panel.worker import LOST_CODES, Bridge, JobWatch, error_text

__all__ = [
    "COLUMNS",
    "JOB_ROLE",
    "PROGRESS_ROLE",
    "JobQueue",
    "JobTableModel",
    "ProgressDelegate",
    "describe_job",
    "format_duration",
]

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


def _list_all(client: RiverClient) -> list[bridge_pb2.Job]:
    return list(client.iter_jobs(page_size=PAGE_SIZE))


def _lost(exc: BaseException) -> bool:
    return isinstance(exc, BridgeError) and exc.code in LOST_CODES


def ask_delete_outputs(parent: QWidget, jobs: Sequence[bridge_pb2.Job]) -> bool | None:
    """Ask whether deleting ``jobs`` also deletes their outputs: True, False, or None to keep them."""
    names = ", ".join(job.id[:SHORT_ID] for job in jobs[:5]) + (" …" if len(jobs) > 5 else "")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Delete jobs")
    box.setText(f"Delete {len(jobs)} job(s) ({names}) from the queue. Also delete their outputs?")
    outputs = box.addButton("Delete outputs too", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep outputs", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return True if clicked is outputs else False if clicked is keep else None


class JobQueue(QWidget):
    """Every job of the server, newest first, with Cancel, Retry, Delete and Open output folder.

    Signals: ``job_selected(str)`` (the current row's job id), ``job_finished(Job)`` once when a job
    this panel saw queued, running or awaiting ends, ``job_awaiting(Job)`` once when a job comes to
    await confirmation, ``job_event(JobEvent)`` for each event of a watched job, ``error(str)`` one
    line for the banner, ``online_changed(bool)`` when the server goes away or comes back.

    ``confirm_delete(parent, jobs)`` answers "also delete outputs?" (True / False / None = do not
    delete); ``opener(QUrl)`` opens a folder. Both are there for tests and hosts to replace.
    """

    job_selected = Signal(str)
    job_finished = Signal(object)
    job_awaiting = Signal(object)
    job_event = Signal(object)
    error = Signal(str)
    online_changed = Signal(bool)

    def __init__(
        self,
        bridge: Bridge,
        parent: QWidget | None = None,
        *,
        poll_ms: int = 1000,
        watch_queued: int = 4,
        confirm_delete: Callable[[QWidget, Sequence[bridge_pb2.Job]], bool | None] = ask_delete_outputs,
        opener: Callable[[QUrl], bool] = QDesktopServices.openUrl,
        autostart: bool = True,
    ) -> None:
        super().__init__(parent)
        if poll_ms <= 0:
            raise ValueError(f"poll_ms {poll_ms} must be a positive number of milliseconds")
        self.bridge = bridge
        self.poll_ms = poll_ms
        self.watch_queued = watch_queued
        self.confirm_delete = confirm_delete
        self.opener = opener
        self.online: bool | None = None  # unknown until the first answer
        self._polling = False
        self._closed = False
        self._watches: dict[str, JobWatch] = {}
        self._live: set[str] = set()  # seen not yet over: their end is announced (job_finished)
        self._awaited: set[str] = set()  # announced as awaiting confirmation
        self._lost: set[str] = set()  # watched jobs whose watch lost the server
        self._delivered: dict[str, int] = {}  # the last seq passed on, per job: each event once
        self._last_error = ""

        self.model = JobTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.view = self._make_view()
        self.status_line = QLabel(OFFLINE_TEXT, self)
        self.status_line.setVisible(False)
        self._make_actions()

        buttons = QHBoxLayout()
        for action in self.actions_list():
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status_line)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)  # re-armed after each answer: never two polls at once
        self._timer.timeout.connect(self.refresh)
        # (not on dataChanged: a poll changes many rows; the handlers below update the actions once)
        self.model.rowsRemoved.connect(self._update_actions)
        self.model.layoutChanged.connect(self._update_actions)
        self._update_actions()
        if autostart:
            QTimer.singleShot(0, self.refresh)

    # -- building -------------------------------------------------------------------------------

    def _make_view(self) -> QTableView:
        view = QTableView(self)
        view.setModel(self.proxy)
        view.setItemDelegateForColumn(PROGRESS_COL, ProgressDelegate(view))
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.setAlternatingRowColors(True)
        view.verticalHeader().setVisible(False)
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(WHAT_COL, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(PROGRESS_COL, 220)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._context_menu)
        view.selectionModel().selectionChanged.connect(self._on_selection)
        view.selectionModel().currentRowChanged.connect(self._on_current)
        view.doubleClicked.connect(lambda _: self.open_selected_output())
        return view

    def _make_actions(self) -> None:
        def action(text: str, shortcut: QKeySequence, slot: Callable[[], None], tip: str) -> QAction:
            act = QAction(text, self)
            act.setShortcut(shortcut)
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(f"{tip} ({shortcut.toString(QKeySequence.SequenceFormat.NativeText)})")
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.cancel_action = action(
            "Cancel", QKeySequence("Ctrl+."), self.cancel_selected, "Stop the selected jobs"
        )
        self.retry_action = action(
            "Retry", QKeySequence("Ctrl+R"), self.retry_selected, "Submit the selected jobs again"
        )
        self.delete_action = action(
            "Delete", QKeySequence(QKeySequence.StandardKey.Delete), self.delete_selected,
            "Forget the selected finished jobs",
        )  # fmt: skip
        self.open_action = action(
            "Open output folder", QKeySequence("Ctrl+O"), self.open_selected_output,
            "Show the selected job's output folder",
        )  # fmt: skip

    def actions_list(self) -> list[QAction]:
        return [self.cancel_action, self.retry_action, self.delete_action, self.open_action]

    def context_menu(self) -> QMenu:
        """The menu a right click shows: the actions, enabled by the selection."""
        menu = QMenu(self)
        for action in self.actions_list():
            menu.addAction(action)
        return menu

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu()
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    # -- polling --------------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Ask the server for the list now (off the UI thread; nothing when an answer is awaited)."""
        if self._closed or self._polling:
            return
        self._timer.stop()
        self._polling = True
        self.bridge.call(_list_all, self._on_list, self._on_list_failed, start=False)

    def _schedule(self) -> None:
        if not self._closed:
            self._timer.start(self.poll_ms)

    def _on_list(self, jobs: list[bridge_pb2.Job]) -> None:
        self._polling = False
        if self._closed:
            return
        self._set_online(True, "")
        self.model.set_jobs(jobs)
        for job in self.model.jobs():
            self._note(job)
        self._reconcile_watches()
        self.model.tick()
        self._update_actions()
        self._schedule()

    def _on_list_failed(self, exc: BaseException) -> None:
        self._polling = False
        if self._closed:
            return
        if _lost(exc):
            self._set_online(False, error_text(exc))
        else:
            self._error(error_text(exc))
        self._schedule()

    def _set_online(self, online: bool, why: str) -> None:
        self.status_line.setToolTip(why)
        if online == self.online:
            return
        self.online = online
        self.model.set_offline(not online)
        self.status_line.setVisible(not online)
        self.view.viewport().update()
        if online:
            self._last_error = ""
        self._update_actions()
        self.online_changed.emit(online)

    def _error(self, text: str) -> None:
        if text != self._last_error:  # a poll failing every second says it once
            self._last_error = text
            self.error.emit(text)

    # -- watching -------------------------------------------------------------------------------

    def watches(self) -> dict[str, JobWatch]:
        """The jobs watched now, by id."""
        return dict(self._watches)

    def _reconcile_watches(self) -> None:
        wanted: set[str] = set()
        queued: list[bridge_pb2.Job] = []
        for job in self.model.jobs():
            if job.state in (RUNNING, AWAITING):
                wanted.add(job.id)
            elif job.state == QUEUED:
                queued.append(job)
        queued.sort(key=lambda job: job.queue_position)
        wanted.update(job.id for job in queued[: self.watch_queued])
        for job_id, watch in list(self._watches.items()):
            job = self.model.find(job_id)
            if job is None or job.state in TERMINAL_STATES:
                self._stop_watch(job_id, watch)
            elif job_id in self._lost:
                # The list answered, so the server is back; a lost watch may be sleeping between
                # tries: follow on at once from the last event it delivered.
                self._stop_watch(job_id, watch)
                self._start_watch(job_id, max(watch.last_seq, self._delivered.get(job_id, 0)))
        for job_id in wanted - set(self._watches):
            job = self.model.find(job_id)
            assert job is not None
            self._start_watch(job_id, max(job.last_seq, self._delivered.get(job_id, 0)))

    def _start_watch(self, job_id: str, after_seq: int) -> None:
        watch = self.bridge.watch(job_id, after_seq=after_seq)
        watch.event.connect(self._on_event)
        watch.link.connect(self._on_link)
        watch.finished.connect(self._on_watch_finished)
        self._watches[job_id] = watch
        self._delivered[job_id] = max(after_seq, self._delivered.get(job_id, 0))
        watch.start()

    def _stop_watch(self, job_id: str, watch: JobWatch) -> None:
        if self._watches.get(job_id) is watch:
            del self._watches[job_id]
            self._lost.discard(job_id)
        watch.stop()

    @Slot(object)
    def _on_event(self, event: bridge_pb2.JobEvent) -> None:
        if self._closed or event.seq <= self._delivered.get(event.job_id, 0):
            return  # a replaced watch's last event, delivered again by its successor
        self._delivered[event.job_id] = event.seq
        self.job_event.emit(event)
        job = self.model.apply_event(event)
        if job is not None:
            self._note(job)
            if event.HasField("state") or event.HasField("results"):
                self._update_actions()

    @Slot(str)
    def _on_link(self, text: str) -> None:
        watch = self.sender()
        for job_id, known in self._watches.items():
            if known is watch:
                if text.startswith("lost"):
                    self._lost.add(job_id)
                elif text == "resumed":
                    self._lost.discard(job_id)

    @Slot()
    def _on_watch_finished(self) -> None:
        watch = self.sender()
        for job_id, known in list(self._watches.items()):
            if known is watch:
                del self._watches[job_id]  # the next poll watches it again if it is still not over
                self._lost.discard(job_id)

    def _note(self, job: bridge_pb2.Job) -> None:
        """Announce a job's end or its wait for confirmation, once."""
        if job.state in TERMINAL_STATES:
            self._awaited.discard(job.id)
            if job.id in self._live:
                self._live.discard(job.id)
                self.job_finished.emit(_copy(job))
            if (watch := self._watches.get(job.id)) is not None:
                self._stop_watch(job.id, watch)
            return
        self._live.add(job.id)
        if job.state == AWAITING:
            if job.id not in self._awaited:
                self._awaited.add(job.id)
                self.job_awaiting.emit(_copy(job))
        else:
            self._awaited.discard(job.id)

    # -- selection and actions ------------------------------------------------------------------

    def selected_jobs(self) -> list[bridge_pb2.Job]:
        rows = {self.proxy.mapToSource(i).row() for i in self.view.selectionModel().selectedRows()}
        return [self.model.job(row) for row in sorted(rows) if 0 <= row < self.model.rowCount()]

    def select(self, *job_ids: str) -> None:
        """Select the rows of ``job_ids`` (the first becomes current)."""
        indexes = []
        for job_id in job_ids:
            row = self.model.row_of(job_id)
            if row is None:
                raise KeyError(f"job {job_id!r} is not in the queue; it may not be listed yet")
            indexes.append(self.proxy.mapFromSource(self.model.index(row, 0)))
        selection = QItemSelection()
        for index in indexes:
            selection.select(index, index)
        flag = QItemSelectionModel.SelectionFlag
        chosen = self.view.selectionModel()
        if indexes:
            chosen.setCurrentIndex(indexes[0], flag.NoUpdate)  # job_selected, through _on_current
        chosen.select(selection, flag.ClearAndSelect | flag.Rows)

    def set_filter(self, text: str) -> None:
        """Show only the jobs whose row contains ``text`` (any column, any case)."""
        self.proxy.setFilterFixedString(text)

    @Slot()
    def _on_selection(self, *_: object) -> None:
        self._update_actions()

    @Slot(QModelIndex, QModelIndex)
    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.job_selected.emit(self.model.job(self.proxy.mapToSource(current).row()).id)

    @Slot()
    def _update_actions(self, *_: object) -> None:
        jobs = self.selected_jobs()
        online = bool(self.online)
        self.cancel_action.setEnabled(online and any(j.state in ACTIVE_STATES for j in jobs))
        self.retry_action.setEnabled(online and any(_retryable(j) for j in jobs))
        self.delete_action.setEnabled(online and any(j.state in TERMINAL_STATES for j in jobs))
        self.open_action.setEnabled(any(j.results.output_dir for j in jobs))

    def cancel_selected(self) -> None:
        """Cancel the selected queued, running or awaiting jobs (they end CANCELLED on the server)."""
        for job in self.selected_jobs():
            if job.state in ACTIVE_STATES:
                job_id = job.id
                self.bridge.call(
                    lambda c, job_id=job_id: c.cancel(job_id, reason="cancelled from the panel"),
                    self._on_changed, self._on_action_failed,
                )  # fmt: skip

    def retry_selected(self) -> None:
        """Submit each selected failed or cancelled job's EditSpec again, as a new job."""
        for job in self.selected_jobs():
            if _retryable(job):
                spec = bridge_pb2.EditSpec()
                spec.CopyFrom(job.spec)
                self.bridge.call(
                    lambda c, spec=spec: c.submit(spec), self._on_changed, self._on_action_failed
                )

    def delete_selected(self) -> None:
        """Forget the selected finished jobs, asking whether their outputs go too."""
        jobs = [job for job in self.selected_jobs() if job.state in TERMINAL_STATES]
        if not jobs:
            return
        outputs = self.confirm_delete(self, jobs)
        if outputs is None:
            return
        for job in jobs:
            job_id = job.id
            self.bridge.call(
                lambda c, job_id=job_id: c.delete(job_id, delete_outputs=bool(outputs)),
                self._on_deleted, self._on_action_failed,
            )  # fmt: skip

    def open_selected_output(self) -> None:
        """Open the current (else first selected) job's output folder in the file manager."""
        jobs = [job for job in self.selected_jobs() if job.results.output_dir]
        current = self.view.selectionModel().currentIndex()
        if current.isValid():
            job = self.model.job(self.proxy.mapToSource(current).row())
            if job.results.output_dir:
                jobs.insert(0, job)
        if not jobs:
            return
        folder = Path(jobs[0].results.output_dir)
        if not folder.is_dir():
            self._error(f"the output folder {folder} is not on this machine (deleted, or another machine's)")
            return
        if not self.opener(QUrl.fromLocalFile(str(folder))):
            self._error(f"could not open {folder}: no file manager answered")

    def _on_changed(self, job: bridge_pb2.Job) -> None:
        if self._closed:
            return
        self.model.upsert(job)
        self._note(self.model.find(job.id) or job)
        self._update_actions()
        self.refresh()

    def _on_deleted(self, answer: bridge_pb2.DeleteJobResponse) -> None:
        if self._closed:
            return
        if (watch := self._watches.get(answer.job_id)) is not None:
            self._stop_watch(answer.job_id, watch)
        self.model.remove(answer.job_id)
        self._live.discard(answer.job_id)
        self._delivered.pop(answer.job_id, None)

    def _on_action_failed(self, exc: BaseException) -> None:
        if not self._closed:
            self.error.emit(error_text(exc))

    # -- closing --------------------------------------------------------------------------------

    def shutdown(self, wait_s: float = 2.0) -> None:
        """Stop polling and watching (the jobs on the server go on). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        watches = list(self._watches.values())
        self._watches.clear()
        for watch in watches:
            watch.stop()
        deadline = time.monotonic() + wait_s
        for watch in watches:
            watch.join(max(0.0, deadline - time.monotonic()))

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)


def _retryable(job: bridge_pb2.Job) -> bool:
    return job.state in (bridge_pb2.JOB_STATE_FAILED, bridge_pb2.JOB_STATE_CANCELLED)


def _copy(job: bridge_pb2.Job) -> bridge_pb2.Job:
    copy = bridge_pb2.Job()
    copy.CopyFrom(job)
    return copy
