"""The before/after viewer, offscreen: which picture is where for each wipe, which frames a scrub index
shows, play/pause, keys, buttons, QC, and the PNG grab.

The before clip's frame n is (10·n, 255, 200) and the after clip's (255, 10·n, 200) in RGB, so a pixel
tells which clip and which frame it is (see ``color_clip`` in conftest.py).
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import pytest
from opentimelineio import opentime
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QAbstractSlider

from host_plugins.panel.frames import MediaFrames
from host_plugins.panel.viewer import BeforeAfterViewer, grab_png

NTSC = Fraction(30000, 1001)
BEFORE_START = 5  # where the edited range starts in the original
AFTER_START = 2  # where it starts in the render (e.g. handles)
COUNT = 10


@pytest.fixture
def clips(color_clip) -> tuple[Path, Path]:
    before = color_clip("before.mp4", channel="r", frames=24, timecode="00:00:59;22")
    after = color_clip("after.mp4", channel="g", frames=16)
    return before, after


@pytest.fixture
def viewer(qtbot) -> BeforeAfterViewer:
    widget = BeforeAfterViewer()
    qtbot.addWidget(widget)  # closed at teardown: its decoder threads stop
    widget.resize(640, 480)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def loaded(viewer: BeforeAfterViewer, clips, qtbot) -> BeforeAfterViewer:
    before, after = clips
    viewer.set_media(before, BEFORE_START, after, AFTER_START, count=COUNT)
    wait_for_frame(qtbot, viewer, 0)
    return viewer


def wait_for_frame(qtbot, viewer: BeforeAfterViewer, k: int) -> None:
    qtbot.waitUntil(lambda: viewer.shown == (BEFORE_START + k, AFTER_START + k), timeout=5000)


def picture(viewer: BeforeAfterViewer) -> QImage:
    return viewer.canvas.grab().toImage()


def which(viewer: BeforeAfterViewer, fraction: float) -> tuple[str, int]:
    """(clip, frame) of the picture at ``fraction`` of its width, halfway down."""
    rect = viewer.canvas.picture_rect()
    image = picture(viewer)
    scale = image.width() / viewer.canvas.width()  # device pixels per logical pixel
    x = (rect.left() + rect.width() * fraction) * scale
    r, g, b, _ = image.pixelColor(round(x), round(rect.center().y() * scale)).getRgb()
    assert abs(b - 200) <= 6, f"({r}, {g}, {b}) is not a picture of either clip"
    if g >= 245 and r < 240:
        clip, level = "before", r
    elif r >= 245 and g < 240:
        clip, level = "after", g
    else:
        pytest.fail(f"({r}, {g}, {b}) is not a picture of either clip")
    n = round(level / 10)
    assert abs(level - 10 * n) <= 5, f"colour {level} is between frames"
    return clip, n


def test_the_wipe_puts_before_left_and_after_right(loaded: BeforeAfterViewer, qtbot) -> None:
    loaded.set_wipe(500)
    assert which(loaded, 0.45) == ("before", BEFORE_START)
    assert which(loaded, 0.55) == ("after", AFTER_START)
    loaded.set_wipe(0)  # only the after
    assert which(loaded, 0.02) == ("after", AFTER_START)
    assert which(loaded, 0.98) == ("after", AFTER_START)
    loaded.set_wipe(1000)  # only the before
    assert which(loaded, 0.02) == ("before", BEFORE_START)
    assert which(loaded, 0.98) == ("before", BEFORE_START)
    loaded.set_wipe(250)
    assert loaded.wipe_slider.value() == 250
    assert which(loaded, 0.2)[0] == "before" and which(loaded, 0.3)[0] == "after"


def test_dragging_on_the_picture_moves_the_wipe(loaded: BeforeAfterViewer, qtbot) -> None:
    rect = loaded.canvas.picture_rect()
    at = QPoint(round(rect.left() + rect.width() * 0.8), round(rect.center().y()))
    qtbot.mousePress(loaded.canvas, Qt.MouseButton.LeftButton, pos=at)
    assert abs(loaded.wipe - 800) <= 3 and loaded.wipe_slider.value() == loaded.wipe
    assert which(loaded, 0.75) == ("before", BEFORE_START)


@pytest.mark.parametrize("k", [3, COUNT - 1, 1])
def test_scrub_index_k_shows_before_start_plus_k(loaded: BeforeAfterViewer, qtbot, k: int) -> None:
    loaded.scrubber.setValue(k)
    wait_for_frame(qtbot, loaded, k)
    loaded.set_wipe(500)
    assert which(loaded, 0.25) == ("before", BEFORE_START + k)
    assert which(loaded, 0.75) == ("after", AFTER_START + k)


def test_the_label_shows_the_sources_drop_frame_timecode(loaded: BeforeAfterViewer, qtbot) -> None:
    start = opentime.from_timecode("00:00:59;22", float(NTSC)).value
    for k in (0, 2, 3):  # source frames 5, 7 and 8 of the clip: across the dropped 00:01:00;00 and ;01
        loaded.show_frame(k)
        source = start + BEFORE_START + k
        expected = opentime.to_timecode(opentime.RationalTime(source, float(NTSC)), float(NTSC), True)
        assert loaded.timecode(k) == expected
        label = loaded.frame_label.text()
        assert expected in label and f"source frame {BEFORE_START + k}" in label, label
    assert (loaded.timecode(2), loaded.timecode(3)) == ("00:00:59;29", "00:01:00;02")


def test_a_timecode_function_overrides_the_sources(viewer: BeforeAfterViewer, clips, qtbot) -> None:
    before, after = clips
    viewer.set_media(before, 0, after, timecode_of=lambda i: f"TL {i:03d}")
    wait_for_frame_at(qtbot, viewer, (0, 0))
    assert viewer.count == 16  # the after's frames by default
    viewer.show_frame(4)
    assert "TL 004" in viewer.frame_label.text()


def wait_for_frame_at(qtbot, viewer: BeforeAfterViewer, shown: tuple[int, int]) -> None:
    qtbot.waitUntil(lambda: viewer.shown == shown, timeout=5000)


def test_count_is_cut_to_what_both_files_hold(viewer: BeforeAfterViewer, clips, qtbot) -> None:
    before, after = clips
    viewer.set_media(before, 20, after, 0, count=12)  # the before has 24 frames: 4 from frame 20
    qtbot.waitUntil(lambda: viewer.count == 4, timeout=5000)
    assert viewer.scrubber.maximum() == 3


def test_play_advances_and_pause_stops(loaded: BeforeAfterViewer, qtbot) -> None:
    qtbot.mouseClick(loaded.play_button, Qt.MouseButton.LeftButton)
    assert loaded.playing and loaded.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: loaded.index >= 3, timeout=3000)
    qtbot.mouseClick(loaded.play_button, Qt.MouseButton.LeftButton)
    assert not loaded.playing
    stopped = loaded.index
    qtbot.wait(150)  # over four frame periods
    assert loaded.index == stopped
    wait_for_frame(qtbot, loaded, stopped)


def test_scrubbing_while_playing_plays_on_from_there(loaded: BeforeAfterViewer, qtbot) -> None:
    loaded.play()
    qtbot.waitUntil(lambda: loaded.index >= 6, timeout=3000)
    loaded.scrubber.setValue(1)  # what dragging the scrubber or its arrow keys do
    assert loaded.playing and loaded.index == 1
    qtbot.wait(60)  # two frames: on from 1, not back to frame 6+ where the old clock is
    assert loaded.playing and 1 <= loaded.index < 5, loaded.index
    loaded.pause()


def test_play_stops_at_the_last_frame_and_restarts_from_the_first(loaded: BeforeAfterViewer, qtbot) -> None:
    loaded.play()
    qtbot.waitUntil(lambda: not loaded.playing, timeout=3000)  # 10 frames at 29.97 fps: 1/3 s
    assert loaded.index == COUNT - 1
    wait_for_frame(qtbot, loaded, COUNT - 1)
    loaded.play()
    assert loaded.index == 0 and loaded.playing


def test_keys(loaded: BeforeAfterViewer, qtbot) -> None:
    qtbot.keyClick(loaded, Qt.Key.Key_Right)
    qtbot.keyClick(loaded, Qt.Key.Key_Right)
    assert loaded.index == 2 and loaded.scrubber.value() == 2
    qtbot.keyClick(loaded, Qt.Key.Key_Left)
    assert loaded.index == 1
    qtbot.keyClick(loaded, Qt.Key.Key_End)
    assert loaded.index == COUNT - 1
    wait_for_frame(qtbot, loaded, COUNT - 1)
    qtbot.keyClick(loaded, Qt.Key.Key_Home)
    assert loaded.index == 0
    qtbot.keyClick(loaded, Qt.Key.Key_Left)  # stays at the first frame
    assert loaded.index == 0
    qtbot.keyClick(loaded.canvas, Qt.Key.Key_Space)  # from the picture too
    assert loaded.playing
    qtbot.keyClick(loaded, Qt.Key.Key_Space)
    assert not loaded.playing


def test_buttons_are_enabled_by_media_and_emit(viewer: BeforeAfterViewer, clips, qtbot) -> None:
    assert not viewer.send_button.isEnabled() and not viewer.open_button.isEnabled()
    viewer.set_media(clips[0], 0, clips[1])
    assert viewer.send_button.isEnabled() and viewer.open_button.isEnabled()
    with qtbot.waitSignal(viewer.send_requested, timeout=1000):
        qtbot.mouseClick(viewer.send_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(viewer.open_folder_requested, timeout=1000):
        qtbot.mouseClick(viewer.open_button, Qt.MouseButton.LeftButton)
    viewer.clear_media()
    assert not viewer.send_button.isEnabled()


def test_qc_badge_and_flags(viewer: BeforeAfterViewer) -> None:
    assert viewer.qc_badge.isHidden()
    viewer.set_qc(True, [])
    assert viewer.qc_badge.text() == "QC passed" and viewer.flags_label.isHidden()
    flags = ["frame 12: the mask leaks outside the dog by 14 px", "flicker between frames 3 and 4"]
    viewer.set_qc(False, flags)
    assert viewer.qc_badge.text() == "QC failed · 2 flags"
    assert not viewer.flags_label.isHidden() and viewer.flags_label.wordWrap()
    assert all(flag in viewer.flags_label.text() for flag in flags)
    viewer.set_qc(True, flags[:1])
    assert viewer.qc_badge.text() == "QC passed · 1 flag"


def test_draft_label(viewer: BeforeAfterViewer) -> None:
    viewer.set_draft_label("preview (4 steps)")
    assert viewer.draft_label.text() == "preview (4 steps)"


def test_every_control_is_named_explained_and_reachable_by_keyboard(viewer: BeforeAfterViewer) -> None:
    controls = viewer.findChildren(QAbstractButton) + viewer.findChildren(QAbstractSlider) + [viewer.canvas]
    assert len(controls) == 6
    for control in controls:
        assert control.accessibleName() and control.toolTip(), control
        assert control.focusPolicy() & Qt.FocusPolicy.TabFocus, control.accessibleName()


def test_a_missing_file_says_so_in_the_viewer(viewer: BeforeAfterViewer, clips, qtbot, tmp_path) -> None:
    viewer.set_media(clips[0], 0, tmp_path / "render_missing.mov")
    qtbot.waitUntil(lambda: not viewer.status_label.isHidden(), timeout=5000)
    assert "render_missing.mov" in viewer.status_label.text()


def test_new_media_replaces_the_old(loaded: BeforeAfterViewer, clips, qtbot) -> None:
    old = list(loaded._loaders.values())
    before, after = clips
    loaded.set_media(after, 3, before, 0, count=4)  # swapped: the before is now green
    assert all(not loader._thread.is_alive() for loader in old)
    qtbot.waitUntil(lambda: loaded.shown == (3, 0), timeout=5000)
    loaded.set_wipe(500)
    assert which(loaded, 0.25) == ("after", 3)  # the green clip, on the before side
    assert which(loaded, 0.75) == ("before", 0)


def test_the_ui_thread_never_decodes(viewer: BeforeAfterViewer, clips, qtbot, monkeypatch) -> None:
    threads = set()
    real = MediaFrames.image

    def spy(self: MediaFrames, index: int) -> QImage:
        threads.add(threading.current_thread())
        return real(self, index)

    monkeypatch.setattr(MediaFrames, "image", spy)
    viewer.set_media(clips[0], BEFORE_START, clips[1], AFTER_START, count=COUNT)
    wait_for_frame(qtbot, viewer, 0)
    for k in (4, 9, 2):
        viewer.show_frame(k)
    wait_for_frame(qtbot, viewer, 2)
    assert threads and threading.main_thread() not in threads


def test_grab_png_writes_atomically(loaded: BeforeAfterViewer, tmp_path: Path) -> None:
    out = grab_png(loaded, tmp_path / "viewer.png")
    assert out == tmp_path / "viewer.png"
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= loaded.width()
    assert [p.name for p in tmp_path.iterdir()] == ["viewer.png"]  # no temp file left behind
    grab_png(loaded, out)  # over an existing file
    assert [p.name for p in tmp_path.iterdir()] == ["viewer.png"]


def test_pictures_are_decoded_at_the_pictures_device_size(
    viewer: BeforeAfterViewer, sample_clip: Path, qtbot
) -> None:
    """Painting is then a 1:1 blit, not a scale on the UI thread; a resize decodes at the new size
    (pictures are scaled down only: the 1280-wide sample is wider than the picture)."""
    viewer.set_media(sample_clip, 0, sample_clip)

    def decoded_at_display_size() -> bool:
        width = round(viewer.canvas.picture_rect().width() * viewer.canvas.devicePixelRatioF())
        width = min(width, 1280)  # never above the file's own width
        images = (viewer.canvas.before, viewer.canvas.after)
        return all(image is not None and image.width() == width for image in images)

    qtbot.waitUntil(decoded_at_display_size, timeout=5000)
    small = viewer.canvas.after.width()
    assert small < 1280
    viewer.resize(900, 700)
    qtbot.waitUntil(lambda: decoded_at_display_size() and viewer.canvas.after.width() > small, timeout=5000)
