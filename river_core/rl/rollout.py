"""Training rollouts: the reasoner's protocol, token by token, on the policy being trained.

A task becomes an :class:`Episode` (its twin, the reasoner's own system and user prompt, the prompt's
token ids). :func:`roll_out` then runs the multi-turn loop exactly as inference does
(:class:`~river_core.reasoning.reasoner.Reasoner`): generate until ``</execute>`` or ``</edit>``, run the
code in the sandbox, append the tokenized ``<results>`` (mask 0) and resume, never re-tokenizing the
joined text. :func:`score` parses the result with the one protocol parser and computes what the reward
functions read: the structured rewards' inputs and the plan's targets against the gold.

:func:`make_rollout_func` wraps it for TRL's ``GRPOTrainer(rollout_func=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from river_core.errors import RiverError
from river_core.reasoning.edits import allows_add, plan_from_edit
from river_core.reasoning.llm import MAX_SEED, GenerationSettings, LLMInfo
from river_core.reasoning.llm_transformers import TransformersLLM, TransformersSession
from river_core.reasoning.plan import EditPlan, PlanError
from river_core.reasoning.protocol import (
    EXECUTE,
    STOP_STRINGS,
    ParsedRollout,
    Segment,
    parse_segments,
    results_block,
)
from river_core.reasoning.reasoner import Reasoner, ReasonerSettings, _results_text
from river_core.reasoning.sandbox import ExecutionResult, Sandbox
from river_core.reasoning.twin_data import twin_data
from river_core.rewards.structured import StructuredReward, structured_reward
from river_core.rl.tasks import Task
from river_core.twin.schema import TwinDocument, load_twin


@dataclass
class Episode:
    """One task made ready for rollouts: the prompt the reasoner would send, as token ids."""

    task: Task
    twin: TwinDocument
    data: dict[str, Any]
    system: str
    user: str
    prompt: str
    prefill: str
    prompt_ids: list[int]


def prepare(
    task: Task,
    base: Path,
    llm: TransformersLLM,
    *,
    max_execute_rounds: int = 4,
    max_prompt_tokens: int | None = None,
    prompt: str = "full",
    twins: dict[Path, tuple[TwinDocument, dict[str, Any]]] | None = None,
) -> Episode:
    """The episode of ``task`` (twin paths relative to ``base``); the prompt is built by the reasoner's
    own :meth:`~river_core.reasoning.reasoner.Reasoner.build_prompt` and chat template (``prompt``: the
    style, as ``ReasonerSettings.prompt``). With
    ``max_prompt_tokens`` only the last tokens are kept (the request is at the end). ``twins``: a cache
    of loaded twins (and their sandbox data) by path, shared by the tasks of one scene."""
    path = task.twin_path(base)
    if path is None:
        raise RiverError(f"task {task.id}: its source is media; train on twin tasks (`river data synth`)")
    cached = twins.get(path) if twins is not None else None
    if cached is None:
        loaded = load_twin(path)
        cached = (loaded, twin_data(loaded))
        if twins is not None:
            twins[path] = cached
    twin, data = cached
    settings = ReasonerSettings(max_execute_rounds=max_execute_rounds, prompt=prompt)
    system, user, _ = Reasoner(llm, sandbox=_NO_SANDBOX, settings=settings).build_prompt(twin, task.query)
    prompt, prefill = llm.render_prompt(system, user)
    ids = llm.encode(prompt)
    if max_prompt_tokens is not None:
        ids = ids[-max_prompt_tokens:]
    return Episode(task, twin, data, system, user, prompt, prefill, ids)


class _Unused:
    """Stands in for the sandbox when only the prompt is built."""


_NO_SANDBOX: Any = _Unused()


@dataclass
class Rollout:
    """One rollout: completion ids from the prefill on, the env mask (1 = sampled by the model,
    0 = prefill or injected results), the text segments, and every execution in order."""

    episode: Episode
    completion_ids: list[int]
    env_mask: list[int]
    segments: list[Segment]
    executions: list[ExecutionResult] = field(default_factory=list)
    too_many_rounds: bool = False

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)

    def parsed(self, max_execute_rounds: int) -> ParsedRollout:
        """The one protocol parser's reading (R_token requires the execute/results round)."""
        return parse_segments(self.segments, require_execute=True, max_execute_rounds=max_execute_rounds)


def roll_out(
    llm: TransformersLLM,
    episode: Episode,
    sandbox: Sandbox,
    *,
    max_new_tokens: int,
    max_execute_rounds: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int | None = None,
) -> Rollout:
    """Sample one rollout of ``episode`` as the reasoner does (see the module docstring)."""
    gen = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    session = TransformersSession(llm, list(episode.prompt_ids), episode.prefill, gen)
    executions: list[ExecutionResult] = []
    rounds = 0
    too_many = False
    while session.budget_left > 0:
        text = session.generate(stop=STOP_STRINGS, max_new_tokens=max_new_tokens)
        if not text.rstrip().endswith("</execute>"):
            break  # an edit, the end of sequence, or the budget
        rounds += 1
        if rounds > max_execute_rounds:
            too_many = True
            break
        parsed = parse_segments(session.segments, require_execute=False, max_execute_rounds=None)
        blocks = [t for t in parsed.turns if t.tag == EXECUTE]
        code = blocks[-1].body if blocks and blocks[-1].closed else ""
        result = sandbox.run(code, episode.data)
        executions.append(result)
        session.inject(results_block(_results_text(result)))
    return Rollout(
        episode,
        list(session.completion_ids),
        list(session.completion_mask),
        list(session.segments),
        executions,
        too_many,
    )


