"""The reasoner's commands: ``sandbox run``, ``reason``, ``plan``, ``rollout score``.

Handlers import what they need when they run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from river_core.cli.media import RANGE_HELP
from river_core.errors import OutputError, RiverError, UsageError
from river_core.reasoning.llms import llm_help

if TYPE_CHECKING:
    from river_core.reasoning.sandbox import ExecutionResult, Isolation, Sandbox, SandboxLimits
    from river_core.twin.schema import TwinDocument

# SandboxLimits refuses less: the worker's interpreter needs this much address space to start.
MIN_MEMORY_MB = 64


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    sandbox = groups.add_parser(
        "sandbox", help="run model-style code against a twin, isolated", parents=[common]
    )
    sandbox_cmds = sandbox.add_subparsers(title="sandbox commands", metavar="COMMAND")
    p = sandbox_cmds.add_parser("run", parents=[common], help="run CODE.py in the sandbox with the twin API")
    p.add_argument("code", type=Path, help="a Python file, or - for standard input")
    p.add_argument("--twin", type=Path, required=True, help="twin.json the code may query")
    p.add_argument("--timeout", type=float, metavar="S", help="wall-clock limit in seconds (default 10)")
    p.add_argument("--cpu", type=int, metavar="S", help="CPU time limit in whole seconds (default 5)")
    p.add_argument("--memory-mb", type=int, metavar="MB", help="address-space limit (default 1024)")
    p.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to run without OS isolation (bubblewrap namespaces)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sandbox_run)

    p = groups.add_parser(
        "reason", parents=[common], help="work out what a query means on a twin and write an edit plan"
    )
    p.add_argument("input", type=Path, help="a twin.json, or media to build the twin of first")
    p.add_argument(
        "query", help='the editing request, e.g. "make the animal she plays with look like bronze"'
    )
    p.add_argument("--llm", default="paper", metavar="SPEC", help=llm_help())
    p.add_argument("--out", type=Path, required=True, help="the plan JSON to write")
    p.add_argument("--trace", type=Path, help="also write the reasoning trace (rollouts, code, results)")
    p.add_argument("--samples", type=int, help="rollouts to try until one is valid (default 4; replay: 1)")
    p.add_argument("--max-rounds", type=int, help="execute rounds per rollout (default 4)")
    p.add_argument("--max-new-tokens", type=int, help="tokens per generation call (default 4096)")
    p.add_argument(
        "--budget-tokens", type=int, metavar="N", help="token budget of the twin view in the prompt"
    )
    p.add_argument(
        "--prompt",
        choices=("full", "small", "tiny"),
        help="prompt style: full (API reference, compact view), small (object index) or tiny (the request "
        "only; both for small trained models); default: the `prompt` in DIR/reasoner.json of "
        "--llm transformers:DIR, else full",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, help="sampling temperature (default 0.6; 0 = greedy)")
    p.add_argument(
        "--profile", choices=("paper", "tiny"), default="paper", help="twin models, for media input"
    )
    p.add_argument("--range", metavar="START:END", help="media input only: " + RANGE_HELP)
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--overwrite", action="store_true", help="replace existing --out/--trace files")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_reason)

    plan = groups.add_parser("plan", help="edit plans", parents=[common])
    plan_cmds = plan.add_subparsers(title="plan commands", metavar="COMMAND")
    p = plan_cmds.add_parser("schema", parents=[common], help="print the plan's JSON Schema")
    p.set_defaults(handler=cmd_plan_schema)
    p = plan_cmds.add_parser("validate", parents=[common], help="check a (hand-edited) plan against its twin")
    p.add_argument("plan", type=Path)
    p.add_argument("--twin", type=Path, required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_plan_validate)

    rollout = groups.add_parser("rollout", help="rollouts of the reasoner", parents=[common])
    rollout_cmds = rollout.add_subparsers(title="rollout commands", metavar="COMMAND")
    p = rollout_cmds.add_parser(
        "score", parents=[common], help="the paper's structured rewards (R_token, R_exec, R_dt) of a rollout"
    )
    p.add_argument("rollout", type=Path, help="a rollout .txt, or a trace/plan JSON")
    p.add_argument("--twin", type=Path, required=True, help="the twin the rollout was made on")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_rollout_score)


# -- handlers --------------------------------------------------------------------------------------


def _sandbox(args: argparse.Namespace) -> Sandbox:
    from river_core.reasoning.sandbox import Sandbox, SandboxLimits

    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout {args.timeout:g} must be a number of seconds above 0", field="timeout")
    if args.cpu is not None and args.cpu < 1:
        raise UsageError(f"--cpu {args.cpu} must be at least 1 (whole seconds of CPU time)", field="cpu")
    if args.memory_mb is not None and args.memory_mb < MIN_MEMORY_MB:
        raise UsageError(
            f"--memory-mb {args.memory_mb} must be at least {MIN_MEMORY_MB}: the sandboxed interpreter "
            "needs that much to start",
            field="memory_mb",
        )
    defaults = SandboxLimits()
    limits = SandboxLimits(
        cpu_seconds=args.cpu if args.cpu is not None else defaults.cpu_seconds,
        wall_seconds=args.timeout if args.timeout is not None else defaults.wall_seconds,
        memory_bytes=args.memory_mb * 2**20 if args.memory_mb is not None else defaults.memory_bytes,
    )
    return Sandbox(limits, namespaces="require" if args.require_isolation else "auto")


def _failure(result: ExecutionResult, limits: SandboxLimits) -> str:
    """Why the code failed, for people: a limit it hit is named by the flag that raises it."""
    if result.error_kind == "timeout":
        return f"it ran longer than {limits.wall_seconds:g} s; raise --timeout if it needs longer"
    if result.error_kind == "cpu":
        return f"it used more than {limits.cpu_seconds} s of CPU time; raise --cpu if it needs more"
    if result.error_kind == "memory":
        return f"it ran out of memory ({limits.memory_bytes >> 20} MB); raise --memory-mb if it needs more"
    return str(result.error)


def warn_isolation(isolation: Isolation, quiet: bool = False) -> None:
    """Say loudly, on stderr, when model-written code runs without full OS isolation."""
    if isolation.level == "full" or quiet:
        return
    print(
        f"river: WARNING: the sandbox runs with {isolation.level} isolation: " + "; ".join(isolation.notes),
        file=sys.stderr,
    )


def cmd_sandbox_run(args: argparse.Namespace) -> int:
    from river_core.reasoning.twin_data import twin_data
    from river_core.twin.schema import load_twin

    if str(args.code) == "-":
        code = sys.stdin.read()
    else:
        try:
            code = args.code.read_text(encoding="utf-8")
        except OSError as exc:
            raise RiverError(f"{args.code}: cannot read the code ({exc.strerror}); check the path") from None
        except UnicodeDecodeError:
            raise RiverError(f"{args.code}: not UTF-8 text; pass a Python source file") from None
    twin = load_twin(args.twin)
    sandbox = _sandbox(args)
    result = sandbox.run(code, twin_data(twin))
    warn_isolation(result.isolation, quiet=args.json and result.isolation.level == "full")
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0 if result.ok else 1
    sys.stdout.write(result.stdout)
    if result.truncated:
        print("[output truncated]")
    if not result.ok:
        print(
            f"river: error: the code failed ({result.error_kind}): {_failure(result, sandbox.limits)}",
            file=sys.stderr,
        )
        return 1
    return 0


def check_reason_flags(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Check ``river reason``'s flags before anything loads; return its inputs as (what, path)."""
    from river_core.cli.twin import check_device_flag
    from river_core.reasoning.llm import MAX_SEED
    from river_core.reasoning.llms import spec_inputs

    if args.samples is not None and args.samples < 1:
        raise UsageError(f"--samples {args.samples} must be at least 1 (rollouts to try)", field="samples")
    if args.max_rounds is not None and args.max_rounds < 1:
        raise UsageError(
            f"--max-rounds {args.max_rounds} must be at least 1 (execute rounds per rollout: the reasoner "
            "finds the targets in code)",
            field="max_rounds",
        )
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise UsageError(
            f"--max-new-tokens {args.max_new_tokens} must be at least 1 (tokens per generation call)",
            field="max_new_tokens",
        )
    if args.temperature is not None and not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise UsageError(
            f"--temperature {args.temperature:g} must be a number ≥ 0 (0 samples greedily)",
            field="temperature",
        )
    if args.budget_tokens is not None and args.budget_tokens < 1:
        raise UsageError(
            f"--budget-tokens {args.budget_tokens} must be a positive number of tokens", field="budget_tokens"
        )
    if not 0 <= args.seed < MAX_SEED:
        raise UsageError(f"--seed {args.seed} must be in 0…{MAX_SEED - 1}", field="seed")
    check_device_flag(args.device)
    twin_input = args.input.suffix.lower() == ".json"
    if twin_input and args.range is not None:
        raise UsageError(
            f"--range applies to media input; {args.input} is a twin, which covers its own frames",
            field="range",
        )
    try:
        replayed = spec_inputs(args.llm)
    except RiverError as exc:
        raise UsageError(str(exc), field="llm") from None
    what = "the source twin" if twin_input else "the source media"
    return [(what, args.input), *(("the rollout --llm replays", path) for path in replayed)]


