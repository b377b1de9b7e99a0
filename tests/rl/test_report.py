"""`river train report`'s table, the SFT schedule and the reward-curve PNG, on hand-made inputs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from PIL import Image

from river_core.rl.plot import plot_rewards
from river_core.rl.report import report_rows, report_table
from river_core.rl.sft import lr_factor


def _eval(mean: float, valid: float, correct: float) -> dict[str, object]:
    level = {"n": 2.0, "mean_reward": mean, "valid_plans": valid, "correct_targets": correct}
    return {"mean_reward": mean, "per_level": {"1": level, "3": dict(level, n=6.0)}}


def test_report_rows_per_level_and_overall() -> None:
    summary = {"eval_before": _eval(-1.5, 0.0, 0.0), "eval_after": _eval(0.25, 0.5, 0.25)}
    rows = report_rows("s0", summary)
    assert [r["level"] for r in rows] == ["1", "3", "all"]
    assert rows[-1]["n"] == 8 and rows[-1]["delta"] == pytest.approx(1.75)
    assert rows[-1]["valid_after"] == pytest.approx(0.5) and rows[0]["correct_before"] == 0.0
    table = report_table([("s0", summary), ("s1", summary)])
    assert "mean reward change over 2 run(s): +1.750" in table
    with pytest.raises(ValueError, match="eval_before"):
        report_rows("x", {"eval_after": summary["eval_after"]})


def test_cosine_schedule_warms_up_then_decays_to_zero() -> None:
    steps = 100
    factors = [lr_factor(k, steps, "cosine") for k in range(steps)]
    assert factors[0] == pytest.approx(0.2) and factors[4] == pytest.approx(1.0)
    assert factors[-1] < 0.01 and all(a >= b for a, b in itertools.pairwise(factors[4:]))
    assert lr_factor(7, steps, "constant") == 1.0


def test_plot_draws_sft_and_grpo(tmp_path: Path) -> None:
    rows = [{"phase": "sft", "step": k, "loss": 5.0 / k} for k in range(1, 20)]
    rows += [{"phase": "grpo", "step": k, "reward": -1.5 + 0.1 * k} for k in range(1, 5)]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = plot_rewards(metrics, tmp_path / "r.png", held_out={"before": -1.5, "after": 0.2})
    image = Image.open(out)
    assert image.size == (900, 380) and len(image.getcolors(1 << 16) or []) > 3
