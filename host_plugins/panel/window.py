"""The panel's main window: source header, ask, explain and confirm, draft → final, result, queue.

Every bridge call runs off the UI thread (:mod:`host_plugins.panel.worker`); the window only reacts
to signals. Closing it stops watching, never the jobs: they go on on the server and the queue shows
them next time.

The flow of one edit:

1. *Ask* — an EDIT job with ``confirm`` (a query, or picked objects and an operation). The server
   builds the twin and the plan, then waits: nothing is rendered yet.
2. *Explain and confirm* — the plan's targets, their masks over a few frames, the prompt and the
   reasoning. The editor unchecks, adds, edits, then confirms.
3. *Draft → final* — on confirm, an instant draft (the targets highlighted over their frames), then
   optionally a low-step preview render, then the full render (ConfirmPlan); the server runs them in
   that order, the viewer shows each as it lands, and each can be stopped.
4. *Result* — before/after with a wipe, the QC flags, and "send to timeline".
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from bridge.client import TERMINAL_STATES, state_name
from bridge.v1 import bridge_pb2
from host_plugins.panel.ask import AskBar
from host_plugins.panel.history import QueryHistory
from host_plugins.panel.plan import PlanReview, draft_plan, load_overlay
from host_plugins.panel.send import default_timeline_out, send_result
from host_plugins.panel.source import Source, SourceClip, SourceError
from host_plugins.panel.worker import Bridge, Connection, JobWatch, error_text

__all__ = ["STAGES", "Banner", "PanelWindow", "StageRow"]

STAGES = ("plan", "draft", "preview", "final")
RANK = {"draft": 1, "preview": 2, "final": 3}
LABELS = {
    "plan": "Plan",
    "draft": "Draft (instant)",
    "preview": "Preview render",
    "final": "Final render",
    "twin": "Objects (twin)",
}


class Banner(QWidget):
    """One line at the top: an error with its fix, or a notice; dismissable (Esc or ×)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAccessibleName("message")
        close = QPushButton("×")
        close.setFlat(True)
        close.setAccessibleName("dismiss message")
        close.setToolTip("Dismiss (Esc)")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.setAutoFillBackground(True)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        colors = {"error": "#7a1f1f", "notice": "#1f4f7a", "ok": "#1f6a3a"}
        self.setStyleSheet(f"background: {colors.get(kind, '#444')}; color: white;")
        self.label.setText(text)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class StageRow(QWidget):
    """One stage of an edit (plan, draft, preview, final): its state, progress and a Stop button."""

    stop_requested = Signal(str)

    def __init__(self, stage: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = stage
        self.job_id = ""
        self.name = QLabel(LABELS[stage])
        self.name.setMinimumWidth(105)
        self.bar = QProgressBar()
        self.bar.setAccessibleName(f"{LABELS[stage]} progress")
        self.bar.setTextVisible(True)
        self.stop = QPushButton("Stop")
        self.stop.setAccessibleName(f"stop {LABELS[stage]}")
        self.stop.setToolTip(f"Stop the {LABELS[stage].lower()} (nothing half-written is left)")
        self.stop.clicked.connect(lambda: self.stop_requested.emit(self.stage))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.name)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.stop)
        self.reset()

    def reset(self) -> None:
        self.job_id = ""
        self.state = ""
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("—")
        self.stop.setEnabled(False)
        self.hide()

    def started(self, job_id: str) -> None:
        self.job_id = job_id
        self.state = "QUEUED"
        self.bar.setRange(0, 0)
        self.bar.setFormat("queued")
        self.stop.setEnabled(True)
        self.show()

    def progress(self, p: bridge_pb2.Progress) -> None:
        if p.HasField("total") and p.total > 0:
            self.bar.setRange(0, int(p.total))
            self.bar.setValue(min(int(p.done), int(p.total)))
            self.bar.setFormat(f"{p.stage} {p.done}/{p.total} {p.unit}".strip())
        else:
            self.bar.setRange(0, 0)
            self.bar.setFormat(f"{p.stage} {p.done or ''} {p.unit}".strip())

    def set_state(self, state: int, text: str = "") -> None:
        self.state = state_name(state)
        awaiting = state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION
        if state in TERMINAL_STATES or awaiting:
            self.bar.setRange(0, 1)
            self.bar.setValue(0 if state == bridge_pb2.JOB_STATE_CANCELLED else 1)
            self.stop.setEnabled(awaiting)
            labels = {"AWAITING_CONFIRMATION": "ready for review", "SUCCEEDED": "done"}
            self.bar.setFormat(text or labels.get(self.state, self.state.lower()))
        elif state == bridge_pb2.JOB_STATE_QUEUED:
            self.bar.setRange(0, 0)
            self.bar.setFormat(text or "queued")