def check_reason_outputs(args: argparse.Namespace, inputs: list[tuple[str, Path]]) -> None:
    """--out and --trace: never an input (even with --overwrite), never each other, new unless
    --overwrite."""
    from river_core.atomic import check_output_path, same_file

    if args.trace is not None and same_file(args.out, args.trace):
        raise UsageError(
            f"--out and --trace are the same file {args.out}; give each its own path", field="trace"
        )
    for flag, out in (("--out", args.out), ("--trace", args.trace)):
        if out is None:
            continue
        for what, source in inputs:
            if same_file(out, source):
                raise OutputError(
                    f"{flag} {out} is {what}; a command never writes over its inputs (not even with "
                    "--overwrite): choose another path"
                )
        check_output_path(out, sources=[source for _, source in inputs], overwrite=args.overwrite)


def _twin_for(args: argparse.Namespace) -> tuple[TwinDocument, str]:
    from river_core.twin.schema import load_twin

    path: Path = args.input
    if path.suffix.lower() == ".json":
        return load_twin(path), str(path)
    from river_core.cli.common import progress_bar
    from river_core.cli.media import parse_range_flag
    from river_core.media import probe
    from river_core.twin.build import build_twin

    info = probe(path)
    frame_range = parse_range_flag(args.range, info) if args.range else None
    with progress_bar(args) as progress:
        outcome = build_twin(
            path, frame_range, args.query, profile=args.profile, device=args.device, dtype=args.dtype,
            progress=progress,
        )  # fmt: skip
    return outcome.twin, str(path)


