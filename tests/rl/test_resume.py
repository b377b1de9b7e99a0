"""``river train grpo --resume``: a run that crashes after a checkpoint and resumes ends with the same
per-step metrics and weights as the uninterrupted run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from river_core.rl.config import TrainConfig
from river_core.rl.grpo import episodes_of, load_split, run_grpo
from river_core.rl.sft import build_policy


class _Crash(RuntimeError):
    pass


def _config(synth_dir: Path) -> TrainConfig:
    return TrainConfig(
        tasks=str(synth_dir),
        tiny_hidden=32,
        device="cpu",
        prompt="small",
        lora_r=4,
        batch_size=4,
        num_generations=2,
        grpo_max_steps=4,
        grpo_lr=1e-2,
        save_steps=2,
        max_completion_tokens=12,
        max_train_tasks=4,
        seed=3,
    )


def _run(config: TrainConfig, out: Path, sandbox: Any, *, resume: bool, crash_at: int | None) -> Any:
    from transformers import TrainerCallback

    records: list[dict[str, Any]] = []

    class Crash(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if crash_at is not None and state.global_step == crash_at:
                raise _Crash(f"crash after step {crash_at}")

    llm = build_policy(config)
    episodes = episodes_of(load_split(config, "train"), config, llm)
    try:
        policy = run_grpo(
            llm, episodes, sandbox, config, out, resume=resume, log=records.append, callbacks=[Crash()]
        )
    except _Crash:
        return records, None
    return records, policy


def _losses(records: list[dict[str, Any]]) -> dict[int, tuple[float, float, float]]:
    # the entropy of the sampled tokens tells whether the resumed run sampled the same rollouts (a random
    # tiny policy's rewards all tie, so its loss alone would not)
    return {
        r["step"]: (r["loss"], r["reward"], r["entropy"]) for r in records if "loss" in r and "reward" in r
    }


@pytest.mark.slow
def test_crash_then_resume_matches_the_uninterrupted_run(tmp_path: Path, synth_dir: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    config = _config(synth_dir)
    whole, policy = _run(config, tmp_path / "whole", sandbox, resume=False, crash_at=None)
    _, none = _run(config, tmp_path / "split", sandbox, resume=False, crash_at=3)
    assert none is None and (tmp_path / "split" / "checkpoint-2").is_dir()
    second, resumed = _run(config, tmp_path / "split", sandbox, resume=True, crash_at=None)
    expected, got = _losses(whole), _losses(second)
    assert sorted(expected) == [1, 2, 3, 4] and sorted(got) == [3, 4]  # it went on from checkpoint-2
    for step in (3, 4):
        assert got[step] == pytest.approx(expected[step], abs=1e-6), step
    for (name, a), (_, b) in zip(
        policy.model.named_parameters(), resumed.model.named_parameters(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6), name
