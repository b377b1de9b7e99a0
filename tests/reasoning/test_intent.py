"""A query that asks to blur, pixelate, mask out, recolor or highlight plans that instant operation;
a real change of look stays generative (the video model paints it)."""

from __future__ import annotations

import json

import pytest

from river_core.reasoning.edits import plan_from_edit
from river_core.reasoning.intent import InstantIntent, instant_intent
from river_core.reasoning.plan import INSTANT_KINDS, plan_problems
from river_core.twin.schema import TwinDocument


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("blur whoever touches the ball last", InstantIntent("blur")),
        ("make the dog blurry", InstantIntent("blur")),
        ("pixelate the faces of the people in the back", InstantIntent("pixelate")),
        ("censor the logo on his shirt", InstantIntent("pixelate")),
        ("mask out the license plate", InstantIntent("mask_out")),
        ("black the sign out", InstantIntent("mask_out")),
        ("redact the screen", InstantIntent("mask_out")),
        ("recolor the dog teal", InstantIntent("recolor", "teal")),
        ("make the car red", InstantIntent("recolor", "red")),
        ("change the color of the van to #ff8800", InstantIntent("recolor", "#ff8800")),
        ("highlight the animal she is playing with", InstantIntent("highlight")),
        ("give me a matte of the dog", InstantIntent("matte")),
        # Real appearance changes, removals and additions stay with the video model.
        ("make the animal she is playing with look like bronze", None),
        ("turn the cat into a gold statue", None),
        ("make the man wear a red hat", None),
        ("remove the dog", None),
        ("", None),
    ],
)
def test_instant_intent(query: str, expected: InstantIntent | None) -> None:
    assert instant_intent(query) == expected


def per_object(*objects: dict) -> str:
    return json.dumps({"objects": list(objects)})


def test_the_readme_redaction_plans_an_instant_blur_not_a_repaint(small_twin: TwinDocument) -> None:
    """The LLM describes the person as "blurred": the plan blurs them, it does not ask VACE to paint
    a blurred person."""
    edit = per_object({"id": 3, "category": "dog", "attributes": "a blurred dog"})
    plan = plan_from_edit(edit, small_twin, query="blur whoever touches the ball last")
    (op,) = plan.operations
    assert op.kind == "blur" and op.instant and op.category is None and op.attributes is None
    assert [t.id for t in op.targets] == [3]
    assert plan_problems(plan, small_twin) == []


@pytest.mark.parametrize("kind", sorted(set(INSTANT_KINDS) - {"recolor"}))
def test_each_instant_query_plans_its_operation(small_twin: TwinDocument, kind: str) -> None:
    words = {"blur": "blur", "pixelate": "pixelate", "mask_out": "mask out", "highlight": "highlight",
             "matte": "give me a matte of"}  # fmt: skip
    edit = per_object({"id": 3, "category": "dog", "attributes": "changed"})
    (op,) = plan_from_edit(edit, small_twin, query=f"{words[kind]} the dog").operations
    assert op.kind == kind


def test_the_attributes_alone_can_ask_for_it(small_twin: TwinDocument) -> None:
    edit = per_object({"id": 3, "category": "dog", "attributes": "pixelated"})
    (op,) = plan_from_edit(edit, small_twin, query="hide the dog's identity").operations
    assert op.kind == "pixelate"


def test_a_removal_asked_as_redaction_is_redacted(small_twin: TwinDocument) -> None:
    edit = per_object({"id": 3, "category": "dog", "attributes": "x", "frames": []})
    (op,) = plan_from_edit(edit, small_twin, query="mask out the dog").operations
    assert op.kind == "mask_out"


def test_a_new_look_stays_generative(small_twin: TwinDocument) -> None:
    edit = per_object({"id": 3, "category": "dog", "attributes": "a dog cast in bronze"})
    (op,) = plan_from_edit(edit, small_twin, query="make the animal look like bronze").operations
    assert op.kind == "appearance" and not op.instant and op.attributes == "a dog cast in bronze"


def test_a_recolor_without_a_color_is_not_a_plan(small_twin: TwinDocument) -> None:
    edit = per_object({"id": 3, "category": "dog", "attributes": "a red dog"})
    plan = plan_from_edit(edit, small_twin, query="make the dog red")
    bad = plan.model_copy(update={"operations": [plan.operations[0].model_copy(update={"color": None})]})
    assert any("recolor needs its color" in p for p in plan_problems(bad, small_twin))
