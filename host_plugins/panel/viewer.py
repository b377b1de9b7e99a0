"""Before/after viewer: the original and the edited media over the same frames, with a wipe.

Wipe convention: the wipe is a vertical line at ``wipe / 1000`` of the picture's width; the *before*
(original) is drawn left of it and the *after* (edit) right of it. So wipe 0 shows only the after,
1000 only the before, and 500 half of each.

Scrub index ``i`` (0 ≤ i < count) shows before frame ``before_start + i`` and after frame
``after_start + i``. Pictures are decoded by two :class:`FrameLoader` threads; the UI thread only
asks and paints.

    viewer = BeforeAfterViewer()
    viewer.set_media(source_path, before_start=120, after_path=render_path)
    viewer.set_qc(False, ["frame 12: mask leaks outside the dog"])
    viewer.send_requested.connect(place_on_timeline)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from host_plugins.panel.frames import FrameLoader, MediaInfo

__all__ = ["BeforeAfterViewer", "WipeCanvas", "grab_png"]

WIPE_MAX = 1000


def grab_png(widget: QWidget, path: Path | str) -> Path:
    """Save ``widget.grab()`` as a PNG at ``path`` atomically (a temp file beside it, then os.replace)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        if not widget.grab().save(tmp, "PNG"):
            raise OSError(f"{path}: could not write the PNG")
        Path(tmp).replace(path)  # os.replace: atomic within the folder
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    return path


