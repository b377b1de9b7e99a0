"""Synthetic scenes: the ground-truth twin is exact, occlusion follows depth, clips round-trip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from river_core.errors import OutputError
from river_core.media.decode import read_frames
from river_core.media.probe import probe
from river_core.media.rational import FrameRange, Timecode, frames_to_samples
from river_core.twin import TwinDocument, decode_mask, spatial_from_mask, validate_twin
from river_core.twin.synthetic import SceneObject, SyntheticScene, random_scene

from .conftest import CREATED


def all_shapes_scene() -> SyntheticScene:
    """Every shape, crossing each other, one of them half outside the frame."""
    objects = (
        SceneObject(1, "circle", "red", radius=14, depth=0.6, start=(30, 30), velocity=(3, 1)),
        SceneObject(2, "square", "blue", radius=10.5, depth=0.3, start=(50, 34), velocity=(-2, -1.5)),
        SceneObject(3, "triangle", "yellow", radius=12, depth=0.45, start=(40, 20), velocity=(1, 2)),
        SceneObject(
            4, "diamond", "white", radius=9, depth=0.8, start=(2, 50), velocity=(2.5, -1), motion="pass"
        ),
    )
    return SyntheticScene(80, 64, 10, objects=objects, seed=3)


def check_exact(scene: SyntheticScene, twin: TwinDocument) -> None:
    colors = [o.rgb for o in scene.objects]
    assert len(set(colors)) == len(colors), "the test needs one color per object"
    assert [f.index for f in twin.frames] == list(range(scene.num_frames))
    by_id = {o.id: o for o in scene.objects}
    for t in range(scene.num_frames):
        rgb, _ = scene.render_frame(t)
        truth = {o.id: o for o in twin.frame(t).objects}
        covered = np.zeros(rgb.shape[:2], bool)
        for obj in scene.objects:
            pixels = (rgb == np.array(obj.rgb, np.uint8)).all(axis=-1)
            if not pixels.any():
                assert obj.id not in truth, f"frame {t}: object {obj.id} listed without visible pixels"
                continue
            gt = truth[obj.id]
            mask = decode_mask(gt.mask.rle)
            assert np.array_equal(mask, pixels), f"frame {t}: object {obj.id}'s mask is not its pixels"
            assert gt.spatial == spatial_from_mask(pixels, by_id[obj.id].depth)
            assert (gt.category, gt.attributes) == (obj.category, obj.attributes)
            covered |= mask
        assert set(truth) <= set(by_id)
        # Everything else is untouched background.
        assert np.array_equal(rgb[~covered], scene.background_image[~covered])


@pytest.mark.parametrize("seed", [7, 21])
def test_random_scene_ground_truth_is_exact(seed: int, scene: SyntheticScene, twin: TwinDocument) -> None:
    if seed != 7:
        scene = random_scene(seed)
        twin = scene.ground_truth()
    check_exact(scene, twin)
    assert set(twin.object_ids()) == {o.id for o in scene.objects}  # everybody is seen at some point
    assert twin.provenance.builder == "synthetic"
    validate_twin(twin.to_json())


def test_all_shapes_ground_truth_is_exact() -> None:
    scene = all_shapes_scene()
    twin = scene.ground_truth()
    check_exact(scene, twin)
    # The diamond starts half outside the frame: its mask is the visible part only.
    first = twin.frame(0)
    diamond = next(o for o in first.objects if o.id == 4)
    assert diamond.spatial.bbox is not None and diamond.spatial.bbox[0] == 0.0
    assert diamond.spatial.depth == 0.8  # the object's depth, constant


@pytest.mark.parametrize("seed", range(6))
def test_occlusion_follows_depth(seed: int) -> None:
    scene = random_scene(seed, num_frames=17)
    overlaps = 0
    for t in range(scene.num_frames):
        rgb, _ = scene.render_frame(t)
        shapes = {o.id: o.shape_mask(t, scene.width, scene.height) for o in scene.objects}
        # Nearest covering object per pixel, found by depth rather than by painting order.
        depth = np.full(rgb.shape[:2], np.inf)
        expected = scene.background_image.copy()
        for obj in scene.objects:
            nearer = shapes[obj.id] & (obj.depth < depth)
            depth[nearer] = obj.depth
            expected[nearer] = obj.rgb
        assert np.array_equal(rgb, expected), f"seed {seed}, frame {t}"
        ids = list(shapes)
        overlaps += sum((shapes[a] & shapes[b]).any() for i, a in enumerate(ids) for b in ids[i + 1 :])
    assert overlaps > 0, "random_scene promises an occlusion"


def test_random_scene_objects_move() -> None:
    scene = random_scene(5)
    for obj in scene.objects:
        start, later = obj.center(0, scene.width, scene.height), obj.center(1, scene.width, scene.height)
        assert start != later


def test_windows_pass_and_bounce() -> None:
    w, h = 64, 48
    objects = (
        SceneObject(1, "circle", "red", radius=4, depth=0.5, start=(32, 43), appear=3, disappear=6),
        SceneObject(2, "square", "blue", radius=4, depth=0.4, start=(8, 10), velocity=(10, 0), motion="pass"),
        SceneObject(3, "diamond", "green", radius=5, depth=0.3, start=(20, 30), velocity=(7, 0)),
    )
    twin = SyntheticScene(w, h, 12, objects=objects).ground_truth()
    frames_of = {i: [t for t, _ in twin.track(i)] for i in (1, 2, 3)}
    assert frames_of[1] == [3, 4, 5]  # the visible window [3, 6)
    assert frames_of[2] == [0, 1, 2, 3, 4, 5]  # x = 8 + 10t: at t = 6 its left edge is at 64, outside
    assert frames_of[3] == list(range(12))
    # Bounce: the centre runs 20, 27, ... 55, then reflects at 64 - 5 = 59: 56, 49, 42 ...
    centres = [20, 27, 34, 41, 48, 55, 56, 49, 42, 35, 28, 21]
    diamond = [obj for _, obj in twin.track(3)]
    assert [o.spatial.x * w for o in diamond] == pytest.approx(centres)
    assert len({o.spatial.size for o in diamond}) == 1  # never clipped by the edge
    assert [o.spatial.y * h for o in diamond] == pytest.approx([30] * 12)


def test_ground_truth_of_a_subrange_with_timecode(scene: SyntheticScene, twin: TwinDocument) -> None:
    tc = Timecode.parse("01:00:00;00", scene.rate)
    part = scene.ground_truth(frame_range=FrameRange(4, 9), timecode=tc, created=CREATED)
    assert [f.index for f in part.frames] == [4, 5, 6, 7, 8]
    assert part.frames == twin.frames[4:9]
    assert (part.video.start_timecode, part.video.drop_frame) == ("01:00:00;04", True)
    assert (part.video.frame_range.start, part.video.frame_range.end, part.video.frame_count) == (4, 9, 33)
    assert part.video.content_hash == twin.video.content_hash
    validate_twin(part.to_json())


def test_determinism(scene: SyntheticScene, twin: TwinDocument) -> None:
    again = random_scene(7)
    assert again == scene
    assert all(np.array_equal(a, b) for a, b in zip(again.frames(), scene.frames(), strict=True))
    assert again.ground_truth(created=CREATED) == twin
    other = random_scene(8)
    assert other.objects != scene.objects
    assert not np.array_equal(next(other.frames()), next(scene.frames()))
    assert other.content_hash() != scene.content_hash()


def test_scene_checks_its_inputs() -> None:
    red = SceneObject(1, "circle", "red", radius=5, depth=0.5, start=(10, 10))
    with pytest.raises(ValueError, match="unique"):
        SyntheticScene(32, 32, 3, objects=(red, red))
    with pytest.raises(ValueError, match="distinct"):
        SyntheticScene(32, 32, 3, objects=(red, SceneObject(2, "square", "blue", 5, 0.5, (5, 5))))
    for tint in [(230, 20, 20), (215, 30, 30)]:  # the color itself, or near enough to blur with it
        with pytest.raises(ValueError, match=r"within 1?\d levels of the background"):
            SyntheticScene(32, 32, 3, objects=(red,), background=tint)
    with pytest.raises(ValueError, match="shape"):
        SceneObject(1, "star", "red", 5, 0.5, (5, 5))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="color"):
        SceneObject(1, "circle", "teal", 5, 0.5, (5, 5))
    with pytest.raises(ValueError, match="depth"):
        SceneObject(1, "circle", "red", 5, 0.0, (5, 5))
    with pytest.raises(ValueError, match="outside the scene"):
        SyntheticScene(32, 32, 3, objects=(red,)).render_frame(3)


def test_write_clip_ffv1_round_trips_pixels_and_audio(tmp_path: Path) -> None:
    scene = random_scene(3, width=96, height=64, num_frames=9)
    tc = Timecode.parse("00:59:59:20", scene.rate)
    n = frames_to_samples(9, scene.rate, 48000)
    t = np.arange(n - 1000) / 48000  # shorter than the video: the writer pads with silence
    audio = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 220 * t)]).astype(
        np.float32
    )
    path = scene.write_clip(tmp_path / "scene.mkv", timecode=tc, audio=audio)
    assert path == tmp_path / "scene.mkv"

    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (96, 64, 9)
    assert info.rate == Fraction(30000, 1001)
    assert info.start_timecode is not None and str(info.start_timecode) == "00:59:59:20"
    decoded = read_frames(path, FrameRange(0, 9))
    assert np.array_equal(decoded, np.stack(list(scene.frames())))
    assert np.array_equal(read_frames(path, FrameRange(5, 7)), np.stack(list(scene.frames(FrameRange(5, 7)))))

    (stream,) = info.audio
    assert (stream.sample_rate, stream.channels) == (48000, 2)
    samples = decode_all_audio(path)
    assert samples.shape == (2, n)  # the video's duration, exactly
    assert np.allclose(samples[:, : n - 1000], audio, atol=1e-6)  # 24-bit PCM
    assert not samples[:, n - 1000 :].any()


def decode_all_audio(path: Path) -> np.ndarray:
    """Every sample of the first audio stream in order, as float32 [channels, n] (timestamps ignored)."""
    chunks = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp")
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray() for f in resampler.resample(frame)]
    return np.concatenate(chunks, axis=1)


def test_write_clip_refuses_to_overwrite(tmp_path: Path) -> None:
    scene = random_scene(1, width=48, height=32, num_frames=3)
    path = scene.write_clip(tmp_path / "a.mkv")
    before = path.read_bytes()
    with pytest.raises(OutputError, match="already exists"):
        scene.write_clip(path)
    assert path.read_bytes() == before
    scene.write_clip(path, overwrite=True)
    with pytest.raises(ValueError, match="channels"):
        scene.write_clip(tmp_path / "b.mkv", audio=np.zeros((3, 10), np.float32))
