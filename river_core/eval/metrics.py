"""Reasoning metrics of one evaluated task: plain functions on ids, frame sets and masks.

- **Target set**: exact-match accuracy and F1 of the predicted object ids against the gold ids.
- **J&F** (DAVIS): region similarity J (mask IoU) and contour accuracy F (boundary F-measure) of the
  predicted target masks against the gold masks, per frame over the frames either side covers, then
  averaged. No maintained PyPI package ships the DAVIS measure (``davis2017-evaluation`` is a GitHub
  checkout, not a package), so the two measures are written here on maintained pieces: the IoU from
  pycocotools' RLE ``iou``, boundaries from scikit-image's ``find_boundaries`` and the DAVIS tolerance
  (0.8 % of the image diagonal) as a ``disk`` dilation. The conventions are DAVIS's: both masks empty
  → J = 1; both boundaries empty → F = 1; one empty → 0.
- **Temporal IoU** of the predicted and gold frame spans (both empty → 1).

Every function returns a number in [0, 1]; an invalid plan scores 0 on all of them (see
:func:`river_core.eval.run.score_plan`).

>>> target_set_scores({3}, {3, 5})
(0.0, 0.6666666666666666)
>>> temporal_iou(range(0, 10), range(5, 15))
0.3333333333333333
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
from pycocotools import mask as coco_mask
from scipy.ndimage import binary_dilation
from skimage.morphology import disk
from skimage.segmentation import find_boundaries

BOUNDARY_TOLERANCE = 0.008
"""DAVIS's contour tolerance, as a fraction of the image diagonal."""


def target_set_scores(predicted: Iterable[int], gold: Iterable[int]) -> tuple[float, float]:
    """(1.0 if the id sets are equal else 0.0, F1 of the ids). Two empty sets are equal (F1 1)."""
    p, g = set(predicted), set(gold)
    if not p and not g:
        return 1.0, 1.0
    hits = len(p & g)
    f1 = 2 * hits / (len(p) + len(g))
    return float(p == g), f1


def temporal_iou(predicted: Iterable[int], gold: Iterable[int]) -> float:
    """IoU of two frame sets (half-open ranges are fine: ``range(a, b)``); both empty → 1."""
    p, g = set(predicted), set(gold)
    union = p | g
    return 1.0 if not union else len(p & g) / len(union)


def jaccard(predicted: np.ndarray, gold: np.ndarray) -> float:
    """Region similarity J: mask IoU (pycocotools), both empty → 1."""
    p, g = _binary(predicted), _binary(gold)
    if p.shape != g.shape:
        raise ValueError(f"masks differ in size: predicted {p.shape}, gold {g.shape}")
    if not p.any() and not g.any():
        return 1.0
    rles = coco_mask.encode(np.asfortranarray(np.stack([p, g], axis=-1).astype(np.uint8)))
    return float(coco_mask.iou([rles[0]], [rles[1]], [0])[0][0])


def boundary_f(predicted: np.ndarray, gold: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """Contour accuracy F: the F-measure of boundary pixels matched within ``tolerance`` × diagonal."""
    p, g = _binary(predicted), _binary(gold)
    if p.shape != g.shape:
        raise ValueError(f"masks differ in size: predicted {p.shape}, gold {g.shape}")
    radius = max(1, math.ceil(tolerance * math.hypot(*p.shape)))
    p, g = _crop(p, g, radius + 1)  # the same F, on the part of the frame either mask is near
    pb, gb = find_boundaries(p, mode="inner"), find_boundaries(g, mode="inner")
    n_p, n_g = int(pb.sum()), int(gb.sum())
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0
    footprint = disk(radius)
    precision = float((pb & binary_dilation(gb, footprint)).sum()) / n_p
    recall = float((gb & binary_dilation(pb, footprint)).sum()) / n_g
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def j_and_f(
    predicted: Mapping[int, np.ndarray], gold: Mapping[int, np.ndarray], shape: tuple[int, int]
) -> tuple[float, float, float]:
    """(J, F, J&F) over the frames either mapping has (a frame one side lacks is an empty mask there);
    no frame on either side → (1, 1, 1): nothing was to be found and nothing was."""
    frames = sorted(set(predicted) | set(gold))
    if not frames:
        return 1.0, 1.0, 1.0
    empty = np.zeros(shape, dtype=bool)
    js, fs = [], []
    for f in frames:
        p, g = predicted.get(f, empty), gold.get(f, empty)
        if p is g or np.array_equal(p, g):  # the usual case of a right answer: both 1 by definition
            js.append(1.0)
            fs.append(1.0)
            continue
        js.append(jaccard(p, g))
        fs.append(boundary_f(p, g))
    j, fm = float(np.mean(js)), float(np.mean(fs))
    return j, fm, (j + fm) / 2


def _crop(p: np.ndarray, g: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Both masks cut to the box around either's pixels, widened by ``pad`` and kept inside the frame:
    boundaries and their dilation are the same there as in the whole frame."""
    rows = np.flatnonzero((p | g).any(axis=1))
    cols = np.flatnonzero((p | g).any(axis=0))
    if rows.size == 0:
        return p, g
    r0, r1 = max(0, rows[0] - pad), min(p.shape[0], rows[-1] + pad + 1)
    c0, c1 = max(0, cols[0] - pad), min(p.shape[1], cols[-1] + pad + 1)
    return p[r0:r1, c0:c1], g[r0:r1, c0:c1]


def _binary(mask: np.ndarray) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask is a 2-D array, got shape {array.shape}")
    return array.astype(bool)
