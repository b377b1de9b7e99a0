"""``river twin build|objects|render|view`` as an editor runs them: outputs never replace what they
should not, objects are listed, contact sheets show the frames asked for, flags are checked."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from river_core import cli
from river_core.media import Timecode, content_hash
from river_core.twin.schema import TwinDocument, save_twin, summarize_tracks
from river_core.twin.synthetic import SyntheticScene, random_scene
from tests.helpers import listing, sha256

Run = Callable[..., tuple[int, str, str]]

RATE = Fraction(30000, 1001)
# A drop-frame start a few frames before a minute boundary, where drop-frame skips ;00 and ;01.
START_TC = "00:00:59;28"


# -- a synthetic clip and its exact twin (no model) --------------------------------------------------


@pytest.fixture(scope="module")
def scene() -> SyntheticScene:
    return random_scene(3, width=64, height=48, num_frames=17, n_objects=2)


@pytest.fixture(scope="module")
def clip(scene: SyntheticScene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene.write_clip(
        tmp_path_factory.mktemp("clip") / "scene.mkv", "ffv1", timecode=Timecode.parse(START_TC, RATE)
    )


@pytest.fixture(scope="module")
def twin(scene: SyntheticScene, clip: Path) -> TwinDocument:
    """The clip's twin, with object 2 hidden in frames 5-7 so its frames are two runs."""
    doc = scene.ground_truth(
        path=str(clip), content_hash=content_hash(clip), timecode=Timecode.parse(START_TC, RATE)
    )
    frames = [
        f.model_copy(update={"objects": [o for o in f.objects if o.id != 2 or not 5 <= f.index < 8]})
        for f in doc.frames
    ]
    return doc.model_copy(update={"frames": frames, "tracks": summarize_tracks(frames)})


@pytest.fixture
def twin_path(twin: TwinDocument, tmp_path: Path) -> Path:
    return save_twin(twin, tmp_path / "twin" / "twin.json")


# -- twin objects ---------------------------------------------------------------------------------------


def test_twin_objects_lists_ids_categories_frames_and_timecodes(
    run_cli: Run, twin: TwinDocument, twin_path: Path
) -> None:
    status, out, err = run_cli("twin", "objects", twin_path, "--json")
    assert status == 0, err
    body = json.loads(out)
    assert body["frame_range"] == {"start": 0, "end": 17} and body["start_timecode"] == START_TC
    rows = {row["id"]: row for row in body["objects"]}
    assert sorted(rows) == [1, 2]
    two = rows[2]
    assert (two["category"], two["attributes"]) == (twin.tracks[1].category, twin.tracks[1].attributes)
    first = twin.tracks[1].first_frame
    assert two["frames"][0]["start"] == first and two["first_frame"] == first
    assert {"start": 8, "end": two["frames"][-1]["end"]} == two["frames"][-1]  # hidden in 5:8
    assert two["frame_count"] == sum(r["end"] - r["start"] for r in two["frames"])
    assert two["first_timecode"] == str(Timecode.parse(START_TC, RATE) + first)

    status, out, err = run_cli("twin", "objects", twin_path)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{twin_path}: 2 objects in frames 0:17 (17 frames from {START_TC})"
    assert lines[1].split() == ["id", "category", "frames", "count", "first", "at", "attributes"]
    row = next(line for line in lines[2:] if line.split()[0] == "2")
    ranges = ", ".join(f"{r['start']}:{r['end']}" for r in two["frames"])
    assert ranges in row and "5:8" not in row and two["first_timecode"] in row
    assert not re.search(r"\d-\d", row), "ranges are written START:END, never 30-46"


def test_twin_objects_escapes_control_characters(run_cli: Run, twin: TwinDocument, tmp_path: Path) -> None:
    sneaky = "a red\ncar\x1b[2J"
    frames = [
        f.model_copy(update={"objects": [o.model_copy(update={"attributes": sneaky}) for o in f.objects]})
        for f in twin.frames
    ]
    path = save_twin(
        twin.model_copy(update={"frames": frames, "tracks": summarize_tracks(frames)}), tmp_path / "t.json"
    )
    status, out, _ = run_cli("twin", "objects", path)
    assert status == 0 and "\x1b" not in out and len(out.splitlines()) == 4
    assert "a red\\ncar\\x1b[2J" in out
    assert json.loads(run_cli("twin", "objects", path, "--json")[1])["objects"][0]["attributes"] == sneaky