class WipeCanvas(QWidget):
    """The picture: before left of the wipe line, after right of it, letterboxed, labelled."""

    wipe_dragged = Signal(int)  # the wipe (0..1000) under the mouse while the editor drags
    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.wipe = WIPE_MAX // 2
        self.message = ""  # drawn when there is no picture (loading, errors)
        self.aspect: float | None = None  # width / height of the media, once known
        self.setMinimumSize(240, 135)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.SplitHCursor)
        self.setAccessibleName("Before and after picture")
        self.setToolTip("Before (original) left of the line, after (edit) right of it; drag to move the wipe")

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def picture_rect(self) -> QRectF:
        """Where the picture goes: the largest rect of the pictures' aspect that fits, centred, on whole
        device pixels (so a picture decoded at its device width is drawn 1:1)."""
        shown = self.after if self.after is not None else self.before
        aspect = self.aspect or (shown.width() / shown.height() if shown is not None else None)
        dpr = self.devicePixelRatioF()
        width, height = round(self.width() * dpr), round(self.height() * dpr)
        if not aspect or width < 1 or height < 1:
            return QRectF(self.rect())
        fit_w, fit_h = (width, max(1, round(width / aspect)))
        if fit_h > height:
            fit_w, fit_h = max(1, round(height * aspect)), height
        left, top = (width - fit_w) // 2, (height - fit_h) // 2
        return QRectF(left / dpr, top / dpr, fit_w / dpr, fit_h / dpr)

    def wipe_x(self) -> float:
        rect = self.picture_rect()
        return rect.left() + rect.width() * self.wipe / WIPE_MAX

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor(16, 16, 16))
        rect = self.picture_rect()
        x = self.wipe_x()
        # QPainter maps logical to device pixels itself, so images are drawn at full device resolution.
        left, top, height = rect.left(), rect.top(), rect.height()
        self._draw(painter, self.before, rect, QRectF(left, top, x - left, height))
        self._draw(painter, self.after, rect, QRectF(x, top, rect.right() - x, height))
        if self.before is None and self.after is None:
            painter.setPen(self.palette().color(self.foregroundRole()))
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.rect(), flags, self.message)
            return
        pen = QPen(QColor(255, 255, 255, 220))
        pen.setWidthF(2.0)  # logical pixels: QPainter scales it to the screen's device pixel ratio
        painter.setPen(pen)
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        self._label(painter, rect, "before", Qt.AlignmentFlag.AlignLeft)
        self._label(painter, rect, "after", Qt.AlignmentFlag.AlignRight)

    def _draw(self, painter: QPainter, image: QImage | None, rect: QRectF, clip: QRectF) -> None:
        if image is None or clip.width() <= 0:
            return
        dpr = self.devicePixelRatioF()
        if abs(image.width() - rect.width() * dpr) <= 1:  # decoded at the picture's size: a 1:1 blit
            rect = QRectF(rect.left(), rect.top(), image.width() / dpr, image.height() / dpr)
        painter.save()
        painter.setClipRect(clip)
        painter.drawImage(rect, image)
        painter.restore()

    def _label(self, painter: QPainter, rect: QRectF, text: str, side: Qt.AlignmentFlag) -> None:
        metrics = painter.fontMetrics()
        pad = metrics.height() / 4
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 4 * pad, metrics.height() + 2 * pad)
        if side == Qt.AlignmentFlag.AlignLeft:
            box.moveTopLeft(rect.topLeft() + QPointF(2 * pad, 2 * pad))
        else:
            box.moveTopRight(rect.topRight() + QPointF(-2 * pad, 2 * pad))
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_to(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._drag_to(event.position().x())

    def _drag_to(self, x: float) -> None:
        rect = self.picture_rect()
        if rect.width() > 0:
            fraction = min(max((x - rect.left()) / rect.width(), 0.0), 1.0)
            self.wipe_dragged.emit(round(fraction * WIPE_MAX))


class BeforeAfterViewer(QWidget):
    """Original and edit over the same frames, with a wipe, a scrubber, play/pause and QC.

    Keys (anywhere in the viewer unless a control uses them): Space play/pause, Left/Right one frame,
    Home/End first/last frame. Pictures are decoded at the picture's width in device pixels (so
    painting is a near 1:1 blit), at most ``max_width``.
    """

    send_requested = Signal()
    open_folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, max_width: int | None = 1920) -> None:
        super().__init__(parent)
        self.setAccessibleName("Before and after viewer")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._max_width = max_width
        self._loaders: dict[str, FrameLoader] = {}
        self._infos: dict[str, MediaInfo] = {}
        self._starts = {"before": 0, "after": 0}
        self._asked_count: int | None = None
        self._count = 0  # scrub positions; 0 until known
        self._index = 0
        self._shown: dict[str, int | None] = {"before": None, "after": None}
        self._timecode_of: Callable[[int], str] | None = None
        self._clock = QElapsedTimer()
        self._play_from = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._build()
        self._sync_controls()

    # -- layout ----------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.draft_label = QLabel("")
        self.draft_label.setAccessibleName("Which result is shown")
        self.draft_label.setToolTip("Which result is shown: draft, preview or final")
        self.qc_badge = QLabel("")
        self.qc_badge.setAccessibleName("Quality check result")
        self.qc_badge.setToolTip("Automatic quality checks of the edit")
        self.qc_badge.hide()
        top = QHBoxLayout()
        top.addWidget(self.draft_label, 1)
        top.addWidget(self.qc_badge)

        self.canvas = WipeCanvas(self)
        self.canvas.wipe_dragged.connect(self.set_wipe)
        self.canvas.resized.connect(self._fit_pictures)

        self.wipe_slider = self._slider(
            WIPE_MAX, "Wipe", "Wipe: before left of the line, after right (0 all after, 1000 all before)"
        )
        self.wipe_slider.setValue(self.canvas.wipe)
        self.wipe_slider.valueChanged.connect(self._on_wipe)

        self.play_button = QPushButton("Play")
        self.play_button.setAccessibleName("Play or pause")
        self.play_button.setToolTip("Play or pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.scrubber = self._slider(0, "Frame", "Scrub the frames (Left/Right one frame, Home/End)")
        self.scrubber.valueChanged.connect(self._on_scrub)
        self.frame_label = QLabel("")
        self.frame_label.setAccessibleName("Frame and source timecode")
        self.frame_label.setToolTip("Frame of the edit, and source frame and timecode of the original")
        self.frame_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scrub = QHBoxLayout()
        scrub.addWidget(self.play_button)
        scrub.addWidget(self.scrubber, 1)
        scrub.addWidget(self.frame_label)

        self.flags_label = QLabel("")
        self.flags_label.setWordWrap(True)
        self.flags_label.setAccessibleName("Quality check flags")
        self.flags_label.setToolTip("What the quality checks flagged")
        self.flags_label.hide()
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Viewer status")
        self.status_label.hide()

        self.open_button = QPushButton("Open folder")
        self.open_button.setAccessibleName("Open the result's folder")
        self.open_button.setToolTip("Show the rendered files in the file browser")
        self.open_button.clicked.connect(self.open_folder_requested)
        self.send_button = QPushButton("Send to timeline")
        self.send_button.setAccessibleName("Send to timeline")
        self.send_button.setToolTip("Place the edit on the timeline (a new track; the original is untouched)")
        self.send_button.clicked.connect(self.send_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.send_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.wipe_slider)
        layout.addLayout(scrub)
        layout.addWidget(self.flags_label)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)

    def _slider(self, maximum: int, name: str, tip: str) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, maximum)
        slider.setAccessibleName(name)
        slider.setToolTip(tip)
        slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return slider

    # -- media -----------------------------------------------------------------------------------------

    def set_media(
        self,
        before_path: Path | str,
        before_start: int,
        after_path: Path | str,
        after_start: int = 0,
        count: int | None = None,
        timecode_of: Callable[[int], str] | None = None,
    ) -> None:
        """Show ``before_path`` from frame ``before_start`` against ``after_path`` from ``after_start``.

        ``count`` scrub positions (default: the after media's frames from ``after_start``), cut to what
        both files hold. ``timecode_of(i)`` gives the timecode text for scrub index ``i``; by default,
        the original's source timecode of frame ``before_start + i``.
        """
        for name, value in (("before_start", before_start), ("after_start", after_start)):
            if value < 0:
                raise ValueError(f"`{name}` must be a frame index ≥ 0, not {value}")
        if count is not None and count < 1:
            raise ValueError(f"`count` must be at least 1 frame, not {count}")
        self.clear_media()
        self._starts = {"before": before_start, "after": after_start}
        self._asked_count = count
        self._timecode_of = timecode_of
        self.canvas.message = "Loading…"
        for side, path in (("before", before_path), ("after", after_path)):
            loader = FrameLoader(path, max_width=self._decode_width(), parent=self)
            # Each slot knows its loader: a picture from the loader of earlier media is dropped.
            loader.opened.connect(lambda info, s=side, ld=loader: self._on_opened(ld, s, info))
            loader.frame_ready.connect(lambda i, image, s=side, ld=loader: self._on_frame(ld, s, i, image))
            loader.failed.connect(lambda message, ld=loader: self._on_failed(ld, message))
            self._loaders[side] = loader
        self._index = 0
        self._sync_controls()
        self._request()

    def clear_media(self) -> None:
        """Stop playing, stop the decoders and show nothing."""
        self.pause()
        for loader in self._loaders.values():
            loader.close()
            loader.deleteLater()
        self._loaders.clear()
        self._infos.clear()
        self._count = 0
        self._shown = {"before": None, "after": None}
        self.canvas.before = self.canvas.after = None
        self.canvas.aspect = None
        self.canvas.message = ""
        self.status_label.hide()
        self._sync_controls()
        self.canvas.update()

    def _decode_width(self) -> int | None:
        """The picture's width in device pixels (so painting is a blit), at most ``max_width``."""
        device = max(64, round(self.canvas.picture_rect().width() * self.canvas.devicePixelRatioF()))
        return min(device, self._max_width) if self._max_width is not None else device

    def _fit_pictures(self) -> None:
        width = self._decode_width()
        for side, loader in self._loaders.items():
            if loader.max_width != width:
                loader.set_max_width(width)
                loader.request(self._starts[side] + self._index)  # the picture again, sharp

    def _on_opened(self, loader: FrameLoader, side: str, info: MediaInfo) -> None:
        if self._loaders.get(side) is not loader:
            return
        self._infos[side] = info
        if side == "after" or self.canvas.aspect is None:
            self.canvas.aspect = info.width / info.height
            self._fit_pictures()
        if len(self._infos) == 2:
            available = min(
                self._infos["after"].frames - self._starts["after"],
                self._infos["before"].frames - self._starts["before"],
            )
            self._count = max(0, min(available, self._asked_count or available))
            if self._count == 0:
                self._show_error(f"Nothing to show: the ranges start past the end ({available} frames left)")
            self._sync_controls()

    def _on_frame(self, loader: FrameLoader, side: str, index: int, image: QImage) -> None:
        if self._loaders.get(side) is not loader:
            return
        self._shown[side] = index
        setattr(self.canvas, side, image)
        self.canvas.update()

    def _on_failed(self, loader: FrameLoader, message: str) -> None:
        if loader in self._loaders.values():
            self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.pause()
        self.status_label.setText(message)
        self.status_label.show()
        self.canvas.message = message
        self.canvas.update()

    # -- frames ----------------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Scrub positions (0 until both files are open)."""
        return self._count

    @property
    def index(self) -> int:
        """The scrub index being shown (or wanted)."""
        return self._index

    @property
    def shown(self) -> tuple[int | None, int | None]:
        """The (before, after) frame numbers of the pictures on screen now."""
        return self._shown["before"], self._shown["after"]

    def show_frame(self, index: int) -> None:
        """Show scrub index ``index`` (clamped to the range)."""
        index = min(max(index, 0), max(self._count - 1, 0))
        if index == self._index and self.scrubber.value() == index and self._shown_index_is(index):
            return
        self._index = index
        self._request()
        self._sync_controls()

    def _on_scrub(self, index: int) -> None:
        """The editor moved the scrubber (by mouse or keys); playing goes on from there."""
        self.show_frame(index)
        if self.playing:
            self._play_from = self._index
            self._clock.restart()

    def _shown_index_is(self, index: int) -> bool:
        return self.shown == (self._starts["before"] + index, self._starts["after"] + index)

    def _request(self) -> None:
        for side, loader in self._loaders.items():
            loader.request(self._starts[side] + self._index)

    def step(self, frames: int) -> None:
        self.pause()
        self.show_frame(self._index + frames)

    def timecode(self, index: int) -> str:
        """The timecode text of scrub index ``index``."""
        if self._timecode_of is not None:
            return self._timecode_of(index)
        info = self._infos.get("before")
        return info.timecode(self._starts["before"] + index) if info is not None else ""

    # -- wipe ------------------------------------------------------------------------------------------

    @property
    def wipe(self) -> int:
        return self.canvas.wipe

    def set_wipe(self, value: int) -> None:
        """Move the wipe: 0 shows only the after, 1000 only the before."""
        self.wipe_slider.setValue(min(max(value, 0), WIPE_MAX))  # → _on_wipe

    def _on_wipe(self, value: int) -> None:
        self.canvas.wipe = value
        self.canvas.update()

    # -- playback --------------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        """Play at the media's rate from here (from the start when at the end)."""
        info = self._infos.get("after") or self._infos.get("before")
        if info is None or self._count < 2:
            return
        if self._index >= self._count - 1:
            self.show_frame(0)
        self._play_from = self._index
        self._clock.start()
        # The timer only wakes the clock; the frame comes from the elapsed time, so playback keeps the
        # exact rate and a late decode skips to the frame due now instead of queueing.
        self._timer.start(max(1, int(1000 * info.rate.denominator / info.rate.numerator / 2)))
        self._sync_controls()

    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self._sync_controls()

    def _tick(self) -> None:
        info = self._infos.get("after") or self._infos.get("before")
        if info is None:
            self.pause()
            return
        elapsed_ns = self._clock.nsecsElapsed()
        due = self._play_from + elapsed_ns * info.rate.numerator // (info.rate.denominator * 1_000_000_000)
        if due >= self._count - 1:
            self.show_frame(self._count - 1)
            self.pause()
        elif due != self._index:
            self.show_frame(due)

    # -- QC, labels ------------------------------------------------------------------------------------

    def set_qc(self, passed: bool, flags: list[str]) -> None:
        """Show the QC badge (passed, or how many flags) and the flags' text."""
        n = len(flags)
        noun = "flag" if n == 1 else "flags"
        text = ("QC passed" + (f" · {n} {noun}" if n else "")) if passed else f"QC failed · {n} {noun}"
        color = "#2e7d32" if passed else "#c62828"
        self.qc_badge.setText(text)
        self.qc_badge.setStyleSheet(
            f"QLabel {{ background: {color}; color: white; border-radius: 0.4em; padding: 0.15em 0.6em; }}"
        )
        self.qc_badge.setAccessibleDescription(text)
        self.qc_badge.show()
        self.flags_label.setText("\n".join(f"• {flag}" for flag in flags))
        self.flags_label.setVisible(bool(flags))

    def set_draft_label(self, text: str) -> None:
        """Which result is shown, e.g. "draft (instant overlay)", "preview (4 steps)", "final"."""
        self.draft_label.setText(text)

    def _sync_controls(self) -> None:
        has_media = bool(self._loaders)
        for button in (self.send_button, self.open_button):
            button.setEnabled(has_media)
        self.play_button.setEnabled(self._count > 1)
        self.play_button.setText("Pause" if self.playing else "Play")
        self.scrubber.blockSignals(True)
        self.scrubber.setRange(0, max(self._count - 1, 0))
        self.scrubber.setValue(self._index)
        self.scrubber.blockSignals(False)
        self.scrubber.setEnabled(self._count > 1)
        if self._count:
            source = self._starts["before"] + self._index
            self.frame_label.setText(
                f"{self._index + 1}/{self._count}  ·  source frame {source}  ·  {self.timecode(self._index)}"
            )
        else:
            self.frame_label.setText("")

    # -- keys and lifetime -----------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            self.toggle_play()
        elif key == Qt.Key.Key_Left:
            self.step(-1)
        elif key == Qt.Key.Key_Right:
            self.step(1)
        elif key == Qt.Key.Key_Home:
            self.pause()
            self.show_frame(0)
        elif key == Qt.Key.Key_End:
            self.pause()
            self.show_frame(self._count - 1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.clear_media()
        super().closeEvent(event)
