"""Edited twin → edit plan: every kind of invalid edit is rejected with its reason; valid diffs become
operations over the right objects and frames."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from river_core.reasoning.edits import allows_add, edit_problems, edit_schema_problems, plan_from_edit
from river_core.reasoning.plan import EditPlan, PlanError, load_plan, plan_json_schema, save_plan
from river_core.reasoning.view import paper_view
from river_core.twin.schema import TwinDocument, twin_json_text


def spans(plan: EditPlan, op: int = 0) -> dict[int, list[tuple[int, int]]]:
    return {t.id: [(s.start, s.end) for s in t.frames] for t in plan.operations[op].targets}


def per_object(*objects: dict[str, Any]) -> str:
    return json.dumps({"objects": list(objects)})


def test_a_per_object_attribute_change_targets_the_object_where_it_exists(small_twin: TwinDocument) -> None:
    text = per_object({"id": 3, "category": "dog", "attributes": "a dog cast in bronze"})
    plan = plan_from_edit(text, small_twin, query="make the dog bronze")
    assert len(plan.operations) == 1
    op = plan.operations[0]
    assert op.kind == "appearance" and op.attributes == "a dog cast in bronze"
    # Object 3 leaves the frame at 20: the plan covers exactly frames 0..19.
    assert spans(plan) == {3: [(0, 20)]}
    assert op.targets[0].category == "dog" and op.targets[0].attributes == "a small yellow dog"
    assert op.prompt == "In frame 0, object 3 with category dog has attributes a dog cast in bronze."
    assert plan.twin.content_hash == small_twin.video.content_hash


def test_the_paper_per_frame_form_round_trips_through_the_paper_view(small_twin: TwinDocument) -> None:
    view = paper_view(small_twin)
    for frame in view["frames"]:
        for obj in frame["objects"]:
            if obj["id"] == 3:
                obj["attributes"] = "a small red dog"
    plan = plan_from_edit(json.dumps(view), small_twin, query="q")
    assert [op.kind for op in plan.operations] == ["appearance"]  # a new look for the video model
    assert spans(plan) == {3: [(0, 20)]}
    # Asked as a recolor, the same edit is the instant recolor, with the query's color.
    plan = plan_from_edit(json.dumps(view), small_twin, query="make the dog red")
    assert [(op.kind, op.color) for op in plan.operations] == [("recolor", "red")]
    assert spans(plan) == {3: [(0, 20)]}


def test_the_unchanged_paper_view_is_not_an_edit(small_twin: TwinDocument) -> None:
    with pytest.raises(PlanError, match="changes nothing"):
        plan_from_edit(json.dumps(paper_view(small_twin)), small_twin, query="q")


def test_a_whole_twin_document_is_read_with_its_masks_checked(small_twin: TwinDocument) -> None:
    doc = small_twin.to_json()
    for frame in doc["frames"]:
        for obj in frame["objects"]:
            if obj["id"] == 2 and frame["index"] >= 10:
                obj["category"] = "orange"
    plan = plan_from_edit(json.dumps(doc), small_twin, query="q")
    assert [op.kind for op in plan.operations] == ["replace"]
    assert spans(plan) == {2: [(10, 24)]}
    # A mask that is not the original's is refused.
    bad = copy.deepcopy(doc)
    bad["frames"][0]["objects"][0]["mask"]["rle"]["counts"] = bad["frames"][1]["objects"][0]["mask"]["rle"][
        "counts"
    ]
    with pytest.raises(PlanError, match="not a mask of the original"):
        plan_from_edit(json.dumps(bad), small_twin, query="q")


def test_removal_per_object_and_per_frame(small_twin: TwinDocument) -> None:
    plan = plan_from_edit(
        per_object({"id": 1, "category": "person", "attributes": "a woman", "frames": [[0, 9]]}),
        small_twin,
        query="remove her after a while",
    )
    assert [op.kind for op in plan.operations] == ["remove"]
    assert spans(plan) == {1: [(10, 24)]}
    assert plan.operations[0].prompt.startswith("In frame 10, object 1 with category person is removed.")
    # Per frame: leaving an object out of a listed frame removes it there only.
    view = paper_view(small_twin)
    frame5 = next(f for f in view["frames"] if f["frame"] == 5)
    frame5["objects"] = [o for o in frame5["objects"] if o["id"] != 4]
    plan = plan_from_edit(json.dumps({"frames": [frame5]}), small_twin, query="q")
    assert [op.kind for op in plan.operations] == ["remove"] and spans(plan) == {4: [(5, 6)]}


def test_an_add_borrows_an_original_mask_only_when_the_query_asks(small_twin: TwinDocument) -> None:
    view = paper_view(small_twin)
    frame = next(f for f in view["frames"] if f["frame"] == 2)
    hat = {
        "id": 9,
        "category": "hat",
        "attributes": "a red party hat",
        "mask": "mask/1/2",
        "spatial": {"x": 0.2, "y": 0.3, "depth": 0.3, "size": 0.01},
    }
    frame["objects"].append(hat)
    edit = json.dumps({"frames": [frame]})
    plan = plan_from_edit(edit, small_twin, query="add a party hat to the woman")
    assert [op.kind for op in plan.operations] == ["add"]
    assert plan.operations[0].targets[0].mask_from == 1
    with pytest.raises(PlanError, match="does not ask to add"):
        plan_from_edit(edit, small_twin, query="make the woman festive")
    assert allows_add("Insert a lamp") and not allows_add("make the dog bronze")


def invalid_edits(twin: TwinDocument) -> list[tuple[str, str, str]]:
    """(name, edit text, expected message fragment) for every kind of invalid edit."""
    view = paper_view(twin)
    cases: list[tuple[str, str, str]] = []

    def frame_edit(change: Any) -> str:
        frame = copy.deepcopy(next(f for f in view["frames"] if f["frame"] == 4))
        change(frame)
        return json.dumps({"frames": [frame]})

    def obj(frame: dict[str, Any], oid: int) -> dict[str, Any]:
        return next(o for o in frame["objects"] if o["id"] == oid)

    cases += [
        ("not json", '{"objects": [', "not valid JSON"),
        ("not an object", "[1, 2]", "JSON array"),
        ("neither form", '{"things": []}', 'neither "frames"'),
        ("missing field", per_object({"id": 3, "category": "dog"}), "attributes: required field is missing"),
        (
            "wrong type",
            per_object({"id": "3", "category": "dog", "attributes": "x"}),
            "string where the twin has integer",
        ),
        ("bool is not int", per_object({"id": True, "category": "dog", "attributes": "x"}), "boolean"),
        (
            "unknown field",
            per_object({"id": 3, "category": "dog", "attributes": "x", "colour": "red"}),
            "unknown field",
        ),
        (
            "unknown id",
            per_object({"id": 42, "category": "dog", "attributes": "x"}),
            "object 42 does not exist",
        ),
        (
            "extend track",
            per_object({"id": 3, "category": "dog", "attributes": "x", "frames": [[0, 23]]}),
            "absent in frames 20:24",
        ),
        (
            "bad frames",
            per_object({"id": 3, "category": "dog", "attributes": "x", "frames": [5]}),
            "[first, last]",
        ),
        ("unknown frame", json.dumps({"frames": [{"frame": 99, "objects": []}]}), "99 is not in the twin"),
        ("swapped mask", frame_edit(lambda f: obj(f, 1).update(mask="mask/2/4")), "must keep its own mask"),
        (
            "foreign mask",
            frame_edit(lambda f: obj(f, 1).update(mask="masks/a.png")),
            "not a mask of the original",
        ),
        (
            "mask from absent frame",
            frame_edit(lambda f: obj(f, 1).update(mask="mask/1/99")),
            "not a mask of the original",
        ),
        ("spatial type", frame_edit(lambda f: obj(f, 1)["spatial"].update(x="left")), "spatial.x: string"),
        (
            "spatial missing",
            frame_edit(lambda f: obj(f, 1)["spatial"].pop("depth")),
            "spatial.depth: required",
        ),
        ("spatial range", frame_edit(lambda f: obj(f, 1)["spatial"].update(x=1.5)), "must lie in [0, 1]"),
        (
            "duplicate id",
            frame_edit(lambda f: f["objects"].append(copy.deepcopy(obj(f, 1)))),
            "appears twice",
        ),
        (
            "new id without add",
            frame_edit(lambda f: f["objects"].append({**obj(f, 1), "id": 8})),
            "does not ask to add",
        ),
    ]
    doubled = json.dumps({"frames": [view["frames"][0], view["frames"][0]]})
    cases.append(("frame twice", doubled, "listed twice"))
    late = copy.deepcopy(next(f for f in view["frames"] if f["frame"] == 22))
    late["objects"].append({**copy.deepcopy(late["objects"][0]), "id": 3, "mask": "mask/3/22"})
    cases.append(("object outside its track", json.dumps({"frames": [late]}), "not a mask of the original"))
    return cases


def test_every_kind_of_invalid_edit_is_rejected_with_its_reason(small_twin: TwinDocument) -> None:
    for name, text, fragment in invalid_edits(small_twin):
        problems = edit_problems(text, small_twin)
        assert problems, f"{name}: accepted"
        assert any(fragment in p for p in problems), f"{name}: {problems}"


def test_schema_problems_are_the_papers_r_dt_criteria(small_twin: TwinDocument) -> None:
    # Valid structure but a wrong reference: R_dt accepts (schema kept), the plan does not.
    text = per_object({"id": 42, "category": "dog", "attributes": "x"})
    assert edit_schema_problems(text) == []
    assert edit_problems(text, small_twin)
    assert edit_schema_problems(None) == ["no <edit> block"]
    assert (
        edit_schema_problems(
            "```json\n" + per_object({"id": 1, "category": "a", "attributes": "b"}) + "\n```"
        )
        == []
    )


def test_the_plan_file_has_a_schema_and_survives_hand_edits(small_twin: TwinDocument, tmp_path: Path) -> None:
    plan = plan_from_edit(
        per_object({"id": 2, "category": "ball", "attributes": "a gold ball"}), small_twin, query="q"
    )
    path = save_plan(plan, tmp_path / "plan.json")
    jsonschema.validate(json.loads(path.read_text()), plan_json_schema())
    assert load_plan(path, small_twin) == plan
    # An editor narrows the frames by hand: still valid.
    data = json.loads(path.read_text())
    data["operations"][0]["targets"][0]["frames"] = [{"start": 3, "end": 8}]
    path.write_text(json.dumps(data))
    assert load_plan(path, small_twin).operations[0].targets[0].frames[0].end == 8
    # ... but not beyond the object's track, nor to an unknown object.
    data["operations"][0]["targets"][0]["frames"] = [{"start": 3, "end": 30}]
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="absent in frames 24:30"):
        load_plan(path, small_twin)
    data["operations"][0]["targets"][0]["id"] = 77
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="77 does not exist"):
        load_plan(path, small_twin)
    data["operations"][0]["kind"] = "explode"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="kind"):
        load_plan(path)


def test_the_plan_records_the_twin_it_was_made_from(small_twin: TwinDocument) -> None:
    plan = plan_from_edit(
        per_object({"id": 2, "category": "ball", "attributes": "a gold ball"}), small_twin, query="q"
    )
    assert plan.twin.twin_digest.startswith("sha256:")
    assert (plan.twin.frame_range.start, plan.twin.frame_range.end) == (0, 24)
    assert twin_json_text(small_twin)  # the digest is over this canonical text


def test_the_twins_own_track_summaries_read_as_a_per_object_edit(small_twin: TwinDocument) -> None:
    tracks = [t.model_dump() for t in small_twin.tracks]
    assert tracks, "the synthetic twin carries track summaries"
    dog = next(t for t in tracks if t["id"] == 3)
    dog["attributes"] = "a dog cast in bronze"
    plan = plan_from_edit(json.dumps({"tracks": tracks}), small_twin, query="q")
    assert [op.kind for op in plan.operations] == ["appearance"]
    assert spans(plan) == {3: [(0, 20)]}
    # A summary that disagrees with the twin is not a silent frame change.
    dog["last_frame"] = 10
    problems = edit_problems(json.dumps({"tracks": tracks}), small_twin)
    assert any("last_frame: the twin says 19, got 10" in p for p in problems)
    twice = per_object(
        {"id": 3, "category": "dog", "attributes": "x"}, {"id": 3, "category": "dog", "attributes": "y"}
    )
    assert any("listed twice" in p for p in edit_problems(twice, small_twin))
