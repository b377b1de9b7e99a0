"""GRPO through TRL: the loss is DeepSeekMath's objective, injected tokens get no gradient, hostile code
is contained and penalised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from river_core.reasoning.llm_transformers import TransformersSession
from river_core.rl.config import TrainConfig
from river_core.rl.grpo import grpo_args, reward_exec
from river_core.rl.rollout import make_rollout_func, prepare, score
from river_core.rl.sft import build_policy, lora_config
from river_core.rl.tasks import read_tasks

PROMPT = [5, 6, 7, 8]
# four completions of one group; zeros in the env mask mark injected tokens
COMPLETIONS = [[10, 11, 12, 13, 14], [20, 21, 22], [30, 31, 32, 33], [40, 41]]
MASKS = [[1, 1, 0, 0, 1], [1, 1, 1], [1, 0, 1, 1], [1, 1]]
REWARDS = [1.0, 0.0, 0.5, -1.0]


def _trainer(tmp_path: Path, config: TrainConfig):  # type: ignore[no-untyped-def]
    from datasets import Dataset
    from trl import GRPOTrainer

    llm = build_policy(config)

    def rollout_func(prompts: list[str], trainer: Any) -> dict[str, Any]:
        return {
            "prompt_ids": [PROMPT] * len(prompts),
            "completion_ids": COMPLETIONS,
            "logprobs": None,
            "env_mask": MASKS,
            "fixed": REWARDS,
        }

    def fixed_reward(completions: list[Any], fixed: list[float], **kwargs: Any) -> list[float]:
        return list(fixed)

    args = grpo_args(config, tmp_path / "grpo")
    args.reward_weights = None
    trainer = GRPOTrainer(
        model=llm.model,
        reward_funcs=[fixed_reward],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["a"] * 8}),
        processing_class=llm.tokenizer,
        rollout_func=rollout_func,
        peft_config=lora_config(config),
    )
    return trainer, llm


def _config(**changes: Any) -> TrainConfig:
    base = dict(tasks="", tiny_hidden=32, device="cpu", lora_r=4, batch_size=4, num_generations=4, beta=0.1)
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_loss_is_deepseekmath_grpo_and_injected_tokens_get_no_gradient(tmp_path: Path) -> None:
    trainer, _ = _trainer(tmp_path, _config())
    model = trainer.model
    # a policy that differs from its reference (the base, adapters off), so the KL term is not zero
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.2 * torch.randn_like(p))
    trainer.current_gradient_accumulation_steps = 1  # set by train(); one step here
    inputs = trainer._generate_and_score_completions([{"prompt": "a"}] * 4)
    captured: list[torch.Tensor] = []
    hook = model.base_model.model.lm_head.register_forward_hook(
        lambda m, i, o: (o.retain_grad(), captured.append(o))
    )
    loss = trainer.compute_loss(model, inputs)
    hook.remove()
    loss.backward()

    # reference: DeepSeekMath GRPO, one iteration (ratio = 1), per-sequence mean then batch mean
    rewards = torch.tensor(REWARDS)
    adv = (rewards - rewards.mean()) / (rewards.std() + 1e-4)
    total = torch.tensor(0.0)
    for i, (ids, mask) in enumerate(zip(COMPLETIONS, MASKS, strict=True)):
        seq = torch.tensor([PROMPT + ids])
        with torch.no_grad():
            with model.disable_adapter():
                ref_logits = model(seq).logits[0, len(PROMPT) - 1 : -1]
            pol_logits = model(seq).logits[0, len(PROMPT) - 1 : -1]
        target = torch.tensor(ids)
        logp = torch.log_softmax(pol_logits, -1)[range(len(ids)), target]
        ref = torch.log_softmax(ref_logits, -1)[range(len(ids)), target]
        kl = torch.exp(ref - logp) - (ref - logp) - 1
        per_token = -adv[i] + 0.1 * kl
        m = torch.tensor(mask, dtype=torch.float)
        total = total + (per_token * m).sum() / m.sum()
    expected = total / len(COMPLETIONS)
    assert torch.allclose(loss.detach(), expected, atol=1e-5), (float(loss), float(expected))


def test_injected_tokens_get_no_gradient(tmp_path: Path) -> None:
    """The loss reaches the model only through TRL's per-token log-probabilities: d loss / d logp[i, j]
    is exactly 0 for every injected token (env mask 0) and not 0 for every sampled one."""
    trainer, _ = _trainer(tmp_path, _config())
    model = trainer.model
    trainer.current_gradient_accumulation_steps = 1
    inputs = trainer._generate_and_score_completions([{"prompt": "a"}] * 4)
    inputs["advantages"] = torch.tensor([1.0, -0.5, 0.25, -0.75])  # none zero, whatever the group scored
    original = trainer._get_per_token_logps_and_entropies
    probes: list[torch.Tensor] = []

    def probed(*args: Any, **kwargs: Any) -> Any:
        logps, entropies, aux = original(*args, **kwargs)
        if not torch.is_grad_enabled():
            return logps, entropies, aux  # the reference's, under no_grad
        probe = torch.zeros_like(logps, requires_grad=True)  # [B, K]
        probes.append(probe)
        return logps + probe, entropies, aux

    trainer._get_per_token_logps_and_entropies = probed  # type: ignore[method-assign]
    loss = trainer.compute_loss(model, inputs)
    assert len(probes) == 1
    (grad,) = torch.autograd.grad(loss, probes[0])
    for i, mask in enumerate(MASKS):
        for j, keep in enumerate(mask):
            assert (grad[i, j] != 0) if keep else (grad[i, j] == 0), (i, j, keep, float(grad[i, j]))
        assert torch.all(grad[i, len(mask) :] == 0)  # padding


def test_hostile_code_is_contained_penalised_and_training_continues(
    tmp_path: Path,
    synth_dir: Path,
    sandbox,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    config = _config(tasks=str(synth_dir), max_prompt_tokens=32, max_completion_tokens=256)
    llm = build_policy(config)
    task = read_tasks(synth_dir / "train.jsonl")[0]
    episode = prepare(task, synth_dir, llm, max_prompt_tokens=32)
    script = [
        "look</think>\n<execute>\nimport os\nos.system('touch /tmp/river-pwned')\n</execute>",
        "<think>\nno</think>\n<edit>\n{}\n</edit>",
    ]

    def scripted(self: TransformersSession, *, stop: Any, max_new_tokens: int) -> str:
        # the model's text, token ids and mask recorded the way a real generate does
        text = script[sum(1 for s in self.segments if s.source == "generated") % len(script)]
        ids = self.llm.encode(text)
        self.completion_ids += ids
        self.completion_mask += [1] * len(ids)
        from river_core.reasoning.protocol import Segment

        self.segments.append(Segment("generated", text))
        return text

    monkeypatch.setattr(TransformersSession, "generate", scripted)
    func = make_rollout_func(
        {task.id: episode},
        sandbox,
        llm.tokenizer,
        max_new_tokens=256,
        max_execute_rounds=4,
        temperature=1.0,
        top_p=1.0,
    )

    class _T:
        model = llm.model
        accelerator = type("A", (), {"unwrap_model": staticmethod(lambda m: m)})()
        state = None

    out = func([task.id] * 2, _T())
    assert not Path("/tmp/river-pwned").exists()
    assert reward_exec([], out["scored"]) == [-0.5, -0.5]
    s = out["scored"][0]
    assert s.outcomes == [False] and s.plan is None
    assert 0 in out["env_mask"][0]  # the injected results
    assert score  # the same scorer the trainer uses
