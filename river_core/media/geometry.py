"""Fit source frames into a model's canvas and map results back to source pixels, exactly.

A :class:`Placement` says where the source picture lands in the model canvas (scaled into a
content box at ``left, top``). Coordinates are continuous with pixel edges on integers: source
pixel ``(i, j)`` covers ``[i, i+1) × [j, j+1)``. The mapping is rational per axis, so a point
mapped to the model and back lands exactly where it started.

>>> p = Placement.fit((1280, 720), (832, 480))
>>> (p.content_w, p.content_h, p.left, p.top)
(832, 468, 0, 6)
>>> p.to_source_point(*p.to_model_point(640, 360))
(Fraction(640, 1), Fraction(360, 1))
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from PIL import Image

from river_core.errors import RiverError

FitMode = Literal["letterbox", "stretch"]
Interp = Literal["area", "bilinear", "bicubic", "nearest", "mask"]

_PIL_FILTERS = {
    "area": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "mask": Image.Resampling.BILINEAR,  # resampled as coverage, then thresholded at one half
}


@dataclass(frozen=True)
class Placement:
    """A source of ``src_w × src_h`` drawn into a ``dst_w × dst_h`` canvas at a content box."""

    src_w: int
    src_h: int
    dst_w: int
    dst_h: int
    content_w: int
    content_h: int
    left: int
    top: int
    mode: FitMode = "letterbox"

    @classmethod
    def fit(cls, src: tuple[int, int], dst: tuple[int, int], mode: FitMode = "letterbox") -> Placement:
        """Place a ``(width, height)`` source into a ``(width, height)`` canvas.

        ``letterbox`` keeps the aspect ratio and pads (centered); ``stretch`` fills the canvas,
        scaling each axis on its own (undone exactly by :meth:`to_source`).
        """
        (sw, sh), (dw, dh) = src, dst
        for name, value in (("source width", sw), ("source height", sh), ("width", dw), ("height", dh)):
            if value <= 0:
                raise RiverError(f"{name} must be positive, got {value}")
        if mode == "stretch":
            return cls(sw, sh, dw, dh, dw, dh, 0, 0, mode)
        if mode != "letterbox":
            raise RiverError(f"fit mode {mode!r} is not one of: letterbox, stretch")
        scale = min(Fraction(dw, sw), Fraction(dh, sh))
        cw = min(dw, max(1, round(sw * scale)))
        ch = min(dh, max(1, round(sh * scale)))
        return cls(sw, sh, dw, dh, cw, ch, (dw - cw) // 2, (dh - ch) // 2, mode)

    @property
    def scale_x(self) -> Fraction:
        return Fraction(self.content_w, self.src_w)

    @property
    def scale_y(self) -> Fraction:
        return Fraction(self.content_h, self.src_h)

    @property
    def content_box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of the picture inside the canvas, end exclusive."""
        return (self.left, self.top, self.left + self.content_w, self.top + self.content_h)

    def to_model_point(self, x: Fraction | int, y: Fraction | int) -> tuple[Fraction, Fraction]:
        """A source point (continuous, pixel edges on integers) in canvas coordinates."""
        return (self.left + Fraction(x) * self.scale_x, self.top + Fraction(y) * self.scale_y)

    def to_source_point(self, x: Fraction | int, y: Fraction | int) -> tuple[Fraction, Fraction]:
        """The exact inverse of :meth:`to_model_point`."""
        return ((Fraction(x) - self.left) / self.scale_x, (Fraction(y) - self.top) / self.scale_y)

    def to_model(self, image: np.ndarray, interpolation: Interp = "area", pad_value: int = 0) -> np.ndarray:
        """Resize a source image (H×W or H×W×C) into the canvas, padding outside the content box."""
        _check_shape(image, (self.src_h, self.src_w), "source image")
        content = resize(image, (self.content_w, self.content_h), interpolation)
        canvas = np.full((self.dst_h, self.dst_w, *image.shape[2:]), pad_value, dtype=content.dtype)
        x0, y0, x1, y1 = self.content_box
        canvas[y0:y1, x0:x1] = content
        return canvas

    def pad(self, content: np.ndarray, pad_value: int = 0) -> np.ndarray:
        """Place an already resized ``content_h × content_w`` picture into the canvas."""
        _check_shape(content, (self.content_h, self.content_w), "content")
        if (self.content_w, self.content_h) == (self.dst_w, self.dst_h):
            return content
        canvas = np.full((self.dst_h, self.dst_w, *content.shape[2:]), pad_value, dtype=content.dtype)
        x0, y0, x1, y1 = self.content_box
        canvas[y0:y1, x0:x1] = content
        return canvas

    def to_source(self, image: np.ndarray, interpolation: Interp = "bicubic") -> np.ndarray:
        """Bring a canvas-sized result (image, mask or map) back to source pixels.

        Only the content box is used; the padding is discarded. With ``interpolation="mask"``
        a boolean/0-1 mask is resampled as coverage and thresholded at one half.
        """
        _check_shape(image, (self.dst_h, self.dst_w), "model-space image")
        x0, y0, x1, y1 = self.content_box
        return resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (self.src_w, self.src_h), interpolation)


def resize(image: np.ndarray, size: tuple[int, int], interpolation: Interp = "area") -> np.ndarray:
    """Resize an H×W or H×W×C image to ``(width, height)``; dtype is preserved.

    uint8 (1, 3 or 4 channels), bool masks and single-channel float maps are supported.
    """
    w, h = size
    if image.shape[1] == w and image.shape[0] == h:
        return image.copy()
    if image.dtype == bool or interpolation == "mask":
        coverage = _resize_plane(image.astype(np.float32), size, _PIL_FILTERS["mask"])
        out = coverage >= 0.5
        return out if image.dtype == bool else out.astype(image.dtype)
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] in (3, 4)):
        return np.asarray(Image.fromarray(image).resize((w, h), _PIL_FILTERS[interpolation]))
    if image.dtype in (np.float32, np.float64) and image.ndim == 2:
        return _resize_plane(image.astype(np.float32), size, _PIL_FILTERS[interpolation]).astype(image.dtype)
    if image.ndim == 3:
        planes = [
            resize(np.ascontiguousarray(image[..., c]), size, interpolation) for c in range(image.shape[2])
        ]
        return np.stack(planes, axis=-1)
    raise RiverError(f"cannot resize an image of dtype {image.dtype} and shape {image.shape}")


def _resize_plane(plane: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(plane).resize(size, resample))


def _check_shape(image: np.ndarray, hw: tuple[int, int], what: str) -> None:
    if image.shape[:2] != hw:
        raise RiverError(
            f"{what} is {image.shape[1]}×{image.shape[0]} but this placement expects {hw[1]}×{hw[0]}"
        )
