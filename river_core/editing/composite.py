"""Compositing an edited frame back over its source, and colour matching between frames.

Frames are RGB ``uint8`` arrays ``[H, W, 3]`` at source resolution; an edit region is a float
alpha ``[H, W]`` in ``[0, 1]`` (1 = take the edit, 0 = keep the source). Where the alpha is exactly
0 the output is the source's bytes, copied, never sent through a float round trip, so an edit
cannot touch a pixel outside its region.
"""

from __future__ import annotations

import numpy as np

from river_core.errors import RiverError


class EditInputError(RiverError, ValueError):
    """A frame, alpha or parameter given to an editing operation is malformed."""


def check_frame(name: str, frame: object) -> np.ndarray:
    """Return ``frame`` if it is an RGB ``uint8`` array ``[H, W, 3]``, else raise :class:`EditInputError`."""
    if not isinstance(frame, np.ndarray):
        raise EditInputError(
            f"`{name}` must be a numpy array, got {type(frame).__name__}; pass the frame as np.ndarray."
        )
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise EditInputError(
            f"`{name}` must have shape (H, W, 3), got {frame.shape}; "
            "pass an RGB frame (drop an alpha channel, expand grey)."
        )
    if frame.dtype != np.uint8:
        raise EditInputError(
            f"`{name}` must be uint8, got {frame.dtype}; convert with np.clip(x, 0, 255).astype(np.uint8)."
        )
    return frame


def check_alpha(alpha: object, shape: tuple[int, ...], *, name: str = "alpha") -> np.ndarray:
    """Return ``alpha`` if it is a finite float array ``[H, W]`` (``shape``) in ``[0, 1]``."""
    if not isinstance(alpha, np.ndarray):
        raise EditInputError(
            f"`{name}` must be a numpy array, got {type(alpha).__name__}; pass a float32 HxW array in [0, 1]."
        )
    if alpha.shape != tuple(shape[:2]):
        raise EditInputError(
            f"`{name}` has shape {alpha.shape} but the frame is {tuple(shape[:2])}; "
            "resize the alpha to the frame's H×W."
        )
    if not np.issubdtype(alpha.dtype, np.floating):
        raise EditInputError(
            f"`{name}` must be a float array, got {alpha.dtype}; "
            "for a uint8 matte pass m.astype(np.float32) / 255."
        )
    if alpha.size and not np.all(np.isfinite(alpha)):
        raise EditInputError(f"`{name}` contains NaN or inf; replace them with np.nan_to_num(alpha).")
    if alpha.size:
        low, high = float(alpha.min()), float(alpha.max())
        if low < 0.0 or high > 1.0:
            raise EditInputError(
                f"`{name}` must lie in [0, 1], got values in [{low:g}, {high:g}]; "
                "clip it with np.clip(alpha, 0, 1)."
            )
    return alpha


def check_pair(
    source: np.ndarray, other_name: str, other: np.ndarray, alpha: np.ndarray, *, fix: str
) -> None:
    """Check a source frame, a second frame of the same shape (``other_name``) and their alpha."""
    check_frame("source", source)
    check_frame(other_name, other)
    if other.shape != source.shape:
        raise EditInputError(f"`{other_name}` has shape {other.shape} but `source` is {source.shape}; {fix}")
    check_alpha(alpha, source.shape)


def round_to_uint8(values: np.ndarray) -> np.ndarray:
    """Round half up and clip to ``uint8`` (deterministic, unlike banker's rounding at .5)."""
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def composite(source: np.ndarray, edited: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend ``edited`` over ``source`` by ``alpha``; a new ``uint8 [H, W, 3]`` frame.

    Where ``alpha == 0`` the output bytes are the source's, where ``alpha == 1`` the edited frame's,
    and in between ``round(source * (1 - a) + edited * a)``.

    >>> src = np.zeros((1, 2, 3), np.uint8); ed = np.full((1, 2, 3), 255, np.uint8)
    >>> composite(src, ed, np.array([[0.0, 1.0]], np.float32))[0, :, 0].tolist()
    [0, 255]
    """
    # 1. Check inputs.
    check_pair(source, "edited", edited, alpha, fix="render the edit at source resolution.")

    # 2. Copy the source, then blend the edit over it.
    out = source.copy()
    blend_into(out, edited, alpha)
    return out


def blend_into(out: np.ndarray, edited: np.ndarray, alpha: np.ndarray) -> None:
    """:func:`composite` in place: ``out`` holds the source and receives the result, byte for byte
    what :func:`composite` returns. No checks: for callers that checked their frames and own ``out``
    (a view into a larger frame works). ``edited`` may be any array that broadcasts to ``out``.
    """
    full = alpha == 1.0  # [H, W]
    # A mask with the channels spelled out: copyto with a broadcast mask is ten times slower.
    np.copyto(out, edited, where=np.stack([full] * out.shape[-1], axis=-1))  # exact edits
    soft = np.flatnonzero((alpha > 0.0) & (alpha < 1.0))  # [N] the soft edge, blended
    if soft.size:
        ys, xs = np.divmod(soft, alpha.shape[1])  # ten times faster than a 2-D nonzero
        a = alpha[ys, xs].astype(np.float64)[:, None]  # [N, 1]
        picked = np.broadcast_to(edited, out.shape)[ys, xs].astype(np.float64)  # [N, 3]
        out[ys, xs] = round_to_uint8(out[ys, xs].astype(np.float64) * (1.0 - a) + picked * a)


def match_color(
    generated: np.ndarray, reference: np.ndarray, ring: np.ndarray, *, max_gain: float | None = None
) -> np.ndarray:
    """Shift and scale each channel of ``generated`` so its mean/std in ``ring`` match ``reference``'s.

    ``ring`` is a bool ``[H, W]`` band just outside the edit region, where the generated frame should
    look like the source; the correction is applied to the whole generated frame so the region drifts
    with it. A channel that is flat in the ring is only shifted. An empty ring returns a copy.
    ``max_gain`` bounds the scale to ``[1 / max_gain, max_gain]`` (a nearly flat ring would otherwise
    amplify noise without limit).
    """
    # 1. Check inputs.
    check_frame("generated", generated)
    check_frame("reference", reference)
    if reference.shape != generated.shape:
        raise EditInputError(
            f"`reference` has shape {reference.shape} but `generated` is {generated.shape}; "
            "match frames at the same resolution."
        )
    if not isinstance(ring, np.ndarray) or ring.dtype != np.bool_ or ring.shape != generated.shape[:2]:
        got = f"{ring.dtype} {ring.shape}" if isinstance(ring, np.ndarray) else type(ring).__name__
        raise EditInputError(
            f"`ring` must be a bool array of shape {generated.shape[:2]}, got {got}; "
            "pass the band as a boolean mask at frame resolution."
        )
    if not ring.any():
        return generated.copy()

    # 2. Per-channel statistics in the ring, then one affine map per channel.
    gen = generated[ring].astype(np.float64)  # [N, 3]
    ref = reference[ring].astype(np.float64)  # [N, 3]
    gen_mean, ref_mean = gen.mean(axis=0), ref.mean(axis=0)  # [3]
    gen_std, ref_std = gen.std(axis=0), ref.std(axis=0)  # [3]
    flat = gen_std < 1e-6
    gain = np.where(flat, 1.0, ref_std / np.where(flat, 1.0, gen_std))  # [3]
    if max_gain is not None:
        gain = np.clip(gain, 1.0 / max_gain, max_gain)
    out = (generated.astype(np.float64) - gen_mean) * gain + ref_mean  # [H, W, 3]
    return round_to_uint8(out)
