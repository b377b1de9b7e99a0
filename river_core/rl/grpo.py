"""The training recipe: oracle SFT warm start, then GRPO on TRL's ``GRPOTrainer``, then evaluation.

:func:`train` reads top to bottom:

1. load the tasks and build the policy (``tiny`` or a checkpoint) and its episodes;
2. SFT on oracle rollouts (``sft_epochs`` > 0): LoRA, loss on the model's own tokens; merge;
3. GRPO with a fresh LoRA: ``rollout_func`` runs the protocol token by token with the sandbox; rewards
   R = α (R_token + R_exec + R_dt) + β R_perf + w R_task; the reference is the warm-started policy;
4. save the merged policy to ``OUT/model`` (``river reason --llm transformers:OUT/model``), write
   ``OUT/metrics.jsonl``, ``OUT/rewards.png`` and ``OUT/eval.json`` (held-out test tasks).

Reward functions follow TRL: ``(completions, **kwargs) -> list[float | None]``; they read ``scored``
(one :class:`~river_core.rl.rollout.Scored` per completion, from the rollout function).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from river_core.atomic import check_replaceable_folder, is_inside, same_file, write_manifest
from river_core.errors import OutputError, RiverError
from river_core.reasoning.llm_transformers import TransformersLLM
from river_core.reasoning.sandbox import Sandbox
from river_core.rewards.structured import r_dt, r_exec, r_token
from river_core.rl.config import ConfigError, TrainConfig
from river_core.rl.oracle import OracleError, oracle_rollout
from river_core.rl.rollout import Episode, Scored, make_rollout_func, prepare, roll_out, score
from river_core.rl.sft import append_jsonl, build_policy, merged, save_policy, sft, with_lora
from river_core.rl.tasks import Task, read_tasks

# -- reward functions (TRL style) ------------------------------------------------------------------


def reward_token(completions: list[Any], scored: list[Scored], **kwargs: Any) -> list[float | None]:
    """R_token: 0 for a well-formed rollout, −1 otherwise (the protocol parser decides)."""
    return [r_token(s.parsed) for s in scored]


def reward_exec(completions: list[Any], scored: list[Scored], **kwargs: Any) -> list[float | None]:
    """R_exec: 0 when every execute block ran, −0.5 when one failed (hostile code the sandbox refused too)."""
    return [r_exec(s.outcomes) for s in scored]


def reward_dt(completions: list[Any], scored: list[Scored], **kwargs: Any) -> list[float | None]:
    """R_dt: +0.5 when the edit keeps the twin's schema, −0.5 otherwise."""
    return [r_dt(s.parsed) for s in scored]


def make_reward_perf(judge: Any | None) -> Callable[..., list[float | None]]:
    """R_perf: the judge's ±1 on the rendered edit; None (not applicable) without a judge."""

    def reward_perf(completions: list[Any], scored: list[Scored], **kwargs: Any) -> list[float | None]:
        if judge is None:
            return [None] * len(scored)
        raise RiverError("R_perf needs rendered videos; this trainer renders nothing (see trainer/README.md)")

    return reward_perf


def reward_task(completions: list[Any], scored: list[Scored], **kwargs: Any) -> list[float | None]:
    """Gold task reward: target F1 + span IoU of the plan against gold.targets (0..2; 0 without a plan)."""
    return [s.task_reward for s in scored]


def total_reward(s: Scored, config: TrainConfig) -> float:
    """The weighted sum GRPO optimises (R_perf left out: not applicable without a judge)."""
    return config.reward_alpha * s.structured.total + config.reward_task * s.task_reward


# -- data ------------------------------------------------------------------------------------------


def load_split(config: TrainConfig, split: str) -> list[Task]:
    path = Path(config.tasks) / f"{split}.jsonl"
    if not path.is_file():
        raise ConfigError(
            f"`tasks` = {config.tasks!r} has no {split}.jsonl; write one with `river data synth`"
        )
    tasks = read_tasks(path)
    if split == "train" and config.max_train_tasks is not None:
        tasks = tasks[: config.max_train_tasks]
    return tasks


def episodes_of(tasks: list[Task], config: TrainConfig, llm: TransformersLLM) -> list[Episode]:
    base = Path(config.tasks)
    twins: dict[Path, Any] = {}  # the tasks of a scene share its twin
    return [
        prepare(
            t,
            base,
            llm,
            max_execute_rounds=config.max_execute_rounds,
            max_prompt_tokens=config.max_prompt_tokens,
            prompt=config.prompt,
            twins=twins,
        )
        for t in tasks
    ]


