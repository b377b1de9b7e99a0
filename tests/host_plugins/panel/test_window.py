"""The panel as an editor uses it, against a real in-process server: ask → explain → uncheck a target →
confirm → draft → final → before/after; pick objects; no server; a bad media file; every bridge call
off the UI thread while a job runs (and the largest event-loop stall, reported).

The server's twin stages are ground-truth doubles on a synthetic 30-frame scene (a square in frames
0–4, a circle all along: in the twin of 0:27 the square is 1 and the circle 2) and its reasoner replays
a recorded rollout, so every answer is known; the renderer is the tiny profile's real VACE pipeline.
The same flow on real footage with every tiny model is test_panel_e2e.py."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from bridge.client import RiverClient, state_name
from bridge.server.app import BridgeServer
from bridge.v1 import bridge_pb2
from host_plugins.panel import cli
from host_plugins.panel.history import QueryHistory
from host_plugins.panel.probe import StallProbe
from host_plugins.panel.source import media_source
from host_plugins.panel.window import PanelWindow
from host_plugins.panel.worker import Connection
from river_core.pipeline import RiverPipeline
from tests.twin.doubles import Events, SceneIndex, handles_scene, loader

NTSC = Fraction(30000, 1001)
BOTH_BRONZE = {
    "objects": [
        {"id": 1, "category": "square", "attributes": "bronze"},
        {"id": 2, "category": "circle", "attributes": "bronze"},
    ]
}


@pytest.fixture
def scene(make_server: Callable[..., BridgeServer], media_root: Path, tmp_path: Path) -> Path:
    """A server whose reasoner answers "the square and the circle become bronze"; the scene clip."""
    clip = handles_scene().write_clip(media_root / "scene.mkv")
    rollout = tmp_path / "rollout.txt"
    rollout.write_text(
        f"The square is object 1 and the circle object 2.</think>\n<edit>{json.dumps(BOTH_BRONZE)}</edit>"
    )
    index = SceneIndex(handles_scene())
    pipeline = RiverPipeline.from_pretrained(
        "tiny", stage_loader=loader(index, Events()), llm=f"replay:{rollout}"
    )
    make_server(pipeline=pipeline)
    return clip


@pytest.fixture
def window_for(qtbot, tmp_path: Path) -> Iterator[Callable[..., PanelWindow]]:
    made: list[PanelWindow] = []

    def make(source, **kwargs) -> PanelWindow:
        kwargs.setdefault("connection", Connection(start=False, timeout=10.0))
        kwargs.setdefault("start_server", False)
        kwargs.setdefault("history", QueryHistory("test", tmp_path / "history.json"))
        kwargs.setdefault("settings", {"format": "ffv1"})
        window = PanelWindow(source, **kwargs)
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()


class UiThreadCalls:
    """Records every bridge RPC made on the UI thread (there must be none)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on_ui: list[str] = []
        self.calls = 0
        original_call, original_watch = RiverClient._call, RiverClient.watch
        recorder = self

        def call(client, method, request, **kw):
            recorder._note(type(request).__name__)
            return original_call(client, method, request, **kw)

        def watch(client, job_id, *args, **kw):
            recorder._note("WatchJob")
            return original_watch(client, job_id, *args, **kw)

        monkeypatch.setattr(RiverClient, "_call", call)
        monkeypatch.setattr(RiverClient, "watch", watch)

    def _note(self, name: str) -> None:
        self.calls += 1
        if threading.current_thread() is threading.main_thread():
            self.on_ui.append(name)


