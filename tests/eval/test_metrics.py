"""Reasoning metrics against values computed by hand on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest

from river_core.eval.metrics import boundary_f, j_and_f, jaccard, target_set_scores, temporal_iou


def _mask(shape: tuple[int, int], *cells: tuple[slice, slice]) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    for rows, cols in cells:
        m[rows, cols] = True
    return m


def test_target_set_scores() -> None:
    assert target_set_scores({1, 2}, {2, 3}) == (0.0, 0.5)  # 1 hit: 2·1 / (2 + 2)
    assert target_set_scores({4}, {4}) == (1.0, 1.0)
    assert target_set_scores(set(), {1}) == (0.0, 0.0)
    assert target_set_scores(set(), set()) == (1.0, 1.0)
    assert target_set_scores({1, 2, 3}, {1}) == (0.0, pytest.approx(0.5))  # 2·1 / (3 + 1)


def test_temporal_iou() -> None:
    assert temporal_iou(range(0, 4), range(2, 6)) == pytest.approx(2 / 6)
    assert temporal_iou([], []) == 1.0
    assert temporal_iou([], range(3)) == 0.0
    assert temporal_iou(range(5), range(5)) == 1.0


def test_jaccard() -> None:
    pred = _mask((4, 4), (slice(0, 2), slice(None)))  # rows 0-1: 8 px
    gold = _mask((4, 4), (slice(1, 3), slice(None)))  # rows 1-2: 8 px, 4 shared
    assert jaccard(pred, gold) == pytest.approx(4 / 12)
    empty = np.zeros((4, 4), bool)
    assert jaccard(empty, empty) == 1.0
    assert jaccard(empty, gold) == 0.0
    with pytest.raises(ValueError, match="differ in size"):
        jaccard(np.zeros((3, 3)), gold)


def test_boundary_f() -> None:
    shape = (20, 20)  # diagonal 28.3 px → tolerance ceil(0.226) = 1 px
    square = _mask(shape, (slice(5, 15), slice(5, 15)))
    assert boundary_f(square, square) == 1.0
    shifted = _mask(shape, (slice(5, 15), slice(6, 16)))  # one pixel right: every edge within 1 px
    assert boundary_f(square, shifted) == 1.0
    far = _mask(shape, (slice(0, 3), slice(0, 3)))
    assert boundary_f(far, _mask(shape, (slice(15, 18), slice(15, 18)))) == 0.0
    empty = np.zeros(shape, bool)
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(empty, square) == 0.0
    # precision 1 (the one predicted dot is a gold dot), recall 1/2 → F = 2·1·0.5 / 1.5
    dot = _mask(shape, (slice(2, 3), slice(2, 3)))
    two = _mask(shape, (slice(2, 3), slice(2, 3)), (slice(15, 16), slice(15, 16)))
    assert boundary_f(dot, two) == pytest.approx(2 / 3)


def test_j_and_f_over_frames() -> None:
    shape = (8, 8)
    m = _mask(shape, (slice(2, 6), slice(2, 6)))
    # frame 0 exact (J = F = 1); frame 1 predicted where gold has nothing (J = F = 0)
    j, f, jf = j_and_f({0: m, 1: m}, {0: m}, shape)
    assert (j, f, jf) == (0.5, 0.5, 0.5)
    assert j_and_f({}, {}, shape) == (1.0, 1.0, 1.0)  # nothing to find, nothing found
    assert j_and_f({}, {3: m}, shape) == (0.0, 0.0, 0.0)  # no valid prediction


def test_boundary_f_is_the_same_on_the_crop_and_at_the_frame_edge() -> None:
    rng = np.random.default_rng(0)
    shape = (60, 90)
    for _ in range(5):
        pred = np.zeros(shape, bool)
        gold = np.zeros(shape, bool)
        r, c = rng.integers(0, 50), rng.integers(0, 80)
        pred[r : r + 12, c : c + 14] = True
        gold[r + 1 : r + 13, max(0, c - 2) : c + 11] = True
        gold[0:5, 0:7] = True  # touches the frame edge
        from scipy.ndimage import binary_dilation
        from skimage.morphology import disk
        from skimage.segmentation import find_boundaries

        pb, gb = find_boundaries(pred, mode="inner"), find_boundaries(gold, mode="inner")
        fp = disk(1)
        prec = (pb & binary_dilation(gb, fp)).sum() / pb.sum()
        rec = (gb & binary_dilation(pb, fp)).sum() / gb.sum()
        assert boundary_f(pred, gold) == pytest.approx(2 * prec * rec / (prec + rec))
