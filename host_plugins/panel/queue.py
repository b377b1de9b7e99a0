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
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from bridge.client import TERMINAL_STATES, BridgeError, RiverClient
from bridge.v1 import bridge_pb2
from host_plugins.panel.jobs_model import (
    ACTIVE_STATES,
    AWAITING,
    COLUMNS,
    JOB_ROLE,
    OFFLINE_TEXT,
    PAGE_SIZE,
    PROGRESS_COL,
    PROGRESS_ROLE,
    QUEUED,
    RUNNING,
    SHORT_ID,
    WHAT_COL,
    JobTableModel,
    ProgressDelegate,
    describe_job,
    format_duration,
)
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
            if job is None:  # deleted: nothing more to follow
                self._stop_watch(job_id, watch)
            elif job_id in self._lost:
                # The list answered, so the server is back; a lost watch may be sleeping between
                # tries: follow on at once from the last event it delivered.
                self._stop_watch(job_id, watch)
                self._start_watch(job_id, max(watch.last_seq, self._delivered.get(job_id, 0)))
            # A job the list says is over keeps its watch until the stream ends by itself (the server
            # ends it after the job's last event): stopped here, its last events would never be delivered.
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
            return  # its watch, if any, delivers the job's remaining events and ends
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
