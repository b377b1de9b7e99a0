"""The reasoner's commands: ``sandbox run``, ``reason``, ``plan``, ``rollout score``.

Handlers import what they need when they run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from river_core.errors import RiverError
from river_core.reasoning.llms import llm_help

if TYPE_CHECKING:
    from river_core.reasoning.sandbox import Isolation, Sandbox
    from river_core.twin.schema import TwinDocument


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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, help="sampling temperature (default 0.6; 0 = greedy)")
    p.add_argument(
        "--profile", choices=("paper", "tiny"), default="paper", help="twin models, for media input"
    )
    p.add_argument("--range", metavar="START:END", help="source frames of media input, half-open")
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

    defaults = SandboxLimits()
    limits = SandboxLimits(
        cpu_seconds=args.cpu if args.cpu is not None else defaults.cpu_seconds,
        wall_seconds=args.timeout if args.timeout is not None else defaults.wall_seconds,
        memory_bytes=args.memory_mb * 2**20 if args.memory_mb is not None else defaults.memory_bytes,
    )
    return Sandbox(limits, namespaces="require" if args.require_isolation else "auto")


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
        print(f"river: error: the code failed ({result.error_kind}): {result.error}", file=sys.stderr)
        return 1
    return 0


def _twin_for(args: argparse.Namespace) -> tuple[TwinDocument, str]:
    from river_core.twin.schema import load_twin

    path: Path = args.input
    if path.suffix.lower() == ".json":
        return load_twin(path), str(path)
    from river_core.cli.common import progress_bar
    from river_core.media import FrameRange, probe
    from river_core.twin.build import build_twin

    info = probe(path)
    frame_range = FrameRange.parse(args.range, info.frame_count) if args.range else None
    with progress_bar(args) as progress:
        outcome = build_twin(
            path, frame_range, args.query, profile=args.profile, device=args.device, dtype=args.dtype,
            progress=progress,
        )  # fmt: skip
    return outcome.twin, str(path)


def cmd_reason(args: argparse.Namespace) -> int:
    from river_core.atomic import check_output_path, write_bytes_atomic
    from river_core.reasoning.llms import load_llm
    from river_core.reasoning.plan import save_plan
    from river_core.reasoning.reasoner import NoValidPlanError, Reasoner, ReasonerSettings

    for out in (args.out, args.trace):
        if out is not None:
            check_output_path(out, sources=[args.input], overwrite=args.overwrite)
    twin, twin_path = _twin_for(args)
    llm = load_llm(args.llm, device=args.device, dtype=args.dtype)
    replay = llm.info.kind == "replay"
    defaults = ReasonerSettings()
    settings = ReasonerSettings(
        samples=args.samples or (1 if replay else defaults.samples),
        max_execute_rounds=args.max_rounds if args.max_rounds is not None else defaults.max_execute_rounds,
        max_new_tokens=args.max_new_tokens or defaults.max_new_tokens,
        budget_tokens=args.budget_tokens,
        temperature=args.temperature if args.temperature is not None else defaults.temperature,
        seed=args.seed,
    )
    reasoner = Reasoner(llm, settings=settings)
    warn_isolation(reasoner.sandbox.isolation, quiet=args.quiet)
    from river_core.cli.common import progress_bar

    try:
        with progress_bar(args) as progress:
            plan = reasoner(twin, args.query, twin_path=twin_path, progress=progress)
    except NoValidPlanError as exc:
        if args.trace is not None:
            trace = {"query": args.query, "valid": False, "attempts": [a.model_dump() for a in exc.attempts]}
            write_bytes_atomic(
                args.trace, (json.dumps(trace, indent=2) + "\n").encode(), overwrite=args.overwrite
            )
        raise
    save_plan(plan, args.out, overwrite=args.overwrite)
    if args.trace is not None:
        trace = {"query": args.query, "valid": True, **plan.trace.model_dump()}
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
