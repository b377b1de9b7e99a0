"""The builder's orchestration, asserted correct against synthetic scenes' exact ground truth.

Stage doubles (tests/twin/doubles.py) answer like perfect models; everything else — keyframes,
track births, merges, ids through occlusion, depth sampling and interpolation, attribute
scheduling, vocabulary, stage lifecycle, geometry — is the builder's own logic under test.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from river_core.errors import Cancelled
from river_core.media import FrameRange, MediaWriter, Timecode
from river_core.progress import CancelToken, ProgressEvent
from river_core.twin.builder import BuildSettings, TwinBuilder
from river_core.twin.masks import decode_mask
from river_core.twin.planning import plan_depth_frames, plan_keyframes
from river_core.twin.schema import TwinDocument, validate_twin
from river_core.twin.stages import Detection, ModelInfo, mask_box
from river_core.twin.synthetic import SceneObject, SyntheticScene, random_scene
from tests.twin.doubles import Events, GroundTruthDepth, GroundTruthDetector, SceneIndex, loader

SHAPES_VOCAB = ("circle", "square", "triangle", "diamond")
SETTINGS = BuildSettings(keyframe_stride=8, depth_stride=8, default_vocabulary=SHAPES_VOCAB)


def build(
    scene: SyntheticScene,
    tmp_path: Path,
    settings: BuildSettings = SETTINGS,
    query: str | None = None,
    frame_range: FrameRange | None = None,
    **overrides,
) -> tuple[TwinDocument, Events, TwinBuilder]:
    clip = tmp_path / f"scene{scene.seed}.mkv"
    if not clip.exists():
        scene.write_clip(clip)
    index, events = SceneIndex(scene), Events()
    factories = {role: (lambda f=f: f(index, events)) for role, f in overrides.items()}
    builder = TwinBuilder(loader(index, events, **factories), settings)
    twin = builder.build(clip, frame_range, query, content_hash="sha256:" + "0" * 64)
    validate_twin(twin.to_json())
    return twin, events, builder


def gt_mapping(twin: TwinDocument, scene: SyntheticScene) -> dict[int, int]:
    """twin id → ground-truth id, asserting every twin mask is exactly one object's visible mask."""
    mapping: dict[int, int] = {}
    for frame in twin.frames:
        _, visible = scene.render_frame(frame.index)
        for obj in frame.objects:
            mask = decode_mask(obj.mask.rle)
            matches = [g for g, m in visible.items() if np.array_equal(m, mask)]
            assert len(matches) == 1, f"frame {frame.index}: object {obj.id} is no ground-truth object's mask"
            assert mapping.setdefault(obj.id, matches[0]) == matches[0], f"id {obj.id} switched objects"
    return mapping


def test_twin_equals_the_ground_truth(tmp_path: Path) -> None:
    scene = random_scene(11, width=160, height=96, num_frames=25, n_objects=3)
    twin, _, _ = build(scene, tmp_path)
    mapping = gt_mapping(twin, scene)
    assert sorted(mapping.values()) == sorted(o.id for o in scene.objects), "one track per object"
    for frame in twin.frames:
        _, visible = scene.render_frame(frame.index)
        assert {mapping[o.id] for o in frame.objects} == {g for g, m in visible.items() if m.any()}
        for obj in frame.objects:
            gt = next(o for o in scene.objects if o.id == mapping[obj.id])
            assert (obj.category, obj.attributes) == (gt.category, gt.attributes)
    # depth: the twin orders objects as the scene does, in every frame
    for frame in twin.frames:
        by_twin = sorted(frame.objects, key=lambda o: o.spatial.depth)
        gt_depths = [next(o for o in scene.objects if o.id == mapping[t.id]).depth for t in by_twin]
        assert gt_depths == sorted(gt_depths)
    assert twin.provenance.calls["detector"] == len(plan_keyframes(25, 8, []))
    assert twin.provenance.calls["depth"] == len(plan_depth_frames(25, 8))
    assert twin.provenance.calls["describer"] == 1 + 3  # the vocabulary frame, then one per track
    assert [m.role for m in twin.provenance.models] == ["depth", "describer", "detector", "tracker"]
    assert twin.frames[0].index == 0 and len(twin.frames) == 25