def _trained_prompt(spec: str) -> str | None:
    """The prompt style a model was trained with (``river train`` writes DIR/reasoner.json)."""
    kind, _, where = spec.partition(":")
    path = Path(where) / "reasoner.json"
    if kind != "transformers" or not path.is_file():
        return None
    try:
        prompt = json.loads(path.read_text(encoding="utf-8")).get("prompt")
    except (OSError, ValueError, AttributeError):
        return None
    return prompt if isinstance(prompt, str) else None


def check_replayed_twin(spec: str, twin: TwinDocument) -> None:
    """Refuse to replay a rollout made on another twin (its plan or trace says which): its code would
    run on this twin, but its ``<edit>`` names the other twin's object ids."""
    from river_core.reasoning.llms import parse_llm_spec
    from river_core.reasoning.plan import twin_mismatch
    from river_core.reasoning.replay import replayed_twin

    kind, arg = parse_llm_spec(spec)
    ref = replayed_twin(Path(arg)) if kind == "replay" and arg else None
    differ = twin_mismatch(ref, twin) if ref is not None else []
    if differ:
        raise UsageError(
            f"--llm {spec}: the rollout was made on another twin ({'; '.join(differ)}), and its edit names "
            "that twin's object ids: replay it on the twin it was made on, or reason anew with a model",
            field="llm",
        )


