"""The reward curve as a PNG, drawn with Pillow (already an engine dependency; a line plot does not
justify matplotlib's ~40 MB in the train extra)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

_KEYS = ("reward", "rewards/reward_task/mean", "rewards/reward_token/mean")
_COLORS = ((31, 119, 180), (44, 160, 44), (214, 39, 40))


def plot_rewards(metrics: Path, out: Path, *, size: tuple[int, int] = (640, 360)) -> Path:
    """Mean reward (and the task and token sub-rewards) per GRPO step from ``metrics.jsonl``."""
    rows = []
    if metrics.is_file():
        rows = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("phase") == "grpo" and "reward" in r]
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 50, width - 10, 20, height - 30
    draw.rectangle((left, top, right, bottom), outline=(0, 0, 0))
    series = {k: [(r["step"], float(r[k])) for r in rows if k in r] for k in _KEYS}
    values = [v for s in series.values() for _, v in s] or [0.0, 1.0]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    steps = [s for s, _ in series["reward"]] or [0, 1]
    s0, s1 = min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1

    def xy(step: float, v: float) -> tuple[float, float]:
        return (
            left + (step - s0) / (s1 - s0) * (right - left),
            bottom - (v - lo) / (hi - lo) * (bottom - top),
        )

    for points, color in zip(series.values(), _COLORS, strict=True):
        if len(points) > 1:
            draw.line([xy(s, v) for s, v in points], fill=color, width=2)
        elif points:
            x, y = xy(*points[0])
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=color)
    draw.text((left, 4), "GRPO reward per step: " + ", ".join(_KEYS), fill=(0, 0, 0))
    draw.text((4, top), f"{hi:.2f}", fill=(0, 0, 0))
    draw.text((4, bottom - 10), f"{lo:.2f}", fill=(0, 0, 0))
    draw.text((left, bottom + 8), f"step {s0}", fill=(0, 0, 0))
    draw.text((right - 60, bottom + 8), f"step {s1}", fill=(0, 0, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out
