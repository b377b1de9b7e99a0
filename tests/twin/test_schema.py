"""The twin schema: pydantic models, JSON Schema, semantic validation, files."""

from __future__ import annotations

import copy
import errno
import json
import pathlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from river_core.errors import OutputError, TwinValidationError
from river_core.twin import (
    FrameEntry,
    MaskRef,
    Spatial,
    TwinDocument,
    TwinObject,
    encode_mask,
    load_twin,
    save_twin,
    summarize_tracks,
    twin_json_schema,
    validate_twin,
)
from river_core.twin.schema import RLE, twin_json_text

Json = dict[str, Any]


@pytest.fixture(scope="module")
def schema_validator() -> Draft202012Validator:
    schema = twin_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def busy_frame(doc: Json) -> int:
    """Position of the first frame with at least two objects (the fixture scene has occlusions)."""
    return next(i for i, f in enumerate(doc["frames"]) if len(f["objects"]) >= 2)


def test_ground_truth_twin_is_valid(twin: TwinDocument, schema_validator: Draft202012Validator) -> None:
    data = twin.to_json()
    assert validate_twin(data) == twin
    assert validate_twin(json.dumps(data)) == twin
    assert validate_twin(json.dumps(data).encode()) == twin
    assert validate_twin(twin) is twin
    assert schema_validator.is_valid(data), list(schema_validator.iter_errors(data))[:3]


def test_json_schema_header_and_depth_definition() -> None:
    schema = twin_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://river-nle.dev/schemas/twin-1.0.json"
    assert schema["title"] and schema["description"]
    assert "schema_version" in schema["required"]
    depth = schema["$defs"]["Spatial"]["properties"]["depth"]
    assert "0 = nearest" in depth["description"] and "Not metric" in depth["description"]
    assert (depth["minimum"], depth["maximum"]) == (0.0, 1.0)


def test_a_minimal_hand_written_twin_is_valid(schema_validator: Draft202012Validator) -> None:
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:4] = True
    data = {
        "schema_version": "1.0",
        "video": {
            "path": "clip.mov",
            "content_hash": "sha256:" + "ab" * 32,
            "width": 6,
            "height": 4,
            "rate": "24000/1001",
            "frame_count": 100,
            "frame_range": {"start": 10, "end": 20},
            "start_timecode": "01:00:00:10",
            "drop_frame": False,
        },
        "frames": [
            {
                "index": 12,
                "objects": [
                    {
                        "id": 0,
                        "category": "cup",
                        "attributes": "",
                        "mask": {"rle": encode_mask(mask)},
                        "spatial": {"x": 0.5, "y": 0.5, "depth": 1, "size": 0.1667},  # ints are floats
                    }
                ],
            }
        ],
    }
    assert schema_validator.is_valid(data)
    doc = validate_twin(data)
    assert doc.frames[0].objects[0].spatial.bbox is None
    assert doc.video.rate_fraction == pytest.approx(23.976, abs=1e-3)
    assert str(doc.video.timecode) == "01:00:00:10"
    assert doc.provenance.builder == "unknown" and doc.tracks == []
    assert validate_twin(doc.to_json()) == doc


def _obj(i: int) -> Callable[[Json], Json]:
    return lambda d: d["frames"][busy_frame(d)]["objects"][i]


def _set(getter: Callable[[Json], Any], key: str, value: Any) -> Callable[[Json], None]:
    def mutate(d: Json) -> None:
        getter(d)[key] = value

    return mutate


def _swap_first_frames(d: Json) -> None:
    d["frames"][0], d["frames"][1] = d["frames"][1], d["frames"][0]


def _duplicate_id(d: Json) -> None:
    objects = d["frames"][busy_frame(d)]["objects"]
    objects[1]["id"] = objects[0]["id"]


def _unordered_bbox(d: Json) -> None:
    box = _obj(0)(d)["spatial"]["bbox"]
    box[0], box[2] = box[2], box[0]


def _phantom_track(d: Json) -> None:
    d["tracks"].append({**d["tracks"][0], "id": 99})


def _truncate_counts(d: Json) -> None:
    _obj(0)(d)["mask"]["rle"]["counts"] += "P"  # 'P' has the continuation bit: the string ends mid-number


