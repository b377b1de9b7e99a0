"""Compositing and the instant (no-diffusion) edit operations."""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np
import pytest
from scipy import ndimage

from river_core.editing.composite import EditInputError, composite, match_color
from river_core.editing.instant import (
    INSTANT_OPS,
    apply,
    blur,
    highlight,
    mask_out,
    matte,
    pixelate,
    recolor,
)
from river_core.editing.masks import edit_alpha
from river_core.errors import RiverError

H, W = 72, 96


def random_frame(seed: int = 0, shape: tuple[int, int] = (H, W)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def box_alpha(top: int = 16, left: int = 24, bottom: int = 56, right: int = 72) -> np.ndarray:
    """1 in a box, a soft 0.5 ring one pixel wide around it, 0 elsewhere."""
    alpha = np.zeros((H, W), np.float32)
    alpha[top - 1 : bottom + 1, left - 1 : right + 1] = 0.5
    alpha[top:bottom, left:right] = 1.0
    return alpha


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.3, 0.59, 0.11])


OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "blur": lambda f, a: blur(f, a),
    "pixelate": lambda f, a: pixelate(f, a),
    "recolor": lambda f, a: recolor(f, a, color="teal"),
    "highlight": lambda f, a: highlight(f, a),
    "mask_out": lambda f, a: mask_out(f, a),
}


# --- composite ---------------------------------------------------------------------------------


def test_composite_keeps_source_bytes_where_alpha_is_zero_and_edit_where_one() -> None:
    source, edited = random_frame(1), random_frame(2)
    alpha = np.random.default_rng(3).random((H, W)).astype(np.float32)
    alpha[alpha < 0.3] = 0.0
    alpha[alpha > 0.7] = 1.0
    out = composite(source, edited, alpha)
    assert out.dtype == np.uint8 and out.shape == source.shape
    assert np.array_equal(out[alpha == 0], source[alpha == 0])
    assert np.array_equal(out[alpha == 1], edited[alpha == 1])
    soft = (alpha > 0) & (alpha < 1)
    a = alpha[soft].astype(np.float64)[:, None]
    expected = np.floor(source[soft] * (1 - a) + edited[soft] * a + 0.5)
    assert np.array_equal(out[soft], expected.astype(np.uint8))


def test_composite_half_alpha_is_the_rounded_mean() -> None:
    source, edited = random_frame(4), random_frame(5)
    out = composite(source, edited, np.full((H, W), 0.5, np.float32))
    mean = (source.astype(np.int32) + edited.astype(np.int32) + 1) // 2  # round half up
    assert np.array_equal(out, mean.astype(np.uint8))


def test_composite_does_not_modify_inputs() -> None:
    source, edited, alpha = random_frame(6), random_frame(7), box_alpha()
    copies = source.copy(), edited.copy(), alpha.copy()
    composite(source, edited, alpha)
    for before, after in zip(copies, (source, edited, alpha), strict=True):
        assert np.array_equal(before, after)


@pytest.mark.parametrize(
    ("source", "edited", "alpha", "words"),
    [
        (random_frame()[..., :2], random_frame()[..., :2], box_alpha(), ["`source`", "(H, W, 3)"]),
        (random_frame().astype(np.float32), random_frame(), box_alpha(), ["`source`", "uint8", "float32"]),
        (random_frame(), random_frame(shape=(H, W + 1)), box_alpha(), ["`edited`", "source resolution"]),
        (random_frame(), random_frame(), box_alpha()[:-1], ["`alpha`", "(71, 96)", "resize"]),
        (random_frame(), random_frame(), (box_alpha() * 255).astype(np.uint8), ["`alpha`", "float"]),
        (random_frame(), random_frame(), box_alpha() * 2, ["`alpha`", "[0, 2]", "np.clip"]),
        (random_frame(), random_frame(), np.full((H, W), np.nan, np.float32), ["NaN"]),
        ([[0]], random_frame(), box_alpha(), ["`source`", "numpy array", "list"]),
    ],
)
def test_composite_errors_name_the_argument_and_the_remedy(
    source: np.ndarray, edited: np.ndarray, alpha: np.ndarray, words: list[str]
) -> None:
    with pytest.raises(EditInputError) as caught:
        composite(source, edited, alpha)
    assert isinstance(caught.value, RiverError) and isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