def test_stages_load_one_after_another(tmp_path: Path) -> None:
    scene = random_scene(12, width=160, height=96, num_frames=9, n_objects=2)
    _, events, _ = build(scene, tmp_path)
    log = [e for e in events.log if e != "session"]
    assert log == [
        "load describer", "close describer", "load detector", "close detector",
        "load tracker", "close tracker", "load depth", "close depth", "load describer", "close describer",
    ]  # fmt: skip


def test_keep_warm_loads_each_stage_once(tmp_path: Path) -> None:
    scene = random_scene(12, width=160, height=96, num_frames=9, n_objects=2)
    clip = tmp_path / "warm.mkv"
    scene.write_clip(clip)
    index, events = SceneIndex(scene), Events()
    builder = TwinBuilder(loader(index, events), SETTINGS, keep_warm=True)
    builder.build(clip, content_hash="sha256:" + "0" * 64)
    builder.build(clip, content_hash="sha256:" + "0" * 64)
    loads = [e for e in events.log if e.startswith("load")]
    assert sorted(loads) == ["load depth", "load describer", "load detector", "load tracker"]
    assert not any(e.startswith("close") for e in events.log)
    builder.close()
    assert sum(e.startswith("close") for e in events.log) == 4


def occlusion_scene() -> SyntheticScene:
    """A small far circle passes fully behind a big near square (hidden in frames 15–25)."""
    return SyntheticScene(
        160, 96, 30, seed=21,
        objects=(
            SceneObject(1, "square", "blue", 24, 0.2, (70, 48), (1, 0)),
            SceneObject(2, "circle", "red", 8, 0.7, (10, 48), (4, 0), motion="pass"),
        ),
    )  # fmt: skip


def test_ids_stay_stable_through_occlusion(tmp_path: Path) -> None:
    scene = occlusion_scene()
    twin, _, _ = build(scene, tmp_path)
    mapping = gt_mapping(twin, scene)
    assert len(mapping) == 2, "the reappearing circle must not start a new track"
    circle = next(i for i, g in mapping.items() if g == 2)
    present = [f.index for f in twin.frames if any(o.id == circle for o in f.objects)]
    hidden = [t for t in range(30) if not scene.render_frame(t)[1][2].any()]
    assert hidden and set(hidden).isdisjoint(present)
    assert max(present) > max(hidden), "the circle comes back with its id"


def test_late_object_is_born_on_a_keyframe_and_tracked_back(tmp_path: Path) -> None:
    scene = SyntheticScene(
        160, 96, 20, seed=22,
        objects=(
            SceneObject(1, "square", "blue", 14, 0.3, (40, 40), (1, 0)),
            SceneObject(2, "diamond", "yellow", 14, 0.6, (110, 50), (-1, 1), appear=5),
        ),
    )  # fmt: skip
    twin, events, _ = build(scene, tmp_path)
    mapping = gt_mapping(twin, scene)
    diamond = next(i for i, g in mapping.items() if g == 2)
    present = [f.index for f in twin.frames if any(o.id == diamond for o in f.objects)]
    assert present == list(range(5, 20)), "frames 5–7 come from tracking back from keyframe 8"
    assert diamond == 2 and twin.tracks[1].first_frame == 5
    backfill_sessions = {n for n, _ in events.tracked if n > 0}
    assert backfill_sessions == {1}
    # frames 7, 6, 5 and the birth frame 8 once more, then the diamond is gone (frame 4): stop
    assert [t for n, t in events.tracked if n == 1] == [8, 7, 6, 5, 4]