@dataclass
class Scored:
    """What the reward functions read about one rollout."""

    parsed: ParsedRollout
    outcomes: list[bool]
    structured: StructuredReward
    plan: EditPlan | None
    plan_error: str | None
    target_f1: float
    span_iou: float

    @property
    def task_reward(self) -> float:
        """Target F1 plus span IoU against the gold, 0..2 (0 without a valid plan)."""
        return self.target_f1 + self.span_iou

    @property
    def correct(self) -> bool:
        """A valid plan whose targets and frames are exactly the gold's."""
        return self.plan is not None and self.target_f1 == 1.0 and self.span_iou == 1.0


def score(rollout: Rollout, *, max_execute_rounds: int) -> Scored:
    """Parse ``rollout`` with the protocol parser, turn its edit into a plan, compare with the gold."""
    parsed = rollout.parsed(max_execute_rounds)
    # R_exec: one outcome per closed execute block; a block never run (a budget stop) counts as failed
    outcomes = [r.ok for r in rollout.executions][: len(parsed.code_blocks)]
    outcomes += [False] * (len(parsed.code_blocks) - len(outcomes))
    errors = [r.error for r in rollout.executions]
    structured = structured_reward(parsed, outcomes, errors)
    episode = rollout.episode
    plan, error = None, None
    if parsed.well_formed and parsed.edit is not None:
        try:
            plan = plan_from_edit(
                parsed.edit.body,
                episode.twin,
                query=episode.task.query,
                allow_add=allows_add(episode.task.query),
            )
        except PlanError as exc:
            error = str(exc)
    else:
        error = "; ".join(parsed.problems[:2]) or "no edit"
    f1, iou = target_scores(plan, episode.task) if plan is not None else (0.0, 0.0)
    return Scored(parsed, outcomes, structured, plan, error, f1, iou)


def plan_targets(plan: EditPlan) -> dict[int, set[int]]:
    """{object id: frames} over all of the plan's operations."""
    out: dict[int, set[int]] = {}
    for op in plan.operations:
        for target in op.targets:
            frames = out.setdefault(target.id, set())
            for r in target.frames:
                frames.update(range(r.start, r.end))
    return out


def target_scores(plan: EditPlan, task: Task) -> tuple[float, float]:
    """(F1 of the plan's target ids against the gold's, mean frame IoU over the gold targets).

    >>> # a plan on the right object over half its gold frames scores (1.0, 0.5)
    """
    predicted = plan_targets(plan)
    gold = {t.id: {f for r in t.frames for f in range(r.start, r.end)} for t in task.gold.targets}
    hits = len(set(predicted) & set(gold))
    if hits == 0:
        return 0.0, 0.0
    precision, recall = hits / len(predicted), hits / len(gold)
    f1 = 2 * precision * recall / (precision + recall)
    ious = [len(predicted.get(i, set()) & g) / len(predicted.get(i, set()) | g) for i, g in gold.items()]
    return f1, sum(ious) / len(ious)


RolloutFunc = Callable[[list[str], Any], dict[str, list[Any]]]


def make_rollout_func(
    episodes: dict[str, Episode],
    sandbox: Sandbox,
    tokenizer: Any,
    *,
    max_new_tokens: int,
    max_execute_rounds: int,
    temperature: float,
    top_p: float,
    seed: int = 0,
) -> RolloutFunc:
    """TRL's ``rollout_func(prompts, trainer)``: ``prompts`` are episode keys (each already repeated
    ``num_generations`` times); returns prompt_ids, completion_ids, logprobs (None: TRL recomputes
    them), env_mask, and ``scored`` (a :class:`Scored` per completion) for the reward functions.

    Sampling seeds come from ``seed``, the trainer's global step and the call within that step, so a
    run resumed from a checkpoint samples what the uninterrupted run sampled."""
    calls = [0]
    last_step: list[int | None] = [None]

    def rollout_func(prompts: list[str], trainer: Any) -> dict[str, list[Any]]:
        model = trainer.accelerator.unwrap_model(trainer.model)
        llm = TransformersLLM(model, tokenizer, info=LLMInfo("transformers", "policy"), plan=_plan_of(model))
        was_training = model.training
        model.eval()
        out: dict[str, list[Any]] = {"prompt_ids": [], "completion_ids": [], "env_mask": [], "scored": []}
        step = getattr(getattr(trainer, "state", None), "global_step", None)
        calls[0] = calls[0] + 1 if step is None or step == last_step[0] else 0
        last_step[0] = step
        base = calls[0] if step is None else step * 16 + calls[0]
        try:
            for k, key in enumerate(prompts):
                episode = episodes[key]
                rollout = roll_out(
                    llm,
                    episode,
                    sandbox,
                    max_new_tokens=max_new_tokens,
                    max_execute_rounds=max_execute_rounds,
                    temperature=temperature,
                    top_p=top_p,
                    seed=(seed * 1_000_003 + base * 1009 + k) % MAX_SEED,
                )
                out["prompt_ids"].append(episode.prompt_ids)
                out["completion_ids"].append(rollout.completion_ids or [tokenizer.eos_token_id])
                out["env_mask"].append(rollout.env_mask or [1])
                out["scored"].append(score(rollout, max_execute_rounds=max_execute_rounds))
        finally:
            if was_training:
                model.train()
        return {**out, "logprobs": None}  # type: ignore[dict-item]

    return rollout_func


def _plan_of(model: Any) -> Any:
    from river_core.devices import DevicePlan

    param = next(model.parameters())
    return DevicePlan(str(param.device.type), str(param.dtype).removeprefix("torch."))
