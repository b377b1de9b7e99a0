"""The panel on real footage with every tiny model (twin builder, VACE) through a real server: ask →
explain (the targets drawn over the frames) → uncheck one → confirm → draft, preview, final → the
before/after wipe. With ``RIVER_PANEL_SCREENSHOTS=docs`` it saves the README's three pictures:

    RIVER_PANEL_SCREENSHOTS=docs scripts/test.sh -m slow tests/host_plugins/panel/test_panel_e2e.py

The reasoner replays a rollout written for the tiny twin's own objects (the tiny reasoner has random
weights); everything else is the tiny profile's real models."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from bridge.client import RiverClient, state_name
from bridge.server.app import BridgeServer
from host_plugins.panel.history import QueryHistory
from host_plugins.panel.probe import StallProbe
from host_plugins.panel.source import media_source
from host_plugins.panel.window import PanelWindow
from host_plugins.panel.worker import Connection
from tests.host_plugins.panel.test_window import off_ui, shot

QUERY = "make the animal she is playing with look like bronze"


@pytest.mark.slow
@pytest.mark.shared_media
@pytest.mark.timeout(1200)
def test_the_panel_on_real_footage_with_the_tiny_models(
    make_server: Callable[..., BridgeServer], media_root: Path, shared_media, tmp_path: Path, qtbot
) -> None:
    clip = media_root / "01_dog.mp4"
    shutil.copy2(shared_media("01_dog.mp4"), clip)
    rollout = tmp_path / "rollout.txt"
    make_server(llm=f"replay:{rollout}")  # the replay is read when the first query is reasoned

    # the tiny twin's objects (random weights: whatever it found), so the rollout names real ones
    def twin_objects() -> list[dict]:
        with RiverClient.connect(start=False, timeout=120) as c:
            done = c.wait(c.submit_edit(clip, kind="twin", frames=(0, 17)).id, timeout=900)
            assert state_name(done.state) == "SUCCEEDED", done.error.message
            return json.loads(Path(done.results.twin).read_text())["tracks"]

    tracks = off_ui(twin_objects, timeout=900)
    assert len(tracks) >= 2, "the tiny twin found fewer than two objects"  # type: ignore[arg-type]
    picked = [{"id": t["id"], "category": t["category"], "attributes": "bronze"} for t in tracks[:2]]  # type: ignore[index]
    rollout.write_text(
        f"The animals are objects {picked[0]['id']} and {picked[1]['id']}.</think>\n"
        f"<edit>{json.dumps({'objects': picked})}</edit>"
    )

    window = PanelWindow(
        media_source(clip, "0:17"),
        connection=Connection(start=False, timeout=120.0),
        settings={},
        history=QueryHistory("e2e", tmp_path / "history.json"),
        start_server=False,
    )
    qtbot.addWidget(window)
    window.resize(1280, 860)
    window.show()
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=300_000)
    window.ask.query.setEditText(QUERY)
    window.ask.run()
    qtbot.waitUntil(lambda: window.review.job is not None, timeout=600_000)
    review = window.review
    assert review.checked_ids() == {picked[0]["id"], picked[1]["id"]}
    assert review.overlay.strip is not None and review.overlay.strip.width() == 4 * 320
    assert {picked[0]["id"], picked[1]["id"]} <= set(review.overlay.masks)
    shot(window, "panel-review")

    review.targets.item(1).setCheckState(Qt.CheckState.Unchecked)  # the second one is wrong
    review.preview.setChecked(True)
    review.preview_steps.setValue(1)
    probe = StallProbe().start()
    review.confirm_button.click()
    qtbot.waitUntil(lambda: window.stages["final"].state == "RUNNING", timeout=600_000)
    qtbot.wait(1500)  # let the queue's bars move
    shot(window, "panel-queue")
    qtbot.waitUntil(lambda: "final" in window.edit.results, timeout=900_000)
    stall = probe.stop()

    edit = window.edit
    assert set(edit.results) == {"draft", "preview", "final"}
    final = edit.results["final"]
    assert [t.id for t in final.plan.targets] == [picked[0]["id"]] and final.results.frames == 17
    assert Path(final.results.media).is_file()
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.count == 17, timeout=30_000)
    viewer.set_wipe(500)
    viewer.show_frame(8)
    qtbot.waitUntil(lambda: viewer.shown == (8, 8), timeout=30_000)
    qtbot.wait(300)
    shot(window, "panel-result")
    print(f"\nlargest UI-thread stall, confirm → final (server in this process): {stall:.1f} ms")
    window.close()
