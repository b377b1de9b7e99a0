"""Oracle rollouts score the maximum reward; SFT trains only the model's own tokens and moves the loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from river_core.rl.config import ConfigError, TrainConfig, apply_overrides
from river_core.rl.oracle import oracle_rollout
from river_core.rl.rollout import prepare, roll_out, score
from river_core.rl.sft import IGNORE, batch_tensors, build_policy, sft, with_lora
from river_core.rl.tasks import read_tasks


def _config(synth_dir: Path, **changes: object) -> TrainConfig:
    base = TrainConfig(tasks=str(synth_dir), tiny_hidden=32, device="cpu", max_prompt_tokens=48)
    return apply_overrides(base, [f"{k}={v}" for k, v in changes.items()])


def _oracles(synth_dir: Path, sandbox, config: TrainConfig, n: int = 6):  # type: ignore[no-untyped-def]
    llm = build_policy(config)
    tasks = [t for t in read_tasks(synth_dir / "train.jsonl") if t.template != "l2_temporal_while_touching"]
    episodes = [
        prepare(t, synth_dir, llm, max_prompt_tokens=config.max_prompt_tokens, prompt=config.prompt)
        for t in tasks[:n]
    ]
    return llm, [oracle_rollout(llm, e, sandbox) for e in episodes]


def test_oracle_rollouts_score_the_maximum(synth_dir: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    _, oracles = _oracles(synth_dir, sandbox, _config(synth_dir), n=10)
    for o in oracles:
        s = score(o.rollout, max_execute_rounds=4)
        assert s.parsed.well_formed, s.parsed.problems
        assert (s.structured.r_token, s.structured.r_exec, s.structured.r_dt) == (0.0, 0.0, 0.5)
        assert s.correct and s.task_reward == 2.0
        # the env mask covers exactly the model's text: prefill and results are 0
        assert o.rollout.env_mask[0] == 0 and 0 in o.rollout.env_mask and 1 in o.rollout.env_mask


def test_sft_labels_mask_prompt_and_results(synth_dir: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    llm, oracles = _oracles(synth_dir, sandbox, _config(synth_dir), n=2)
    batch = batch_tensors([o.rollout for o in oracles], llm.pad_id)
    r = oracles[0].rollout
    n_prompt = len(r.episode.prompt_ids)
    labels = batch["labels"][0]
    assert (labels[:n_prompt] == IGNORE).all()
    mask = torch.tensor(r.env_mask)
    completion_labels = labels[n_prompt : n_prompt + len(r.env_mask)]
    assert ((completion_labels == IGNORE) == (mask == 0)).all()


def test_sft_learns_and_lr_zero_changes_nothing(synth_dir: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    config = _config(synth_dir, lora_modules_to_save="embed_tokens,lm_head")
    llm, oracles = _oracles(synth_dir, sandbox, config, n=2)
    rollouts = [o.rollout for o in oracles]
    frozen = with_lora(build_policy(config).model, config)
    before = {k: v.clone() for k, v in frozen.state_dict().items()}
    sft(frozen, rollouts, lr=0.0, epochs=2, batch_size=2, seed=0, pad_id=llm.pad_id, progress=False)
    assert all(torch.equal(before[k], v) for k, v in frozen.state_dict().items())
    model = with_lora(llm.model, config)
    losses = sft(model, rollouts, lr=1e-2, epochs=10, batch_size=2, seed=0, pad_id=llm.pad_id, progress=False)
    assert len(losses) == 10 and losses[-1] < 0.6 * losses[0], losses


def test_overrides_are_typed_and_name_the_key(synth_dir: Path) -> None:
    config = _config(synth_dir)
    assert apply_overrides(config, ["grpo_lr=5e-7"]).grpo_lr == 5e-7
    assert apply_overrides(config, ["max_prompt_tokens=null"]).max_prompt_tokens is None
    with pytest.raises(ConfigError, match="`lora_r` takes an integer"):
        apply_overrides(config, ["lora_r=eight"])
    with pytest.raises(ConfigError, match="unknown key `lr`"):
        apply_overrides(config, ["lr=1"])
    with pytest.raises(ConfigError, match="multiple of `num_generations`"):
        apply_overrides(config, ["batch_size=3"])


def test_sft_then_greedy_generation_reproduces_the_oracle(synth_dir: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    """What SFT trains on is what generation continues from: a model fitted to one oracle rollout
    writes it back greedily, token for token, through the live protocol loop (chat template, BOS,
    the <think> prefill, stop strings, the injected <results>). A mismatch anywhere in between (a
    prompt built or tokenized differently, a prefill counted twice, results tokenized with their
    neighbours) makes the greedy rollout drift from the one it was trained on."""
    config = _config(synth_dir, prompt="tiny", max_prompt_tokens="null", tiny_hidden=64)
    llm, oracles = _oracles(synth_dir, sandbox, config, n=1)
    target = oracles[0].rollout
    losses = sft(
        llm.model,
        [target],
        lr=5e-3,
        epochs=100,
        batch_size=1,
        seed=0,
        pad_id=llm.pad_id,
        progress=False,
        schedule="cosine",
    )
    assert losses[-1] < 0.2, losses[-5:]
    rollout = roll_out(
        llm,
        target.episode,
        sandbox,
        max_new_tokens=sum(target.env_mask) + 8,
        max_execute_rounds=4,
        temperature=0.0,
    )
    assert rollout.text == target.text
    assert rollout.completion_ids == target.completion_ids and rollout.env_mask == target.env_mask
    assert score(rollout, max_execute_rounds=4).correct