# (mutation, path the message must name, whether the JSON Schema can see it)
BREAKAGES: dict[str, tuple[Callable[[Json], None], str, bool]] = {
    "missing field": (
        lambda d: _obj(0)(d).pop("category"),
        ".objects[0].category: required field is missing",
        True,
    ),
    "id as string": (_set(_obj(0), "id", "3"), ".objects[0].id: Input should be a valid integer", True),
    "id as float": (_set(_obj(0), "id", 3.5), ".objects[0].id: Input should be a valid integer", True),
    "category as int": (_set(_obj(0), "category", 5), ".objects[0].category", True),
    "extra object field": (_set(_obj(0), "colour", "red"), ".objects[0].colour: unknown field", True),
    "extra top-level field": (_set(lambda d: d, "notes", "hi"), "notes: unknown field", True),
    "mask without rle": (_set(_obj(0), "mask", {}), ".objects[0].mask.rle: required field is missing", True),
    "wrong mask size": (
        _set(lambda d: _obj(0)(d)["mask"]["rle"], "size", [96, 160]),
        ".objects[0].mask.rle.size: [192, 320] expected (video height, width), got [96, 160]",
        False,
    ),
    "truncated counts": (
        _truncate_counts,
        ".objects[0].mask.rle.counts: the string ends inside a number",
        False,
    ),
    "counts outside alphabet": (
        _set(lambda d: _obj(0)(d)["mask"]["rle"], "counts", "71~"),
        """.objects[0].mask.rle.counts: got "71~"; COCO RLE counts use only the characters '0'..'o'""",
        True,
    ),
    "frames out of order": (_swap_first_frames, "frames[1].index: 0 follows 1", False),
    "frame outside range": (
        lambda d: d["frames"][-1].update(index=d["video"]["frame_range"]["end"]),
        ".index: 33 is outside video.frame_range [0, 33)",
        False,
    ),
    "duplicate id": (_duplicate_id, ".objects[1].id:", False),
    "x above 1": (
        _set(lambda d: _obj(0)(d)["spatial"], "x", 1.5),
        ".objects[0].spatial.x: Input should be less",
        True,
    ),
    "NaN x": (
        _set(lambda d: _obj(0)(d)["spatial"], "x", float("nan")),
        ".spatial.x: Input should be a finite number",
        False,
    ),
    "infinite timing": (
        _set(lambda d: d["provenance"], "timings_ms", {"segment": float("inf")}),
        "provenance.timings_ms.segment: Input should be a finite number",
        False,
    ),
    "negative depth": (
        _set(lambda d: _obj(0)(d)["spatial"], "depth", -0.1),
        ".objects[0].spatial.depth",
        True,
    ),
    "unordered bbox": (_unordered_bbox, ".objects[0].spatial.bbox:", False),
    "unsupported version": (
        _set(lambda d: d, "schema_version", "2.0"),
        "schema_version: '2.0' is not supported",
        True,
    ),
    "missing version": (lambda d: d.pop("schema_version"), "schema_version: required field is missing", True),
    "track disagrees": (
        lambda d: d["tracks"][0].update(last_frame=d["tracks"][0]["last_frame"] - 1),
        "tracks[0].last_frame: the frames say",
        False,
    ),
    "track of unknown id": (_phantom_track, "tracks[4].id: 99 does not appear in any frame", False),
    "decimal rate": (
        _set(lambda d: d["video"], "rate", "29.97"),
        'video.rate: got "29.97"; write the exact rate as num/den',
        True,
    ),
    "range past the clip": (
        _set(lambda d: d["video"], "frame_count", 20),
        "video.frame_range.end: 33 is past video.frame_count 20",
        False,
    ),
    "bad content hash": (_set(lambda d: d["video"], "content_hash", "md5:00"), "video.content_hash", True),
    "timecode disagrees with drop flag": (
        _set(lambda d: d["video"], "start_timecode", "00:00:00;00"),
        "video.start_timecode: '00:00:00;00' disagrees with drop_frame=False",
        False,
    ),
    "created not ISO": (_set(lambda d: d["provenance"], "created", "yesterday"), "provenance.created", False),
}


@pytest.mark.parametrize("name", BREAKAGES)
def test_breakage_is_rejected(name: str, twin_json: Json, schema_validator: Draft202012Validator) -> None:
    mutate, path, structural = BREAKAGES[name]
    mutate(twin_json)
    with pytest.raises(TwinValidationError) as info:
        validate_twin(twin_json)
    message = str(info.value)
    assert path in message
    assert "\n" not in message
    if structural:
        assert not schema_validator.is_valid(twin_json)