# --- match_color -------------------------------------------------------------------------------


def test_match_color_pulls_a_brightness_offset_back_in_the_ring() -> None:
    rng = np.random.default_rng(8)
    reference = rng.integers(40, 200, (H, W, 3), dtype=np.uint8)
    generated = (reference.astype(np.int32) + np.array([25, -15, 10])).astype(np.uint8)
    ring = np.zeros((H, W), bool)
    ring[8:64, 12:84] = True
    ring[16:56, 24:72] = False  # the edit region itself is not in the ring
    out = match_color(generated, reference, ring)
    assert out.dtype == np.uint8 and out.shape == reference.shape
    ref_mean = reference[ring].astype(np.float64).mean(axis=0)
    assert np.all(np.abs(out[ring].mean(axis=0) - ref_mean) <= 1.0)
    assert np.all(np.abs(out[ring].std(axis=0) - reference[ring].std(axis=0)) <= 1.0)
    # A pure offset is undone everywhere, region included.
    assert np.abs(out.astype(np.int32) - reference).max() <= 1


def test_match_color_with_an_empty_ring_is_a_copy() -> None:
    generated, reference = random_frame(9), random_frame(10)
    out = match_color(generated, reference, np.zeros((H, W), bool))
    assert np.array_equal(out, generated) and out is not generated


def test_match_color_flat_ring_only_shifts() -> None:
    generated = np.full((H, W, 3), 100, np.uint8)
    reference = np.full((H, W, 3), 120, np.uint8)
    out = match_color(generated, reference, np.ones((H, W), bool))
    assert np.all(out == 120)


def test_match_color_rejects_a_non_bool_ring() -> None:
    with pytest.raises(EditInputError, match="`ring` must be a bool array"):
        match_color(random_frame(), random_frame(), np.ones((H, W), np.uint8))


# --- every instant op --------------------------------------------------------------------------


def test_the_op_table_lists_every_operation() -> None:
    assert set(INSTANT_OPS) == {*OPS, "matte"}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_keeps_pixels_outside_the_region_bit_exact(name: str) -> None:
    frame, alpha = random_frame(11), box_alpha()
    frame_before, alpha_before = frame.copy(), alpha.copy()
    out = OPS[name](frame, alpha)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(out[alpha == 0], frame[alpha == 0])
    assert not np.array_equal(out[alpha == 1], frame[alpha == 1])  # it did edit the region
    assert np.array_equal(frame, frame_before) and np.array_equal(alpha, alpha_before)


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_with_an_empty_region_returns_the_source(name: str) -> None:
    frame = random_frame(12)
    out = OPS[name](frame, np.zeros((H, W), np.float32))
    assert np.array_equal(out, frame) and out is not frame


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_validates_its_inputs(name: str) -> None:
    with pytest.raises(EditInputError, match="`alpha`"):
        OPS[name](random_frame(), box_alpha()[:, :-1])
    with pytest.raises(EditInputError, match="`frame`"):
        OPS[name](random_frame().astype(np.int16), box_alpha())


# --- redaction ---------------------------------------------------------------------------------


def checkerboard() -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    board = np.where((yy + xx) % 2 == 0, 255, 0).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


@pytest.mark.parametrize("pattern", ["checkerboard", "noise"])
@pytest.mark.parametrize("name", ["blur", "pixelate"])
def test_redaction_destroys_fine_detail_inside_the_region(name: str, pattern: str) -> None:
    frame = checkerboard() if pattern == "checkerboard" else random_frame(13)
    alpha = box_alpha()
    out = OPS[name](frame, alpha)
    inside = alpha == 1
    before = frame[inside].astype(np.float64).var(axis=0)
    after = out[inside].astype(np.float64).var(axis=0)
    assert np.all(after * 50 < before), (before, after)
    # No more than a sliver of pixels keep their exact source value.
    same = np.all(out[inside] == frame[inside], axis=1)
    assert same.mean() < 0.05