def cmd_reason(args: argparse.Namespace) -> int:
    from river_core.atomic import write_bytes_atomic
    from river_core.reasoning.llms import load_llm
    from river_core.reasoning.plan import TWIN_QUERY, save_plan, twin_ref
    from river_core.reasoning.reasoner import NoValidPlanError, Reasoner, ReasonerSettings
    from river_core.reasoning.view import check_budget

    # 1. Check the flags and the outputs, then the twin (built first for media input) and the budget.
    inputs = check_reason_flags(args)
    check_reason_outputs(args, inputs)
    twin, twin_path = _twin_for(args)
    check_budget(twin, args.budget_tokens)
    check_replayed_twin(args.llm, twin)
    # 2. The LLM and the reasoner.
    llm = load_llm(args.llm, device=args.device, dtype=args.dtype)
    replay = llm.info.kind == "replay"
    defaults = ReasonerSettings()
    settings = ReasonerSettings(
        samples=args.samples if args.samples is not None else (1 if replay else defaults.samples),
        max_execute_rounds=args.max_rounds if args.max_rounds is not None else defaults.max_execute_rounds,
        max_new_tokens=args.max_new_tokens if args.max_new_tokens is not None else defaults.max_new_tokens,
        budget_tokens=args.budget_tokens,
        temperature=args.temperature if args.temperature is not None else defaults.temperature,
        seed=args.seed,
        prompt=args.prompt or _trained_prompt(args.llm) or defaults.prompt,
    )
    reasoner = Reasoner(llm, settings=settings)
    warn_isolation(reasoner.sandbox.isolation, quiet=args.quiet)
    from river_core.cli.common import progress_bar

    # 3. Reason, and write the plan (and the trace, also of a failure).
    try:
        with progress_bar(args) as progress:
            plan = reasoner(twin, args.query, twin_path=twin_path, progress=progress)
    except NoValidPlanError as exc:
        if args.trace is not None:
            trace = {
                "query": args.query,
                "valid": False,
                "twin": twin_ref(twin, twin_path).model_dump(mode="json"),
                "attempts": [a.model_dump() for a in exc.attempts],
            }
            write_bytes_atomic(
                args.trace, (json.dumps(trace, indent=2) + "\n").encode(), overwrite=args.overwrite
            )
        raise
    if args.input.suffix.lower() != ".json":  # built here, for this query: rendering finds it again
        plan = plan.model_copy(update={"provenance": {**plan.provenance, TWIN_QUERY: args.query}})
    save_plan(plan, args.out, overwrite=args.overwrite)
    if args.trace is not None:
        trace = {
            "query": args.query,
            "valid": True,
            "twin": plan.twin.model_dump(mode="json"),
            **plan.trace.model_dump(),
        }
        write_bytes_atomic(
            args.trace, (json.dumps(trace, indent=2) + "\n").encode(), overwrite=args.overwrite
        )
    if args.json:
        print(json.dumps({"plan": str(args.out), **plan.to_json()}, indent=2))
        return 0
    from river_core.reasoning.plan import describe_plan

    print(f"wrote {args.out}: {len(plan.operations)} operation(s)")
    print(describe_plan(plan))
    return 0


def cmd_plan_schema(args: argparse.Namespace) -> int:
    from river_core.reasoning.plan import plan_json_schema

    print(json.dumps(plan_json_schema(), indent=2))
    return 0


def cmd_plan_validate(args: argparse.Namespace) -> int:
    from river_core.reasoning.plan import describe_plan, load_plan
    from river_core.twin.schema import load_twin

    plan = load_plan(args.plan, load_twin(args.twin))
    if args.json:
        print(json.dumps({"valid": True, "operations": len(plan.operations)}, indent=2))
        return 0
    print(f"{args.plan}: valid, {len(plan.operations)} operation(s)")
    print(describe_plan(plan))
    return 0


def cmd_rollout_score(args: argparse.Namespace) -> int:
    from river_core.reasoning.protocol import parse_rollout
    from river_core.reasoning.replay import read_rollout
    from river_core.reasoning.sandbox import Sandbox
    from river_core.reasoning.twin_data import twin_data
    from river_core.rewards.structured import structured_reward
    from river_core.twin.schema import load_twin

    text = read_rollout(args.rollout)
    twin = load_twin(args.twin)
    parsed = parse_rollout(text)
    sandbox = Sandbox()
    data = twin_data(twin)
    results = [sandbox.run(code, data) for code in parsed.code_blocks]
    reward = structured_reward(parsed, [r.ok for r in results], [r.error for r in results])
    if args.json:
        body = reward.to_json()
        body["executions"] = [
            {"ok": r.ok, "error": r.error, "error_kind": r.error_kind, "stdout": r.stdout} for r in results
        ]
        body["isolation"] = sandbox.isolation.to_json()
        print(json.dumps(body, indent=2))
        return 0
    print(
        f"R_token {reward.r_token:+.1f}  R_exec {reward.r_exec:+.1f}  R_dt {reward.r_dt:+.1f}  "
        f"R_struct {reward.total:+.1f}"
    )
    for name, problems in reward.problems.items():
        for problem in problems:
            print(f"  {name}: {problem}")
    return 0