def test_duplicate_track_merges_into_the_older_one(tmp_path: Path) -> None:
    scene = SyntheticScene(
        160,
        96,
        20,
        seed=23,
        objects=(SceneObject(1, "square", "green", 20, 0.4, (60, 48), (2, 0)),),
    )
    _, visible = scene.render_frame(8)
    x0, y0, x1, y1 = mask_box(visible[1])
    shift = 0.6 * (x1 - x0)  # overlaps the square, but too little for `explained`
    duplicate = Detection((x0 + shift, y0, x1 + shift, y1), 0.5, "square")
    index_holder = {}

    def detector(index, events):
        index_holder["i"] = index
        return GroundTruthDetector(index, events, extra={8: [duplicate]})

    twin, _, _ = build(scene, tmp_path, detector=detector)
    assert {o.id for f in twin.frames for o in f.objects} == {1}
    # every frame once (frame 0 only to start the square: nothing to track before), frame 8 again to
    # start the duplicate, then the duplicate's backfill: its start on frame 8 and frames 7…1
    assert twin.provenance.calls["tracker"] == 20 + 1 + 1 + 7
    gt_mapping(twin, scene)


def test_scene_cut_is_a_keyframe(tmp_path: Path) -> None:
    first = SyntheticScene(
        160, 96, 12, seed=31, objects=(SceneObject(1, "circle", "red", 10, 0.5, (40, 40)),)
    )
    second = SyntheticScene(
        160,
        96,
        12,
        seed=32,
        background=(40, 40, 48),
        objects=(SceneObject(1, "square", "yellow", 10, 0.5, (90, 50)),),
    )
    clip = tmp_path / "cut.mkv"
    with MediaWriter(
        clip, "ffv1", width=160, height=96, rate=Fraction(25), timecode=Timecode(0, Fraction(25))
    ) as w:
        for rgb in [*first.frames(), *second.frames()]:
            w.write_video(rgb)
    seen: list[int] = []

    class RecordingDetector:
        info = ModelInfo("detector", "double:recording")

        def detect(self, images, queries, *, threshold, max_detections):
            seen.extend(int(img.mean()) for img in images)
            return [[] for _ in images]

        def close(self) -> None:
            pass

    index, events = SceneIndex(first), Events()
    settings = BuildSettings(keyframe_stride=100, vlm_vocabulary_frames=0, default_vocabulary=SHAPES_VOCAB)
    builder = TwinBuilder(loader(index, events, detector=RecordingDetector), settings)
    twin = builder.build(clip, content_hash="sha256:" + "0" * 64)
    assert twin.provenance.settings["scene_cuts"] == [12]
    assert twin.provenance.calls["detector"] == 3  # frames 0, 12 (the cut) and 23 (the last)
    assert any("no objects" in w for w in twin.provenance.warnings)


def test_depth_is_sampled_on_a_stride_and_interpolated(tmp_path: Path) -> None:
    scene = SyntheticScene(
        160, 96, 25, seed=41,
        objects=(
            SceneObject(1, "square", "blue", 22, 0.1, (40, 48)),  # nearest, constant
            SceneObject(2, "circle", "red", 16, 0.5, (115, 30), (0, 1)),  # recedes by 0.01 per frame
        ),
    )  # fmt: skip

    def depth(index, events):
        return GroundTruthDepth(index, events, lambda i, t: 0.1 if i == 1 else 0.5 + 0.01 * t)

    twin, events, _ = build(scene, tmp_path, depth=depth)
    assert sorted(set(events.depth_frames)) == [0, 8, 16, 24]
    circle = [(f.index, o.spatial.depth) for f in twin.frames for o in f.objects if o.category == "circle"]
    t = np.array([c[0] for c in circle], dtype=float)
    d = np.array([c[1] for c in circle])
    slope, intercept = np.polyfit(t, d, 1)
    assert slope > 0, "receding means larger relative depth"
    np.testing.assert_allclose(d, slope * t + intercept, atol=1e-6)  # linear between and at depth frames
    square = {o.spatial.depth for f in twin.frames for o in f.objects if o.category == "square"}
    assert square == {0.0}, "the nearest object is at relative depth 0"


