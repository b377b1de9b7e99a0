"""RLE masks: round trips, byte-compatibility with COCO, corrupt strings, spatial properties."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as coco_mask
import pytest

from river_core.twin.masks import decode_mask, encode_mask, mask_area, median_depth, spatial_from_mask
from river_core.twin.rle import rle_problem, rle_runs
from river_core.twin.schema import RLE


def reference_runs(mask: np.ndarray) -> list[int]:
    """COCO runs written independently of pycocotools: column-major, zeros first."""
    runs, current, n = [], 0, 0
    for v in mask.T.ravel().astype(int):
        if v != current:
            runs.append(n)
            current, n = v, 0
        n += 1
    runs.append(n)
    return runs


def reference_string(values: list[int], *, delta: bool = True) -> str:
    """COCO's compressed counts: runs from the fourth on minus the run two before, 5 bits per char."""
    out = []
    for i, x in enumerate(values):
        if delta and i > 2:
            x -= values[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def sample_masks() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    masks = [
        rng.random((h, w)) < p for (h, w), p in [((1, 1), 0.5), ((1, 7), 0.5), ((7, 1), 0.5), ((13, 17), 0.3)]
    ]
    masks += [rng.random((37, 53)) < p for p in (0.05, 0.5, 0.95)]
    masks.append(np.zeros((9, 11), bool))
    masks.append(np.ones((9, 11), bool))
    rows = np.zeros((10, 12), bool)
    rows[3:6, 2:9] = True  # empty rows above and below, empty columns left and right
    masks.append(rows)
    masks.append(np.indices((31, 29)).sum(axis=0) % 2 == 0)  # checkerboard: a run per pixel
    big = np.zeros((1200, 1000), bool)
    big[-1, -1] = True  # a run of 1,199,999: a five-character number
    masks.append(big)
    return masks


# pycocotools' decode trips a numpy 2 `copy=` deprecation; its output is what matters here.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("index", range(len(sample_masks())))
def test_rle_round_trip_and_coco_compatibility(index: int) -> None:
    mask = sample_masks()[index]
    rle = encode_mask(mask)
    assert rle["size"] == list(mask.shape)
    assert isinstance(rle["counts"], str)
    # The string is COCO's format, written by an independent implementation...
    assert rle["counts"] == reference_string(reference_runs(mask))
    # ... which pycocotools decodes, and which equals pycocotools' own encoding.
    assert np.array_equal(coco_mask.decode({"size": rle["size"], "counts": rle["counts"]}), mask)
    assert rle["counts"].encode() == coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]
    decoded = decode_mask(rle)
    assert decoded.dtype == bool and decoded.flags.c_contiguous
    assert np.array_equal(decoded, mask)
    assert np.array_equal(decode_mask(RLE.model_validate(rle)), mask)
    assert mask_area(rle) == int(mask.sum())
    assert rle_runs(rle["counts"]).tolist() == reference_runs(mask)
    assert rle_problem(rle) is None


def test_encode_accepts_uint8_mattes_and_rejects_floats() -> None:
    matte = np.zeros((5, 6), np.uint8)
    matte[1:3, 2:5] = 255
    assert encode_mask(matte) == encode_mask(matte > 0)
    with pytest.raises(ValueError, match="threshold"):
        encode_mask(matte.astype(np.float32))
    with pytest.raises(ValueError, match="2-D"):
        encode_mask(np.zeros((2, 3, 3), bool))
    with pytest.raises(ValueError, match="2-D"):
        encode_mask(np.zeros((0, 3), bool))


@pytest.mark.parametrize(
    ("size", "counts", "reason"),
    [
        ([3, 4], "71P", "truncated"),  # 'P' carries the continuation bit: the string stops mid-number
        ([3, 4], "71~", "outside the COCO RLE alphabet"),
        ([3, 4], "71é", "outside the COCO RLE alphabet"),
        ([4, 4], "714", "cover 12 pixels"),
        ([3, 4], reference_string([5, 1, 1, -3], delta=False), "negative"),
        ([3, 4], "o" * 8 + "0", "characters long"),
    ],
)
def test_corrupt_counts_are_value_errors(size: list[int], counts: str, reason: str) -> None:
    problem = rle_problem({"size": size, "counts": counts})
    assert problem is not None and reason in problem
    with pytest.raises(ValueError, match=reason):
        decode_mask({"size": size, "counts": counts})
    with pytest.raises(ValueError, match=reason):
        mask_area({"size": size, "counts": counts})


def test_decode_rejects_malformed_dicts() -> None:
    with pytest.raises(ValueError, match="compressed COCO string"):
        decode_mask({"size": [3, 4], "counts": [7, 1, 4]})
    with pytest.raises(ValueError, match="positive ints"):
        decode_mask({"size": [3], "counts": "714"})


def test_spatial_of_a_block_is_exact() -> None:
    mask = np.zeros((4, 8), bool)  # H=4, W=8
    mask[1:3, 4:6] = True  # rows 1-2, columns 4-5
    s = spatial_from_mask(mask, depth=0.3)
    assert (s.x, s.y) == (0.625, 0.5)  # (4.5 + 0.5) / 8, (1.5 + 0.5) / 4
    assert s.size == 0.125
    assert s.bbox == (0.5, 0.25, 0.75, 0.75)
    assert s.depth == 0.3


def test_spatial_is_not_transposed_and_uses_pixel_centres() -> None:
    mask = np.zeros((10, 20), bool)
    mask[0, 0] = True
    mask[0, 1] = True
    mask[1, 0] = True  # an L in the top-left corner of a wide frame
    s = spatial_from_mask(mask, depth=0.0)
    assert s.x == pytest.approx((1 / 3 + 0.5) / 20)
    assert s.y == pytest.approx((1 / 3 + 0.5) / 10)
    assert s.size == pytest.approx(3 / 200)
    assert s.bbox == (0.0, 0.0, 0.1, 0.2)
    full = spatial_from_mask(np.ones((3, 5), np.uint8), depth=1.0)
    assert (full.x, full.y, full.size, full.bbox) == (0.5, 0.5, 1.0, (0.0, 0.0, 1.0, 1.0))


def test_spatial_rejects_empty_mask_and_bad_depth() -> None:
    with pytest.raises(ValueError, match="empty"):
        spatial_from_mask(np.zeros((4, 4), bool), depth=0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        spatial_from_mask(np.ones((4, 4), bool), depth=1.5)


def test_median_depth() -> None:
    depth = np.arange(12, dtype=np.float32).reshape(3, 4) / 11
    mask = np.zeros((3, 4), bool)
    mask[0, :3] = True  # values 0, 1, 2
    mask[2, 3] = True  # value 11
    assert median_depth(depth, mask) == pytest.approx(1.5 / 11)
    with pytest.raises(ValueError, match="resize"):
        median_depth(depth, np.ones((4, 3), bool))
    with pytest.raises(ValueError, match="empty"):
        median_depth(depth, np.zeros((3, 4), bool))