# -- evaluation ------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    mean_reward: float
    per_level: dict[int, dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {"mean_reward": self.mean_reward, "per_level": {str(k): v for k, v in self.per_level.items()}}


def evaluate(
    llm: TransformersLLM, episodes: list[Episode], sandbox: Sandbox, config: TrainConfig, *, samples: int = 1
) -> Evaluation:
    """Mean reward, valid-plan and correct-target rates per level over ``samples`` greedy/sampled rollouts."""
    rows: dict[int, list[tuple[float, bool, bool]]] = {}
    was_training = llm.model.training
    llm.model.eval()
    for i, episode in enumerate(episodes):
        for k in range(samples):
            rollout = roll_out(
                llm,
                episode,
                sandbox,
                max_new_tokens=config.max_completion_tokens,
                max_execute_rounds=config.max_execute_rounds,
                temperature=0.0 if samples == 1 else config.temperature,
                top_p=config.top_p,
                seed=config.seed * 7919 + i * 31 + k,
            )
            s = score(rollout, max_execute_rounds=config.max_execute_rounds)
            rows.setdefault(episode.task.level, []).append(
                (total_reward(s, config), s.plan is not None, s.correct)
            )
    if was_training:
        llm.model.train()
    every = [r for level in rows.values() for r in level]
    per_level = {
        level: {
            "n": float(len(r)),
            "mean_reward": statistics.fmean(x[0] for x in r),
            "valid_plans": statistics.fmean(float(x[1]) for x in r),
            "correct_targets": statistics.fmean(float(x[2]) for x in r),
        }
        for level, r in sorted(rows.items())
    }
    return Evaluation(statistics.fmean(x[0] for x in every) if every else 0.0, per_level)


# -- the recipe ------------------------------------------------------------------------------------


def train(
    config: TrainConfig,
    out: Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    do_sft: bool = True,
    do_grpo: bool = True,
    do_eval: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the recipe into ``out`` (see the module docstring); returns the summary also written to
    ``out/summary.json``. ``out`` must be new, empty or a run folder RIVER wrote (see
    :func:`prepare_run_folder`); it gets the output manifest of :mod:`river_core.atomic`."""
    os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    if config.judge is not None:
        raise ConfigError(
            "`judge` is set, but R_perf needs the edited video rendered for each rollout and this trainer "
            "renders nothing; leave `judge` null (R_perf is then not applicable)"
        )
    prepare_run_folder(out, grpo=do_grpo, resume=resume, overwrite=overwrite, tasks=config.tasks)
    if not progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # save_pretrained's "Writing model shards"
    try:
        return _train(
            config, out, resume=resume, do_sft=do_sft, do_grpo=do_grpo, do_eval=do_eval, progress=progress
        )
    finally:
        write_manifest(out)  # also after a failure: the folder is RIVER's, to --resume or --overwrite
        if not progress:
            hf_logging.enable_progress_bar()


def prepare_run_folder(
    out: Path, *, grpo: bool, resume: bool, overwrite: bool, tasks: str | Path | None = None
) -> None:
    """Make ``out`` ready for a run, or refuse it (:class:`OutputError`) before any work.

    New or empty: used. Otherwise it must be a folder RIVER wrote holding nothing else
    (:func:`~river_core.atomic.check_replaceable_folder`, the rule of every ``--out``); then ``resume``
    continues a training run, GRPO continues a training run without ``grpo/`` (the SFT run it starts
    from), and ``overwrite`` empties the folder so the new run replaces the old one whole (no stale
    ``grpo/`` beside a new ``model/``). ``out`` never holds the ``tasks`` folder.
    """
    if tasks and (same_file(out, Path(tasks)) or is_inside(Path(tasks), out)):
        raise OutputError(f"--out {out} holds the tasks folder {tasks}; choose another --out")
    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir()):
        kind = "a symbolic link" if out.is_symlink() else "a file"
        raise OutputError(f"--out {out} is {kind}, and a run folder is written there; choose another --out")
    try:
        if not out.exists() or not any(out.iterdir()):
            out.mkdir(parents=True, exist_ok=True)
            write_manifest(out)
            return
    except OSError as exc:
        raise OutputError(
            f"cannot write the run folder {out}: {exc.strerror}; choose another --out"
        ) from None
    check_replaceable_folder(out)
    run = _is_training_run(out)
    if run and (resume or (grpo and not overwrite and not (out / "grpo").exists())):
        return
    if not overwrite:
        what = "a RIVER training run" if run else "other RIVER output (not a training run)"
        raise OutputError(
            f"output {out}/ holds {what} already; pass --overwrite to replace it"
            f"{', --resume to continue it' if run and grpo else ''} or choose another --out"
        )
    for entry in os.scandir(out):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            Path(entry.path).unlink()
    write_manifest(out)


def _is_training_run(folder: Path) -> bool:
    """True when ``folder`` holds the recipe a run writes first (``config.json``, a TrainConfig)."""
    try:
        recipe = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(recipe, dict) and {"tasks", "sft_epochs", "grpo_lr"} <= recipe.keys()


def _train(
    config: TrainConfig,
    out: Path,
    *,
    resume: bool,
    do_sft: bool,
    do_grpo: bool,
    do_eval: bool,
    progress: bool,
) -> dict[str, Any]:
    (out / "config.json").write_text(json.dumps(config.to_json(), indent=2), encoding="utf-8")
    log = append_jsonl(out / "metrics.jsonl")
    if not resume and (out / "metrics.jsonl").exists():
        (out / "metrics.jsonl").unlink()
    # 1. Tasks, policy, episodes
    llm = build_policy(config)
    sandbox = Sandbox(prestart=2)
    train_eps = episodes_of(load_split(config, "train"), config, llm)
    test_eps = episodes_of(load_split(config, "test")[: config.max_eval_tasks], config, llm)
    summary: dict[str, Any] = {"train_tasks": len(train_eps), "test_tasks": len(test_eps)}
    if do_eval:
        summary["eval_before"] = evaluate(llm, test_eps, sandbox, config).to_json()
    # 2. SFT warm start on oracle rollouts
    sft_dir = out / "sft"
    if do_sft and config.sft_epochs > 0:
        if (sft_dir / "config.json").is_file():
            llm = _reload(sft_dir, llm)  # `river train sft` ran already: GRPO starts from it
        else:
            oracles, skipped = [], 0
            for episode in train_eps:
                try:
                    o = oracle_rollout(llm, episode, sandbox)
                except OracleError:
                    skipped += 1
                    continue
                if sum(o.rollout.env_mask) > config.max_completion_tokens:
                    skipped += 1
                    continue
                oracles.append(o.rollout)
            if not oracles:
                raise ConfigError(
                    f"no oracle rollout for SFT: all {skipped} train task(s) were skipped (no oracle, or "
                    f"longer than `max_completion_tokens` = {config.max_completion_tokens}); raise "
                    "`max_completion_tokens` or set `sft_epochs` to 0"
                )
            summary["sft_rollouts"], summary["sft_skipped"] = len(oracles), skipped
            model = with_lora(llm.model, config) if config.sft_lora else llm.model
            losses = sft(
                model,
                oracles,
                lr=config.sft_lr,
                epochs=config.sft_epochs,
                batch_size=config.sft_batch_size,
                seed=config.seed,
                pad_id=llm.pad_id,
                log=log,
                progress=progress,
                schedule=config.sft_schedule,
            )
            summary["sft_loss_first_last"] = [losses[0], losses[-1]]
            llm = TransformersLLM(merged(model), llm.tokenizer, info=llm.info, plan=llm.plan)
            save_policy(llm.model, llm.tokenizer, sft_dir, config)
        if do_eval:
            summary["eval_after_sft"] = evaluate(llm, test_eps, sandbox, config).to_json()
    # 3. GRPO
    if do_grpo:
        llm = run_grpo(
            llm, train_eps, sandbox, config, out / "grpo", resume=resume, log=log, progress=progress
        )
    # 4. Save, plot, evaluate
    save_policy(llm.model, llm.tokenizer, out / "model", config)
    if do_eval:
        after = summary.get("eval_after_sft") if not do_grpo else None
        summary["eval_after"] = after or evaluate(llm, test_eps, sandbox, config).to_json()
    from river_core.rl.plot import plot_rewards

    labels = {
        "eval_before": "before",
        "eval_after_sft": "after SFT",
        "eval_after": "after GRPO" if do_grpo else "after",
    }
    held_out = {label: summary[key]["mean_reward"] for key, label in labels.items() if key in summary}
    summary["plot"] = str(plot_rewards(out / "metrics.jsonl", out / "rewards.png", held_out=held_out))
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    sandbox.close()
    return summary


def _reload(folder: Path, like: TransformersLLM) -> TransformersLLM:
    from transformers import AutoModelForCausalLM

    from river_core.twin.backends._hub import place

    model = AutoModelForCausalLM.from_pretrained(folder)
    place(model, like.plan)
    return TransformersLLM(model, like.tokenizer, info=like.info, plan=like.plan)


def grpo_args(config: TrainConfig, output_dir: Path, *, progress: bool = True) -> Any:
    """TRL's GRPOConfig for the recipe: the paper's objective (loss "grpo", group scaling, β > 0)."""
    from trl import GRPOConfig

    cpu = (config.device or "cpu") == "cpu"
    return GRPOConfig(
        output_dir=str(output_dir),
        learning_rate=config.grpo_lr,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_generations=config.num_generations,
        num_train_epochs=config.grpo_epochs,
        max_steps=config.grpo_max_steps,
        max_completion_length=config.max_completion_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        beta=config.beta,
        epsilon=config.epsilon,
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        use_bias_correction_kl=False,
        reward_weights=[config.reward_alpha] * 3 + [config.reward_beta, config.reward_task],
        save_steps=config.save_steps,
        logging_steps=config.logging_steps,
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=cpu,
        bf16=False,
        gradient_checkpointing=False,
        report_to=[],
        use_vllm=config.use_vllm,
        remove_unused_columns=False,
        save_only_model=False,
        disable_tqdm=not progress,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
    )


def make_trainer(
    llm: TransformersLLM,
    episodes: list[Episode],
    sandbox: Sandbox,
    config: TrainConfig,
    output_dir: Path,
    *,
    log: Callable[[dict[str, Any]], None] | None = None,
    rollout_func: Any = None,
    callbacks: list[Any] | None = None,
    progress: bool = True,
) -> Any:
    """A ``GRPOTrainer`` over ``episodes`` with the protocol rollout function and our rewards;
    ``progress=False``: no progress bar and no log lines on the terminal (metrics.jsonl has them)."""
    from datasets import Dataset
    from transformers import PrinterCallback, TrainerCallback
    from trl import GRPOTrainer

    from river_core.rl.sft import lora_config

    by_key = {e.task.id: e for e in episodes}
    dataset = Dataset.from_dict({"prompt": list(by_key)})
    rollout_func = rollout_func or make_rollout_func(
        by_key,
        sandbox,
        llm.tokenizer,
        max_new_tokens=config.max_completion_tokens,
        max_execute_rounds=config.max_execute_rounds,
        temperature=config.temperature,
        top_p=config.top_p,
        seed=config.seed,
    )

    class _Log(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if log is not None and logs:
                log({"phase": "grpo", "step": state.global_step, **logs})

    trainer = GRPOTrainer(
        model=llm.model,
        reward_funcs=[reward_token, reward_exec, reward_dt, make_reward_perf(None), reward_task],
        args=grpo_args(config, output_dir, progress=progress),
        train_dataset=dataset,
        processing_class=llm.tokenizer,
        peft_config=lora_config(config),
        rollout_func=rollout_func,
        callbacks=[_Log(), *(callbacks or [])],
    )
    if not progress:
        trainer.remove_callback(PrinterCallback)  # what Trainer prints each log with disable_tqdm
    return trainer


def run_grpo(
    llm: TransformersLLM,
    episodes: list[Episode],
    sandbox: Sandbox,
    config: TrainConfig,
    output_dir: Path,
    *,
    resume: bool,
    log: Callable[[dict[str, Any]], None] | None,
    progress: bool = True,
    callbacks: list[Any] | None = None,
) -> TransformersLLM:
    """GRPO from ``llm`` (the reference); returns the trained policy with its adapter merged.
    ``resume``: continue from the last ``output_dir/checkpoint-*`` (optimizer, scheduler, RNG, step)."""
    trainer = make_trainer(
        llm, episodes, sandbox, config, output_dir, log=log, callbacks=callbacks, progress=progress
    )
    checkpoint = resume and any(output_dir.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if checkpoint else None)
    model = merged(trainer.accelerator.unwrap_model(trainer.model))
    return TransformersLLM(model, llm.tokenizer, info=llm.info, plan=llm.plan)