def test_short_track_between_depth_frames_gets_its_own_depth_frame(tmp_path: Path) -> None:
    scene = SyntheticScene(
        160, 96, 25, seed=42,
        objects=(
            SceneObject(1, "square", "blue", 20, 0.2, (30, 48), (1, 0)),
            SceneObject(2, "circle", "red", 12, 0.6, (115, 48), appear=9, disappear=14),
        ),
    )  # fmt: skip
    settings = BuildSettings(keyframe_stride=4, depth_stride=8, default_vocabulary=SHAPES_VOCAB)
    twin, events, _ = build(scene, tmp_path, settings=settings)
    assert sorted(set(events.depth_frames)) == [0, 8, 11, 16, 24]  # 11: the circle's middle frame
    circle = {o.spatial.depth for f in twin.frames for o in f.objects if o.category == "circle"}
    square = {o.spatial.depth for f in twin.frames for o in f.objects if o.category == "square"}
    assert len(circle) == 1 and min(circle) > max(square)


def test_attributes_come_from_each_tracks_best_view(tmp_path: Path) -> None:
    """The square enters from the left edge and is half hidden by the near circle early on; the
    describer must see it whole, once."""
    scene = SyntheticScene(
        160, 96, 24, seed=51,
        objects=(
            SceneObject(1, "circle", "red", 18, 0.2, (40, 48)),
            SceneObject(2, "square", "green", 16, 0.6, (0, 48), (5, 0), motion="pass"),
        ),
    )  # fmt: skip
    _, events, _ = build(scene, tmp_path)
    described = events.described
    assert sorted(d[0] for d in described) == [1, 2], "one describer call per track"
    square_crop = next(d[2] for d in described if d[0] == 2)
    full_box = (32 * 1.2) ** 2  # the whole 32-pixel square with the 10 % margin each side
    assert square_crop[0] * square_crop[1] >= 0.95 * full_box


def test_vocabulary_joins_query_vlm_and_defaults(tmp_path: Path) -> None:
    scene = SyntheticScene(
        160, 96, 9, seed=61,
        objects=(
            SceneObject(1, "circle", "red", 14, 0.3, (40, 40)),
            SceneObject(2, "triangle", "yellow", 14, 0.6, (110, 50)),
        ),
    )  # fmt: skip
    settings = BuildSettings(keyframe_stride=8, default_vocabulary=("square",))
    twin, _, _ = build(scene, tmp_path, settings=settings, query="make the triangle gold")
    assert twin.provenance.vocabulary == ["triangle", "circle", "square"]
    assert {o.category for f in twin.frames for o in f.objects} == {"triangle", "circle"}
    # without the describer's list, the circle is not in the vocabulary and is not found
    no_vlm = BuildSettings(keyframe_stride=8, default_vocabulary=("square",), vlm_vocabulary_frames=0)
    twin, events, _ = build(scene, tmp_path, settings=no_vlm, query="make the triangle gold")
    assert {o.category for f in twin.frames for o in f.objects} == {"triangle"}
    assert events.listed_frames == []


def test_no_objects_gives_a_valid_empty_twin_with_a_warning(tmp_path: Path) -> None:
    scene = SyntheticScene(160, 96, 6, seed=71)
    twin, events, _ = build(scene, tmp_path)
    assert len(twin.frames) == 6 and all(not f.objects for f in twin.frames)
    assert any("no objects" in w for w in twin.provenance.warnings)
    assert "load depth" not in events.log, "no depth model for a twin without objects"


def test_one_frame_range(tmp_path: Path) -> None:
    scene = random_scene(13, width=160, height=96, num_frames=12, n_objects=2)
    twin, _, _ = build(scene, tmp_path, frame_range=FrameRange(7, 8))
    assert [f.index for f in twin.frames] == [7]
    assert twin.video.frame_range.start == 7 and twin.video.start_timecode == "00:00:00:07"
    gt_mapping(twin, scene)


