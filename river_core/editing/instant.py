"""The editor's instant operations: edits that need no diffusion model.

Each takes an RGB ``uint8`` frame ``[H, W, 3]`` and the edit region's float alpha ``[H, W]`` (the
same targets a diffusion edit would use) and returns a new frame; pixels where ``alpha == 0`` are
the source's bytes. Inputs are never modified in place.

Redaction (``blur``, ``pixelate``) is applied to the whole frame and then composited, so the
content inside the region is destroyed, not only softened: with the default strengths the
variance of fine detail inside the region drops by orders of magnitude.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import ImageColor
from scipy import ndimage

from river_core.editing.composite import (
    EditInputError,
    check_alpha,
    check_frame,
    composite,
    round_to_uint8,
)

INSTANT_OPS = ("blur", "pixelate", "mask_out", "recolor", "highlight", "matte")
DEFAULT_FILL = "black"  # mask_out's color when none is given

# Luma weights of the W3C "color" blend mode (keep the backdrop's luminosity, take the hue and
# saturation of the source colour); the same as Rec. 601 to two decimals.
_LUMA = np.array([0.3, 0.59, 0.11])


def _check(frame: np.ndarray, alpha: np.ndarray) -> None:
    check_frame("frame", frame)
    check_alpha(alpha, frame.shape)


def _short_side_px(frame: np.ndarray, fraction: float, minimum: int) -> float:
    return max(float(minimum), fraction * min(frame.shape[:2]))


def blur(frame: np.ndarray, alpha: np.ndarray, *, radius_px: float = 0.0) -> np.ndarray:
    """Gaussian-blur the frame inside ``alpha``.

    ``radius_px`` is the Gaussian's standard deviation in pixels (as Pillow's ``GaussianBlur``);
    0 picks 4% of the frame's short side, at least 8 px.
    """
    _check(frame, alpha)
    if isinstance(radius_px, bool) or not isinstance(radius_px, (int, float)) or not math.isfinite(radius_px):
        raise EditInputError(f"`radius_px` must be a finite number, got {radius_px!r}; pass e.g. 12.0.")
    if radius_px < 0:
        raise EditInputError(f"`radius_px` must be ≥ 0, got {radius_px}; pass 0 for the default strength.")
    sigma = float(radius_px) if radius_px > 0 else _short_side_px(frame, 0.04, 8)
    blurred = ndimage.gaussian_filter(frame.astype(np.float32), sigma=(sigma, sigma, 0.0), mode="nearest")
    return composite(frame, round_to_uint8(blurred), alpha)


def _block_means(frame: np.ndarray, block: int) -> np.ndarray:
    """Each pixel set to the rounded mean of its ``block``×``block`` cell, grid anchored at (0, 0)."""
    height, width = frame.shape[:2]
    rows = np.arange(0, height, block)
    cols = np.arange(0, width, block)
    sums = np.add.reduceat(np.add.reduceat(frame.astype(np.float64), rows, axis=0), cols, axis=1)
    row_sizes = np.diff(np.append(rows, height))  # [Rb]
    col_sizes = np.diff(np.append(cols, width))  # [Cb]
    means = round_to_uint8(sums / (row_sizes[:, None, None] * col_sizes[None, :, None]))  # [Rb, Cb, 3]
    return np.repeat(np.repeat(means, row_sizes, axis=0), col_sizes, axis=1)  # [H, W, 3]


def pixelate(frame: np.ndarray, alpha: np.ndarray, *, block_px: int = 0) -> np.ndarray:
    """Mosaic the frame inside ``alpha`` with square blocks of ``block_px`` pixels.

    The block grid starts at pixel (0, 0) whatever the region, so it does not crawl as a tracked
    region moves from frame to frame. 0 picks 3% of the short side, at least 8 px.
    """
    _check(frame, alpha)
    if isinstance(block_px, bool) or not isinstance(block_px, (int, np.integer)):
        raise EditInputError(f"`block_px` must be an int, got {block_px!r}; pass e.g. 16.")
    if block_px < 0:
        raise EditInputError(f"`block_px` must be ≥ 0, got {block_px}; pass 0 for the default block size.")
    block = int(block_px) if block_px > 0 else round(_short_side_px(frame, 0.03, 8))
    return composite(frame, _block_means(frame, block), alpha)


def parse_color(color: tuple[int, int, int] | str, *, name: str = "color") -> tuple[int, int, int]:
    """An RGB triple from a tuple of three 0–255 ints or a CSS/X11 name (``"teal"``, ``"#ff8800"``)."""
    if isinstance(color, str):
        try:
            rgb = ImageColor.getrgb(color)
        except ValueError:
            raise EditInputError(
                f"`{name}` {color!r} is not a known colour name; use a CSS/X11 name ('red'), "
                "'#rrggbb' or an (R, G, B) tuple."
            ) from None
        return (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    if (
        not isinstance(color, (tuple, list))
        or len(color) != 3
        or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in color)
        or not all(0 <= c <= 255 for c in color)
    ):
        raise EditInputError(
            f"`{name}` must be an (R, G, B) tuple of ints in 0–255 or a colour name, got {color!r}."
        )
    return (int(color[0]), int(color[1]), int(color[2]))


def _set_luminosity(rgb: np.ndarray, luma: np.ndarray) -> np.ndarray:
    """W3C ``SetLum`` + ``ClipColor``: ``rgb`` [N, 3] in [0, 1] moved to luminosity ``luma`` [N], hue kept."""
    moved = rgb + (luma - rgb @ _LUMA)[:, None]  # [N, 3]
    lum = moved @ _LUMA  # [N]
    low, high = moved.min(axis=1), moved.max(axis=1)  # [N]
    with np.errstate(divide="ignore", invalid="ignore"):
        under = low < 0.0
        scale = np.where(under, lum / (lum - low), 1.0)
        moved = np.where(under[:, None], lum[:, None] + (moved - lum[:, None]) * scale[:, None], moved)
        high = moved.max(axis=1)
        over = high > 1.0
        scale = np.where(over, (1.0 - lum) / (high - lum), 1.0)
        moved = np.where(over[:, None], lum[:, None] + (moved - lum[:, None]) * scale[:, None], moved)
    return np.clip(moved, 0.0, 1.0)


def recolor(frame: np.ndarray, alpha: np.ndarray, *, color: tuple[int, int, int] | str) -> np.ndarray:
    """Give the region the hue and saturation of ``color`` while keeping each pixel's luminosity.

    This is the "color" blend mode of compositing tools: shading and texture survive, the colour
    changes. Very dark or very bright pixels lose saturation, as they must to keep their luminosity.
    """
    _check(frame, alpha)
    rgb = parse_color(color)
    pixels = frame.reshape(-1, 3).astype(np.float64) / 255.0  # [H*W, 3]
    target = np.broadcast_to(np.array(rgb, np.float64) / 255.0, pixels.shape)  # [H*W, 3]
    recolored = _set_luminosity(target, pixels @ _LUMA) * 255.0
    return composite(frame, round_to_uint8(recolored).reshape(frame.shape), alpha)


def highlight(
    frame: np.ndarray,
    alpha: np.ndarray,
    *,
    color: tuple[int, int, int] | str = (255, 64, 64),
    opacity: float = 0.45,
    outline_px: int = 2,
) -> np.ndarray:
    """The targets preview: a translucent tint inside the region and a solid outline along its edge.

    The region is ``alpha > 0.5``; the outline is its innermost ``outline_px`` pixels (where it meets
    the rest of the frame, not the frame border), so nothing outside the region changes.
    """
    _check(frame, alpha)
    rgb = parse_color(color)
    if isinstance(opacity, bool) or not isinstance(opacity, (int, float)) or not 0.0 <= opacity <= 1.0:
        raise EditInputError(f"`opacity` must be a number in [0, 1], got {opacity!r}; pass e.g. 0.45.")
    if isinstance(outline_px, bool) or not isinstance(outline_px, (int, np.integer)) or outline_px < 0:
        raise EditInputError(f"`outline_px` must be an int ≥ 0, got {outline_px!r}; pass 0 for no outline.")

    region = alpha > 0.5  # [H, W]
    out = frame.copy()
    if not region.any():
        return out
    tint = np.array(rgb, np.float64)
    out[region] = round_to_uint8(frame[region].astype(np.float64) * (1.0 - opacity) + tint * opacity)
    if outline_px > 0:
        inner = ndimage.binary_erosion(region, iterations=int(outline_px), border_value=1)
        out[region & ~inner] = np.array(rgb, np.uint8)
    return out


def matte(alpha: np.ndarray) -> np.ndarray:
    """The region as an 8-bit matte ``[H, W]``: ``round(alpha * 255)``, for PNG or ProRes 4444 export."""
    if not isinstance(alpha, np.ndarray) or alpha.ndim != 2:
        got = alpha.shape if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise EditInputError(f"`alpha` must be a 2-D array (H, W), got {got}; pass one frame's alpha.")
    check_alpha(alpha, alpha.shape)
    return np.floor(alpha.astype(np.float64) * 255.0 + 0.5).astype(np.uint8)


def mask_out(
    frame: np.ndarray, alpha: np.ndarray, *, color: tuple[int, int, int] | str = DEFAULT_FILL
) -> np.ndarray:
    """Cover the region with a solid ``color`` (black by default): redaction that leaves nothing of
    the content, not even its blurred colors."""
    _check(frame, alpha)
    fill = np.empty_like(frame)
    fill[...] = np.array(parse_color(color, name="color"), np.uint8)
    return composite(frame, fill, alpha)


def apply(
    kind: str,
    frame: np.ndarray,
    alpha: np.ndarray,
    *,
    color: tuple[int, int, int] | str | None = None,
    radius_px: float = 0.0,
    block_px: int = 0,
) -> np.ndarray:
    """The instant operation ``kind`` (one of :data:`INSTANT_OPS`) on ``frame`` inside ``alpha``.

    Only the region's box, grown by the filter's reach, is processed; the result is exactly that of
    the operation over the whole frame (the blur sees every pixel its kernel reaches, the mosaic
    keeps its frame-anchored grid), at a fraction of the cost. Pixels where ``alpha == 0`` are the
    frame's bytes. ``matte`` returns the frame unchanged (its deliverable is the matte).
    """
    _check(frame, alpha)
    if kind not in INSTANT_OPS:
        raise EditInputError(f"`kind` must be one of {', '.join(INSTANT_OPS)}, got {kind!r}")
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0 or kind == "matte":
        return frame.copy()
    cols = np.flatnonzero(alpha.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    h, w = alpha.shape
    short = min(h, w)
    if kind == "blur":
        sigma = float(radius_px) or max(8.0, 0.04 * short)
        reach = int(4.0 * sigma + 0.5) + 1  # scipy's gaussian_filter truncates at 4 sigma
        top, left = max(0, top - reach), max(0, left - reach)
        bottom, right = min(h, bottom + reach), min(w, right + reach)
    elif kind == "pixelate":
        block = int(block_px) or round(max(8.0, 0.03 * short))
        top, left = top - top % block, left - left % block
        bottom, right = min(h, -(-bottom // block) * block), min(w, -(-right // block) * block)
    elif kind == "highlight":  # the outline is found by erosion: it must see the region's edge
        top, left, bottom, right = max(0, top - 1), max(0, left - 1), min(h, bottom + 1), min(w, right + 1)
    crop, crop_alpha = frame[top:bottom, left:right], alpha[top:bottom, left:right]
    if kind == "blur":
        done = blur(crop, crop_alpha, radius_px=sigma)
    elif kind == "pixelate":
        done = pixelate(crop, crop_alpha, block_px=block)
    elif kind == "recolor":
        if color is None:
            raise EditInputError("recolor needs `color`: a CSS color name or #RRGGBB")
        done = recolor(crop, crop_alpha, color=color)
    elif kind == "mask_out":
        done = mask_out(crop, crop_alpha, color=DEFAULT_FILL if color is None else color)
    else:
        done = highlight(crop, crop_alpha, **({} if color is None else {"color": color}))
    out = frame.copy()
    out[top:bottom, left:right] = done
    return out
