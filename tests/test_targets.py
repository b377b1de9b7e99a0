"""Explicit targets become a plan; a plan goes on into the handles only where it reaches them."""

from __future__ import annotations

from pathlib import Path

import pytest

from river_core.media import FrameRange
from river_core.reasoning.plan import Operation, Target
from river_core.request import EditRequest
from river_core.targets import TargetError, explicit_plan, with_handles
from tests.twin.doubles import handles_scene


@pytest.fixture(scope="module")
def twin():
    return handles_scene().ground_truth()  # square 1 in frames 0–4, circle 2 in 0–29


def blur(frames: list[FrameRange], object_id: int = 2) -> Operation:
    return Operation(
        id="op1", kind="blur", prompt="blur",
        targets=[Target(id=object_id, category="circle", attributes="", frames=frames)],
    )  # fmt: skip


def spans(op: Operation) -> list[str]:
    return [str(r) for r in op.targets[0].frames]


def test_a_target_reaching_the_ends_goes_on_through_the_handles(twin) -> None:
    op = with_handles(blur([FrameRange(5, 22)]), twin, FrameRange(5, 22), FrameRange(0, 27))
    assert spans(op) == ["0:27"]


def test_a_narrowed_target_keeps_its_frames(twin) -> None:
    """An editor narrowed the plan to 10:15: the handles are not its to fill."""
    op = with_handles(blur([FrameRange(10, 15)]), twin, FrameRange(5, 22), FrameRange(0, 27))
    assert spans(op) == ["10:15"]
    op = with_handles(blur([FrameRange(5, 9)]), twin, FrameRange(5, 22), FrameRange(0, 27))
    assert spans(op) == ["0:9"]  # reaches the start only


def test_handles_follow_the_object_only_while_it_is_there(twin) -> None:
    square = with_handles(blur([FrameRange(5, 6)], object_id=1), twin, FrameRange(5, 6), FrameRange(0, 10))
    assert spans(square) == ["0:6"]  # the square is gone from frame 5 on in the twin: no frames after


def test_explicit_targets_by_id_or_category(twin) -> None:
    request = EditRequest(Path("scene.mkv"), targets=("circle",), op="pixelate")
    plan = explicit_plan(twin, request, FrameRange(3, 8))
    ((op,),) = [plan.operations]
    assert op.kind == "pixelate" and [t.id for t in op.targets] == [2] and spans(op) == ["3:8"]
    with pytest.raises(
        TargetError, match=r"object 7 is not in the twin for 3:8; its objects: 1 \(square\), 2"
    ):
        explicit_plan(twin, EditRequest(Path("scene.mkv"), targets=("7",), op="blur"), FrameRange(3, 8))