def off_ui(fn: Callable[[], object], timeout: float = 60) -> object:
    """Run the test's own bridge calls off the UI thread, so the spy sees only the panel's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result(timeout=timeout)


def shot(window: PanelWindow, name: str) -> None:
    """With RIVER_PANEL_SCREENSHOTS=DIR, save the window as DIR/name.png (the README's pictures)."""
    folder = os.environ.get("RIVER_PANEL_SCREENSHOTS")
    if folder:
        from host_plugins.panel.viewer import grab_png

        grab_png(window, Path(folder) / f"{name}.png")


def test_ask_explain_uncheck_confirm_draft_final(
    scene: Path, window_for, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = UiThreadCalls(monkeypatch)
    window = window_for(media_source(scene, "0:27"))
    assert window.header.text().startswith("scene.mkv · 00:00:00:00–00:00:00:27 (27 frames)")
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=60_000)
    probe = StallProbe().start()

    # ask: the query runs with Ctrl+Enter; the server plans and waits (nothing rendered)
    window.ask.query.setEditText("make the shapes look like bronze")
    qtbot.keyClick(window.ask.query, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.review.job is not None, timeout=60_000)
    review = window.review
    assert window.tabs.currentWidget() is review
    assert sorted(review.checked_ids()) == [1, 2] and review.targets.count() == 2
    assert review.overlay.strip is not None and set(review.overlay.masks) == {1, 2}
    assert "bronze" in review.title.text() and "object 2" in review.reasoning.toPlainText()
    plan_job = window.edit.jobs["plan"]
    waiting = off_ui(lambda: RiverClient.connect(start=False).get_job(plan_job))
    assert state_name(waiting.state) == "AWAITING_CONFIRMATION"  # type: ignore[attr-defined]
    assert not waiting.results.media, "nothing is rendered before the editor confirms"  # type: ignore[attr-defined]
    assert QueryHistory("test", window.ask.history.path).items() == ["make the shapes look like bronze"]
    shot(window, "panel-review")

    # the square is wrong: uncheck it, confirm (with the instant draft first)
    review.targets.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert review.overlay.shown == {2}
    review.confirm_button.click()
    qtbot.waitUntil(lambda: "final" in window.edit.results, timeout=240_000)
    max_stall = probe.stop()

    edit = window.edit
    assert set(edit.results) == {"draft", "final"} and edit.shown == "final"
    draft, final = edit.results["draft"], edit.results["final"]
    assert state_name(draft.state) == state_name(final.state) == "SUCCEEDED"
    # the draft went to the server before the confirm, so the one worker finished it first
    assert draft.end_time.ToDatetime() <= final.end_time.ToDatetime()
    assert final.id == plan_job and [t.id for t in final.plan.targets] == [2]  # the editor's plan rendered
    assert final.plan.confirmed
    assert json.loads(draft.spec.plan_json)["operations"][0]["kind"] == "highlight"
    assert final.results.frames == draft.results.frames == 27
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.count == 27, timeout=20_000)
    assert window.tabs.currentWidget() is viewer
    assert window.stages["final"].bar.format() == "done"
    assert window.stages["draft"].bar.format() == "done"
    assert "final" in viewer.draft_label.text()

    # a media file has no timeline: sending says so, in one line
    window.send_to_timeline()
    qtbot.waitUntil(lambda: "no timeline to send to" in window.banner.text, timeout=10_000)
    assert not spy.on_ui, f"bridge calls on the UI thread: {spy.on_ui}"
    assert spy.calls > 5
    print(f"\nlargest UI-thread stall during the edit: {max_stall:.1f} ms ({probe.ticks} ticks)")


def test_an_unreadable_overlay_still_shows_the_plan_with_the_reason(
    scene: Path, window_for, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_preview: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("host_plugins.panel.window.load_overlay", broken)
    window = window_for(media_source(scene, "0:27"))
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=60_000)
    window.ask.query.setEditText("make the shapes look like bronze")
    qtbot.keyClick(window.ask.query, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.review.job is not None, timeout=60_000)
    banner = window.banner.text
    assert "target overlay could not be read" in banner and "Input/output error" in banner
    assert window.review.targets.count() == 2 and window.review.overlay.strip is None
    assert window.tabs.currentWidget() is window.review


def test_pick_objects_then_an_instant_blur_without_a_draft(scene: Path, window_for, qtbot) -> None:
    window = window_for(media_source(scene, "5:22"))
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=60_000)
    window.ask.pick_mode.setChecked(True)
    assert window.ask.pick_row.isVisibleTo(window) and not window.ask.query.isEnabled()
    window.ask.run()  # nothing picked yet: said, not sent
    assert "pick at least one object" in window.banner.text
    window.ask.find_objects.click()
    qtbot.waitUntil(lambda: window.ask.objects.count() > 0, timeout=60_000)
    assert window.ask.objects.item(0).text().startswith("#1  circle")  # the twin of 5:22: the circle is 1
    window.ask.objects.item(0).setCheckState(Qt.CheckState.Checked)
    window.ask.op.setCurrentIndex(window.ask.op.findData("blur"))
    window.ask.run()
    qtbot.waitUntil(lambda: window.review.job is not None, timeout=60_000)
    assert window.review.checked_ids() == {1} and not window.review.prompt_edits  # instant: no prompt
    window.review.draft.setChecked(False)
    window.review.confirm_button.click()
    qtbot.waitUntil(lambda: "final" in window.edit.results, timeout=120_000)
    final = window.edit.results["final"]
    assert set(window.edit.results) == {"final"} and final.spec.op == "blur" and final.results.frames == 17
    assert window.edit.jobs.keys() == {"plan", "final"}


