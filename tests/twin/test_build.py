"""build_twin and the `river twin build|render` commands: the cache, the files, the errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from river_core.media import FrameRange
from river_core.twin import build as build_module
from river_core.twin.build import build_twin
from river_core.twin.builder import BuildSettings
from river_core.twin.schema import load_twin
from river_core.twin.synthetic import random_scene
from tests.twin.doubles import Events, SceneIndex, loader

SETTINGS = BuildSettings(
    keyframe_stride=8, depth_stride=8, default_vocabulary=("circle", "square", "triangle", "diamond")
)


@pytest.fixture
def scene_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A synthetic clip, and the profile's model loading replaced by ground-truth doubles."""
    scene = random_scene(5, width=160, height=96, num_frames=17, n_objects=3)
    clip = scene.write_clip(tmp_path / "clip.mkv")
    index, events = SceneIndex(scene), Events()
    load = loader(index, events)
    monkeypatch.setattr(build_module, "load_stage", lambda role, spec, plan, seed=0: load(role))
    return clip, events


def test_second_build_comes_from_the_cache_without_loading_a_model(scene_clip) -> None:
    clip, events = scene_clip
    first = build_twin(clip, FrameRange(0, 17), "make the circle gold", profile="tiny", settings=SETTINGS)
    loads = [e for e in events.log if e.startswith("load")]
    assert not first.cache_hit and loads
    second = build_twin(clip, FrameRange(0, 17), "make the circle gold", profile="tiny", settings=SETTINGS)
    assert second.cache_hit and second.cache_key == first.cache_key
    assert [e for e in events.log if e.startswith("load")] == loads, "a cache hit loads no model"
    assert second.twin == first.twin


@pytest.mark.parametrize(
    "change",
    [
        {"frame_range": FrameRange(0, 16)},
        {"query": "make the square gold"},
        {"settings": BuildSettings(keyframe_stride=4, depth_stride=8, default_vocabulary=("circle",))},
        {"dtype": "float32"},
        {"models": {"depth": "./another-depth-checkpoint"}},
    ],
)
def test_anything_the_twin_depends_on_changes_the_key(scene_clip, change) -> None:
    clip, _ = scene_clip
    args = {"frame_range": FrameRange(0, 17), "query": "make the circle gold", "settings": SETTINGS}
    first = build_twin(clip, profile="tiny", **args)
    second = build_twin(clip, profile="tiny", **{**args, **change})
    assert not second.cache_hit and second.cache_key != first.cache_key


def test_query_wording_with_the_same_nouns_shares_the_entry(scene_clip) -> None:
    clip, _ = scene_clip
    first = build_twin(clip, query="make the circle gold", profile="tiny", settings=SETTINGS)
    second = build_twin(clip, query="turn the circle into gold", profile="tiny", settings=SETTINGS)
    assert second.cache_hit and second.cache_key == first.cache_key


def test_same_content_elsewhere_is_a_hit_naming_the_new_path(scene_clip, tmp_path: Path) -> None:
    clip, _ = scene_clip
    build_twin(clip, profile="tiny", settings=SETTINGS)
    moved = tmp_path / "elsewhere" / "renamed.mkv"
    moved.parent.mkdir()
    shutil.copy(clip, moved)
    again = build_twin(moved, profile="tiny", settings=SETTINGS)
    assert again.cache_hit and again.twin.video.path == str(moved.resolve())


def test_no_cache_builds_and_stores_nothing(scene_clip, private_cache: Path) -> None:
    clip, events = scene_clip
    build_twin(clip, profile="tiny", settings=SETTINGS, use_cache=False)
    build_twin(clip, profile="tiny", settings=SETTINGS, use_cache=False)
    assert sum(e == "load tracker" for e in events.log) == 2
    assert not list(private_cache.glob("twins/*.json"))


def test_cli_build_then_render(scene_clip, run_cli, tmp_path: Path, monkeypatch) -> None:
    clip, _ = scene_clip
    monkeypatch.setattr(BuildSettings, "for_profile", classmethod(lambda cls, profile: SETTINGS))
    out = tmp_path / "D"
    code, stdout, stderr = run_cli(
        "twin", "build", clip, "--range", "0:17", "--profile", "tiny", "--out", out, "--json", "-q"
    )
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["cache"] == "miss" and summary["frames"] == 17 and summary["tracks"] == 3
    twin = load_twin(out / "twin.json")
    assert twin.provenance.calls["detector"] == 3  # keyframes 0, 8 and 16 (the last)
    code, _, err = run_cli("twin", "build", clip, "--range", "0:17", "--profile", "tiny", "--out", out)
    assert code == 1 and "--overwrite" in err  # twin.json is there: never replaced without asking
    code, stdout, _ = run_cli(
        "twin", "build", clip, "--range", "0:17", "--profile", "tiny", "--out", out, "--overwrite"
    )
    assert code == 0 and "from the cache (no model loaded)" in stdout
    assert load_twin(out / "twin.json") == twin

    code, _, err = run_cli(
        "twin", "render", out / "twin.json", "--out", tmp_path / "sheet.png", "--frames", "4"
    )
    assert code == 0, err
    from PIL import Image

    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    assert sheet.shape == (288, 4 * 480, 3)  # four 480-wide tiles of a 160×96 clip in one row
    code, _, err = run_cli("twin", "render", out / "twin.json", "--out", tmp_path / "overlay.mkv", "-q")
    assert code == 0, err
    from river_core.media import probe

    info = probe(tmp_path / "overlay.mkv")
    assert (info.frame_count, info.width, info.height) == (17, 160, 96)


def test_render_refuses_other_media(scene_clip, run_cli, tmp_path: Path, sample_clip: Path) -> None:
    clip, _ = scene_clip
    twin = random_scene(5, width=160, height=96, num_frames=17, n_objects=3).ground_truth(path=str(clip))
    path = tmp_path / "t.json"
    path.write_text(json.dumps(twin.to_json()))
    code, _, err = run_cli("twin", "render", path, "--out", tmp_path / "o.png", "--media", sample_clip)
    assert code == 1 and "is not the clip this twin was built from" in err


def test_bad_model_override(run_cli, sample_clip: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(
        "twin", "build", sample_clip, "--profile", "tiny", "--out", tmp_path, "--model", "nonsense"
    )
    assert code == 2 and "ROLE=ID" in err  # a usage error
