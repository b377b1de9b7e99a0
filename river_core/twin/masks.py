"""Binary masks as COCO RLE, and the spatial properties the twin derives from them.

Masks are stored in the twin exactly as pycocotools writes them (compressed ``counts`` string,
column-major runs), so any COCO tool reads them. Decoding checks the string first: pycocotools
itself crashes or writes out of bounds on a corrupt one.

>>> import numpy as np
>>> m = np.zeros((4, 8), dtype=bool); m[1:3, 4:6] = True
>>> rle = encode_mask(m); rle["size"], mask_area(rle)
([4, 8], 4)
>>> spatial_from_mask(m, depth=0.25).bbox
(0.5, 0.25, 0.75, 0.75)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pycocotools.mask as coco_mask

from river_core.twin.rle import rle_problem, rle_runs
from river_core.twin.schema import RLE, Spatial


def _as_binary(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """``mask`` as a 2-D bool array (any non-zero is inside; 0/255 mattes work)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or 0 in mask.shape:
        raise ValueError(f"`{name}` must be a non-empty 2-D H×W array, got shape {mask.shape}")
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be bool or integer (e.g. uint8), got {mask.dtype}; threshold it first (m > 0.5)"
        )
    return mask.astype(bool, copy=False)


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Encode an H×W bool/uint8 mask as ``{"size": [h, w], "counts": str}`` (pycocotools' own output)."""
    binary = _as_binary(mask)
    # pycocotools wants Fortran order uint8: it walks columns, the COCO convention.
    rle = coco_mask.encode(np.asfortranarray(binary, dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def _rle_dict(rle: RLE | dict[str, Any]) -> dict[str, Any]:
    if isinstance(rle, RLE):
        return {"size": list(rle.size), "counts": rle.counts}
    size, counts = rle.get("size"), rle.get("counts")
    if not (
        isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
    ):
        raise ValueError(f"RLE size must be [height, width] of positive ints, got {size!r}")
    if not isinstance(counts, str | bytes):
        raise ValueError(
            f"RLE counts must be a compressed COCO string, got {type(counts).__name__}; "
            "convert uncompressed counts with pycocotools.mask.frPyObjects"
        )
    return {"size": [int(size[0]), int(size[1])], "counts": counts}


def decode_mask(rle: RLE | dict[str, Any]) -> np.ndarray:
    """Decode an RLE (our model or a COCO dict) to an H×W bool array; ``ValueError`` if it is corrupt.

    The result equals ``pycocotools.mask.decode``; it is expanded from the checked runs in numpy
    because pycocotools' single-mask decode warns under numpy 2 (a ``copy=`` deprecation).
    """
    data = _rle_dict(rle)
    reason = rle_problem(data)
    if reason:
        raise ValueError(f"RLE mask of size {data['size']} cannot be decoded: {reason}")
    h, w = data["size"]
    runs = rle_runs(data["counts"])
    values = (np.arange(runs.size) % 2).astype(bool)  # runs alternate 0, 1, 0, ... starting with 0
    return np.ascontiguousarray(np.repeat(values, runs).reshape(w, h).T)  # COCO runs go down columns


def mask_area(rle: RLE | dict[str, Any]) -> int:
    """Pixels inside the mask, without decoding it."""
    data = _rle_dict(rle)
    reason = rle_problem(data)
    if reason:
        raise ValueError(f"RLE mask of size {data['size']} is corrupt: {reason}")
    return int(coco_mask.area(data))


def spatial_from_mask(mask: np.ndarray, depth: float) -> Spatial:
    """The twin's spatial properties of a non-empty mask, with ``depth`` (relative, 0 = near) as given.

    ``x = (mean column + 0.5) / W``, ``y = (mean row + 0.5) / H``, ``size = area / (H·W)``,
    ``bbox = [min col / W, min row / H, (max col + 1) / W, (max row + 1) / H]``.
    """
    binary = _as_binary(mask)
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"`depth` must be a relative depth in [0, 1] (0 = nearest), got {depth}")
    rows, cols = np.nonzero(binary)
    if rows.size == 0:
        raise ValueError(
            "`mask` is empty: an object with no pixels has no position; leave it out of the frame"
        )
    h, w = binary.shape
    return Spatial(
        x=float((cols.mean() + 0.5) / w),
        y=float((rows.mean() + 0.5) / h),
        depth=float(depth),
        size=float(rows.size / (h * w)),
        bbox=(
            float(cols.min() / w),
            float(rows.min() / h),
            float((cols.max() + 1) / w),
            float((rows.max() + 1) / h),
        ),
    )


def median_depth(depth_map: np.ndarray, mask: np.ndarray) -> float:
    """The median of ``depth_map`` over ``mask`` (same H×W), the twin's per-object depth.

    Normalize the depth maps over the whole twin range to [0, 1] (0 = nearest) *before* calling
    this, so the result compares across frames.
    """
    binary = _as_binary(mask)
    depth_map = np.asarray(depth_map)
    if depth_map.shape != binary.shape:
        raise ValueError(
            f"`depth_map` is {depth_map.shape} but `mask` is {binary.shape}; resize one to the other"
        )
    if not binary.any():
        raise ValueError("`mask` is empty: there is no depth to take a median of")
    return float(np.median(depth_map[binary]))
