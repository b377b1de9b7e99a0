"""The reward curve as a PNG, drawn with Pillow (already an engine dependency; a line plot does not
justify matplotlib's ~40 MB in the train extra).

Two panels from ``metrics.jsonl``: the SFT loss per step (left, when the run had an SFT phase) and the
GRPO rewards per step (right: the total and the task and token sub-rewards), plus, when given, the
held-out test reward before training, after SFT and after GRPO as a line of text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from PIL import Image, ImageDraw

_KEYS = ("reward", "rewards/reward_task/mean", "rewards/reward_token/mean")
_LABELS = ("total reward", "task reward (F1 + IoU)", "token reward")
_COLORS = ((31, 119, 180), (44, 160, 44), (214, 39, 40))
_BLACK = (0, 0, 0)


def plot_rewards(
    metrics: Path,
    out: Path,
    *,
    size: tuple[int, int] = (900, 380),
    held_out: Mapping[str, float] | None = None,
) -> Path:
    """Draw ``metrics.jsonl`` (see the module docstring) to ``out``; ``held_out``: {label: mean reward}."""
    rows = []
    if metrics.is_file():
        rows = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
    sft = [(r["step"], float(r["loss"])) for r in rows if r.get("phase") == "sft" and "loss" in r]
    grpo = [r for r in rows if r.get("phase") == "grpo" and "reward" in r]
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    bottom = height - 70
    if sft:
        split = width // 2
        _panel(draw, (50, 24, split - 20, bottom), {"SFT loss": sft}, ((120, 120, 120),), "SFT loss per step")
        left = split + 40
    else:
        left = 50
    series = {
        label: [(r["step"], float(r[k])) for r in grpo if k in r]
        for k, label in zip(_KEYS, _LABELS, strict=True)
    }
    _panel(draw, (left, 24, width - 12, bottom), series, _COLORS, "GRPO reward per step (training batch)")
    x = left
    for (label, points), color in zip(series.items(), _COLORS, strict=True):
        if points:
            draw.line((x, bottom + 34, x + 18, bottom + 34), fill=color, width=3)
            draw.text((x + 22, bottom + 28), label, fill=_BLACK)
            x += 30 + int(draw.textlength(label))
    if held_out:
        text = "held-out test mean reward: " + ", ".join(f"{k} {v:+.2f}" for k, v in held_out.items())
        draw.text((50, height - 18), text, fill=_BLACK)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


def _panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    series: Mapping[str, list[tuple[float, float]]],
    colors: tuple[tuple[int, int, int], ...],
    title: str,
) -> None:
    left, top, right, bottom = box
    draw.rectangle(box, outline=_BLACK)
    draw.text((left, top - 16), title, fill=_BLACK)
    values = [v for s in series.values() for _, v in s] or [0.0, 1.0]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    steps = [s for points in series.values() for s, _ in points] or [0, 1]
    s0, s1 = min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1

    def xy(step: float, v: float) -> tuple[float, float]:
        return (
            left + (step - s0) / (s1 - s0) * (right - left),
            bottom - (v - lo) / (hi - lo) * (bottom - top),
        )

    if lo < 0 < hi:  # the zero line
        draw.line((left, xy(s0, 0)[1], right, xy(s0, 0)[1]), fill=(200, 200, 200))
    for points, color in zip(series.values(), colors, strict=False):
        if len(points) > 1:
            draw.line([xy(s, v) for s, v in points], fill=color, width=2)
        elif points:
            x, y = xy(*points[0])
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=color)
    draw.text((left - 44, top), f"{hi:+.2f}", fill=_BLACK)
    draw.text((left - 44, bottom - 10), f"{lo:+.2f}", fill=_BLACK)
    draw.text((left, bottom + 6), f"step {s0:g}", fill=_BLACK)
    draw.text((right - 60, bottom + 6), f"step {s1:g}", fill=_BLACK)
