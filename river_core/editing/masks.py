"""Target masks for the editor: a plan operation's objects → the region to regenerate, per frame.

The twin's masks hug the object; video inpainting does better with a looser region (FIELD-NOTES:
tight masks do worse than dilated or box masks), and a removal must also cover the shadow and
reflection the object leaves. :class:`MaskShape` says how a mask becomes an edit region (the mask,
its box or its convex hull, grown by a disk), with defaults per operation kind
(:meth:`MaskShape.for_kind`); :func:`operation_masks` yields the union of an operation's targets per
source frame; :func:`feather` turns a region into a soft compositing alpha that is exactly 0 beyond
the feather, so the compositor keeps source pixels there bit-exactly.

>>> m = np.zeros((9, 9), dtype=bool); m[4, 4] = True
>>> int(shape_mask(m, MaskShape(dilate_px=2)).sum())  # the lattice disk of radius 2
13
>>> a = feather(m, 2.0); float(a[4, 4]), float(a[4, 5]), float(a[4, 6])
(1.0, 0.5, 0.0)
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
from scipy.ndimage import distance_transform_edt
from scipy.spatial import ConvexHull, QhullError

from river_core.errors import RiverError
from river_core.reasoning.plan import Kind, Operation
from river_core.twin.masks import decode_mask
from river_core.twin.schema import FrameEntry, TwinDocument

Mode = Literal["mask", "box", "hull"]
MODES: Final = get_args(Mode)
KINDS: Final = get_args(Kind)


class EditMaskError(RiverError, ValueError):
    """An argument to the mask functions cannot be used."""


class TargetNotFoundError(RiverError, LookupError):
    """An object or frame the plan refers to is not in the twin."""


@dataclass(frozen=True)
class MaskShape:
    """How a target's mask becomes the edit region.

    The region is the mask, its bounding box or its convex hull (``mode``), grown by a disk of
    radius ``dilate_px + round(dilate_frac × short side)`` pixels; ``feather_px`` is the width of the
    soft edge used when compositing (0 = hard edge).
    """

    dilate_px: int = 8
    mode: Mode = "mask"
    feather_px: float = 4.0
    dilate_frac: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.dilate_px, bool) or not isinstance(self.dilate_px, int) or self.dilate_px < 0:
            raise EditMaskError(
                f"`dilate_px` must be a non-negative int, got {self.dilate_px!r}; pass e.g. 8"
            )
        if self.mode not in MODES:
            raise EditMaskError(f"`mode` must be one of {MODES}, got {self.mode!r}")
        _check_size("feather_px", self.feather_px)
        _check_size("dilate_frac", self.dilate_frac)
        if self.dilate_frac > 1:
            raise EditMaskError(
                f"`dilate_frac` is a fraction of the short side and must be at most 1, got {self.dilate_frac}"
            )

    @classmethod
    def for_kind(cls, kind: str) -> MaskShape:
        """The default shape for an operation kind.

        appearance/replace and the redactions (blur, pixelate, mask_out): the mask grown 8 px,
        feather 4 (inward, so the object itself is fully covered); remove: the convex hull grown
        8 px + 2.5 % of the short side (covers shadows and reflections), feather 6, always a superset
        of the appearance region; add: the box of the borrowed mask grown 8 px; move: the hull grown
        8 px; recolor: the mask grown 2 px, feather 2 (the color stays on the object); highlight and
        matte: the mask itself, feather 0 and 2.
        """
        if kind in ("appearance", "replace", "blur", "pixelate", "mask_out"):
            return cls(dilate_px=8, mode="mask", feather_px=4.0)
        if kind == "recolor":
            return cls(dilate_px=2, mode="mask", feather_px=2.0)
        if kind == "highlight":
            return cls(dilate_px=0, mode="mask", feather_px=0.0)
        if kind == "matte":
            return cls(dilate_px=0, mode="mask", feather_px=2.0)
        if kind == "remove":
            return cls(dilate_px=8, mode="hull", feather_px=6.0, dilate_frac=0.025)
        if kind == "add":
            return cls(dilate_px=8, mode="box", feather_px=4.0)
        if kind == "move":
            return cls(dilate_px=8, mode="hull", feather_px=4.0)
        raise EditMaskError(f"`kind` must be one of {KINDS}, got {kind!r}")

    def radius(self, height: int, width: int) -> int:
        """The dilation radius in pixels for an ``height`` × ``width`` frame."""
        return self.dilate_px + round(self.dilate_frac * min(height, width))


def _check_size(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise EditMaskError(f"`{name}` must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_mask(name: str, mask: object) -> np.ndarray:
    if not isinstance(mask, np.ndarray):
        raise EditMaskError(f"`{name}` must be a numpy array, got {type(mask).__name__}")
    if mask.ndim != 2 or 0 in mask.shape:
        raise EditMaskError(f"`{name}` must be a non-empty 2-D H×W array, got shape {mask.shape}")
    if mask.dtype != bool:
        raise EditMaskError(
            f"`{name}` must be a bool array, got dtype {mask.dtype}; threshold it first (m > 0)"
        )
    return mask


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) half-open of the True pixels, or None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _distance_outside(region: np.ndarray, reach: float) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """Euclidean distance of each pixel centre to the nearest region pixel, in the crop that holds
    every pixel within ``reach`` of the region (pixels outside the crop are farther); None if empty."""
    box = _bbox(region)
    if box is None:
        return None
    h, w = region.shape
    pad = math.ceil(reach) + 1
    crop = (
        slice(max(box[0] - pad, 0), min(box[1] + pad, h)),
        slice(max(box[2] - pad, 0), min(box[3] + pad, w)),
    )
    inside = region[crop]
    if inside.all():
        return np.zeros(inside.shape), crop
    return np.asarray(distance_transform_edt(~inside)), crop


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by the lattice disk of ``radius``: a pixel is set when some mask pixel lies at
    ``dy² + dx² <= radius²`` from it.

    The disk is the union of its rows: row ``dy`` spans ``|dx| <= isqrt(radius² - dy²)``. So the
    mask is widened horizontally one pixel at a time and, at each half-width some row of the disk
    has, shifted up and down by that row's ``dy`` into the output: ``O(radius)`` whole-array ORs on
    the mask's box grown by the radius, instead of a distance transform or a per-pixel structure.
    """
    out = np.zeros_like(mask)
    box = _bbox(mask)
    if box is None:
        return out
    if radius == 0:
        out[...] = mask
        return out
    top, bottom, left, right = box
    height, width = mask.shape
    rows_at: dict[int, list[int]] = {}  # half-width → the |dy| of the disk rows that have it
    for dy in range(radius + 1):
        rows_at.setdefault(math.isqrt(radius * radius - dy * dy), []).append(dy)
    # Work in the box padded by the radius on every side: [bh + 2r, bw + 2r].
    grown = np.zeros((bottom - top + 2 * radius, right - left + 2 * radius), dtype=bool)
    wide = np.zeros((bottom - top, right - left + 2 * radius), dtype=bool)  # the mask widened by k
    wide[:, radius:-radius] = mask[top:bottom, left:right]
    for k in range(radius + 1):
        if k:
            wide[:, 1:] |= wide[:, :-1]
            wide[:, :-1] |= wide[:, 1:]
        for dy in rows_at.get(k, ()):
            grown[radius + dy : radius + dy + bottom - top] |= wide
            grown[radius - dy : radius - dy + bottom - top] |= wide
    # Clip the padded box to the frame.
    y0, x0 = top - radius, left - radius
    fy0, fx0 = max(y0, 0), max(x0, 0)
    fy1, fx1 = min(bottom + radius, height), min(right + radius, width)
    out[fy0:fy1, fx0:fx1] = grown[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    return out


def _box(mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(mask)
    box = _bbox(mask)
    if box is not None:
        out[box[0] : box[1], box[2] : box[3]] = True
    return out


def _hull(mask: np.ndarray) -> np.ndarray:
    """Pixels whose centre lies in the convex hull of the mask's pixel squares (a superset of the mask)."""
    box = _bbox(mask)
    if box is None:
        return mask.copy()
    top, bottom, left, right = box
    rows = np.flatnonzero(mask.any(axis=1))
    sub = mask[rows]
    first = sub.argmax(axis=1)
    last = sub.shape[1] - 1 - sub[:, ::-1].argmax(axis=1)
    # The corners of each row's outermost pixels span the same hull as every pixel's corners.
    xs = np.concatenate([first, first, last + 1, last + 1]).astype(np.float64)
    ys = np.concatenate([rows, rows + 1, rows, rows + 1]).astype(np.float64)
    try:
        equations = ConvexHull(np.column_stack([xs, ys])).equations  # [F, 3]: a·x + b·y + c <= 0 inside
    except QhullError:  # unreachable with unit squares, kept as a safe fallback
        return _box(mask)
    eps = 1e-9
    y = np.arange(top, bottom) + 0.5  # [R] pixel-centre rows
    a, b, c = equations[:, :1], equations[:, 1:2], equations[:, 2:3]
    bound = -(b * y[None, :] + c)  # [F, R]: a·x <= bound
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = np.where(a > eps, bound / a, np.inf).min(axis=0)
        lower = np.where(a < -eps, bound / a, -np.inf).max(axis=0)
    flat_ok = np.asarray(np.where(np.abs(a) <= eps, bound >= -eps, True).all(axis=0))
    x = np.arange(left, right) + 0.5  # [C]
    inside = (x[None, :] >= lower[:, None] - eps) & (x[None, :] <= upper[:, None] + eps) & flat_ok[:, None]
    out = mask.copy()
    out[top:bottom, left:right] |= inside
    return out


def shape_mask(mask: np.ndarray, shape: MaskShape) -> np.ndarray:
    """The edit region of ``mask`` (bool H×W): ``shape.mode`` applied, then grown by a disk.

    A pixel is added when its centre is within the radius of some mask pixel's centre, so a single
    pixel grows into the lattice disk of that radius. The region always contains the mask.
    """
    _check_mask("mask", mask)
    if not isinstance(shape, MaskShape):
        raise EditMaskError(
            f"`shape` must be a MaskShape, got {type(shape).__name__}; use MaskShape.for_kind(kind)"
        )
    base = {"mask": lambda m: m, "box": _box, "hull": _hull}[shape.mode](mask)
    return _dilate(base, shape.radius(*mask.shape))


def feather(region: np.ndarray, feather_px: float) -> np.ndarray:
    """A float32 compositing alpha for ``region``: exactly 1.0 inside, falling linearly with the
    distance from the region to exactly 0.0 at ``feather_px`` and beyond (0 = the hard region)."""
    _check_mask("region", region)
    width = _check_size("feather_px", feather_px)
    alpha = np.zeros(region.shape, dtype=np.float32)
    if width == 0:
        alpha[region] = 1.0
        return alpha
    found = _distance_outside(region, width)
    if found is not None:
        distance, crop = found
        alpha[crop] = np.clip(1.0 - distance / width, 0.0, 1.0)
    return alpha


def edit_alpha(region: np.ndarray, feather_px: float) -> np.ndarray:
    """The compositing alpha of an edit region, feathered *inward*: float32, exactly 0.0 outside
    ``region`` (so every pixel outside it keeps the source's bytes), rising linearly with the distance
    from the region's edge to exactly 1.0 at ``feather_px`` inside (0 = the hard region).

    Unlike :func:`feather` it never reaches past the region: the region (the dilated target mask) is
    the exact support of the edit, which is what the exported matte shows. The frame's border is not
    an edge: an object cut by the frame stays fully edited up to it.
    """
    _check_mask("region", region)
    width = _check_size("feather_px", feather_px)
    alpha = np.zeros(region.shape, dtype=np.float32)
    # A distance below `width` spans at most `reach` pixels along each axis; every region pixel is at
    # least 1 from the outside, so with reach 0 there is no soft edge.
    reach = math.ceil(width) - 1
    if reach <= 0:
        alpha[region] = 1.0
        return alpha
    box = _bbox(region)
    if box is None:
        return alpha
    top, bottom, left, right = box
    # Pad the box by `reach`: replicated on sides where the region meets the frame border,
    # background elsewhere.
    inside = np.pad(region[top:bottom, left:right], reach, mode="edge")  # [bh + 2r, bw + 2r]
    h, w = region.shape
    if top > 0:
        inside[:reach, :] = False
    if bottom < h:
        inside[-reach:, :] = False
    if left > 0:
        inside[:, :reach] = False
    if right < w:
        inside[:, -reach:] = False
    ys, xs, distance = _edge_distances(inside, reach)  # [N] each, in box coordinates
    crop = (slice(top, bottom), slice(left, right))
    alpha[crop] = region[crop]
    alpha[top + ys, left + xs] = np.clip(distance / width, 0.0, 1.0)
    return alpha


# Past this reach the offsets to search cost more than a distance transform of the whole box.
_MAX_SEARCH_REACH = 8


def _edge_distances(inside: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inside pixels of ``inside`` (a region's box padded by ``reach``) less than ``reach + 1``
    from the nearest outside pixel: their rows and columns in the unpadded box, and that exact
    Euclidean distance (the same values as ``distance_transform_edt``).

    The nearest outside pixel of an inside pixel always touches the region (one step back towards
    the inside pixel would be closer), so the search starts from the outside pixels along the
    region's edge and marks every inside pixel each offset lands on, farthest offsets first so the
    nearest wins: work along a thin ring instead of a distance transform over the whole box.
    """
    h, w = inside.shape[0] - 2 * reach, inside.shape[1] - 2 * reach
    if reach > _MAX_SEARCH_REACH:
        if inside.all():
            return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)
        dense = np.asarray(distance_transform_edt(inside), np.float64)[reach : reach + h, reach : reach + w]
        ys, xs = np.nonzero(inside[reach : reach + h, reach : reach + w] & (dense < reach + 1))
        return ys, xs, dense[ys, xs]
    ring = reach + 1  # an outer ring of outside pixels keeps every offset from the edge in the array
    work = np.pad(inside, ring)  # [h + 2(2r + 1), w + 2(2r + 1)]
    touches = np.zeros_like(work)
    touches[1:] |= work[:-1]
    touches[:-1] |= work[1:]
    touches[:, 1:] |= work[:, :-1]
    touches[:, :-1] |= work[:, 1:]
    edge = np.flatnonzero(touches & ~work)  # [E] outside pixels next to the region
    cols, flat = work.shape[1], work.ravel()
    squared = np.zeros(work.size, np.uint8)  # squared distance where below (reach + 1)² ≤ 81, else 0
    offsets = sorted(
        (
            (dy * dy + dx * dx, dy * cols + dx)
            for dy in range(-reach, reach + 1)
            for dx in range(-reach, reach + 1)
        ),
        reverse=True,
    )
    for dd, offset in offsets:
        if 0 < dd < ring * ring:
            hit = edge + offset
            squared[hit[flat[hit]]] = dd
    found = np.flatnonzero(squared)
    ys, xs = np.divmod(found, cols)
    ys -= 2 * ring - 1  # back to box coordinates
    xs -= 2 * ring - 1
    keep = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)  # not the replicated padding
    return ys[keep], xs[keep], np.sqrt(squared[found[keep]].astype(np.float64))


# Each twin's frame index, built once: the renderer asks for one frame at a time, and rebuilding
# the index on every call made a job quadratic in its length. Keyed by id(): a twin is a mutable,
# unhashable pydantic model. The entry goes when the twin is collected, and is rebuilt when the
# twin's list of frames is replaced or changes length (twins are not edited in place during a job).
_FRAME_INDEX: dict[int, tuple[weakref.ref[TwinDocument], list[FrameEntry], int, dict[int, FrameEntry]]] = {}


def _entries(twin: TwinDocument) -> dict[int, FrameEntry]:
    key = id(twin)
    cached = _FRAME_INDEX.get(key)
    if cached is not None:
        ref, frames, count, index = cached
        if ref() is twin and frames is twin.frames and count == len(frames):
            return index
    index = {entry.index: entry for entry in twin.frames}
    ref = weakref.ref(twin, functools.partial(_forget_index, key))
    _FRAME_INDEX[key] = (ref, twin.frames, len(twin.frames), index)
    return index


def _forget_index(key: int, _: weakref.ref[TwinDocument]) -> None:
    _FRAME_INDEX.pop(key, None)


def _object_mask(entry: FrameEntry, object_id: int) -> np.ndarray | None:
    for obj in entry.objects:
        if obj.id == object_id:
            return decode_mask(obj.mask.rle)
    return None


def _check_twin(twin: object) -> TwinDocument:
    if not isinstance(twin, TwinDocument):
        raise EditMaskError(
            f"`twin` must be a TwinDocument, got {type(twin).__name__}; load it with validate_twin"
        )
    return twin


def _check_index(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise EditMaskError(f"`{name}` must be a non-negative int, got {value!r}")
    return int(value)


def _missing_frame(twin: TwinDocument, frame: int) -> TargetNotFoundError:
    fr = twin.video.frame_range
    return TargetNotFoundError(
        f"frame {frame} is not in the twin (it covers frames {fr.start}–{fr.end - 1}); "
        "ask for a frame in that range"
    )


def target_mask(twin: TwinDocument, object_id: int, frame: int) -> np.ndarray:
    """The twin's mask of ``object_id`` in source frame ``frame``, bool H×W at source resolution."""
    _check_twin(twin)
    object_id = _check_index("object_id", object_id)
    frame = _check_index("frame", frame)
    entry = _entries(twin).get(frame)
    if entry is None:
        raise _missing_frame(twin, frame)
    mask = _object_mask(entry, object_id)
    if mask is None:
        raise TargetNotFoundError(
            f"object {object_id} is not in frame {frame} of the twin; pick a frame from its track"
        )
    return mask


def operation_masks(
    plan_op: Operation,
    twin: TwinDocument,
    frames: Iterable[int] | None = None,
    shape: MaskShape | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(source frame, region)`` for every frame of ``plan_op``'s spans (or of ``frames``),
    ascending; the region is the union of the targets' shaped masks (bool H×W).

    A target counts only in its own spans; an added object takes the mask of its ``mask_from``
    object. A frame where no target is present yields an all-False region, never skipped.
    ``shape`` defaults to :meth:`MaskShape.for_kind` of the operation's kind.
    """
    if not isinstance(plan_op, Operation):
        raise EditMaskError(f"`plan_op` must be a plan Operation, got {type(plan_op).__name__}")
    _check_twin(twin)
    if shape is None:
        shape = MaskShape.for_kind(plan_op.kind)
    elif not isinstance(shape, MaskShape):
        raise EditMaskError(f"`shape` must be a MaskShape or None, got {type(shape).__name__}")
    if frames is None:
        wanted = sorted({f for span in plan_op.frames for f in range(span.start, span.end)})
    else:
        if isinstance(frames, str | bytes) or not isinstance(frames, Iterable):
            raise EditMaskError(f"`frames` must be an iterable of frame numbers or None, got {frames!r}")
        wanted = sorted({_check_index("frames[i]", f) for f in frames})
    entries = _entries(twin)
    for f in wanted:
        if f not in entries:
            raise _missing_frame(twin, f)
    size = (twin.video.height, twin.video.width)
    targets = [
        (t.mask_from if plan_op.kind == "add" and t.mask_from is not None else t.id, t.frames)
        for t in plan_op.targets
    ]
    for f in wanted:
        region = np.zeros(size, dtype=bool)
        for object_id, spans in targets:
            if not any(s.start <= f < s.end for s in spans):
                continue
            mask = _object_mask(entries[f], object_id)
            if mask is None:
                continue
            if mask.shape != size:
                raise EditMaskError(
                    f"object {object_id}'s mask in frame {f} is {mask.shape[1]}×{mask.shape[0]}, not the "
                    f"twin's {size[1]}×{size[0]}; rebuild the twin"
                )
            region |= shape_mask(mask, shape)
        yield f, region


def blank_for_removal(image: np.ndarray, region: np.ndarray, value: int = 127) -> np.ndarray:
    """A copy of the RGB uint8 frame ``image`` with ``region`` set to grey ``value`` (VACE removal
    needs the region blanked in the source frames)."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise EditMaskError(
            f"`image` must be an H×W×3 uint8 RGB array, got "
            f"{getattr(image, 'shape', type(image).__name__)} {getattr(image, 'dtype', '')}; convert it first"
        )
    _check_mask("region", region)
    if region.shape != image.shape[:2]:
        raise EditMaskError(
            f"`region` shape {region.shape} does not match `image` {image.shape[:2]}; "
            "use the region of this frame"
        )
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= 255:
        raise EditMaskError(f"`value` must be an int in 0..255, got {value!r}")
    out = image.copy()
    out[region] = value
    return out
