"""Ask: what the editor wants, as a query the engine reasons over, or objects picked from the twin.

:class:`AskBar` holds the query field (with the project's history; Ctrl+Enter runs), the mode
(reason over a query, or pick objects of the twin), and the operation: generation (a prompt, or
remove) or an instant operation (blur, pixelate, recolor, matte). It emits ``run_requested(dict)``
with what the job needs; the window decides how to submit it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from host_plugins.panel.history import QueryHistory

__all__ = ["OPS", "AskBar"]

# (op, label): generation first, then the instant operations (no diffusion, seconds).
OPS: tuple[tuple[str, str], ...] = (
    ("generate", "Generate (video model)"),
    ("blur", "Blur"),
    ("pixelate", "Pixelate"),
    ("recolor", "Recolor"),
    ("matte", "Matte only"),
)


class AskBar(QWidget):
    """Signals: ``run_requested(dict)`` — keys ``mode`` (``"query"`` | ``"targets"``), ``query``,
    ``targets`` (ids as strings), ``op``, ``prompt``, ``remove``, ``color``; ``objects_requested()``
    when the editor asks for the twin's objects (pick mode)."""

    run_requested = Signal(dict)
    objects_requested = Signal()

    def __init__(self, history: QueryHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.color = QColor("#d4af37")

        self.reason_mode = QRadioButton("&Ask")
        self.reason_mode.setToolTip("Describe the edit; the engine works out what and when")
        self.pick_mode = QRadioButton("P&ick objects")
        self.pick_mode.setToolTip("Choose the objects yourself from the twin of the clip")
        self.reason_mode.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.reason_mode)
        group.addButton(self.pick_mode)
        self.query = QComboBox()
        self.query.setEditable(True)
        self.query.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.query.setAccessibleName("query")
        self.query.setToolTip("What to change, e.g. “make the animal she is playing with look like bronze”")
        line = self.query.lineEdit()
        assert line is not None
        line.setPlaceholderText("make the animal she is playing with look like bronze   (Ctrl+Enter)")
        line.setClearButtonEnabled(True)
        self.op = QComboBox()
        self.op.setAccessibleName("operation")
        for value, label in OPS:
            self.op.addItem(label, value)
        self.op.setToolTip("Generation renders with the video model; the others are instant")
        self.prompt = QLineEdit()
        self.prompt.setAccessibleName("prompt")
        self.prompt.setPlaceholderText("what the objects become, e.g. a bronze statue")
        self.remove = QCheckBox("Remove")
        self.remove.setToolTip("Remove the objects (inpainted) instead of changing them")
        self.color_button = QPushButton("Color…")
        self.color_button.setAccessibleName("recolor color")
        self.color_button.clicked.connect(self._pick_color)
        self.objects = QListWidget()
        self.objects.setAccessibleName("objects of the twin")
        self.objects.setMaximumHeight(120)
        self.find_objects = QPushButton("&Find objects")
        self.find_objects.setToolTip("Build the twin of the clip (tracks, categories) to pick from")
        self.find_objects.clicked.connect(self.objects_requested.emit)
        self.run_button = QPushButton("&Run")
        self.run_button.setToolTip("Plan the edit and show it for review (Ctrl+Enter)")
        self.run_button.clicked.connect(self.run)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            # where the focus is (the ask bar, or the plan): both take Ctrl+Enter, so never window-wide
            shortcut = QShortcut(QKeySequence(keys), self, activated=self._run_if_visible)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        line.returnPressed.connect(lambda: None)  # Enter alone does not run: Ctrl+Enter does

        top = QHBoxLayout()
        top.addWidget(self.reason_mode)
        top.addWidget(self.pick_mode)
        top.addWidget(self.query, 1)
        top.addWidget(self.run_button)
        second = QHBoxLayout()
        second.addWidget(QLabel("Operation:"))
        second.addWidget(self.op)
        second.addWidget(self.prompt, 3)
        second.addWidget(self.remove)
        second.addWidget(self.color_button)
        second.addStretch(1)
        pick = QHBoxLayout()
        pick.addWidget(self.objects, 1)
        pick.addWidget(self.find_objects, 0, Qt.AlignmentFlag.AlignTop)
        self.pick_row = QWidget()
        self.pick_row.setLayout(pick)
        pick.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.pick_row)
        self.reason_mode.toggled.connect(self._mode_changed)
        self.op.currentIndexChanged.connect(self._mode_changed)
        self.remove.toggled.connect(self._mode_changed)
        self.load_history()
        self._mode_changed()

    # -- state -----------------------------------------------------------------------------------

    def load_history(self) -> None:
        current = self.query.currentText()
        self.query.clear()
        self.query.addItems(self.history.items())
        self.query.setEditText(current)

    def set_objects(self, objects: list[dict[str, Any]]) -> None:
        """The twin's objects to pick from: ``[{"id", "category", "attributes", "frames"}]``."""
        self.objects.clear()
        for o in objects:
            item = QListWidgetItem(f"#{o['id']}  {o['category']}   frames {o.get('frames', '')}")
            item.setData(Qt.ItemDataRole.UserRole, str(o["id"]))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.objects.addItem(item)

    def picked(self) -> list[str]:
        return [
            str(self.objects.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.objects.count())
            if self.objects.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _mode_changed(self, *_: object) -> None:
        picking = self.pick_mode.isChecked()
        op = self.op.currentData()
        self.query.setEnabled(not picking)
        self.pick_row.setVisible(picking)
        self.prompt.setVisible(picking and op == "generate" and not self.remove.isChecked())
        self.remove.setVisible(picking and op == "generate")
        self.color_button.setVisible(op == "recolor")

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self.color, self, "Recolor to")
        if color.isValid():
            self.set_color(color)

    def set_color(self, color: QColor) -> None:
        self.color = color
        self.color_button.setText(f"Color {color.name()}")

    def setBusy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.find_objects.setEnabled(not busy)

    # -- running ---------------------------------------------------------------------------------

    def request(self) -> dict[str, Any]:
        """What the editor asked for; ValueError says what is missing."""
        op = str(self.op.currentData())
        out: dict[str, Any] = {"op": op, "color": self.color.name() if op == "recolor" else ""}
        if self.pick_mode.isChecked():
            targets = self.picked()
            if not targets:
                raise ValueError("pick at least one object (Find objects lists the clip's objects)")
            out.update(mode="targets", targets=targets, query="")
            if op == "generate":
                if self.remove.isChecked():
                    out["remove"] = True
                elif not self.prompt.text().strip():
                    raise ValueError("say what the objects become (e.g. “a bronze statue”), or tick Remove")
                else:
                    out["prompt"] = self.prompt.text().strip()
            return out
        query = " ".join(self.query.currentText().split())
        if not query:
            raise ValueError("type what to change, e.g. “blur whoever touches the ball last”")
        out.update(mode="query", query=query)
        return out

    def run(self) -> None:
        try:
            request = self.request()
        except ValueError as exc:
            self.run_requested.emit({"error": str(exc)})
            return
        if request["mode"] == "query":
            self.history.add(request["query"])
            self.load_history()
            self.query.setEditText(request["query"])
        self.run_requested.emit(request)

    def _run_if_visible(self) -> None:
        if self.isVisible() and self.run_button.isEnabled():
            self.run()