# -- twin render ----------------------------------------------------------------------------------------


def _sheet_frames(path: Path) -> list[int]:
    with Image.open(path) as image:
        return [int(i) for i in image.text["river:frames"].split()]


@pytest.mark.parametrize(("count", "expected"), [("100", list(range(17))), ("3", [0, 8, 16])])
def test_render_sheet_shows_the_frames_asked_for(
    run_cli: Run, twin_path: Path, tmp_path: Path, count: str, expected: list[int]
) -> None:
    sheet = tmp_path / "sheet.png"
    status, out, err = run_cli("twin", "render", twin_path, "--out", sheet, "--frames", count)
    assert status == 0, err
    assert out == f"wrote {sheet}\n"
    assert _sheet_frames(sheet) == expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--frames", "0"], "--frames 0 must be at least 1"),
        (["--frames", "-2"], "--frames -2 must be at least 1"),
        (["--frames", "3", "--out", "overlay.mp4"], "--frames applies to a contact sheet"),
        (["--out", "overlay.gif"], "must end in .mp4, .mov or .mkv"),
    ],
)
def test_render_refuses_bad_flags_as_usage_errors(
    run_cli: Run, twin_path: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    out = ["--out", tmp_path / "sheet.png"] if "--out" not in flags else []
    flags = [str(tmp_path / f) if f.startswith("overlay") else f for f in flags]
    status, _, err = run_cli("twin", "render", twin_path, *out, *flags)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "ZeroDivision" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["twin"]


def test_render_with_the_wrong_media_says_which(
    run_cli: Run, twin_path: Path, tmp_path: Path, make_clip: Callable[..., Path]
) -> None:
    other = make_clip("other.mp4", size=(64, 48), frames=17)
    status, _, err = run_cli("twin", "render", twin_path, "--out", tmp_path / "s.png", "--media", other)
    assert status == 1
    assert f"--media {other} is not the clip this twin was built from (its content differs)" in err
    assert "pass --media with that clip" in err


def test_render_finds_moved_media_through_media(
    run_cli: Run, twin: TwinDocument, clip: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "moved-away.mkv"
    path = save_twin(twin.model_copy(update={"video": twin.video.model_copy(update={"path": str(gone)})}),
                     tmp_path / "t.json")  # fmt: skip
    status, _, err = run_cli("twin", "render", path, "--out", tmp_path / "s.png")
    assert status == 1 and f"the twin's media {gone} is not there" in err and "pass --media" in err
    status, _, err = run_cli("twin", "render", path, "--out", tmp_path / "s.png", "--media", clip)
    assert status == 0, err
    assert (tmp_path / "s.png").is_file()


def test_render_never_writes_over_the_twin(run_cli: Run, twin: TwinDocument, tmp_path: Path) -> None:
    path = save_twin(twin, tmp_path / "twin.png")  # a twin named like a sheet
    digest = sha256(path)
    status, _, err = run_cli("twin", "render", path, "--out", path, "--overwrite")
    assert status == 1 and "choose another" in err
    assert sha256(path) == digest


# -- twin view ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", ["0", "-5", "3"])
def test_view_refuses_a_budget_below_the_smallest_one(run_cli: Run, twin_path: Path, budget: str) -> None:
    status, out, err = run_cli("twin", "view", twin_path, "--budget-tokens", budget)
    assert status == 2 and out == "" and "Traceback" not in err
    match = re.search(rf"--budget-tokens {budget} is too small .* raise the budget to at least (\d+)", err)
    assert match, err
    smallest = int(match.group(1))
    assert run_cli("twin", "view", twin_path, "--budget-tokens", smallest)[0] == 0
    assert run_cli("twin", "view", twin_path, "--budget-tokens", smallest - 1)[0] == 2


def test_view_budget_with_the_paper_view_is_a_usage_error(run_cli: Run, twin_path: Path) -> None:
    status, _, err = run_cli("twin", "view", twin_path, "--format", "paper", "--budget-tokens", "500")
    assert status == 2 and "--budget-tokens applies to --format compact" in err


# -- twin build: the output, the summary, ranges in timecode (one tiny build, then the cache) ----------

BUILD_RANGE = "1:4"
# The same frames in the clip's drop-frame timecode: 59;29, then 1:00;02 (;00 and ;01 do not exist).
BUILD_RANGE_TC = "00:00:59;29-00:01:00;04"
QUERY = "make the bird bronze"


@pytest.fixture(scope="module")
def tc_clip(make_clip: Callable[..., Path]) -> Path:
    return make_clip("tc.mp4", size=(160, 120), frames=8, timecode=START_TC)


@pytest.fixture(scope="module")
def build_cache(tmp_path_factory: pytest.TempPathFactory, tc_clip: Path) -> Iterator[Path]:
    """A twin cache holding the tiny build of ``tc_clip``'s frames 1:4 for QUERY."""
    cache = tmp_path_factory.mktemp("build-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RIVER_CACHE_DIR", str(cache))
        out = tmp_path_factory.mktemp("first-build")
        args = ["twin", "build", tc_clip, "--range", BUILD_RANGE, "--query", QUERY, "--profile", "tiny"]
        assert cli.main([str(a) for a in [*args, "--out", out, "-q"]]) == 0
    yield cache


def _build(
    run_cli: Run, clip: Path, out: Path, *flags: Any, cache: Path | None = None
) -> tuple[int, str, str]:
    args = ["twin", "build", clip, "--query", QUERY, "--profile", "tiny", "--out", out, "-q", *flags]
    if cache is None:
        return run_cli(*args)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RIVER_CACHE_DIR", str(cache))
        return run_cli(*args)


def test_build_with_a_timecode_range_lists_the_objects(
    run_cli: Run, tc_clip: Path, build_cache: Path, tmp_path: Path
) -> None:
    status, out, err = _build(
        run_cli, tc_clip, tmp_path, "--range", BUILD_RANGE_TC, "--json", cache=build_cache
    )
    assert status == 0, err
    summary = json.loads(out)
    assert summary["cache"] == "hit"  # the same frames as --range 1:4
    assert summary["frame_range"] == {"start": 1, "end": 4} and summary["start_timecode"] == "00:00:59;29"
    status, listed, _ = run_cli("twin", "objects", tmp_path / "twin.json", "--json")
    assert status == 0 and summary["objects"] == json.loads(listed)["objects"]
    assert summary["objects"], "the tiny build finds objects"

    status, out, err = _build(
        run_cli, tc_clip, tmp_path, "--range", BUILD_RANGE_TC, "--overwrite", cache=build_cache
    )
    assert status == 0, err
    status, table, _ = run_cli("twin", "objects", tmp_path / "twin.json")
    assert table.split("\n", 1)[1] in out  # the same table, after the summary line


def test_reason_on_media_takes_a_timecode_range(
    run_cli: Run, tc_clip: Path, build_cache: Path, tmp_path: Path
) -> None:
    """``river reason MEDIA --range TC-TC`` builds (here: finds in the cache) the twin of those frames."""
    first = json.loads(
        _build(run_cli, tc_clip, tmp_path, "--range", BUILD_RANGE, "--json", cache=build_cache)[1]
    )
    target = first["objects"][0]
    edit = {"objects": [{"id": target["id"], "category": target["category"], "attributes": "in bronze"}]}
    rollout = tmp_path / "r.txt"
    rollout.write_text(f"x</think><execute>print(1)</execute><edit>{json.dumps(edit)}</edit>")
    plan = tmp_path / "plan.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RIVER_CACHE_DIR", str(build_cache))
        status, _, err = run_cli(
            "reason", tc_clip, QUERY, "--range", BUILD_RANGE_TC, "--profile", "tiny",
            "--llm", f"replay:{rollout}", "--out", plan, "-q",
        )  # fmt: skip
    assert status == 0, err
    assert json.loads(plan.read_text())["twin"]["frame_range"] == {"start": 1, "end": 4}


def test_build_refuses_to_replace_an_existing_twin_without_overwrite(
    run_cli: Run, tc_clip: Path, tmp_path: Path
) -> None:
    existing = tmp_path / "twin.json"
    existing.write_text("{}")
    status, _, err = _build(run_cli, tc_clip, tmp_path, "--range", BUILD_RANGE)
    assert status == 1 and f"{existing} already exists; pass --overwrite" in err
    assert existing.read_text() == "{}"


@pytest.mark.parametrize("content", ["my notes, not a twin\n", '{"schema_version": "1.0"}'])
def test_build_overwrite_replaces_only_a_twin(
    run_cli: Run, tc_clip: Path, tmp_path: Path, content: str
) -> None:
    existing = tmp_path / "twin.json"
    existing.write_text(content)
    status, _, err = _build(run_cli, tc_clip, tmp_path, "--range", BUILD_RANGE, "--overwrite")
    assert status == 1 and f"{existing} is not a twin RIVER wrote" in err
    assert existing.read_text() == content
    assert listing(tmp_path) == ["twin.json"]


def test_build_overwrite_replaces_a_twin(
    run_cli: Run, tc_clip: Path, build_cache: Path, twin: TwinDocument, tmp_path: Path
) -> None:
    save_twin(twin, tmp_path / "twin.json")
    status, _, err = _build(
        run_cli, tc_clip, tmp_path, "--range", BUILD_RANGE, "--overwrite", cache=build_cache
    )
    assert status == 0, err
    rebuilt = json.loads((tmp_path / "twin.json").read_text())
    assert rebuilt["video"]["path"] == str(tc_clip.resolve())


def test_build_never_writes_over_its_media(run_cli: Run, tc_clip: Path, tmp_path: Path) -> None:
    media = tmp_path / "twin.json"  # the media is the very file the twin would be written to
    media.write_bytes(tc_clip.read_bytes())
    digest = sha256(media)
    status, _, err = _build(run_cli, media, tmp_path, "--overwrite")
    assert status == 1 and "choose another output path" in err
    assert sha256(media) == digest


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--range", "five"], "--range 'five' is neither START:END"),
        (["--range", "2:99"], "--range 2:99 is outside the clip: it has 8 frames"),
        (["--range", "00:00:59;20-00:01:00;04"], "is before the clip's first frame, which is 00:00:59;28"),
        (["--model", "depth"], "--model 'depth' must be ROLE=ID"),
        (["--model", "painter=x"], "role 'painter' is not one of detector, tracker, depth, describer"),
        (["--device", "gpu"], "--device 'gpu' is not one of auto, cpu, cuda, cuda:N, mps"),
    ],
)
def test_build_bad_flags_are_usage_errors(
    run_cli: Run, tc_clip: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    status, _, err = _build(run_cli, tc_clip, tmp_path / "out", *flags)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert listing(tmp_path) == []


# -- river edit --plan: a plan made on another twin -------------------------------------------------


def _plan_on(twin: TwinDocument, path: Path, **ref: Any) -> Path:
    """A one-blur plan on ``twin``'s object 1, its twin reference changed by ``ref``."""
    from river_core.media import FrameRange
    from river_core.reasoning.plan import EditPlan, Operation, Target, save_plan, twin_ref

    track = twin.tracks[0]
    target = Target(
        id=track.id, category=track.category, attributes=track.attributes, frames=[FrameRange(0, 2)]
    )
    plan = EditPlan(
        query="blur it",
        twin=twin_ref(twin).model_copy(update=ref),
        operations=[Operation(id="op1", kind="blur", targets=[target], prompt="")],
    )
    return save_plan(plan, path)


def test_edit_refuses_a_plan_of_other_media_before_building_a_twin(
    run_cli: Run, twin: TwinDocument, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import river_core.twin.build

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("a twin was built for a plan made on other media")

    monkeypatch.setattr(river_core.twin.build, "build_twin", no_build)
    plan = _plan_on(twin, tmp_path / "plan.json", content_hash="sha256:" + "0" * 64)
    status, out, err = run_cli("edit", clip, "--plan", plan, "--profile", "tiny", "--out", tmp_path / "o")
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "--plan: the plan was made on other media" in err and "river reason" in err
    assert not (tmp_path / "o").exists()


def test_edit_refuses_a_plan_of_other_frames_with_its_twin(
    run_cli: Run, twin: TwinDocument, twin_path: Path, clip: Path, tmp_path: Path
) -> None:
    from river_core.media import FrameRange

    plan = _plan_on(twin, tmp_path / "plan.json", frame_range=FrameRange(0, 9))
    status, _, err = run_cli(
        "edit", clip, "--plan", plan, "--twin", twin_path, "--profile", "tiny", "--out", tmp_path / "o"
    )
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "other frames (0:9, this twin's 0:17)" in err and "--twin" in err
    assert not (tmp_path / "o").exists()
