"""Supervised warm start: the policy learns the protocol from oracle rollouts.

A plain loop, not TRL's ``SFTTrainer``: its masks cover the prompt (``completion_only_loss``) or whole
assistant turns (``assistant_only_loss``), but the injected ``<results>`` sit *inside* the completion and
must not be trained on. Here the labels are the ids where the env mask is 1 and -100 everywhere else
(prompt, prefill, results), so the loss is on the model's own tokens only.

Also here: building the policy (the tiny model or a checkpoint, wrapped in LoRA from the config) and
saving it so ``river reason --llm transformers:DIR`` loads it (the adapter merged into the weights).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Qwen2ForCausalLM

from river_core.devices import choose_device
from river_core.reasoning import llm_transformers
from river_core.reasoning.llm import LLMInfo
from river_core.reasoning.llm_transformers import TransformersLLM
from river_core.rl.config import TrainConfig
from river_core.rl.rollout import Rollout
from river_core.twin.backends._hub import place

IGNORE: int = -100


def build_policy(config: TrainConfig) -> TransformersLLM:
    """The model to train, unwrapped: ``tiny`` (a Qwen2 of ``tiny_hidden`` × ``tiny_layers`` from
    ``seed`` with the protocol-aware tiny tokenizer) or a checkpoint id/folder."""
    plan = choose_device(config.device, "float32")
    if config.model != "tiny":
        return llm_transformers.load(config.model, plan=plan)
    tokenizer = llm_transformers.tiny_tokenizer()
    model_config = llm_transformers.tiny_config(tokenizer)
    model_config.hidden_size = config.tiny_hidden
    model_config.intermediate_size = 2 * config.tiny_hidden
    model_config.num_hidden_layers = config.tiny_layers
    model_config.layer_types = ["full_attention"] * config.tiny_layers  # computed for tiny_config's 2
    model_config.num_attention_heads = max(1, config.tiny_hidden // 16)
    model_config.num_key_value_heads = 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = Qwen2ForCausalLM(model_config)
    place(model, plan)
    return TransformersLLM(model, tokenizer, info=LLMInfo("transformers", "tiny-cpu"), plan=plan)


def lora_config(config: TrainConfig) -> Any:
    """peft's LoRA config from the recipe (None when ``lora_r`` is 0: full fine-tuning)."""
    if config.lora_r == 0:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        modules_to_save=list(config.lora_modules_to_save) or None,
        task_type="CAUSAL_LM",
    )


def with_lora(model: PreTrainedModel, config: TrainConfig) -> Any:
    peft = lora_config(config)
    if peft is None:
        return model
    from peft import get_peft_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return get_peft_model(model, peft)


def merged(model: Any) -> PreTrainedModel:
    """The plain transformers model: a LoRA-wrapped one with its adapter merged into the weights."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def save_policy(
    model: Any, tokenizer: PreTrainedTokenizerBase, out: Path, config: TrainConfig | None = None
) -> Path:
    """Write the model (adapter merged) and tokenizer: ``--llm transformers:OUT`` loads it. With
    ``config``, also ``reasoner.json`` (the prompt style it was trained on; ``river reason`` reads it)."""
    out.mkdir(parents=True, exist_ok=True)
    merged(model).save_pretrained(out)
    tokenizer.save_pretrained(out)
    if config is not None:
        settings = {"prompt": config.prompt, "max_execute_rounds": config.max_execute_rounds}
        (out / "reasoner.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return out


def batch_tensors(rollouts: Sequence[Rollout], pad_id: int) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and labels (-100 on prompt, prefill and injected tokens), right-padded."""
    rows = [
        (r.episode.prompt_ids + r.completion_ids, [0] * len(r.episode.prompt_ids) + r.env_mask)
        for r in rollouts
    ]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # [B, L]
    attention = torch.zeros((len(rows), width), dtype=torch.long)  # [B, L]
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)  # [B, L]
    for i, (ids, mask) in enumerate(rows):
        n = len(ids)
        input_ids[i, :n] = torch.tensor(ids)
        attention[i, :n] = 1
        keep = torch.tensor(mask, dtype=torch.bool)
        labels[i, :n] = torch.where(keep, torch.tensor(ids), torch.tensor(IGNORE))
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def sft(
    model: Any,
    rollouts: Sequence[Rollout],
    *,
    lr: float,
    epochs: float,
    batch_size: int,
    seed: int,
    pad_id: int,
    log: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
    schedule: str = "constant",
) -> list[float]:
    """Train ``model`` on ``rollouts`` (AdamW, shuffled each epoch from ``seed``); the loss per step.
    ``schedule``: ``constant`` or ``cosine`` (a 5 % linear warm-up, then a cosine down to 0)."""
    if not rollouts:
        raise ValueError("`rollouts` is empty: no oracle rollout fits the recipe (see max_completion_tokens)")
    steps = max(1, math.ceil(epochs * len(rollouts) / batch_size)) if epochs > 0 else 0
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: lr_factor(k, steps, schedule))
    rng = random.Random(seed)
    order: list[int] = []
    losses: list[float] = []
    device = next(model.parameters()).device
    model.train()
    bar = _bar(steps, "sft", progress)
    for step in range(steps):
        if len(order) < batch_size:
            more = list(range(len(rollouts)))
            rng.shuffle(more)
            order += more
        picked, order = order[:batch_size], order[batch_size:]
        batch = {k: v.to(device) for k, v in batch_tensors([rollouts[i] for i in picked], pad_id).items()}
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        if log is not None:
            log(
                {
                    "phase": "sft",
                    "step": step + 1,
                    "loss": losses[-1],
                    "lr": lr * lr_factor(step, steps, schedule),
                }
            )
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    model.eval()
    return losses


def lr_factor(step: int, steps: int, schedule: str) -> float:
    """The multiplier of the learning rate at ``step`` (0-based) of ``steps``."""
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}: constant or cosine")
    warm = max(1, round(0.05 * steps))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def append_jsonl(path: Path) -> Callable[[dict[str, Any]], None]:
    """A logger writing one JSON object per line to ``path``."""

    def log(record: dict[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    return log