def test_pixelate_blocks_are_single_colours_on_the_zero_anchored_grid() -> None:
    frame, alpha = random_frame(14), box_alpha(top=10, left=13, bottom=60, right=90)
    block = 8
    out = pixelate(frame, alpha, block_px=block)
    inside = alpha == 1
    full_blocks = 0
    for y in range(0, H, block):
        for x in range(0, W, block):
            if inside[y : y + block, x : x + block].all():
                cell = out[y : y + block, x : x + block].reshape(-1, 3)
                assert np.all(cell == cell[0])
                expected = np.floor(frame[y : y + block, x : x + block].reshape(-1, 3).mean(axis=0) + 0.5)
                assert np.array_equal(cell[0], expected.astype(np.uint8))
                full_blocks += 1
    assert full_blocks >= 20
    # A cell boundary lies exactly on a multiple of the block size, not at the region's corner (13, 10).
    row = out[32, 16:32]
    assert np.all(row[:8] == row[0]) and np.all(row[8:] == row[8]) and not np.array_equal(row[0], row[8])


def test_pixelate_grid_does_not_move_with_the_region() -> None:
    frame = random_frame(15)
    a = pixelate(frame, box_alpha(16, 16, 48, 48), block_px=8)
    b = pixelate(frame, box_alpha(19, 21, 51, 53), block_px=8)
    assert np.array_equal(a[24:48, 24:48], b[24:48, 24:48])


def test_default_strengths_scale_with_the_frame() -> None:
    # 3% of 400 = 12 px blocks (above the 8 px floor).
    frame = np.random.default_rng(16).integers(0, 256, (400, 420, 3), dtype=np.uint8)
    out = pixelate(frame, np.ones((400, 420), np.float32))
    assert np.all(out[:12, :12] == out[0, 0]) and not np.array_equal(out[0, 0], out[0, 12])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: blur(random_frame(), box_alpha(), radius_px=-1.0), "`radius_px`"),
        (lambda: blur(random_frame(), box_alpha(), radius_px=float("nan")), "`radius_px`"),
        (lambda: pixelate(random_frame(), box_alpha(), block_px=-4), "`block_px`"),
        (lambda: pixelate(random_frame(), box_alpha(), block_px=2.5), "`block_px`"),  # type: ignore[arg-type]
        (lambda: highlight(random_frame(), box_alpha(), opacity=1.5), "`opacity`"),
        (lambda: highlight(random_frame(), box_alpha(), outline_px=-1), "`outline_px`"),
        (lambda: recolor(random_frame(), box_alpha(), color=(300, 0, 0)), "`color`"),
    ],
)
def test_bad_parameters_are_rejected(call: Callable[[], np.ndarray], words: str) -> None:
    with pytest.raises(EditInputError, match=words):
        call()


# --- recolor -----------------------------------------------------------------------------------


def hue_deg(rgb: np.ndarray) -> np.ndarray:
    return np.array([colorsys.rgb_to_hsv(*(p / 255.0))[0] * 360 for p in rgb.reshape(-1, 3)])


@pytest.mark.parametrize("color", [(0, 128, 255), "red", "forestgreen", "#ff8800"])
def test_recolor_keeps_luminance_and_takes_the_target_hue(color: tuple[int, int, int] | str) -> None:
    frame = np.random.default_rng(17).integers(60, 190, (H, W, 3), dtype=np.uint8)
    alpha = np.ones((H, W), np.float32)
    out = recolor(frame, alpha, color=color)
    assert np.abs(luma(out) - luma(frame)).max() <= 1.0
    from PIL import ImageColor

    target = np.array(ImageColor.getrgb(color)[:3] if isinstance(color, str) else color, np.uint8)
    diff = np.abs(hue_deg(out) - hue_deg(target)[0])
    diff = np.minimum(diff, 360 - diff)
    assert np.median(diff) < 3.0 and np.percentile(diff, 95) < 8.0
    assert np.median(np.abs(hue_deg(frame) - hue_deg(target)[0])) > 20  # it did move


def test_recolor_unknown_colour_name_is_a_clear_error() -> None:
    with pytest.raises(EditInputError) as caught:
        recolor(random_frame(), box_alpha(), color="blurple-ish")
    message = str(caught.value)
    assert "'blurple-ish'" in message and "(R, G, B)" in message and "\n" not in message


# --- highlight ---------------------------------------------------------------------------------


