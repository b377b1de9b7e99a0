"""`river twin build --profile tiny`: the real model classes at tiny size, end to end on real media.

Tiny weights are random, so the masks mean nothing; what is checked is everything around them:
schema validity, source-resolution masks, provenance, the cache, odd geometries and bad luck.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pycocotools.mask as coco_mask
import pytest

from river_core.media import FrameRange
from river_core.twin import build as build_module
from river_core.twin.build import build_twin
from river_core.twin.builder import BuildSettings
from river_core.twin.schema import load_twin
from river_core.twin.synthetic import SceneObject, SyntheticScene

ROLES = {"detector", "tracker", "depth", "describer"}
# pycocotools' own decode (used here as the independent reader) warns under numpy 2
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def mask_shapes(twin) -> set[tuple[int, int]]:
    return {
        coco_mask.decode({"size": o.mask.rle.size, "counts": o.mask.rle.counts.encode()}).shape
        for f in twin.frames
        for o in f.objects
    }


def test_cli_build_on_real_footage_then_from_the_cache(
    run_cli, sample_clip: Path, tmp_path: Path, monkeypatch
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    loads: list[str] = []
    real = build_module.load_stage
    monkeypatch.setattr(
        build_module, "load_stage", lambda role, *a, **k: loads.append(role) or real(role, *a, **k)
    )
    code, out, err = run_cli(
        "twin",
        "build",
        sample_clip,
        "--range",
        "0:9",
        "--profile",
        "tiny",
        "--out",
        tmp_path / "D",
        "--json",
        "-q",
    )
    assert code == 0, err
    assert json.loads(out)["cache"] == "miss"
    twin_json = json.loads((tmp_path / "D" / "twin.json").read_text())
    schema = json.loads(run_cli("twin", "schema")[1])
    jsonschema.Draft202012Validator(schema).validate(twin_json)
    twin = load_twin(tmp_path / "D" / "twin.json")
    assert [f.index for f in twin.frames] == list(range(9))
    assert twin.tracks, "the tiny profile keeps a few random detections so every stage runs"
    assert mask_shapes(twin) == {(720, 1280)}
    assert set(twin.provenance.calls) == ROLES and all(n > 0 for n in twin.provenance.calls.values())
    assert {m.id for m in twin.provenance.models} == {
        "tiny:Owlv2ForObjectDetection", "tiny:Sam2VideoModel", "tiny:DepthAnythingForDepthEstimation",
        "tiny:Qwen2_5_VLForConditionalGeneration",
    }  # fmt: skip
    assert sorted(set(loads)) == sorted(ROLES)
    loads.clear()
    code, out, _ = run_cli(
        "twin",
        "build",
        sample_clip,
        "--range",
        "0:9",
        "--profile",
        "tiny",
        "--out",
        tmp_path / "E",
        "--json",
        "-q",
    )
    assert code == 0 and json.loads(out)["cache"] == "hit"
    assert loads == [], "a cache hit loads no model"
    assert (tmp_path / "E" / "twin.json").read_bytes() == (tmp_path / "D" / "twin.json").read_bytes()


def test_portrait_source(tmp_path: Path) -> None:
    scene = SyntheticScene(
        144, 256, 4, seed=3, objects=(SceneObject(1, "circle", "red", 30, 0.4, (70, 120), (2, 3)),)
    )
    clip = scene.write_clip(tmp_path / "portrait.mkv")
    twin = build_twin(clip, profile="tiny").twin
    assert (twin.video.width, twin.video.height) == (144, 256)
    assert mask_shapes(twin) <= {(256, 144)} and twin.provenance.settings["model_size"] == [144, 256]


def test_4k_source_models_see_a_small_copy(ffmpeg_exe: str, tmp_path: Path) -> None:
    clip = tmp_path / "uhd.mp4"
    subprocess.run(
        [ffmpeg_exe, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=25", "-frames:v", "2",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    twin = build_twin(clip, profile="tiny").twin
    assert twin.provenance.settings["model_size"] == [256, 144]
    assert twin.tracks and mask_shapes(twin) == {(2160, 3840)}


def test_one_frame_of_real_footage(sample_clip: Path) -> None:
    twin = build_twin(sample_clip, FrameRange(44, 45), profile="tiny").twin
    assert [f.index for f in twin.frames] == [44]
    assert twin.video.start_timecode == "00:00:01:14"


def test_nothing_found_is_a_valid_twin_with_a_warning(sample_clip: Path) -> None:
    settings = BuildSettings(detection_threshold=1.0, model_long_side=256)  # random scores never reach 1
    outcome = build_twin(sample_clip, FrameRange(0, 3), profile="tiny", settings=settings)
    assert all(not f.objects for f in outcome.twin.frames)
    assert any("no objects" in w for w in outcome.twin.provenance.warnings)
    assert "depth" not in outcome.twin.provenance.calls


@pytest.mark.shared_media
def test_must_show_cups_range(run_cli, shared_media, tmp_path: Path) -> None:
    code, _out, err = run_cli(
        "twin",
        "build",
        shared_media("02_cups.mp4"),
        "--range",
        "0:17",
        "--profile",
        "tiny",
        "--out",
        tmp_path / "D",
        "--json",
        "-q",
    )
    assert code == 0, err
    twin = load_twin(tmp_path / "D" / "twin.json")
    assert len(twin.frames) == 17 and mask_shapes(twin) == {(720, 1280)}
    assert twin.provenance.calls["detector"] == 2 and twin.provenance.calls["depth"] >= 2
