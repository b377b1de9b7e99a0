import numpy as np
import pytest

from river_core.twin.planning import (
    MergeTracker,
    crop_box,
    explained,
    find_scene_cuts,
    frame_signature,
    interpolate,
    plan_depth_frames,
    plan_keyframes,
    sharpness,
    view_quality,
)
from river_core.twin.stages import Detection, boxes_iou, mask_box


def test_keyframes_and_depth_frames() -> None:
    assert plan_keyframes(81, 16, []) == [0, 16, 32, 48, 64, 80]
    assert plan_keyframes(81, 16, [37, 90]) == [0, 16, 32, 37, 48, 64, 80]  # cuts outside are ignored
    assert plan_keyframes(1, 16, []) == [0]
    assert plan_keyframes(20, 16, []) == [0, 16, 19]  # the last frame always
    assert plan_depth_frames(17, 8) == [0, 8, 16]


def test_scene_cuts_from_histograms() -> None:
    rng = np.random.default_rng(0)
    dark = [np.clip(rng.normal(50, 8, (18, 32, 3)), 0, 255).astype(np.uint8) for _ in range(5)]
    bright = [np.clip(rng.normal(200, 8, (18, 32, 3)), 0, 255).astype(np.uint8) for _ in range(5)]
    signatures = [frame_signature(f) for f in dark + bright]
    assert find_scene_cuts(signatures, 0.4) == [5]
    assert find_scene_cuts([frame_signature(f) for f in dark], 0.4) == []  # noise is not a cut


def test_explained_by_overlap_or_by_a_box_around_a_partial_view() -> None:
    mask = np.zeros((100, 100), dtype=bool)
    mask[20:40, 20:40] = True
    assert explained(Detection((22, 18, 41, 42), 0.9, "x"), {1: mask}, 0.4)  # same object
    assert not explained(Detection((60, 60, 90, 90), 0.9, "x"), {1: mask}, 0.4)  # elsewhere
    # the tracker sees only the top half of an object the detector boxes whole
    top = np.zeros((100, 100), dtype=bool)
    top[20:30, 20:40] = True
    assert explained(Detection((20, 20, 40, 40), 0.9, "x"), {1: top}, 0.9)
    # a small mask inside a big box is not "the same object"
    small = np.zeros((100, 100), dtype=bool)
    small[50:52, 50:52] = True
    assert not explained(Detection((0, 0, 100, 100), 0.9, "x"), {1: small}, 0.4)
    assert not explained(Detection((0, 0, 10, 10), 0.9, "x"), {1: np.zeros((100, 100), bool)}, 0.4)


def test_merge_needs_consecutive_frames_and_chains() -> None:
    a = np.zeros((10, 10), dtype=bool)
    a[2:8, 2:8] = True
    other = np.zeros((10, 10), dtype=bool)
    other[0:2, 0:2] = True
    merges = MergeTracker(min_iou=0.8, frames=3)
    assert merges.observe({1: a, 2: a}) == []
    assert merges.observe({1: a, 2: other}) == []  # the streak breaks
    assert merges.observe({1: a, 2: a}) == []
    assert merges.observe({1: a, 2: a}) == []
    assert merges.observe({1: a, 2: a}) == [(2, 1)]
    assert merges.canonical(2) == 1
    for _ in range(3):
        found = merges.observe({1: a, 3: a})
    assert found == [(3, 1)] and merges.canonical(3) == 1


def test_interpolate_is_linear_between_samples_and_flat_outside() -> None:
    values = interpolate({2: 0.2, 6: 0.6}, [0, 2, 3, 4, 6, 9])
    assert values == pytest.approx({0: 0.2, 2: 0.2, 3: 0.3, 4: 0.4, 6: 0.6, 9: 0.6})
    with pytest.raises(ValueError, match="at least one sample"):
        interpolate({}, [1])


def test_view_quality_prefers_large_whole_sharp_views() -> None:
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 255, (40, 40, 3)).astype(np.uint8)
    blurred = np.full((40, 40, 3), 128, np.uint8)
    assert sharpness(sharp[..., 0]) > sharpness(blurred[..., 0]) == 0.0
    inside = np.zeros((100, 100), dtype=bool)
    inside[30:60, 30:60] = True
    at_edge = np.zeros((100, 100), dtype=bool)
    at_edge[0:30, 30:60] = True
    smaller = np.zeros((100, 100), dtype=bool)
    smaller[30:45, 30:45] = True
    assert view_quality(inside, sharp) > view_quality(at_edge, sharp)
    assert view_quality(inside, sharp) > view_quality(smaller, sharp)
    assert view_quality(inside, sharp) > view_quality(inside, blurred)


def test_boxes_and_crops() -> None:
    assert boxes_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert boxes_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    mask = np.zeros((10, 20), dtype=bool)
    mask[2:5, 3:9] = True
    assert mask_box(mask) == (3.0, 2.0, 9.0, 5.0)
    assert mask_box(np.zeros((4, 4), bool)) is None
    assert crop_box((3.0, 2.0, 9.0, 5.0), 20, 10, margin=0.5) == (0, 0, 12, 7)