def test_cancel_stops_between_frames_and_frees_the_stage(tmp_path: Path) -> None:
    scene = random_scene(14, width=160, height=96, num_frames=20, n_objects=2)
    clip = tmp_path / "c.mkv"
    scene.write_clip(clip)
    index, events, token = SceneIndex(scene), Events(), CancelToken()

    def progress(event: ProgressEvent) -> None:
        if event.stage == "track" and event.done == 5:
            token.cancel()

    builder = TwinBuilder(loader(index, events), SETTINGS, progress=progress, cancel=token)
    with pytest.raises(Cancelled):
        builder.build(clip, content_hash="sha256:" + "0" * 64)
    assert events.log[-1] == "close tracker"


# -- geometry: model-size frames and rotation, with box doubles -----------------------------------


class BoxStages:
    """Doubles that ignore content: one detection with a fixed box, a tracker that returns it."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        self.box = box
        self.sizes: list[tuple[int, int]] = []

    def load(self, role):
        outer = self

        class Stage:
            info = ModelInfo(role, f"double:box-{role}")

            def close(self) -> None:
                pass

            def detect(self, images, queries, *, threshold, max_detections):
                outer.sizes += [img.shape[:2] for img in images]
                return [[Detection(outer.box, 0.9, "thing")] for _ in images]

            started = False

            def start(self, width, height):
                return self

            def track(self, frame_idx, image, new_objects=None):
                self.started = self.started or bool(new_objects)
                if not self.started:
                    return {}
                mask = np.zeros(image.shape[:2], dtype=bool)
                x0, y0, x1, y1 = outer.box
                mask[y0:y1, x0:x1] = True
                return {1: mask}

            def estimate(self, images):
                return [np.ones(img.shape[:2], np.float32) for img in images]

            def describe(self, crop, category):
                return "a thing"

            def list_objects(self, image):
                return []

        return Stage()


def test_models_see_a_smaller_copy_and_masks_come_back_at_source_resolution(tmp_path: Path) -> None:
    scene = SyntheticScene(320, 192, 3, seed=81)
    clip = scene.write_clip(tmp_path / "big.mkv")
    stages = BoxStages((40, 24, 80, 48))
    settings = BuildSettings(model_long_side=160, default_vocabulary=("thing",))
    twin = TwinBuilder(stages.load, settings).build(clip, content_hash="sha256:" + "0" * 64)
    assert set(stages.sizes) == {(96, 160)}
    mask = decode_mask(twin.frames[0].objects[0].mask.rle)
    expected = np.zeros((192, 320), dtype=bool)
    expected[48:96, 80:160] = True  # the model-space box, scaled back ×2
    np.testing.assert_array_equal(mask, expected)
    assert twin.frames[0].objects[0].spatial.bbox == (0.25, 0.25, 0.5, 0.5)


def test_rotated_sources_are_upright_for_models_and_stored_for_masks(tmp_path: Path) -> None:
    scene = SyntheticScene(320, 192, 3, seed=82)
    clip = tmp_path / "phone.mov"
    with MediaWriter(
        clip, "prores", width=320, height=192, rate=scene.rate, timecode=Timecode(0, scene.rate), rotation=90
    ) as writer:
        for rgb in scene.frames():
            writer.write_video(rgb)
    stages = BoxStages((0, 0, 20, 10))  # the top-left corner of the upright (portrait) picture
    twin = TwinBuilder(stages.load, BuildSettings(default_vocabulary=("thing",))).build(
        clip, content_hash="sha256:" + "0" * 64
    )
    assert set(stages.sizes) == {(320, 192)}, "models see the portrait picture"
    mask = decode_mask(twin.frames[0].objects[0].mask.rle)
    assert mask.shape == (192, 320)
    upright = np.zeros((320, 192), dtype=bool)
    upright[0:10, 0:20] = True
    np.testing.assert_array_equal(mask, np.rot90(upright, -1))
