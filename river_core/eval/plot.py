"""The report's plots, drawn with Pillow in the style of :mod:`river_core.rl.plot` (no matplotlib).

- ``accuracy.png``: target accuracy, target F1, J&F and temporal IoU per level (groups) and per
  category (bars within a group).
- ``scores.png``: the distribution of target F1, J&F and temporal IoU over tasks (10 bins in [0, 1]).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from river_core.atomic import write_bytes_atomic

_CATS = ("semantic", "spatial", "temporal")
_COLORS = ((31, 119, 180), (44, 160, 44), (214, 39, 40))
_BLACK, _GREY = (0, 0, 0), (200, 200, 200)
_PANELS = (
    ("target_acc", "target accuracy"),
    ("target_f1", "target F1"),
    ("jf", "J&F"),
    ("tiou", "temporal IoU"),
)


def _save(image: Image.Image, out: Path) -> Path:
    """Write the PNG atomically (a reader never sees half a plot)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    write_bytes_atomic(out, buf.getvalue())
    return out


def _mean(samples: Sequence[dict[str, Any]], key: str) -> float | None:
    vals = [s["scores"][key] for s in samples if s["scores"].get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def plot_accuracy(
    samples: Sequence[dict[str, Any]], out: Path, title: str, *, size: tuple[int, int] = (1000, 330)
) -> Path:
    """Bars per level × category for each reasoning metric (one panel each)."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 6), f"{title}: reasoning metrics per level and category", fill=_BLACK)
    panel_w = (width - 60) // len(_PANELS)
    top, bottom = 40, height - 60
    for p, (key, label) in enumerate(_PANELS):
        left = 40 + p * panel_w
        right = left + panel_w - 20
        draw.rectangle((left, top, right, bottom), outline=_BLACK)
        draw.text((left, bottom + 24), label, fill=_BLACK)
        for tick in (0.0, 0.5, 1.0):
            y = bottom - tick * (bottom - top)
            draw.line((left, y, right, y), fill=_GREY)
            if p == 0:
                draw.text((left - 30, y - 6), f"{tick:.1f}", fill=_BLACK)
        group_w = (right - left) / 3
        for li, level in enumerate((1, 2, 3)):
            g0 = left + li * group_w
            draw.text((g0 + group_w / 2 - 6, bottom + 6), f"L{level}", fill=_BLACK)
            bar_w = (group_w - 12) / 3
            for ci, cat in enumerate(_CATS):
                value = _mean([s for s in samples if s["level"] == level and s["category"] == cat], key)
                if value is None:
                    continue
                x0 = g0 + 6 + ci * bar_w
                y = bottom - value * (bottom - top)
                draw.rectangle((x0, min(y, bottom - 1), x0 + bar_w - 2, bottom), fill=_COLORS[ci])
    x = 40
    for ci, cat in enumerate(_CATS):
        draw.rectangle((x, height - 16, x + 14, height - 4), fill=_COLORS[ci])
        draw.text((x + 18, height - 17), cat, fill=_BLACK)
        x += 40 + int(draw.textlength(cat))
    return _save(image, out)


def plot_scores(
    samples: Sequence[dict[str, Any]], out: Path, title: str, *, size: tuple[int, int] = (1000, 300)
) -> Path:
    """Histograms (10 bins in [0, 1]) of target F1, J&F and temporal IoU over tasks."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 6), f"{title}: score distributions over {len(samples)} tasks", fill=_BLACK)
    panels = _PANELS[1:]
    panel_w = (width - 60) // len(panels)
    top, bottom = 40, height - 40
    for p, (key, label) in enumerate(panels):
        left = 40 + p * panel_w
        right = left + panel_w - 20
        vals = [s["scores"][key] for s in samples if s["scores"].get(key) is not None]
        counts = [0] * 10
        for v in vals:
            counts[min(9, int(v * 10))] += 1
        peak = max(counts) or 1
        draw.rectangle((left, top, right, bottom), outline=_BLACK)
        bin_w = (right - left) / 10
        for b, c in enumerate(counts):
            y = bottom - c / peak * (bottom - top)
            if c:
                draw.rectangle((left + b * bin_w + 1, y, left + (b + 1) * bin_w - 1, bottom), fill=_COLORS[p])
                draw.text((left + b * bin_w + 2, y - 12), str(c), fill=_BLACK)
        draw.text((left, bottom + 4), "0", fill=_BLACK)
        draw.text((right - 8, bottom + 4), "1", fill=_BLACK)
        draw.text((left + 30, bottom + 18), f"{label} (n = {len(vals)})", fill=_BLACK)
    return _save(image, out)
