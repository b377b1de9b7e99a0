"""The twin as plain data and the helpers model code calls, checked against scenes of known geometry.

Every expected answer comes from how the synthetic scene is built (centres, radii, depths, velocities,
visible windows), never from the implementation. Squares are used where boxes matter: a square of
half-size r centred on integer (cx, cy) covers exactly the pixel-edge box [cx - r, cx + r].
"""

from __future__ import annotations

import ast
import builtins
import json
import math
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from river_core.media.rational import FrameRange
from river_core.reasoning import twin_api
from river_core.reasoning.twin_api import HELPERS, api_reference, build_namespace
from river_core.reasoning.twin_data import twin_data
from river_core.twin.schema import TwinDocument
from river_core.twin.synthetic import SceneObject, SyntheticScene

W, H = 160, 96
FPS = Fraction(30000, 1001)
CREATED = "2026-01-01T00:00:00+00:00"
HASH = "sha256:" + "0" * 64  # skip hashing rendered frames: these tests never look at it


def _twin(objects: list[SceneObject], num_frames: int, frame_range: FrameRange | None = None) -> TwinDocument:
    scene = SyntheticScene(W, H, num_frames, objects=tuple(objects))
    return scene.ground_truth(content_hash=HASH, frame_range=frame_range, created=CREATED)


# Scene "static": three still objects, well apart.
DOG = SceneObject(
    1, "circle", "red", 8, 0.2, (30, 30), category="dog", attributes="small brown dog with a red collar"
)
CUP = SceneObject(2, "square", "blue", 10, 0.6, (100, 60), category="cup", attributes="blue ceramic cup")
LAPTOP = SceneObject(
    3, "circle", "green", 14, 0.4, (130, 25), category="laptop", attributes="open silver laptop"
)

# Scene "touch": a person walks into a ball and vanishes; a car drives into it later, from behind.
BALL = SceneObject(1, "square", "white", 6, 0.5, (80, 48), category="ball", attributes="white ball")
PERSON = SceneObject(
    2, "square", "red", 6, 0.3, (40, 44), (2, 0), disappear=20, category="person", attributes="man in red"
)
CAR = SceneObject(3, "square", "blue", 6, 0.7, (110, 52), (-1, 0), appear=10, category="car")
CONE = SceneObject(4, "circle", "yellow", 5, 0.9, (20, 80), category="traffic cone")
TOUCH_OBJECTS = (BALL, PERSON, CAR, CONE)
TOUCH_FRAMES = 30

# Scene "cross": a runner passes above a static bench; two birds that are never seen together.
RUNNER = SceneObject(1, "circle", "orange", 6, 0.3, (20, 20), (4, 0), category="person")
BENCH = SceneObject(2, "square", "purple", 8, 0.6, (80, 70), category="bench")
EARLY = SceneObject(3, "diamond", "cyan", 6, 0.4, (140, 50), disappear=5, category="bird")
LATE = SceneObject(4, "diamond", "magenta", 6, 0.5, (140, 80), appear=10, category="bird")


@pytest.fixture(scope="module")
def static_doc() -> TwinDocument:
    return _twin([DOG, CUP, LAPTOP], 20)


@pytest.fixture(scope="module")
def static(static_doc: TwinDocument) -> dict[str, Any]:
    return build_namespace(twin_data(static_doc))


@pytest.fixture(scope="module")
def touch() -> dict[str, Any]:
    return build_namespace(twin_data(_twin(list(TOUCH_OBJECTS), TOUCH_FRAMES)))


@pytest.fixture(scope="module")
def cross() -> dict[str, Any]:
    return build_namespace(twin_data(_twin([RUNNER, BENCH, EARLY, LATE], 20)))


def _square_box(obj: SceneObject, t: int) -> tuple[float, float, float, float]:
    cx, cy = obj.center(t, W, H)
    return cx - obj.radius, cy - obj.radius, cx + obj.radius, cy + obj.radius


def _boxes_meet(a: SceneObject, b: SceneObject, t: int) -> bool:
    """Closed boxes of the two unoccluded squares intersect (sharing an edge counts)."""
    ax0, ay0, ax1, ay1 = _square_box(a, t)
    bx0, by0, bx1, by1 = _square_box(b, t)
    return a.visible_at(t) and b.visible_at(t) and ax0 <= bx1 and bx0 <= ax1 and ay0 <= by1 and by0 <= ay1


# -- twin_data -------------------------------------------------------------------------------------