@dataclass
class Edit:
    """One edit in flight: its clip, the jobs of its stages and their specs."""

    clip: SourceClip
    label: str
    specs: dict[str, bridge_pb2.EditSpec] = field(default_factory=dict)
    jobs: dict[str, str] = field(default_factory=dict)  # stage -> job id
    results: dict[str, bridge_pb2.Job] = field(default_factory=dict)  # stage -> succeeded job
    shown: str = ""  # the stage the viewer shows
    plan_seq: int = 0  # the plan job's event that said it awaits confirmation


class PanelWindow(QMainWindow):
    """The editor's panel over ``source`` (None: the window says how to open something)."""

    def __init__(
        self,
        source: Source | None,
        *,
        connection: Connection | None = None,
        settings: dict[str, Any] | None = None,
        history: QueryHistory | None = None,
        source_error: str = "",
        start_server: bool = True,
    ) -> None:
        super().__init__()
        from host_plugins.panel.queue import JobQueue
        from host_plugins.panel.viewer import BeforeAfterViewer

        self.source = source
        self.settings = dict(settings or {})  # profile, format, deliver, place, timeline_out …
        self.bridge = Bridge(connection or Connection(start=start_server), self)
        self.edit: Edit | None = None
        self.watches: dict[str, JobWatch] = {}
        self.sent: list[str] = []
        self.setWindowTitle(f"RIVER NLE — {source.label}" if source else "RIVER NLE")

        # header: the source, the clip (several when a selection has several), the server's state
        self.banner = Banner()
        self.source_label = QLabel(self._source_text())
        self.source_label.setAccessibleName("source")
        self.clip_box = QComboBox()
        self.clip_box.setAccessibleName("clip")
        self.clip_box.setToolTip("The clip to edit (of the clips handed over)")
        for clip in source.clips if source else []:
            self.clip_box.addItem(clip.header(), clip)
        self.clip_box.setVisible(self.clip_box.count() > 1)
        self.clip_box.currentIndexChanged.connect(self._clip_changed)
        self.header = QLabel(self.clip.header() if self.clip else "no clip")
        self.header.setAccessibleName("clip")
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.server_label = QLabel("server: —")
        self.server_label.setAccessibleName("server state")

        project = source.project if source else ""
        self.ask = AskBar(history or QueryHistory(project))
        self.ask.run_requested.connect(self.run)
        self.ask.objects_requested.connect(self.find_objects)
        self.review = PlanReview()
        self.review.confirmed.connect(self.confirm)
        self.review.cancelled.connect(self.cancel_plan)
        self.viewer = BeforeAfterViewer()
        self.viewer.send_requested.connect(self.send_to_timeline)
        self.viewer.open_folder_requested.connect(self.open_output_folder)
        self.stages = {stage: StageRow(stage) for stage in STAGES}
        for row in self.stages.values():
            row.stop_requested.connect(self.stop_stage)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.review, "&Review")
        self.tabs.addTab(self.viewer, "Re&sult")
        self.tabs.setAccessibleName("views")

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        top = QHBoxLayout()
        top.addWidget(self.source_label)
        top.addWidget(self.header, 1)
        top.addWidget(self.server_label)
        layout.addLayout(top)
        layout.addWidget(self.clip_box)
        layout.addWidget(self.ask)
        stages = QGridLayout()  # two columns: plan | draft, preview | final
        stages.setContentsMargins(0, 0, 0, 0)
        for i, row in enumerate(self.stages.values()):
            stages.addWidget(row, i // 2, i % 2)
        layout.addLayout(stages)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.queue = JobQueue(self.bridge)
        self.queue.error.connect(lambda text: self.show_error(text))
        self.queue_dock = QDockWidget("Jobs", self)
        self.queue_dock.setObjectName("jobs")
        self.queue_dock.setWidget(self.queue)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.queue_dock)
        self.resizeDocks([self.queue_dock], [190], Qt.Orientation.Vertical)
        QShortcut(QKeySequence("Esc"), self, activated=self.banner.hide)
        QShortcut(QKeySequence("Ctrl+1"), self, activated=lambda: self.tabs.setCurrentIndex(0))
        QShortcut(QKeySequence("Ctrl+2"), self, activated=lambda: self.tabs.setCurrentIndex(1))
        QShortcut(QKeySequence("Ctrl+J"), self, activated=self.queue.setFocus)

        self.bridge.status.connect(self._status)
        self.bridge.capabilities.connect(self._ready)
        self._pending: list[Any] = []
        self.resize(1280, 860)
        self._restore()
        if source_error:
            self.show_error(source_error)
        if source is None:
            self.ask.setEnabled(False)
            if not source_error:
                self.show_message(
                    "Nothing to edit: start the panel with --media FILE, --timeline FILE or from Resolve",
                    "notice",
                )
        self.bridge.start(start_server=start_server)

    # -- small helpers ---------------------------------------------------------------------------

    @property
    def clip(self) -> SourceClip | None:
        data = self.clip_box.currentData()
        return data if isinstance(data, SourceClip) else None

    def _source_text(self) -> str:
        if self.source is None:
            return "no source"
        if self.source.kind == "media":
            return "Media:"  # the header names the file
        kinds = {"timeline": "Timeline", "resolve": "Resolve"}
        return f"{kinds.get(self.source.kind, self.source.kind)}: {self.source.label} ·"

    def _clip_changed(self) -> None:
        if self.clip is not None:
            self.header.setText(self.clip.header())

    def show_error(self, text: str) -> None:
        self.banner.show_message(text, "error")

    def show_message(self, text: str, kind: str = "notice") -> None:
        self.banner.show_message(text, kind)

    def _status(self, state: str, message: str) -> None:
        names = {
            "connecting": "connecting…",
            "starting": "starting the server…",
            "loading": "loading models…",
        }
        self.server_label.setText(f"server: {names.get(state, state)}")
        self.server_label.setToolTip(message)
        if state == "offline" and message:
            self.show_error(message)
        elif state in ("starting", "loading"):
            self.show_message(message, "notice")

    def _ready(self, caps: bridge_pb2.Capabilities) -> None:
        if self.banner.kind == "notice":
            self.banner.hide()
        pending, self._pending = self._pending, []
        for action in pending:
            action()

    def _when_ready(self, action: Any) -> None:
        """Run ``action`` now if the server is ready, else once it is (starting it when needed)."""
        if self.bridge.state == "ready":
            action()
            return
        self._pending.append(action)
        if self.bridge.state == "offline":
            self.bridge.start(start_server=self.bridge.connection.start)

    def _restore(self) -> None:
        store = QSettings("RIVER NLE", "panel")
        geometry = store.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    # -- ask -------------------------------------------------------------------------------------

    def _job_settings(self, **extra: Any) -> dict[str, Any]:
        s = {k: self.settings[k] for k in ("profile", "format") if self.settings.get(k)}
        s.update({k: v for k, v in extra.items() if v not in (None, "", False)})
        return s

    def _folder(self, stage: str) -> str:
        """The output folder of one stage of one edit: unique per run, so runs never collide."""
        assert self.source is not None and self.clip is not None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        from host_plugins.otio.batch import slug

        return f"panel/{slug(self.source.label)}/{stamp}_{slug(self.clip.name)}_{stage}"

    def run(self, request: dict[str, Any]) -> None:
        """Ask → an EDIT job that stops at its plan (explain and confirm)."""
        if "error" in request:
            self.show_error(request["error"])
            return
        if self.source is None or self.clip is None:
            self.show_error("nothing to edit: open the panel on a media file, a timeline or from Resolve")
            return
        clip = self.clip
        label = request["query"] or f"{request['op']} {','.join(request['targets'])}"
        settings = self._job_settings(
            op=request["op"] if request["op"] != "generate" or request["mode"] == "targets" else "",
            color=request.get("color"), prompt=request.get("prompt"), remove=request.get("remove"),
            confirm=True, output=self._folder("final"),
        )  # fmt: skip
        if request["mode"] == "targets":
            settings["targets"] = request["targets"]
        try:
            spec = self.source.spec(clip, query=request["query"] or None, settings=settings)
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self._stop_edit_watches()
        self.edit = Edit(clip=clip, label=label)
        for row in self.stages.values():
            row.reset()
        self.review.clear()
        self.banner.hide()
        self.ask.setBusy(True)
        self._submit("plan", spec)

    def _submit(self, stage: str, spec: bridge_pb2.EditSpec, then: Any = None) -> None:
        """Submit one stage's job; ``then()`` runs once the server answered (accepted or refused)."""
        edit = self.edit
        assert edit is not None
        edit.specs[stage] = spec

        def submitted(job: bridge_pb2.Job) -> None:
            if self.edit is not edit:
                return
            edit.jobs[stage] = job.id
            self.stages[stage].started(job.id)
            self._watch(stage, job.id)
            if then is not None:
                then()

        def failed(exc: BaseException) -> None:
            if stage == "plan":
                self.ask.setBusy(False)
            self.show_error(f"{LABELS[stage]}: {error_text(exc)}")
            if then is not None and self.edit is edit:
                then()

        self._when_ready(lambda: self.bridge.call(lambda c: c.submit(spec), submitted, failed, start=True))

    def _watch(self, stage: str, job_id: str, after_seq: int = 0) -> None:
        watch = self.bridge.watch(job_id, after_seq, until_awaiting=stage == "plan")
        watch.event.connect(lambda event, s=stage: self._event(s, event))
        watch.link.connect(lambda text, s=stage: self._link(s, text))
        self.watches[job_id] = watch
        watch.finished.connect(lambda: self.watches.pop(job_id, None))
        watch.start()

    def _link(self, stage: str, text: str) -> None:
        if text.startswith("lost:"):
            self.show_message(
                f"{LABELS[stage]}: lost the server, reconnecting ({text[5:].strip()})", "notice"
            )
        elif text == "resumed":
            self.show_message(f"{LABELS[stage]}: reconnected; following the job again", "ok")
        elif text.startswith("failed:"):
            self.show_error(f"{LABELS[stage]}: {text[7:].strip()}")

    def _event(self, stage: str, event: bridge_pb2.JobEvent) -> None:
        edit = self.edit
        if edit is None or edit.jobs.get(stage) != event.job_id:
            return  # an earlier edit's job
        row = self.stages[stage]
        which = event.WhichOneof("event")
        if which == "progress":
            row.progress(event.progress)
        elif which == "error":
            self.show_error(f"{LABELS[stage]} {event.error.kind or 'failed'}: {event.error.message}")
        elif which == "state":
            state = event.state.state
            row.set_state(state)
            if state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION and stage == "plan":
                edit.plan_seq = event.seq
                self._fetch(event.job_id, self._show_plan)
            elif state == bridge_pb2.JOB_STATE_SUCCEEDED and stage != "plan":
                self._fetch(event.job_id, lambda job, s=stage: self._show_result(s, job))
            elif state in TERMINAL_STATES and stage in ("plan", "final"):
                self.ask.setBusy(False)

    def _fetch(self, job_id: str, done: Any) -> None:
        self.bridge.call(lambda c: c.get_job(job_id), done, lambda exc: self.show_error(error_text(exc)))

    def _show_plan(self, job: bridge_pb2.Job) -> None:
        if self.edit is None or self.edit.jobs.get("plan") != job.id:
            return
        clip, edit = self.edit.clip, self.edit

        def show(overlay: Any) -> None:
            if self.edit is not edit:
                return
            self.review.show_job(
                job, caption=lambda frame: f"{frame}  {clip.timecode(frame)}", overlay=overlay
            )
            self.tabs.setCurrentWidget(self.review)
            self.ask.setBusy(False)

        def unreadable(exc: BaseException) -> None:  # the plan still shows, without its overlay
            self.show_error(f"the target overlay could not be read: {error_text(exc)}")
            show((None, {}, list(job.plan.overlay_frame_numbers)))

        # the overlay's PNGs are decoded and tinted off the UI thread
        self.bridge.run(lambda: load_overlay(job.plan), show, unreadable)

    # -- confirm: draft → preview → final ----------------------------------------------------------

    def confirm(self, plan_json: str, options: dict[str, Any]) -> None:
        edit = self.edit
        if edit is None or "plan" not in edit.jobs or self.source is None:
            return
        plan = options["plan"]
        job_id = edit.jobs["plan"]
        base = {k: self.settings[k] for k in ("profile",) if self.settings.get(k)}
        first: list[tuple[str, bridge_pb2.EditSpec]] = []
        if options.get("draft"):
            spec = self.source.spec(
                edit.clip,
                settings={
                    **base, "kind": "render", "plan_json": json.dumps(draft_plan(plan)), "format": "h264",
                    "deliver": ["media"], "output": self._folder("draft"),
                },
            )  # fmt: skip
            first.append(("draft", spec))
        if options.get("preview_steps"):
            spec = self.source.spec(
                edit.clip,
                settings={
                    **base, "kind": "render", "plan_json": json.dumps(plan), "format": "h264",
                    "deliver": ["media"], "render": {"steps": int(options["preview_steps"])},
                    "output": self._folder("preview"),
                },
            )  # fmt: skip
            first.append(("preview", spec))

        def confirmed(job: bridge_pb2.Job) -> None:
            if self.edit is not edit:
                return
            edit.jobs["final"] = job.id
            edit.specs["final"] = edit.specs["plan"]
            self.stages["plan"].set_state(bridge_pb2.JOB_STATE_SUCCEEDED, "confirmed")
            self.stages["final"].started(job.id)
            self._watch("final", job.id, after_seq=edit.plan_seq)

        def refused(exc: BaseException) -> None:
            self.review._set_enabled(True)
            self.show_error(f"the plan was not confirmed: {error_text(exc)}")

        def next_step() -> None:
            # One after the other (the bridge's calls run on a pool of threads, in no set order): the
            # confirm goes out once the draft and preview are accepted, so the server's queue runs them first.
            if first:
                stage, spec = first.pop(0)
                self._submit(stage, spec, then=next_step)
                return
            self._when_ready(
                lambda: self.bridge.call(lambda c: c.confirm(job_id, plan_json or None), confirmed, refused)
            )

        next_step()
        self.tabs.setCurrentWidget(self.viewer)

    def cancel_plan(self) -> None:
        if self.edit is not None and "plan" in self.edit.jobs:
            self.stop_stage("plan")
        self.review.clear()

    def stop_stage(self, stage: str) -> None:
        edit = self.edit
        if edit is None or stage not in edit.jobs:
            return
        job_id = edit.jobs[stage]
        self.stages[stage].stop.setEnabled(False)
        self.bridge.call(
            lambda c: c.cancel(job_id, f"stopped from the panel ({LABELS[stage].lower()})"),
            None,
            lambda exc: self.show_error(error_text(exc)),
        )

    # -- result ----------------------------------------------------------------------------------

    def _show_result(self, stage: str, job: bridge_pb2.Job) -> None:
        edit = self.edit
        if edit is None:
            return
        edit.results[stage] = job
        if RANK[stage] < RANK.get(edit.shown, 0):
            return  # a later stage is already shown (the final never gives way to a draft)
        edit.shown = stage
        results = job.results
        summary = json.loads(results.summary_json) if results.summary_json else {}
        rendered = str(summary.get("rendered") or summary.get("range") or "")
        start = int(rendered.split(":")[0]) if ":" in rendered else edit.clip.frames[0]
        clip = edit.clip
        self.viewer.set_media(
            str(clip.path), start, results.media, 0, results.frames or None, timecode_of=clip.timecode
        )
        names = {"draft": "draft (instant highlight)", "preview": "preview render", "final": "final render"}
        self.viewer.set_draft_label(names[stage])
        self.viewer.set_qc(results.qc_passed, list(results.qc_flags))
        self.tabs.setCurrentWidget(self.viewer)
        if stage == "final":
            self.ask.setBusy(False)
            self.show_message(f"rendered {results.frames} frames → {results.media}", "ok")

    def open_output_folder(self) -> None:
        edit = self.edit
        job = edit.results.get(edit.shown) if edit else None
        if job is None:
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(job.results.output_dir))

    def send_to_timeline(self) -> None:
        edit = self.edit
        if edit is None or self.source is None or "final" not in edit.results:
            self.show_error("only the final render goes to the timeline: wait for it to finish")
            return
        job = edit.results["final"]
        spec = edit.specs["final"]
        out: Path | None = None
        if self.source.kind == "timeline":
            out = self.settings.get("timeline_out")
            if out is None:
                suggested = str(default_timeline_out(self.source))
                chosen, _ = QFileDialog.getSaveFileName(self, "Write the timeline with the result", suggested)
                if not chosen:
                    return
                out = Path(chosen)
        source, clip, caps = self.source, edit.clip, self.bridge.caps
        place = str(self.settings.get("place") or "track")

        def work() -> Any:
            return send_result(
                source, clip, spec, job, label=edit.label, capabilities=caps, out=out, place=place
            )

        def sent(result: Any) -> None:
            self.sent.append(result.where)
            self.show_message(result.where, "ok")

        def failed(exc: BaseException) -> None:
            self.show_error(str(exc) if isinstance(exc, SourceError) else error_text(exc))

        self.bridge.run(work, sent, failed)

    # -- closing ---------------------------------------------------------------------------------

    def _stop_edit_watches(self) -> None:
        for watch in list(self.watches.values()):
            watch.stop()
        self.watches.clear()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop watching; the jobs go on on the server."""
        QSettings("RIVER NLE", "panel").setValue("geometry", self.saveGeometry())
        self._stop_edit_watches()
        self.queue.shutdown()
        self.bridge.shutdown()
        super().closeEvent(event)

    # -- pick objects ------------------------------------------------------------------------------

    def find_objects(self) -> None:
        """A TWIN job on the clip; its objects fill the pick list."""
        if self.source is None or self.clip is None:
            return
        clip = self.clip
        spec = self.source.spec(clip, settings={**self._job_settings(), "kind": "twin"})
        self.ask.setBusy(True)
        row = self.stages["plan"]
        row.reset()
        row.name.setText(LABELS["twin"])

        def done(job: bridge_pb2.Job) -> None:
            self.ask.setBusy(False)
            row.name.setText(LABELS["plan"])
            if job.state != bridge_pb2.JOB_STATE_SUCCEEDED:
                self.show_error(f"finding objects {state_name(job.state).lower()}: {job.error.message}")
                return
            try:
                twin = json.loads(Path(job.results.twin).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.show_error(f"cannot read the twin {job.results.twin}: {exc}")
                return
            objects = [
                {
                    "id": t["id"],
                    "category": t.get("category", ""),
                    "attributes": t.get("attributes", ""),
                    "frames": f"{t.get('first_frame')}–{t.get('last_frame')}",
                }
                for t in twin.get("tracks", [])
            ]
            self.ask.set_objects(objects)
            if not objects:
                self.show_message("the twin has no objects in this range; try another range", "notice")

        def failed(exc: BaseException) -> None:
            self.ask.setBusy(False)
            self.show_error(f"finding objects: {error_text(exc)}")

        def work(c: Any) -> bridge_pb2.Job:
            job = c.submit(spec)
            return c.wait(job.id, timeout=3600)

        self._when_ready(lambda: self.bridge.call(work, done, failed, start=True))
