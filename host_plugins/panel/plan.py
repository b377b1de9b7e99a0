"""Explain and confirm: the plan a job proposes, as the editor reviews and changes it.

:class:`PlanReview` shows the targets as a checkable list (category, attributes, frame span), draws
the checked ones over a few frames of the range (the server sends a strip of frames and one mask PNG
per object: ``PlanPreview.overlay_*``), the prompt of each rendered operation (editable), and the
reasoning in words. :func:`edited_plan` applies the editor's changes to the plan document — the
server checks it against the job's twin when the editor confirms.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPaintEvent, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from bridge.v1 import bridge_pb2

__all__ = ["OverlayView", "PlanReview", "color_of", "draft_plan", "edited_plan", "load_overlay", "spans_text"]

GENERATED = ("appearance", "replace", "remove", "add", "move")  # rendered by the video model
ALPHA = 0.5


def color_of(object_id: int) -> QColor:
    """A stable, well-separated color per object id (golden-ratio hues, as the engine's sheets)."""
    return QColor.fromHsvF((object_id * 0.618033988749895) % 1.0, 0.85, 1.0)


def spans_text(frames: Iterable[Any]) -> str:
    """``[FrameRange(0, 17), FrameRange(30, 41)]`` → ``0–16, 30–40`` (inclusive, as an editor reads)."""
    parts = [f"{f.start}–{f.end - 1}" if f.end - f.start > 1 else f"{f.start}" for f in frames]
    return ", ".join(parts) or "no frames"


def edited_plan(
    plan: dict[str, Any],
    checked: set[int],
    added: dict[int, bridge_pb2.TargetPreview],
    prompts: dict[str, str],
) -> dict[str, Any]:
    """``plan`` with only the ``checked`` targets, the ``added`` objects appended to the first
    operation, and each operation's prompt replaced by ``prompts[op id]``. An operation left without
    targets is dropped; ValueError when none is left."""
    out = copy.deepcopy(plan)
    ops = []
    for op in out.get("operations", []):
        op["targets"] = [t for t in op.get("targets", []) if int(t["id"]) in checked]
        if op.get("id") in prompts and prompts[op["id"]].strip():
            op["prompt"] = prompts[op["id"]].strip()
        ops.append(op)
    if added:
        if not ops:
            raise ValueError("the plan has no operation to add a target to; ask again with a query")
        have = {int(t["id"]) for op in ops for t in op["targets"]}
        for object_id, obj in sorted(added.items()):
            if object_id in have or object_id not in checked:
                continue
            ops[0]["targets"].append(
                {
                    "id": object_id,
                    "category": obj.category,
                    "attributes": obj.attributes,
                    "frames": [{"start": f.start, "end": f.end} for f in obj.frames],
                }
            )
    out["operations"] = [op for op in ops if op["targets"]]
    if not out["operations"]:
        raise ValueError("no target is checked: check at least one target, or cancel the job")
    return out


def draft_plan(plan: dict[str, Any], color: str = "#ff3b30") -> dict[str, Any]:
    """The instant draft of ``plan``: every operation as a highlight of the same targets over the same
    frames — no diffusion, seconds, so the editor sees *what* and *when* before the render."""
    out = copy.deepcopy(plan)
    for op in out.get("operations", []):
        op["kind"] = "highlight"
        op["color"] = color
        for key in ("category", "attributes", "spatial"):
            op.pop(key, None)
    return out


Overlay = tuple["QImage | None", dict[int, QImage], list[int]]


def load_overlay(preview: bridge_pb2.PlanPreview) -> Overlay:
    """The strip of frames, each object's mask tinted in its color, and the frame numbers — PNG decoding
    and tinting, safe on any thread (QImage), so the panel does it off the UI thread."""
    strip: QImage | None = None
    masks: dict[int, QImage] = {}
    if preview.overlay_frames and Path(preview.overlay_frames).is_file():
        image = QImage(preview.overlay_frames)
        strip = None if image.isNull() else image
    if preview.overlay_masks and Path(preview.overlay_masks).is_dir():
        for png in Path(preview.overlay_masks).glob("*.png"):
            if png.stem.isdigit():
                mask = QImage(str(png))
                if not mask.isNull():
                    masks[int(png.stem)] = _tint(mask, color_of(int(png.stem)))
    return strip, masks, list(preview.overlay_frame_numbers)


def _tint(mask: QImage, color: QColor) -> QImage:
    tinted = QImage(mask.size(), QImage.Format.Format_ARGB32_Premultiplied)
    tinted.fill(color)
    tinted.setAlphaChannel(mask.convertToFormat(QImage.Format.Format_Grayscale8))
    return tinted


class OverlayView(QWidget):
    """The strip of frames the server picked, the checked objects' masks tinted over it, each frame
    captioned with its number. Draws only what it has (no decoding on the UI thread)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.strip: QImage | None = None
        self.numbers: list[int] = []
        self.masks: dict[int, QImage] = {}
        self.shown: set[int] = set()
        self.caption = lambda frame: f"frame {frame}"
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("target overlay")

    def load(self, preview: bridge_pb2.PlanPreview, loaded: Overlay | None = None) -> None:
        """Show the plan's strip and masks: ``loaded`` (read off the UI thread by :func:`load_overlay`),
        else read them now."""
        self.strip, self.masks, self.numbers = loaded or load_overlay(preview)
        self.update()

    def show_objects(self, ids: Iterable[int]) -> None:
        self.shown = set(ids)
        self.update()

    def frame_rects(self) -> list[QRectF]:
        """Where each frame of the strip is drawn: a grid of 2 columns (1 for a narrow widget)."""
        if self.strip is None or not self.numbers:
            return []
        n = len(self.numbers)
        tile_w = self.strip.width() / n
        tile_h = self.strip.height()
        cols = 1 if self.width() < 360 or n == 1 else 2
        rows = -(-n // cols)
        scale = min(self.width() / (cols * tile_w), self.height() / (rows * tile_h))
        w, h = tile_w * scale, tile_h * scale
        x0 = (self.width() - cols * w) / 2
        y0 = (self.height() - rows * h) / 2
        return [QRectF(x0 + (i % cols) * w, y0 + (i // cols) * h, w, h) for i in range(n)]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(140))
        if self.strip is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no overlay for this plan")
            return
        tile_w = self.strip.width() / len(self.numbers)
        for i, rect in enumerate(self.frame_rects()):
            source = QRectF(i * tile_w, 0, tile_w, self.strip.height())
            painter.drawImage(rect, self.strip, source)
            painter.setOpacity(ALPHA)
            for object_id in sorted(self.shown):
                if object_id in self.masks:
                    painter.drawImage(rect, self.masks[object_id], source)
            painter.setOpacity(1.0)
            painter.setPen(QColor("white"))
            painter.drawText(
                rect.adjusted(6, 0, -6, -4),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                self.caption(self.numbers[i]),
            )
        painter.end()


class PlanReview(QWidget):
    """The plan of a job awaiting confirmation, for the editor to check, change and confirm.

    Signals: ``confirmed(str plan_json, dict options)`` (``plan_json`` is ``""`` when the editor
    changed nothing; options: ``draft`` bool, ``preview_steps`` int or 0), ``cancelled()``.
    """

    confirmed = Signal(str, dict)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: bridge_pb2.Job | None = None
        self.plan: dict[str, Any] = {}
        self.objects: dict[int, bridge_pb2.TargetPreview] = {}
        self.proposed: set[int] = set()
        self.added: dict[int, bridge_pb2.TargetPreview] = {}
        self.prompt_edits: dict[str, QPlainTextEdit] = {}

        self.title = QLabel("No plan yet: ask for an edit.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.targets = QListWidget()
        self.targets.setAccessibleName("targets")
        self.targets.setToolTip("The objects the edit changes: uncheck a wrong one")
        self.targets.itemChanged.connect(self._changed)
        self.add_box = QComboBox()
        self.add_box.setAccessibleName("object to add")
        self.add_box.setToolTip("Another object of the twin to add to the edit")
        self.add_button = QPushButton("&Add target")
        self.add_button.clicked.connect(self._add)
        self.overlay = OverlayView()
        self.reasoning = QPlainTextEdit()
        self.reasoning.setReadOnly(True)
        self.reasoning.setAccessibleName("reasoning")
        self.reasoning.setMaximumHeight(110)
        self.prompts = QFormLayout()
        self.draft = QCheckBox("Instant &draft first")
        self.draft.setChecked(True)
        self.draft.setToolTip("A highlight of the targets over their frames, in seconds, before any render")
        self.preview = QCheckBox("&Preview render")
        self.preview.setToolTip("A low-step render before the full one")
        self.preview_steps = QSpinBox()
        self.preview_steps.setRange(1, 50)
        self.preview_steps.setValue(4)
        self.preview_steps.setSuffix(" steps")
        self.preview_steps.setAccessibleName("preview steps")
        self.confirm_button = QPushButton("&Confirm and render")
        self.confirm_button.setDefault(True)
        self.confirm_button.setToolTip("Render this plan (Ctrl+Return)")
        self.confirm_button.clicked.connect(self._confirm)
        self.cancel_button = QPushButton("Cancel &job")
        self.cancel_button.setToolTip("Drop this plan; nothing is rendered")
        self.cancel_button.clicked.connect(self.cancelled.emit)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            # where the focus is (the ask bar, or the plan): both take Ctrl+Enter, so never window-wide
            shortcut = QShortcut(QKeySequence(keys), self, activated=self._confirm_if_ready)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(QLabel("Targets"))
        lv.addWidget(self.targets, 1)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_box, 1)
        add_row.addWidget(self.add_button)
        lv.addLayout(add_row)
        lv.addLayout(self.prompts)
        lv.addWidget(QLabel("Reasoning"))
        lv.addWidget(self.reasoning)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.overlay)
        split.setStretchFactor(1, 2)
        split.setSizes([420, 800])
        buttons = QHBoxLayout()
        buttons.addWidget(self.draft)
        buttons.addWidget(self.preview)
        buttons.addWidget(self.preview_steps)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.confirm_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self._set_enabled(False)

    # -- showing a plan ----------------------------------------------------------------------------

    def show_job(self, job: bridge_pb2.Job, caption: Any = None, overlay: Overlay | None = None) -> None:
        """Show the plan of ``job`` (awaiting confirmation); ``overlay`` from :func:`load_overlay`."""
        self.job = job
        preview = job.plan
        self.plan = json.loads(preview.plan_json) if preview.plan_json else {}
        self.objects = {o.id: o for o in preview.objects}
        for t in preview.targets:
            self.objects.setdefault(t.id, t)
        self.proposed = {t.id for t in preview.targets}
        self.added = {}
        self.title.setText(preview.explanation or "The plan has no explanation.")
        thinking = str(self.plan.get("trace", {}).get("thinking", "")).strip()
        self.reasoning.setPlainText(thinking or "(the reasoner wrote no reasoning)")
        if caption is not None:
            self.overlay.caption = caption
        self.overlay.load(preview, overlay)
        self.targets.blockSignals(True)
        self.targets.clear()
        for t in preview.targets:
            self._add_item(t, checked=True)
        self.targets.blockSignals(False)
        self._fill_prompts()
        self._fill_add_box()
        self._set_enabled(True)
        self._changed()

    def _add_item(self, t: bridge_pb2.TargetPreview, *, checked: bool) -> None:
        text = f"#{t.id}  {t.category}"
        if t.attributes and t.attributes != t.category:
            text += f" — {t.attributes}"
        text += f"   frames {spans_text(t.frames)}"
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, t.id)
        item.setData(Qt.ItemDataRole.DecorationRole, color_of(t.id))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.targets.addItem(item)

    def _fill_prompts(self) -> None:
        while self.prompts.rowCount():
            self.prompts.removeRow(0)
        self.prompt_edits = {}
        for op in self.plan.get("operations", []):
            if op.get("kind") not in GENERATED:
                continue
            edit = QPlainTextEdit(op.get("prompt", ""))
            edit.setMaximumHeight(64)
            edit.setTabChangesFocus(True)
            edit.setAccessibleName(f"prompt of {op.get('id')}")
            edit.setToolTip("What the video model is asked to render: edit it to steer the result")
            edit.textChanged.connect(self._changed)
            self.prompt_edits[op["id"]] = edit
            self.prompts.addRow(f"Prompt ({op.get('kind')}):", edit)

    def _fill_add_box(self) -> None:
        self.add_box.clear()
        listed = {self.targets.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.targets.count())}
        for object_id, o in sorted(self.objects.items()):
            if object_id not in listed:
                self.add_box.addItem(f"#{object_id} {o.category}  frames {spans_text(o.frames)}", object_id)
        self.add_box.setEnabled(self.add_box.count() > 0)
        self.add_button.setEnabled(self.add_box.count() > 0)

    def _add(self) -> None:
        object_id = self.add_box.currentData()
        if object_id is None:
            return
        obj = self.objects[int(object_id)]
        self.added[obj.id] = obj
        self._add_item(obj, checked=True)
        self._fill_add_box()
        self._changed()

    # -- the editor's changes ----------------------------------------------------------------------

    def checked_ids(self) -> set[int]:
        return {
            int(self.targets.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.targets.count())
            if self.targets.item(i).checkState() == Qt.CheckState.Checked
        }

    def prompts_now(self) -> dict[str, str]:
        return {op_id: edit.toPlainText() for op_id, edit in self.prompt_edits.items()}

    def changed(self) -> bool:
        """Whether the editor changed anything (targets or prompts)."""
        originals = {op["id"]: op.get("prompt", "") for op in self.plan.get("operations", [])}
        prompts = any(text.strip() != originals.get(k, "").strip() for k, text in self.prompts_now().items())
        return prompts or self.checked_ids() != self.proposed

    def plan_now(self) -> dict[str, Any]:
        """The plan as the editor has it now (ValueError when no target is checked)."""
        return edited_plan(self.plan, self.checked_ids(), self.added, self.prompts_now())

    def _changed(self, *_: object) -> None:
        checked = self.checked_ids()
        self.overlay.show_objects(checked)
        self.confirm_button.setEnabled(self.job is not None and bool(checked))
        note = " (changed: your version is checked against the twin)" if self.changed() else ""
        self.confirm_button.setText(f"&Confirm and render{'*' if note else ''}")
        self.confirm_button.setToolTip(f"Render this plan{note} (Ctrl+Return)")

    def _confirm_if_ready(self) -> None:
        if self.confirm_button.isEnabled() and self.isVisible():
            self._confirm()

    def _confirm(self) -> None:
        plan_json = json.dumps(self.plan_now()) if self.changed() else ""
        options = {
            "draft": self.draft.isChecked(),
            "preview_steps": self.preview_steps.value() if self.preview.isChecked() else 0,
            "plan": self.plan_now(),
        }
        self._set_enabled(False)
        self.confirmed.emit(plan_json, options)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.targets, self.add_box, self.add_button, self.confirm_button, self.cancel_button):
            w.setEnabled(on)

    def clear(self) -> None:
        self.job = None
        self.plan, self.objects, self.proposed, self.added = {}, {}, set(), {}
        self.targets.clear()
        self.add_box.clear()
        self.reasoning.clear()
        self.title.setText("No plan yet: ask for an edit.")
        self.overlay.strip = None
        self.overlay.update()
        self._set_enabled(False)