def test_twin_data_is_plain_json_without_masks(static_doc: TwinDocument) -> None:
    data = twin_data(static_doc)
    assert json.loads(json.dumps(data)) == data
    assert data["video"] == {
        "width": W,
        "height": H,
        "rate": "30000/1001",
        "fps": [30000, 1001],
        "frame_range": [0, 20],
        "frame_count": 20,
    }
    assert [f["frame"] for f in data["frames"]] == list(range(20))
    first = data["frames"][0]["objects"]
    assert [o["id"] for o in first] == [1, 2, 3]
    assert set(first[0]) == {"id", "category", "attributes", "x", "y", "depth", "size", "bbox"}
    assert "mask" not in json.dumps(data)
    cup = first[1]
    # The square of half-size 10 at (100, 60) covers columns 90..109 and rows 50..69.
    assert cup["bbox"] == pytest.approx([90 / W, 50 / H, 110 / W, 70 / H])
    assert (cup["x"], cup["y"], cup["depth"]) == pytest.approx((100 / W, 60 / H, 0.6))
    assert cup["size"] == pytest.approx(400 / (W * H))


# -- lookup / semantic -----------------------------------------------------------------------------


def test_objects_and_lookup(static: dict[str, Any]) -> None:
    assert static["objects"]()[1] == {
        "id": 2,
        "category": "cup",
        "attributes": "blue ceramic cup",
        "first_frame": 0,
        "last_frame": 19,
        "frame_count": 20,
    }
    info = static["object_info"](3)
    assert info["descriptions"] == ["open silver laptop"]
    assert info["mean_x"] == pytest.approx(130 / W)
    assert static["categories"]() == {"cup": [2], "dog": [1], "laptop": [3]}
    assert static["frames"]() == list(range(20))
    assert static["objects_in"](7) == [1, 2, 3]
    state = static["state"](2, 7)
    assert state is not None and state["depth"] == pytest.approx(0.6)
    assert [s["frame"] for s in static["track"](1)] == list(range(20))


def test_find_tolerates_case_plurals_and_head_nouns(static: dict[str, Any], touch: dict[str, Any]) -> None:
    assert static["find"]("Dogs") == [1]
    assert static["find"]("CUP") == [2]
    assert static["find"](text="a red collar") == [1]
    assert static["find"](text="silver") == [3]
    assert static["find"]("cups", text="silver") == []
    assert static["find"]() == [1, 2, 3]
    assert touch["find"]("people") == [2]
    assert touch["find"]("cones") == [4]  # head noun of "traffic cone"
    assert touch["find"]("traffic cones") == [4]


# -- spatial ---------------------------------------------------------------------------------------


def test_pairwise_relations_of_static_objects(static: dict[str, Any]) -> None:
    # dog (30, 30) depth 0.2; cup (100, 60) depth 0.6; laptop (130, 25) depth 0.4.
    assert static["left_of"](1, 2) is True and static["right_of"](1, 2) is False
    assert static["right_of"](3, 2, frame=4) is True
    assert static["above"](1, 2) is True and static["below"](2, 1) is True
    assert static["above"](3, 1) is True  # 25 < 30
    assert static["closer_than"](1, 2) is True and static["farther_than"](2, 3) is True
    assert static["closer_than"](2, 3) is False
    assert static["overlaps"](1, 2) is False
    assert static["distance"](1, 2, 0) == pytest.approx(math.hypot(70, 30), abs=1e-6)
    assert static["distance"](1, 2) == pytest.approx(math.hypot(70, 30), abs=1e-6)


def test_superlatives_follow_radii_depths_and_positions(static: dict[str, Any]) -> None:
    # Areas: laptop circle r=14 (~615 px) > cup square 20×20 (400) > dog circle r=8 (~201).
    assert static["largest"]() == 3 and static["smallest"]() == 1
    assert static["largest"]("cups") == 2
    assert static["largest"]("giraffe") is None
    assert static["closest_to_camera"]() == 1 and static["farthest_from_camera"]() == 2
    assert static["closest_to_camera"](frame=5) == 1
    assert static["leftmost"]() == 1 and static["rightmost"]() == 3
    assert static["topmost"]() == 3 and static["bottommost"]() == 2
    # laptop–cup 46 px, laptop–dog 100 px; dog–cup 76 px.
    assert static["nearest_to"](3) == 2 and static["nearest_to"](1, frame=0) == 2
    assert static["nearest_to"](3, category="dog") == 1