def test_highlight_tints_inside_and_outlines_the_edge_only() -> None:
    frame = random_frame(18)
    alpha = box_alpha()  # region (alpha > 0.5) is rows 16:56, cols 24:72
    out = highlight(frame, alpha, color=(255, 0, 0), opacity=0.5, outline_px=2)
    changed = np.any(out != frame, axis=2)
    region = alpha > 0.5
    assert not np.any(changed & ~region)  # the soft 0.5 ring and everything outside untouched
    outline = region.copy()
    outline[18:54, 26:70] = False
    assert np.all(out[outline] == [255, 0, 0])
    interior = np.zeros_like(region)
    interior[18:54, 26:70] = True
    expected = np.floor(frame[interior] * 0.5 + np.array([255, 0, 0]) * 0.5 + 0.5)
    assert np.array_equal(out[interior], expected.astype(np.uint8))


def test_highlight_outline_follows_the_region_not_the_frame_border() -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    alpha = np.zeros((H, W), np.float32)
    alpha[:, : W // 2] = 1.0  # touches the frame border on three sides
    out = highlight(frame, alpha, color=(0, 255, 0), opacity=0.0, outline_px=3)
    edge = np.all(out == [0, 255, 0], axis=2)
    assert edge[:, W // 2 - 3 : W // 2].all()
    assert edge.sum() == 3 * H


# --- matte -------------------------------------------------------------------------------------


def test_matte_is_rounded_alpha_times_255() -> None:
    alpha = np.array([[0.0, 1.0, 0.5, 0.25], [1 / 255, 0.499 / 255, 0.999, 0.002]], np.float32)
    out = matte(alpha)
    assert out.dtype == np.uint8 and out.shape == alpha.shape
    assert out.tolist() == [[0, 255, 128, 64], [1, 0, 255, 1]]


def test_matte_rejects_a_frame_shaped_array() -> None:
    with pytest.raises(EditInputError, match="2-D"):
        matte(np.zeros((H, W, 3), np.float32))


def test_match_color_max_gain_bounds_the_scale() -> None:
    rng = np.random.default_rng(1)
    reference = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    generated = np.full((H, W, 3), 128, np.uint8)
    generated[0, 0] = 130  # nearly flat: an unbounded match would scale by ~1000
    ring = np.ones((H, W), bool)
    bounded = match_color(generated, reference, ring, max_gain=2.0).astype(np.int64)
    free = match_color(generated, reference, ring).astype(np.int64)
    assert abs(bounded[0, 0, 0] - bounded[1, 1, 0]) <= 2 * 2 + 1
    assert abs(free[0, 0, 0] - free[1, 1, 0]) > 50


# --- mask_out ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("color", "rgb"), [(None, (0, 0, 0)), ("teal", (0, 128, 128)), ((9, 200, 31), (9, 200, 31))]
)
def test_mask_out_fills_the_region_with_the_color(color: str | None, rgb: tuple[int, int, int]) -> None:
    frame, alpha = random_frame(19), box_alpha()
    out = mask_out(frame, alpha) if color is None else mask_out(frame, alpha, color=color)
    assert np.all(out[alpha == 1] == rgb)
    assert np.array_equal(out[alpha == 0], frame[alpha == 0])
    soft = alpha == 0.5
    expected = np.floor(frame[soft] * 0.5 + np.array(rgb) * 0.5 + 0.5).astype(np.uint8)
    assert np.array_equal(out[soft], expected)
    via_apply = apply("mask_out", frame, alpha, color=color)
    assert np.array_equal(via_apply, out)


# --- apply: the region's box, byte for byte the whole-frame operation --------------------------


def blob_alpha(shape: tuple[int, int], where: str, seed: int) -> np.ndarray:
    """A blob somewhere in the frame, feathered 3 px (``hard-…``: not feathered), or a single pixel."""
    h, w = shape
    region = np.zeros(shape, bool)
    if where == "pixel":
        region[h // 2, w // 3] = True
        return region.astype(np.float32)
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), 3) > 0.5
    box = {
        "middle": (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3)),
        "top-left": (slice(0, h // 2), slice(0, w // 3)),
        "bottom-right": (slice(h // 2, h), slice(2 * w // 3, w)),
        "two": (slice(h // 5, h // 3), slice(w // 9, 8 * w // 9)),
    }[where.removeprefix("hard-")]
    region[box] = noise[box]
    if where == "two":  # two far-apart blobs: one box spanning both
        region[box[0], w // 4 : 3 * w // 4] = False
    return region.astype(np.float32) if where.startswith("hard-") else edit_alpha(region, 3.0)


WHOLE_FRAME: dict[str, Callable[..., np.ndarray]] = {
    "blur": lambda f, a, **kw: blur(f, a, radius_px=kw.get("radius_px", 0.0)),
    "pixelate": lambda f, a, **kw: pixelate(f, a, block_px=kw.get("block_px", 0)),
    "mask_out": lambda f, a, **kw: mask_out(f, a, **({"color": kw["color"]} if "color" in kw else {})),
    "recolor": lambda f, a, **kw: recolor(f, a, color=kw["color"]),
    "highlight": lambda f, a, **kw: highlight(f, a, **({"color": kw["color"]} if "color" in kw else {})),
    "matte": lambda f, a, **kw: f.copy(),
}

APPLY_CASES = [
    ("blur", {}),  # the default: 8 px on these frames, run at 1/2 resolution
    ("blur", {"radius_px": 2.0}),  # full resolution
    ("blur", {"radius_px": 5.5}),
    ("blur", {"radius_px": 19.0}),  # 1/4
    ("blur", {"radius_px": 40.0}),  # 1/8
    ("blur", {"radius_px": 70.0}),  # 1/16
    ("pixelate", {}),
    ("pixelate", {"block_px": 5}),
    ("pixelate", {"block_px": 13}),
    ("mask_out", {}),
    ("mask_out", {"color": "teal"}),
    ("recolor", {"color": "teal"}),
    ("recolor", {"color": (250, 130, 10)}),
    ("highlight", {}),
    ("highlight", {"color": "green"}),
    ("matte", {}),
]


@pytest.mark.parametrize(("kind", "kwargs"), APPLY_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("where", ["middle", "top-left", "bottom-right", "two", "pixel", "hard-middle"])
def test_apply_on_the_region_box_equals_the_whole_frame_operation(
    kind: str, kwargs: dict, where: str
) -> None:
    """apply computes only the region's box and what its filter reaches: the bytes must be those of
    the operation over the whole frame. Odd frame sizes put partial cells on the right and bottom."""
    shape = (301, 417) if kwargs.get("radius_px", 0) < 30 else (613, 701)
    frame = random_frame(20, shape)
    frame = ndimage.uniform_filter(frame, size=(3, 3, 1))  # some structure for the blur to keep
    alpha = blob_alpha(shape, where, seed=21)
    assert alpha.any() and (where in ("pixel", "hard-middle") or ((alpha > 0) & (alpha < 1)).any())
    before = frame.copy(), alpha.copy()
    out = apply(kind, frame, alpha, **kwargs)
    assert np.array_equal(out, WHOLE_FRAME[kind](frame, alpha, **kwargs))
    assert np.array_equal(out[alpha == 0], frame[alpha == 0])
    assert np.array_equal(before[0], frame) and np.array_equal(before[1], alpha)


@pytest.mark.parametrize("kind", INSTANT_OPS)
def test_apply_with_an_empty_region_is_a_copy(kind: str) -> None:
    frame = random_frame(22)
    out = apply(kind, frame, np.zeros((H, W), np.float32), color="teal")
    assert np.array_equal(out, frame) and out is not frame


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kind": "explode"}, "`kind`"),
        ({"kind": "pixelate", "block_px": 2.5}, "`block_px`"),
        ({"kind": "pixelate", "block_px": -1}, "`block_px`"),
        ({"kind": "blur", "radius_px": -3.0}, "`radius_px`"),
        ({"kind": "blur", "radius_px": float("inf")}, "`radius_px`"),
        ({"kind": "recolor"}, "recolor needs `color`"),
        ({"kind": "mask_out", "color": "blurple-ish"}, "'blurple-ish'"),
    ],
)
def test_apply_rejects_bad_parameters_before_any_work(kwargs: dict, words: str) -> None:
    with pytest.raises(EditInputError, match=words):
        apply(frame=random_frame(), alpha=box_alpha(), **kwargs)


# --- each operation against a straightforward reference ---------------------------------------


def texture(shape: tuple[int, int], cell: int, seed: int = 0) -> np.ndarray:
    """Random flat squares of ``cell`` pixels: structure at the scale a blur of that sigma removes."""
    coarse = np.random.default_rng(seed).integers(0, 256, (shape[0] // cell + 1, shape[1] // cell + 1, 3))
    return np.repeat(np.repeat(coarse.astype(np.uint8), cell, axis=0), cell, axis=1)[: shape[0], : shape[1]]


@pytest.mark.parametrize("sigma", [3.0, 8.0, 20.0, 40.0])
def test_blur_is_a_gaussian_of_the_given_sigma(sigma: float) -> None:
    """Pillow's box-blur approximation, at reduced resolution from sigma 8 up, stays within a level
    or so of scipy's exact Gaussian away from the frame border; a sigma 15% off is ~3 levels off."""
    shape = (int(12 * sigma) + 40, int(14 * sigma) + 40)
    frame = texture(shape, max(2, int(sigma)))
    margin = int(3 * sigma)
    inner = (slice(margin, -margin), slice(margin, -margin))
    exact = ndimage.gaussian_filter(frame.astype(np.float64), (sigma, sigma, 0), mode="nearest")[inner]
    got = blur(frame, np.ones(shape, np.float32), radius_px=sigma)[inner].astype(np.float64)
    assert np.abs(got - exact).mean() < 1.5
    assert np.abs(got - exact).max() <= 6


def test_default_blur_is_four_percent_of_the_short_side() -> None:
    shape = (500, 700)  # 4% of 500 = 20 px
    frame, ones = texture(shape, 20), np.ones(shape, np.float32)
    default = blur(frame, ones)
    assert np.array_equal(default, blur(frame, ones, radius_px=20.0))
    assert not np.array_equal(default, blur(frame, ones, radius_px=16.0))
    small = random_frame(27)  # 4% of 72 is below the 8 px floor
    assert np.array_equal(blur(small, box_alpha()), blur(small, box_alpha(), radius_px=8.0))


def test_pixelate_equals_the_rounded_cell_means() -> None:
    frame = random_frame(23, (61, 83))  # partial cells on the right and bottom
    out = pixelate(frame, np.ones((61, 83), np.float32), block_px=9)
    for y in range(0, 61, 9):
        for x in range(0, 83, 9):
            cell = frame[y : y + 9, x : x + 9].reshape(-1, 3).astype(np.float64)
            expected = np.floor(cell.mean(axis=0) + 0.5).astype(np.uint8)
            assert np.all(out[y : y + 9, x : x + 9] == expected)


def reference_recolor(frame: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """The W3C "color" blend mode in float64, pixel by pixel: SetLum(target, Lum(pixel)) + ClipColor."""
    weights = np.array([0.3, 0.59, 0.11])
    pixels = frame.reshape(-1, 3).astype(np.float64) / 255.0
    target = np.array(rgb, np.float64) / 255.0
    out = []
    for lum in pixels @ weights:
        c = target + (lum - target @ weights)
        low, high, mid = c.min(), c.max(), c @ weights
        if low < 0:
            c = mid + (c - mid) * mid / (mid - low)
        if high > 1:
            c = mid + (c - mid) * (1 - mid) / (high - mid)
        out.append(c)
    return np.clip(np.floor(np.array(out) * 255.0 + 0.5), 0, 255).astype(np.uint8).reshape(frame.shape)


@pytest.mark.parametrize("color", [(0, 128, 255), (250, 130, 10), (255, 255, 255), (20, 20, 20)])
def test_recolor_matches_the_blend_mode_formula(color: tuple[int, int, int]) -> None:
    frame = random_frame(24, (40, 50))
    out = recolor(frame, np.ones((40, 50), np.float32), color=color)
    diff = np.abs(out.astype(np.int32) - reference_recolor(frame, color))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # rounding ties only


@pytest.mark.parametrize("outline_px", [1, 2, 3])
def test_highlight_outline_is_the_region_less_its_erosion(outline_px: int) -> None:
    frame = random_frame(25)
    region = ndimage.gaussian_filter(np.random.default_rng(26).random((H, W)), 4) > 0.5
    region[:, :5] = True  # touching the frame border: not an edge there
    out = highlight(frame, region.astype(np.float32), color=(0, 0, 255), opacity=0.0, outline_px=outline_px)
    inner = ndimage.binary_erosion(region, iterations=outline_px, border_value=1)
    drawn = np.all(out == (0, 0, 255), axis=2) & ~np.all(frame == (0, 0, 255), axis=2)
    assert np.array_equal(drawn, region & ~inner)
    assert np.array_equal(out[~(region & ~inner)], frame[~(region & ~inner)])
