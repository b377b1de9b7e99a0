"""`python -m host_plugins.resolve edit|mark` as an editor runs it: a separate process that finds the fake
Resolve through RESOLVE_SCRIPT_API (its state in a file, as Resolve keeps its project), a real server
(tiny profile, explicit targets) found through its discovery file. Every original item is unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.host_plugins.resolve.scenes import dog_cut
from tests.test_import_boundaries import ROOT


def run_plugin(state: Path, *argv: str) -> tuple[int, str, str]:
    env = {**os.environ, "FAKE_RESOLVE_STATE": str(state)}
    done = subprocess.run(
        [sys.executable, "-m", "host_plugins.resolve", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    return done.returncode, done.stdout, done.stderr


def scene(fake_world: Any, tmp_path: Path, v1: Path, v2: Path, name: str) -> tuple[Any, Path]:
    cut = dog_cut(fake_world, v1, v2_media=v2, install=False)
    cut.timeline.select([cut.ids["a"], cut.ids["b"], cut.ids["title"]])
    state = tmp_path / f"{name}.json"
    cut.world.save(state)
    return cut, state


def edit(fake_world: Any, state: Path, place: str) -> tuple[Any, dict]:
    before = fake_world.World.load(state).current_project.current_timeline
    code, out, err = run_plugin(
        state,
        "edit",
        "--targets",
        "1",
        "--op",
        "blur",
        "--place",
        place,
        "--format",
        "ffv1",
        "--deliver",
        "media",
        "--no-start",
        "-q",
        "--json",
    )
    assert code == 0, err
    world = fake_world.World.load(state)
    report = json.loads(out)
    if place == "track":  # every original item's properties unchanged
        assert [world.current_project.current_timeline.items(t) for t in (1, 2)] == [
            before.items(t) for t in (1, 2)
        ]
    return world, report


def check_track_placement(world: Any, report: dict, v1: Path, v2: Path) -> None:
    tl = world.current_project.current_timeline
    s = tl.start_frame
    assert [p["clip"] for p in report["placed"]] == [v1.name, v2.name]
    # each render covers exactly its clip's media frames 20:40 and 61:70 (no handles): all of it is used
    assert [(p["source_frames"], p["track"]) for p in report["placed"]] == [([0, 20], 3), ([0, 9], 3)]
    assert [(i["start"], i["end"], i["source_start"], i["source_end"]) for i in tl.items(3)] == [
        (s + 10, s + 30, 0, 20),
        (s + 35, s + 44, 0, 9),
    ]
    assert report["added_tracks"] == [3] and tl.snapshot()["tracks"]["video"][2]["name"] == "RIVER"
    project = world.current_project
    river_bin = project.folders()["RIVER"]
    assert len(river_bin) == 2
    markers = tl.snapshot()["markers"]
    assert sorted(float(k) for k in markers) == [10.0, 35.0]
    first = markers[next(k for k in markers if float(k) == 10.0)]
    assert Path(first["customData"]).name == "provenance.json" and Path(first["customData"]).is_file()
    assert "blur 1" in first["name"]
    for media_id in river_bin:
        info = project.media(media_id)
        assert Path(info["properties"]["File Path"]).is_file()
        assert info["third_party_metadata"]["RIVER Host"].startswith("DaVinci Resolve Studio 21.0.4")
    provenance = json.loads(Path(first["customData"]).read_text())
    assert "21.0.4" in json.dumps(provenance)  # resolve.GetVersion() recorded in the provenance


@pytest.mark.slow
def test_edit_places_blurred_clips_on_a_free_track_or_as_takes(
    fake_world, make_server, media_root: Path, tmp_path: Path
) -> None:
    """The must-show on the bundled clip (slow tier: the tiny models build two twins, ~1–2 min). One
    server for both placements: the twins built for the first are cached for the second."""
    make_server()
    media = media_root / "clip.mp4"
    _, state = scene(fake_world, tmp_path, media, media, "track")
    world, report = edit(fake_world, state, "track")
    check_track_placement(world, report, media, media)

    _, state = scene(fake_world, tmp_path, media, media, "take")
    world, report = edit(fake_world, state, "take")
    tl = world.current_project.current_timeline
    assert len(tl.snapshot()["tracks"]["video"]) == 2  # no track added
    assert [p["take"] for p in report["placed"]] == [2, 2]
    for track in (1, 2):
        item = next(i for i in tl.items(track) if i["takes"])
        assert len(item["takes"]) == 2 and item["takes"][0]["media_id"] == item["media_id"]
        assert item["selected_take"] == 1  # the original still plays
        assert (item["takes"][1]["startFrame"], item["takes"][1]["endFrame"]) == (
            0,
            item["end"] - item["start"],
        )

    # a third timeline whose only free-looking track (an empty-looking "RIVER" V3) has an item in the way
    cut = dog_cut(fake_world, media, video_tracks=3, install=False)
    cut.timeline.select([cut.ids["a"]])
    blocker = cut.project.add_media(str(media))
    cut.timeline.place(blocker, track=3, record=cut.start + 25, source_start=0, source_end=10)
    cut.timeline.state["tracks"]["video"][2]["name"] = "RIVER"
    state = tmp_path / "in_the_way.json"
    cut.world.save(state)
    world, report = edit(fake_world, state, "track")
    tl = world.current_project.current_timeline
    assert [p["track"] for p in report["placed"]] == [4] and report["added_tracks"] == [4]
    assert [(i["start"], i["end"]) for i in tl.items(4)] == [(cut.start + 10, cut.start + 30)]
    assert tl.items(3) == cut.timeline.items(3)  # the item in the way is untouched


@pytest.mark.slow
def test_edit_on_the_shared_footage(
    fake_world, make_server, media_root: Path, tmp_path: Path, shared_media
) -> None:
    """The must-show on ../shared/media: 01_dog.mp4 with a source offset on V1, 02_cups.mp4 on V2."""
    dog = shutil.copy2(shared_media("01_dog.mp4"), media_root / "01_dog.mp4")
    cups = shutil.copy2(shared_media("02_cups.mp4"), media_root / "02_cups.mp4")
    make_server()
    _, state = scene(fake_world, tmp_path, Path(dog), Path(cups), "shared")
    world, report = edit(fake_world, state, "track")
    check_track_placement(world, report, Path(dog), Path(cups))
