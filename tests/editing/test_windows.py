"""The window planner: every frame rendered once as new, windows Wan accepts, overlaps as declared."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from river_core.editing import windows as windows_module
from river_core.editing.windows import (
    MIN_TAIL,
    Window,
    WindowError,
    blend_weights,
    pad_to_length,
    plan_windows,
)
from river_core.errors import RiverError

window_sizes = st.integers(min_value=1, max_value=40).map(lambda k: 4 * k + 1)


@st.composite
def plans(draw: st.DrawFn) -> tuple[int, int, int]:
    window = draw(window_sizes)
    overlap = draw(st.integers(min_value=0, max_value=window - 1))
    n = draw(st.integers(min_value=1, max_value=2000))
    return n, window, overlap


def check_plan(n: int, window: int, overlap: int, plan: list[Window]) -> None:
    assert plan, "a plan has at least one window"
    assert plan[0].start == 0 and plan[0].overlap == 0
    assert plan[-1].end == n
    new_parts: list[int] = []
    for i, w in enumerate(plan):
        assert w.length % 4 == 1, f"window {i} is {w.length} frames, not 4k+1"
        assert w.end - w.start <= w.length <= window
        assert 0 <= w.start < w.end <= n
        assert w.padding == w.length - (w.end - w.start)
        new_parts.extend(range(w.new_start, w.end))
        if i:
            prev = plan[i - 1]
            assert w.start > prev.start, "starts ascend"
            assert w.overlap == prev.end - w.start, "the overlap is exactly what the two windows share"
            assert w.new_start == prev.end
            if i < len(plan) - 1:
                assert w.overlap == overlap and w.length == window
            else:
                assert w.overlap >= overlap, "the last window only ever shares more"
    assert new_parts == list(range(n)), "every frame is new in exactly one window, in order"
    if len(plan) > 1:
        assert all(w.padding == 0 for w in plan), "only a single short window is ever padded"
        assert plan[-1].length >= MIN_TAIL
        assert all(w.length == window for w in plan[:-1])


@settings(max_examples=400, deadline=None)
@given(plans())
def test_plans_cover_every_frame_once(args: tuple[int, int, int]) -> None:
    n, window, overlap = args
    check_plan(n, window, overlap, plan_windows(n, window, overlap))


@settings(max_examples=200, deadline=None)
@given(window_sizes, st.integers(min_value=1, max_value=400))
def test_a_range_within_one_window_is_one_call(window: int, n: int) -> None:
    if n > window:
        n = window
    (only,) = plan_windows(n, window, 0)
    assert (only.start, only.end, only.overlap) == (0, n, 0)
    assert only.length == n + (1 - n) % 4 and only.padding < 4


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (33, [(0, 33, 33, 0)]),
        (34, [(0, 34, 37, 0)]),
        (81, [(0, 81, 81, 0)]),
        (82, [(0, 81, 81, 0), (65, 82, 17, 16)]),
        (146, [(0, 81, 81, 0), (65, 146, 81, 16)]),
        (200, [(0, 81, 81, 0), (65, 146, 81, 16), (127, 200, 73, 19)]),
    ],
)
def test_examples(n: int, expected: list[tuple[int, int, int, int]]) -> None:
    got = plan_windows(n, 81, 16)
    assert [(w.start, w.end, w.length, w.overlap) for w in got] == expected
    check_plan(n, 81, 16, got)


def test_34_frames_are_one_window_with_three_padding_frames() -> None:
    (w,) = plan_windows(34, 81, 16)
    assert (w.length, w.padding, w.frames) == (37, 3, 34)


def test_the_last_window_moves_back_instead_of_padding() -> None:
    """Without overlap, 82 frames leave 1: the last window takes 5 real frames (4 re-rendered)."""
    plan = plan_windows(82, 81, 0)
    assert [(w.start, w.end, w.length, w.overlap) for w in plan] == [(0, 81, 81, 0), (77, 82, 5, 4)]


def test_200_frames_in_81_frame_windows_is_exact() -> None:
    plan = plan_windows(200, 81, 16)
    assert len(plan) == 3
    covered = np.zeros(200, dtype=int)
    for w in plan:
        covered[w.new_start : w.end] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((0, 81, 16), "at least 1 frame"),
        ((-3, 81, 16), "at least 1 frame"),
        ((10, 80, 16), r"4k\+1"),
        ((10, 80, 16), "77 or 81"),
        ((10, 1, 0), "at least 5"),
        ((10, 81, 81), "between 0 and window - 1"),
        ((10, 81, -1), "between 0 and window - 1"),
        ((10.0, 81, 16), "n must be an integer"),
        ((10, 81, True), "overlap must be an integer"),
    ],
)
def test_bad_arguments_are_named(args: tuple[object, object, object], needle: str) -> None:
    with pytest.raises(WindowError, match=needle) as caught:
        plan_windows(*args)  # type: ignore[arg-type]
    assert isinstance(caught.value, RiverError) and isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_numpy_integers_are_accepted() -> None:
    assert plan_windows(np.int64(34), np.int32(81), np.int16(16)) == plan_windows(34, 81, 16)


@pytest.mark.parametrize("overlap", [0, 1, 2, 16, 40])
def test_blend_weights_increase_strictly_inside_0_1(overlap: int) -> None:
    w = blend_weights(overlap)
    assert w.dtype == np.float64 and w.shape == (overlap,)
    assert ((w > 0) & (w < 1)).all()
    assert (np.diff(w) > 0).all()
    np.testing.assert_allclose(w + w[::-1], 1.0)  # symmetric cross-fade


def test_blend_weights_refuse_negative() -> None:
    with pytest.raises(WindowError, match="≥ 0"):
        blend_weights(-1)


def test_pad_to_length_repeats_the_last_frame() -> None:
    frames = np.arange(3 * 2 * 2 * 3, dtype=np.uint8).reshape(3, 2, 2, 3)
    out = pad_to_length(frames, 5)
    assert out.shape == (5, 2, 2, 3) and out.dtype == np.uint8
    assert (out[:3] == frames).all() and (out[3] == frames[2]).all() and (out[4] == frames[2]).all()
    assert pad_to_length(frames, 3) is frames
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[1, 0, 0] = True
    assert pad_to_length(masks, 5)[4, 0, 0]


@pytest.mark.parametrize(
    ("frames", "length", "needle"),
    [
        (np.zeros((3, 2)), 2, "shorter"),
        (np.zeros((0, 2)), 5, "empty"),
        ([1, 2], 5, "numpy array"),
        (np.zeros(()), 5, "numpy array"),
    ],
)
def test_pad_to_length_refuses(frames: object, length: int, needle: str) -> None:
    with pytest.raises(WindowError, match=needle):
        pad_to_length(frames, length)  # type: ignore[arg-type]


def test_module_doctests() -> None:
    result = doctest.testmod(windows_module)
    assert result.attempted > 0 and result.failed == 0