def test_majority_over_shared_frames_and_never_together(cross: dict[str, Any]) -> None:
    # The runner's x is 20 + 4t against the bench's 80: left in frames 0..14, right in 16..19.
    assert cross["left_of"](1, 2) is True and cross["right_of"](1, 2) is False
    assert cross["left_of"](1, 2, frame=18) is False and cross["right_of"](1, 2, 18) is True
    assert cross["above"](1, 2) is True
    # The two birds are visible in [0, 5) and [10, 20): never together.
    assert cross["left_of"](3, 4) is None and cross["distance"](3, 4) is None
    assert cross["left_of"](1, 3, frame=12) is None  # bird 3 has left by then
    assert cross["nearest_to"](3, category="bird") is None
    assert cross["appearance_order"]([4, 3, 1]) == [1, 3, 4]


def test_overlap_and_touch_frames_from_the_construction(touch: dict[str, Any]) -> None:
    expected = [t for t in range(TOUCH_FRAMES) if _boxes_meet(PERSON, BALL, t)]
    assert expected == [14, 15, 16, 17, 18, 19]  # edges meet at 14; gone from 20
    assert touch["touch_frames"](2, 1) == expected
    assert touch["touch_frames"](3, 1) == [t for t in range(TOUCH_FRAMES) if _boxes_meet(CAR, BALL, t)]
    assert touch["overlaps"](2, 1, frame=14) is False and touch["overlaps"](2, 1, frame=15) is True
    assert touch["touch_frames"](2, 1, margin=2) == [13, *expected]
    assert touch["first_to_touch"](1) == 2
    assert touch["last_to_touch"](1) == 3
    assert touch["last_to_touch"](1, candidates=[2, 4]) == 2
    assert touch["last_to_touch"](4) is None


# -- temporal --------------------------------------------------------------------------------------


def test_appearance_and_lifetimes(touch: dict[str, Any]) -> None:
    assert touch["appearance_order"]() == [1, 2, 4, 3]
    assert (touch["first_frame"](3), touch["last_frame"](3)) == (10, 29)
    assert (touch["first_frame"](2), touch["last_frame"](2)) == (0, 19)


def test_speed_motion_and_displacement(touch: dict[str, Any]) -> None:
    px_per_s = 2 * float(FPS)  # the person moves 2 px per frame and is never occluded
    assert touch["speed"](2) == pytest.approx(px_per_s, rel=1e-6)
    assert touch["speed"](2, 0) == pytest.approx(px_per_s, rel=1e-6)
    assert touch["speed"](2, 7) == pytest.approx(px_per_s, rel=1e-6)
    assert touch["speed"](2, 25) is None  # gone by then
    assert touch["speed"](4) == 0.0
    assert touch["moving_frames"](2) == [[0, 19]]
    assert touch["moving_frames"](4) == []
    assert touch["is_moving"](2, 5) is True and touch["is_moving"](4, 5) is False
    assert touch["is_moving"](1, 5) is False  # the ball only seems to move once the person covers it
    assert touch["is_moving"](2, 5, min_speed=1000) is False
    assert touch["fastest"]() == 2 and touch["fastest"]("cars") == 3
    assert touch["displacement"](2) == pytest.approx(2 * 19, abs=1e-6)
    assert touch["displacement"](4) == 0.0


def test_times_are_exact_fractions() -> None:
    ns = build_namespace(twin_data(_twin([RUNNER, BENCH], 20, FrameRange(5, 15))))
    assert ns["frames"]() == list(range(5, 15))
    assert ns["seconds"](5) == "0" and ns["seconds"](6) == "1001/30000"
    assert Fraction(ns["seconds"](14)) == 9 / FPS
    assert ns["seconds_float"](6) == pytest.approx(1001 / 30000)
    assert [ns["frame_at"](ns["seconds_float"](f)) for f in range(5, 15)] == list(range(5, 15))
    assert ns["frame_at"]("1001/30000") == 6 and ns["frame_at"](0) == 5
    with pytest.raises(LookupError, match="outside the twin"):
        ns["frame_at"](60.0)
    with pytest.raises(LookupError, match=r"frames 5\.\.14"):
        ns["seconds"](15)


# -- errors and isolation --------------------------------------------------------------------------


def test_errors_name_what_exists(static: dict[str, Any]) -> None:
    with pytest.raises(LookupError, match=r"object 42 does not exist; ids are \[1, 2, 3\]"):
        static["state"](42, 0)
    with pytest.raises(twin_api.UnknownFrameError, match=r"frame 500 is not in the twin \(frames 0\.\.19\)"):
        static["objects_in"](500)
    with pytest.raises(LookupError, match="object 9"):
        static["appearance_order"]([1, 9])
    with pytest.raises(TypeError, match="must be an int"):
        static["left_of"]("1", 2)
    with pytest.raises(TypeError, match="must be an int"):
        static["state"](True, 0)
    with pytest.raises(TypeError, match="category must be a string"):
        static["largest"](3)
    with pytest.raises(TypeError, match="min_speed"):
        static["moving_frames"](1, min_speed="fast")