def test_no_server_reachable_says_how_to_start_one(window_for, qtbot, sample_clip: Path, runtime_dir) -> None:
    window = window_for(media_source(sample_clip, "0:17"))
    qtbot.waitUntil(lambda: window.bridge.state == "offline", timeout=20_000)
    assert "river serve" in window.banner.text and "\n" not in window.banner.text
    assert window.server_label.text() == "server: offline"
    window.ask.query.setEditText("blur the dog")
    window.ask.run()  # asked while offline: the panel looks again (it may not start one here) and says so
    qtbot.waitUntil(lambda: "river serve" in window.banner.text, timeout=20_000)
    assert window.edit is not None and not window.edit.jobs


def test_a_bad_media_file_opens_the_panel_with_the_reason(
    window_for, qtbot, tmp_path: Path, runtime_dir
) -> None:
    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"\x00" * 2048)
    args = cli.build_parser().parse_args(["--media", str(bad), "--no-start"])
    with pytest.raises(Exception, match=r"broken\.mov: not a video file") as caught:
        cli.open_source(args)
    window = window_for(None, source_error=str(caught.value))
    assert "broken.mov: not a video file" in window.banner.text
    assert not window.ask.isEnabled()  # nothing to ask about
    args = cli.build_parser().parse_args(["--media", str(tmp_path / "nope.mov"), "--range", "0:5"])
    with pytest.raises(Exception, match="no such file"):
        cli.open_source(args)
    with pytest.raises(Exception, match="--range goes with --media"):
        cli.open_source(cli.build_parser().parse_args(["--range", "0:5"]))


def test_stopping_the_final_render_cancels_it_and_leaves_no_output(scene: Path, window_for, qtbot) -> None:
    window = window_for(media_source(scene, "0:27"))
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=60_000)
    window.ask.query.setEditText("make the circle bronze")
    window.ask.run()
    qtbot.waitUntil(lambda: window.review.job is not None, timeout=60_000)
    window.review.draft.setChecked(False)
    window.review.confirm_button.click()
    qtbot.waitUntil(lambda: "final" in window.edit.jobs, timeout=30_000)
    window.stages["final"].stop.click()
    qtbot.waitUntil(lambda: window.stages["final"].state in ("CANCELLED", "SUCCEEDED"), timeout=120_000)
    with RiverClient.connect(start=False) as other:
        job = other.get_job(window.edit.jobs["final"])
        out = Path(other.capabilities().output_root) / job.spec.output
    if job.state == bridge_pb2.JOB_STATE_SUCCEEDED:
        pytest.skip("the render finished before the stop arrived")  # a very fast machine
    assert state_name(job.state) == "CANCELLED" and not out.exists()
    assert "final" not in window.edit.results and window.ask.run_button.isEnabled()


def test_a_timeline_clip_goes_back_on_a_river_track(scene: Path, window_for, qtbot, tmp_path: Path) -> None:
    import opentimelineio as otio

    from host_plugins.otio.layback import river_clips
    from host_plugins.panel.source import timeline_source
    from tests.host_plugins.otio.timelines import Shot, media_timeline

    cut = tmp_path / "cut.otio"
    timeline = media_timeline(scene, [Shot("one", start=6, length=10, gap=4)], rate=NTSC, media_frames=30)
    otio.adapters.write_to_file(timeline, str(cut))
    before = cut.read_bytes()
    out = tmp_path / "cut_river.otio"
    window = window_for(timeline_source(cut, ["clip:one"]), settings={"format": "ffv1", "timeline_out": out})
    assert window.source_label.text() == "Timeline: cut.otio ·" and window.header.text().startswith("one · ")
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=60_000)
    window.ask.pick_mode.setChecked(True)
    window.ask.find_objects.click()
    qtbot.waitUntil(lambda: window.ask.objects.count() > 0, timeout=60_000)
    window.ask.objects.item(0).setCheckState(Qt.CheckState.Checked)
    window.ask.op.setCurrentIndex(window.ask.op.findData("pixelate"))
    window.ask.run()
    qtbot.waitUntil(lambda: window.review.job is not None, timeout=60_000)
    window.review.draft.setChecked(False)
    window.review.confirm_button.click()
    qtbot.waitUntil(lambda: "final" in window.edit.results, timeout=120_000)
    window.viewer.send_requested.emit()
    qtbot.waitUntil(lambda: bool(window.sent or window.banner.kind == "error"), timeout=30_000)
    assert window.sent == [f"wrote {out}"] and cut.read_bytes() == before  # the input is never written
    written = otio.adapters.read_from_file(str(out))
    (laid,) = river_clips(written)
    placed = laid.clip.range_in_parent()
    assert (placed.start_time.to_frames(), placed.duration.to_frames()) == (4, 10)  # over the original
    assert laid.clip.media_reference.target_url.endswith(".mkv")  # the ffv1 render
    assert laid.provenance is not None and laid.provenance_path.endswith("provenance.json")