def test_many_problems_are_listed_up_to_five(twin_json: Json) -> None:
    for obj in twin_json["frames"][busy_frame(twin_json)]["objects"]:
        obj["spatial"]["x"] = 2.0
        obj["spatial"]["y"] = 2.0
        obj["spatial"]["size"] = 2.0
    with pytest.raises(TwinValidationError, match=r"invalid twin, \d+ problems: .*; … and \d+ more$") as info:
        validate_twin(twin_json)
    assert str(info.value).count("Input should be less than or equal to 1") == 5


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("[1, 2]", "a twin is a JSON object, not list"),
        ("{not json", "twin text is not valid JSON"),
        (b"\xff\xfe", "twin text is not valid JSON"),
        (Path("/nonexistent/twin.json"), "cannot read the twin"),
    ],
)
def test_unusable_input_is_a_twin_validation_error(data: Any, match: str) -> None:
    with pytest.raises(TwinValidationError, match=match):
        validate_twin(data)


def test_save_load_round_trip(twin: TwinDocument, tmp_path: Path) -> None:
    path = save_twin(twin, tmp_path / "clip.twin.json")
    assert load_twin(path) == twin
    text = path.read_text()
    assert text == twin_json_text(twin) and text.endswith("}\n")
    assert json.loads(text) == twin.to_json()
    assert '"size": [192, 320]' in text  # number arrays stay on one line
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind
    # Stable: saving what was loaded writes the same bytes.
    save_twin(load_twin(path), tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == text


def test_save_replaces_only_on_success(
    twin: TwinDocument, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clip.twin.json"
    path.write_text("old")
    with pytest.raises(OutputError, match="already exists"):
        save_twin(twin, path, overwrite=False)
    assert path.read_text() == "old"

    def failing_write(self: Path, data: bytes) -> int:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(pathlib.Path, "write_bytes", failing_write)
    with pytest.raises(OSError, match="I/O error"):
        save_twin(twin, path)
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]
    save_twin(twin, path)
    assert load_twin(path) == twin


def test_save_refuses_an_inconsistent_twin(twin: TwinDocument, tmp_path: Path) -> None:
    bad_tracks = [t.model_copy(update={"frame_count": t.frame_count + 1}) for t in twin.tracks]
    bad = twin.model_copy(update={"tracks": bad_tracks})
    with pytest.raises(TwinValidationError, match=r"tracks\[0\].frame_count"):
        save_twin(bad, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def _object(object_id: int, category: str, attributes: str = "a") -> TwinObject:
    mask = np.ones((2, 2), bool)
    return TwinObject(
        id=object_id,
        category=category,
        attributes=attributes,
        mask=MaskRef(rle=RLE.model_validate(encode_mask(mask))),
        spatial=Spatial(x=0.5, y=0.5, depth=0.5, size=1.0),
    )


def test_summarize_tracks() -> None:
    frames = [
        FrameEntry(index=2, objects=[_object(5, "dog", "brown"), _object(1, "cup")]),
        FrameEntry(index=3, objects=[_object(5, "cat", "grey")]),
        FrameEntry(index=4, objects=[]),
        FrameEntry(index=7, objects=[_object(5, "cat", "brown")]),
    ]
    tracks = summarize_tracks(frames)
    assert [t.id for t in tracks] == [1, 5]
    cup, pet = tracks
    assert (cup.first_frame, cup.last_frame, cup.frame_count) == (2, 2, 1)
    assert (pet.first_frame, pet.last_frame, pet.frame_count) == (2, 7, 3)
    assert (pet.category, pet.attributes) == ("cat", "brown")  # the most common value of each


def test_convenience_accessors(twin: TwinDocument) -> None:
    all_ids = {o.id for f in twin.frames for o in f.objects}
    assert twin.object_ids() == sorted(all_ids)
    assert twin.frame(5).index == 5
    with pytest.raises(KeyError, match="frame 99 is not in this twin"):
        twin.frame(99)
    object_id = twin.object_ids()[0]
    hits = list(twin.track(object_id))
    track = next(t for t in twin.tracks if t.id == object_id)
    assert [i for i, _ in hits] == sorted(i for i, _ in hits)
    assert (hits[0][0], hits[-1][0], len(hits)) == (track.first_frame, track.last_frame, track.frame_count)
    assert all(obj.id == object_id for _, obj in hits)


def test_to_json_is_a_deep_copy(twin: TwinDocument) -> None:
    data = twin.to_json()
    data["frames"][0]["index"] = 1234
    assert twin.frames[0].index == 0
    assert copy.deepcopy(twin) == twin