def test_namespaces_do_not_share_data(static_doc: TwinDocument) -> None:
    data = twin_data(static_doc)
    one, two = build_namespace(data), build_namespace(data)
    one["twin"]["frames"].clear()
    one["twin"]["video"]["width"] = 1
    assert two["twin"] == data and len(data["frames"]) == 20
    assert one["objects_in"](0) == [1, 2, 3]  # the helpers keep their own copy
    one["state"](1, 0)["x"] = 99.0
    one["track"](1)[0]["bbox"][0] = 99.0
    assert one["state"](1, 0)["x"] == pytest.approx(30 / W)
    assert one["track"](1)[0]["bbox"][0] == pytest.approx(22 / W)


# -- the module as the sandbox loads it ------------------------------------------------------------

STDLIB_ALLOWED = {
    "__future__",
    "math",
    "statistics",
    "collections",
    "itertools",
    "functools",
    "dataclasses",
    "typing",
    "fractions",
}


def test_module_imports_only_the_allowed_stdlib() -> None:
    tree = ast.parse(Path(twin_api.__file__).read_text())
    top: set[str] = set()
    nested: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            names = {(node.module or "").split(".")[0]}
        else:
            continue
        (top if node in tree.body else nested).update(names)
    assert top <= STDLIB_ALLOWED, top - STDLIB_ALLOWED
    assert nested <= {"inspect"}  # api_reference only, never called in the worker
    assert all(name in sys.stdlib_module_names or name == "__future__" for name in top | nested)


def _restricted_builtins() -> dict[str, Any]:
    real_import = builtins.__import__

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] not in STDLIB_ALLOWED:
            raise ImportError(f"{name} is not importable in the sandbox")
        return real_import(name, *args, **kwargs)

    banned = {"open", "eval", "exec", "compile", "input", "breakpoint", "__import__"}
    safe = {k: v for k, v in vars(builtins).items() if k not in banned}
    safe["__import__"] = guarded_import
    return safe


@pytest.mark.parametrize("restricted", [False, True], ids=["fresh-dict", "restricted-builtins"])
def test_every_helper_works_when_loaded_from_source(restricted: bool, static_doc: TwinDocument) -> None:
    src = Path(twin_api.__file__).read_text()
    module: dict[str, Any] = {"__builtins__": _restricted_builtins()} if restricted else {}
    exec(compile(src, "twin_api.py", "exec"), module)
    ns = module["build_namespace"](twin_data(static_doc))
    assert set(ns) == {"twin", *module["HELPERS"]}
    calls: dict[str, tuple[Any, ...]] = {
        "objects": (),
        "object_info": (1,),
        "find": ("dogs",),
        "categories": (),
        "frames": (),
        "objects_in": (0,),
        "state": (1, 0),
        "track": (1,),
        "distance": (1, 2, 0),
        "nearest_to": (1,),
        "first_frame": (1,),
        "last_frame": (1,),
        "appearance_order": (),
        "speed": (1,),
        "moving_frames": (1,),
        "is_moving": (1, 3),
        "fastest": (),
        "displacement": (1,),
        "touch_frames": (1, 2),
        "first_to_touch": (1,),
        "last_to_touch": (1,),
        "seconds": (3,),
        "seconds_float": (3,),
        "frame_at": ("1/10",),
    }
    pairwise = {"left_of", "right_of", "above", "below", "closer_than", "farther_than", "overlaps"}
    for name in module["HELPERS"]:
        args = calls.get(name, (1, 2) if name in pairwise else ())
        result = ns[name](*args)
        assert json.loads(json.dumps(result)) == result, name  # plain data only
    assert ns["left_of"](1, 2) is True and ns["frame_at"]("1/10") == 2
    with pytest.raises(LookupError, match="object 42"):
        ns["state"](42, 0)


def test_api_reference_documents_every_helper() -> None:
    reference = api_reference()
    for name in HELPERS:
        assert f"\n{name}(" in reference, name
    assert len(HELPERS) == len(set(HELPERS))
    assert "depth" in reference and "pixels per second" in reference
    for name in HELPERS:  # every helper is documented and public
        assert getattr(twin_api._Twin, name).__doc__, name
        assert not name.startswith("_")
