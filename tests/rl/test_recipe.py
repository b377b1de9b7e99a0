"""The tiny-cpu recipe end to end (slow tier, ~15 min on one CPU thread): SFT on oracle rollouts then
GRPO raises the held-out test reward by at least 0.5 and the trained reasoner writes valid plans with
correct targets where the untrained one writes none; the lr = 0 control leaves every number as it was.
The three-seed numbers are ``scripts/train_tiny_seeds.sh`` (trainer/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from river_core.rl.config import apply_overrides, load_config
from river_core.rl.grpo import train

RECIPE = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny-cpu.yaml"


@pytest.fixture(scope="module")
def recipe_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from river_core.rl.synth import synthesize, write_dataset

    out = tmp_path_factory.mktemp("recipe") / "tasks"
    write_dataset(synthesize(1000, 0), out)  # as `river data synth --n 1000 --seed 0`
    return out


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a whole seed: ~15 min on a quiet machine, far over the default 300 s
def test_tiny_cpu_recipe_learns(tmp_path: Path, recipe_tasks: Path) -> None:
    config = load_config(RECIPE, [f"tasks={recipe_tasks}"])
    summary = train(config, tmp_path / "run", progress=False)
    before, after = summary["eval_before"], summary["eval_after"]
    assert after["mean_reward"] - before["mean_reward"] >= 0.5, summary
    assert all(level["valid_plans"] == 0.0 for level in before["per_level"].values())
    assert sum(level["correct_targets"] for level in after["per_level"].values()) > 0, summary
    assert (tmp_path / "run" / "rewards.png").is_file()


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_tiny_cpu_recipe_with_lr_zero_changes_nothing(tmp_path: Path, recipe_tasks: Path) -> None:
    config = apply_overrides(
        load_config(RECIPE, [f"tasks={recipe_tasks}"]), ["sft_lr=0", "grpo_lr=0", "sft_epochs=0.05"]
    )
    summary = train(config, tmp_path / "run", progress=False)
    assert abs(summary["eval_after"]["mean_reward"] - summary["eval_before"]["mean_reward"]) < 0.05
