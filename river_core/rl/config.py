"""Training recipes as typed dataclasses, read from YAML and overridden with ``--set key=value``.

One flat :class:`TrainConfig` holds a recipe (``trainer/configs/paper.yaml``, ``tiny-cpu.yaml``): the
data, the model and its LoRA, the supervised warm start (SFT on oracle rollouts), GRPO's objective and
the reward weights. Every field says what it does in ``metadata["help"]`` (TRL style); cross-field checks
live in ``__post_init__`` and name the key and the remedy.

>>> cfg = TrainConfig(tasks="synth")
>>> apply_overrides(cfg, ["grpo_lr=1e-5", "lora_r=4"]).lora_r
4
>>> apply_overrides(cfg, ["lora_r=four"])
Traceback (most recent call last):
...
river_core.rl.config.ConfigError: --set lora_r=four: `lora_r` takes an integer, got 'four'
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from river_core.errors import RiverError

LOSS_TYPES: Final = ("grpo", "dr_grpo", "dapo", "bnpo")
SCALE_REWARDS: Final = ("group", "batch", "none")
PROMPT_STYLES: Final = ("full", "small", "tiny")  # river_core.reasoning.reasoner.PROMPT_STYLES
AT_LEAST_ONE: Final = (
    "tiny_hidden",
    "tiny_layers",
    "max_completion_tokens",
    "max_execute_rounds",
    "max_train_tasks",
    "max_eval_tasks",
    "sft_batch_size",
    "batch_size",
    "gradient_accumulation_steps",
    "save_steps",
    "logging_steps",
)
"""The integer keys that must be at least 1 (the recipe's sizes and counts), checked in one place."""
_NULLABLE: Final = ("max_train_tasks", "max_eval_tasks")


class ConfigError(RiverError, ValueError):
    """A recipe or override that does not fit :class:`TrainConfig`; the message names the key."""


@dataclass
class TrainConfig:
    """A training recipe. ``paper`` follows §3.2 and Implementation Details; ``tiny-cpu`` is the same
    pipeline at a size a 2-core CPU trains in minutes."""

    # -- data and model
    tasks: str = field(metadata={"help": "Folder written by `river data synth` (train/val/test.jsonl)."})
    model: str = field(
        default="tiny",
        metadata={"help": "`tiny` (a Qwen2 built in code from the tiny_* sizes) or a causal-LM id/folder."},
    )
    tiny_hidden: int = field(default=64, metadata={"help": "Hidden size of the tiny model."})
    tiny_layers: int = field(default=2, metadata={"help": "Layers of the tiny model."})
    seed: int = field(default=0, metadata={"help": "Seeds the model, LoRA, data order and sampling."})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, … (None: the best available)."})
    prompt: str = field(
        default="full",
        metadata={
            "help": "The reasoner's prompt style (ReasonerSettings.prompt): `full` (API reference, compact "
            "view, ~13k byte tokens) or `small` (object index, a few hundred tokens). Training, evaluation "
            "and `river reason` (from OUT/model/reasoner.json) build the same prompt."
        },
    )
    max_prompt_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Keep only the last N prompt tokens (the request sits at the end). None: the whole "
            "prompt, as inference sends it (a cut prompt differs from inference's: prefer `prompt: small`)."
        },
    )
    max_completion_tokens: int = field(
        default=1024, metadata={"help": "Model tokens per rollout; longer oracle rollouts are skipped."}
    )
    max_execute_rounds: int = field(default=4, metadata={"help": "Execute rounds per rollout."})
    max_train_tasks: int | None = field(default=None, metadata={"help": "Use only the first N train tasks."})
    max_eval_tasks: int | None = field(
        default=None, metadata={"help": "Evaluate on the first N test tasks only (None: all of them)."}
    )
    # -- LoRA
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (0: full fine-tuning, no adapter)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA branch."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "Linear layers that get adapters."},
    )
    lora_modules_to_save: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Modules trained in full next to the adapters (a random tiny model needs its "
            "embeddings and head: LoRA alone cannot teach it bytes)."
        },
    )
    # -- supervised warm start on oracle rollouts
    sft_epochs: float = field(default=0.0, metadata={"help": "Epochs of SFT before GRPO (0: none)."})
    sft_lr: float = field(default=1e-4, metadata={"help": "SFT learning rate (AdamW)."})
    sft_batch_size: int = field(default=4, metadata={"help": "Oracle rollouts per SFT step."})
    sft_schedule: str = field(
        default="constant",
        metadata={"help": "SFT learning-rate schedule: `constant` or `cosine` (5% warm-up, then down to 0)."},
    )
    sft_lora: bool = field(
        default=True,
        metadata={
            "help": "SFT trains a LoRA adapter (then merged); false: every weight (a random tiny model has "
            "nothing for LoRA to adapt). GRPO uses LoRA either way, its reference the warm start."
        },
    )
    # -- GRPO (paper §3.2: DeepSeekMath GRPO with a KL to the reference)
    grpo_epochs: float = field(default=10.0, metadata={"help": "Passes over the train tasks."})
    grpo_max_steps: int = field(default=-1, metadata={"help": "Stop after N optimizer steps (-1: epochs)."})
    grpo_lr: float = field(default=5e-7, metadata={"help": "GRPO learning rate."})
    batch_size: int = field(default=8, metadata={"help": "Completions per device per step."})
    num_generations: int = field(default=8, metadata={"help": "Rollouts per task (the group size)."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Steps per optimizer update."})
    beta: float = field(
        default=0.04, metadata={"help": "KL coefficient to the reference (> 0 in the paper)."}
    )
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range."})
    loss_type: str = field(default="grpo", metadata={"help": f"TRL loss: one of {LOSS_TYPES}."})
    scale_rewards: str = field(default="group", metadata={"help": f"Advantage scaling: {SCALE_REWARDS}."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of the rollouts."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling of the rollouts."})
    use_vllm: bool = field(default=False, metadata={"help": "Generate with vLLM (GPU only; TRL's option)."})
    # -- rewards: R = alpha * R_struct + beta * R_perf (+ the gold task reward)
    reward_alpha: float = field(default=1.0, metadata={"help": "α: weight of R_struct (token, exec, dt)."})
    reward_beta: float = field(default=1.0, metadata={"help": "β: weight of R_perf (the judge)."})
    reward_task: float = field(
        default=1.0, metadata={"help": "Weight of the gold task reward (target F1 + span IoU, 0..2)."}
    )
    judge: str | None = field(default=None, metadata={"help": "Judge spec for R_perf (None: no R_perf)."})
    # -- bookkeeping
    save_steps: int = field(default=50, metadata={"help": "Checkpoint every N optimizer steps."})
    logging_steps: int = field(default=1, metadata={"help": "Write metrics every N steps."})
    merge_lora: bool = field(
        default=True,
        metadata={
            "help": "Merge the adapter into the weights of the saved model (loads as transformers:DIR)."
        },
    )

    def __post_init__(self) -> None:
        if self.loss_type not in LOSS_TYPES:
            raise ConfigError(f"`loss_type` must be one of {LOSS_TYPES}, got {self.loss_type!r}")
        if self.scale_rewards not in SCALE_REWARDS:
            raise ConfigError(f"`scale_rewards` must be one of {SCALE_REWARDS}, got {self.scale_rewards!r}")
        if self.num_generations < 2:
            raise ConfigError(
                f"`num_generations` must be at least 2 (GRPO compares rollouts within a group), "
                f"got {self.num_generations}"
            )
        if self.batch_size % self.num_generations:
            raise ConfigError(
                f"`batch_size` ({self.batch_size}) must be a multiple of `num_generations` "
                f"({self.num_generations}): each step holds whole groups"
            )
        if self.beta < 0:
            raise ConfigError(f"`beta` must be 0 or more, got {self.beta}")
        if self.lora_r < 0:
            raise ConfigError(f"`lora_r` must be 0 (full fine-tuning) or more, got {self.lora_r}")
        if self.prompt not in PROMPT_STYLES:
            raise ConfigError(f"`prompt` must be one of {PROMPT_STYLES}, got {self.prompt!r}")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 16:
            raise ConfigError(
                f"`max_prompt_tokens` must be at least 16 or null, got {self.max_prompt_tokens}"
            )
        for name in ("sft_lr", "grpo_lr", "sft_epochs", "grpo_epochs"):
            if getattr(self, name) < 0:
                raise ConfigError(f"`{name}` must be 0 or more, got {getattr(self, name)}")
        if self.sft_schedule not in ("constant", "cosine"):
            raise ConfigError(f"`sft_schedule` must be constant or cosine, got {self.sft_schedule!r}")
        for name in AT_LEAST_ONE:  # sizes and counts: 0 would divide by zero or train nothing
            value = getattr(self, name)
            if value is not None and value < 1:
                null = " or null" if name in _NULLABLE else ""
                raise ConfigError(f"`{name}` must be at least 1{null}, got {value}")
        if self.grpo_max_steps != -1 and self.grpo_max_steps < 1:
            raise ConfigError(
                f"`grpo_max_steps` must be at least 1 (or -1: train `grpo_epochs`), got {self.grpo_max_steps}"
            )
        if not self.temperature > 0:
            raise ConfigError(f"`temperature` must be more than 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"`top_p` must be more than 0 and at most 1, got {self.top_p}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"`lora_dropout` must be 0 or more and less than 1, got {self.lora_dropout}")
        if self.epsilon < 0:
            raise ConfigError(f"`epsilon` must be 0 or more, got {self.epsilon}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: Path | str, overrides: list[str] | None = None) -> TrainConfig:
    """A recipe from YAML, then ``overrides`` (``key=value``, the value read as YAML) on top."""
    path = Path(path)
    hint = "a YAML recipe such as trainer/configs/tiny-cpu.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"the recipe {path} is not text (not UTF-8); give {hint}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the recipe {path}: {exc.strerror}; give {hint}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from None
    if data is None:
        raise ConfigError(f"the recipe {path} is empty; give {hint}")
    if not isinstance(data, dict):
        raise ConfigError(
            f"the recipe {path} is not a mapping of keys to values (it holds a {type(data).__name__}); "
            f"give {hint}"
        )
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - set(known), key=str)  # keys may be numbers: `1: x`
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    if "tasks" in data and isinstance(data["tasks"], str) and not Path(data["tasks"]).is_absolute():
        data["tasks"] = data["tasks"]  # relative to the working directory, like every CLI path
    values = {k: _coerce(k, v, known[k].type, source=str(path)) for k, v in data.items()}
    if "tasks" not in values:
        values["tasks"] = ""
    config = TrainConfig(**values)
    return apply_overrides(config, overrides or [])


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """One line for a YAML error: file, line, column and the parser's short problem."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        return (
            f"the recipe {path} is not valid YAML: line {mark.line + 1}, column {mark.column + 1}: {problem}"
        )
    return f"the recipe {path} is not valid YAML: {' '.join(str(exc).split())}"


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """``config`` with each ``key=value`` applied (typed; an unknown key or bad value names itself)."""
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set {item!r}: write key=value, e.g. --set grpo_lr=1e-5")
        if key not in known:
            raise ConfigError(f"--set {item}: unknown key `{key}`; known keys: {sorted(known)}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        changes[key] = _coerce(key, value, known[key].type, source=f"--set {item}", raw=raw)
    return dataclasses.replace(config, **changes)


def _coerce(key: str, value: Any, annotation: Any, *, source: str, raw: str | None = None) -> Any:
    hint = typing.get_type_hints(TrainConfig)[key] if isinstance(annotation, str) else annotation
    shown = raw if raw is not None else value
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if isinstance(hint, types.UnionType) else hint
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{source}: `{key}` cannot be null")
    origin = typing.get_origin(base)
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: `{key}` takes a list of names, got {shown!r}")
        return value
    if base is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: `{key}` takes true or false, got {shown!r}")
    if base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: `{key}` takes an integer, got {shown!r}")
    if base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML reads 5e-7 (no dot) as a string
            except ValueError:
                pass
        raise ConfigError(f"{source}: `{key}` takes a number, got {shown!r}")
    if base is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{source}: `{key}` takes text, got {shown!r}")
    return value
