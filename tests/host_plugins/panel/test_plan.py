"""Explain and confirm: the editor's changes to a plan, the instant draft, and the review widget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from bridge.v1 import bridge_pb2
from host_plugins.panel.plan import PlanReview, color_of, draft_plan, edited_plan

PLAN = {
    "plan_version": "1.0",
    "query": "make the dog bronze",
    "twin": {"content_hash": "sha256:x", "frame_range": {"start": 0, "end": 8}, "rate": "24",
             "twin_digest": "d"},
    "operations": [
        {"id": "op1", "kind": "appearance", "attributes": "bronze", "prompt": "a bronze dog",
         "targets": [{"id": 1, "category": "dog", "attributes": "brown", "frames": [{"start": 0, "end": 8}]},
                     {"id": 2, "category": "cat", "attributes": "", "frames": [{"start": 2, "end": 5}]}]},
        {"id": "op2", "kind": "blur", "prompt": "", "targets": [
            {"id": 2, "category": "cat", "attributes": "", "frames": [{"start": 2, "end": 5}]}]},
    ],
    "trace": {"thinking": "The dog is object 1."},
}  # fmt: skip


def preview_of(plan: dict, **extra: object) -> bridge_pb2.PlanPreview:
    preview = bridge_pb2.PlanPreview(
        plan_json=json.dumps(plan), explanation="op1: appearance of dog #1", **extra
    )
    for op in plan["operations"]:
        for t in op["targets"]:
            if t["id"] not in [p.id for p in preview.targets]:
                preview.targets.add(id=t["id"], category=t["category"], attributes=t["attributes"],
                                    frames=[bridge_pb2.FrameRange(**f) for f in t["frames"]])  # fmt: skip
    preview.objects.add(id=3, category="ball", frames=[bridge_pb2.FrameRange(start=4, end=8)])
    return preview


def test_edited_plan_unchecks_adds_and_reprompts() -> None:
    ball = bridge_pb2.TargetPreview(id=3, category="ball", frames=[bridge_pb2.FrameRange(start=4, end=8)])
    out = edited_plan(PLAN, {1, 3}, {3: ball}, {"op1": "  a gold dog "})
    assert [op["id"] for op in out["operations"]] == ["op1"]  # op2 lost its only target: dropped
    op1 = out["operations"][0]
    assert [t["id"] for t in op1["targets"]] == [1, 3] and op1["prompt"] == "a gold dog"
    assert op1["targets"][1] == {
        "id": 3,
        "category": "ball",
        "attributes": "",
        "frames": [{"start": 4, "end": 8}],
    }
    assert PLAN["operations"][0]["prompt"] == "a bronze dog"  # the proposed plan is not changed
    unchanged = edited_plan(PLAN, {1, 2}, {}, {"op1": "a bronze dog"})
    assert unchanged["operations"] == PLAN["operations"]
    with pytest.raises(ValueError, match="no target is checked"):
        edited_plan(PLAN, set(), {}, {})


def test_draft_plan_highlights_the_same_targets_and_frames() -> None:
    draft = draft_plan(PLAN)
    assert [op["kind"] for op in draft["operations"]] == ["highlight", "highlight"]
    assert [op["targets"] for op in draft["operations"]] == [op["targets"] for op in PLAN["operations"]]
    assert "attributes" not in draft["operations"][0] and draft["operations"][0]["color"]


def write_overlay(tmp_path: Path) -> dict:
    """A 2-frame strip (each 40×20, grey) and masks: object 1 on the left half of frame 0 only."""
    strip = QImage(80, 20, QImage.Format.Format_RGB888)
    strip.fill(QColor(128, 128, 128))
    strip.save(str(tmp_path / "frames.png"))
    (tmp_path / "masks").mkdir()
    mask = QImage(80, 20, QImage.Format.Format_Grayscale8)
    mask.fill(0)
    for x in range(20):
        for y in range(20):
            mask.setPixelColor(x, y, QColor(255, 255, 255))
    mask.save(str(tmp_path / "masks" / "1.png"))
    return {"overlay_frames": str(tmp_path / "frames.png"), "overlay_frame_numbers": [0, 7],
            "overlay_masks": str(tmp_path / "masks")}  # fmt: skip


def test_review_uncheck_add_edit_and_confirm(qtbot, tmp_path: Path) -> None:
    review = PlanReview()
    qtbot.addWidget(review)
    review.resize(900, 500)
    job = bridge_pb2.Job(id="j1", plan=preview_of(PLAN, **write_overlay(tmp_path)))
    review.show_job(job)
    review.show()
    assert review.targets.count() == 2 and review.checked_ids() == {1, 2}
    assert review.add_box.count() == 1 and review.add_box.itemData(0) == 3  # only objects not listed
    assert "object 1" in review.reasoning.toPlainText()

    # unchanged: confirmed with an empty plan_json (the plan as proposed)
    with qtbot.waitSignal(review.confirmed) as signal:
        review.confirm_button.click()
    assert signal.args[0] == "" and signal.args[1]["draft"] is True and signal.args[1]["preview_steps"] == 0

    review.show_job(job)
    review.targets.item(1).setCheckState(Qt.CheckState.Unchecked)  # the cat is wrong
    review.add_button.click()  # the ball is right
    review.prompt_edits["op1"].setPlainText("a gold dog")
    review.preview.setChecked(True)
    assert review.changed() and review.checked_ids() == {1, 3}
    with qtbot.waitSignal(review.confirmed) as signal:
        review.confirm_button.click()
    sent = json.loads(signal.args[0])
    assert [[t["id"] for t in op["targets"]] for op in sent["operations"]] == [[1, 3]]
    assert sent["operations"][0]["prompt"] == "a gold dog" and signal.args[1]["preview_steps"] == 4

    review.show_job(job)
    for i in range(review.targets.count()):
        review.targets.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert not review.confirm_button.isEnabled()  # nothing checked: nothing to confirm


def test_overlay_draws_exactly_the_checked_objects(qtbot, tmp_path: Path) -> None:
    review = PlanReview()
    qtbot.addWidget(review)
    review.resize(900, 500)
    review.show_job(bridge_pb2.Job(id="j1", plan=preview_of(PLAN, **write_overlay(tmp_path))))
    review.show()
    overlay = review.overlay
    rects = overlay.frame_rects()
    assert len(rects) == 2 and overlay.numbers == [0, 7]

    def pixel(rect_index: int, fx: float) -> QColor:
        r = rects[rect_index]
        image = overlay.grab().toImage()
        scale = image.width() / overlay.width()
        return image.pixelColor(
            int((r.x() + fx * r.width()) * scale), int((r.y() + 0.3 * r.height()) * scale)
        )

    tint = color_of(1)
    inside, outside, other = pixel(0, 0.25), pixel(0, 0.75), pixel(1, 0.25)
    assert inside != outside and outside == other == QColor(128, 128, 128)
    assert abs(inside.red() - (128 + tint.red()) / 2) < 12  # half the object's color over the frame
    review.targets.item(0).setCheckState(Qt.CheckState.Unchecked)  # object 1 unchecked: no tint
    assert pixel(0, 0.25) == QColor(128, 128, 128)
