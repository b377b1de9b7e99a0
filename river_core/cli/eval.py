"""``river eval DATASET --llm SPEC --out REPORT_DIR`` and ``river eval compare A B``.

Handlers import the engine only when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from river_core.errors import UsageError

BACKENDS_GROUP = "river_nle.eval_backends"  # the bridge registers ``bridge`` (bridge.eval_jobs:connect)


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    p = groups.add_parser(
        "eval",
        parents=[common],
        help="score a reasoner (or a baseline) on a dataset per level and category; `eval compare A B`",
        description="river eval DATASET --llm SPEC --out DIR | river eval compare A B | river eval table A …",
    )
    p.add_argument(
        "what",
        nargs="+",
        metavar="DATASET | compare A B",
        help="a task file (.jsonl), a `river data synth` folder, a ReVOS/MeViS folder, `bundled` (3 "
        "rendering tasks on the bundled clip); "
        "or `compare` and two report folders",
    )
    p.add_argument(
        "--llm",
        help="a --llm spec (tiny, transformers:DIR, openai:URL, …) or a baseline: oracle, nouns; with "
        "--bridge: the server's reasoner (checked), a baseline, or omitted (the server's own)",
    )
    p.add_argument(
        "--profile",
        help="pipeline profile for media tasks and rendering (tiny, paper) [tiny; --bridge: the server's]",
    )
    p.add_argument(
        "--render", default="none", choices=("none", "instant", "full"), help="render the plans (media tasks)"
    )
    p.add_argument("--out", type=Path, help="report folder (rerun the same command to resume)")
    p.add_argument("--split", default="test", help="split of a synth folder (train, val, test) [test]")
    p.add_argument("--limit", type=int, help="only the first N tasks")
    p.add_argument("--max-new-tokens", type=int, help="model tokens per generation [1024]")
    p.add_argument("--max-rounds", type=int, help="execute rounds per rollout [4]")
    p.add_argument(
        "--prompt", choices=("full", "small", "tiny"), help="prompt style (default: the model's own)"
    )
    p.add_argument(
        "--judge",
        help="LLM judge for rendered tasks (tiny, qwen:ID, openai:URL); default: tiny with the tiny profile",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the reasoner and the renderer [0]")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each with its own models [1]")
    p.add_argument(
        "--bridge",
        action="store_true",
        help="run the tasks as jobs on the running `river serve` (its discovery file; start one with "
        "`river serve --llm SPEC`): PLAN jobs, TWIN jobs for a baseline; media tasks, --render none",
    )
    p.add_argument("--device", help="cpu, cuda, mps")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--json", action="store_true", help="print the metrics rows (or the comparison) as JSON")
    p.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.what[0] == "compare":
        return _compare(args)
    if args.what[0] == "table":
        return _table(args)
    if len(args.what) != 1:
        raise UsageError(f"give one DATASET, got {len(args.what)}: {' '.join(args.what)}")
    if not args.llm and not args.bridge:
        raise UsageError("--llm is required: a model spec (tiny, transformers:DIR, …) or oracle / nouns")
    if args.out is None:
        raise UsageError("--out is required: the report folder (rerun with the same --out to resume)")
    check_eval_flags(args)
    from river_core.cli.common import progress_bar, say_to
    from river_core.eval.baselines import is_baseline
    from river_core.eval.datasets import load_dataset
    from river_core.eval.editing import MUSIQ_NOTE
    from river_core.eval.report import metrics_rows, write_report
    from river_core.eval.run import EvalSettings, evaluate, summary_of

    llm = args.llm or "server"
    if llm != "server" and not is_baseline(llm):
        from river_core.reasoning.llms import parse_llm_spec

        parse_llm_spec(llm)  # a bad spec fails before any task runs
    backend = None
    profile = args.profile or "tiny"
    with contextlib.ExitStack() as open_backend:  # the server's channel closes however this ends
        if args.bridge:
            given = [f for f in ("max_new_tokens", "max_rounds", "prompt") if getattr(args, f) is not None]
            if given:
                raise UsageError(
                    f"--{given[0].replace('_', '-')} does not apply with --bridge: the server's reasoner "
                    "decodes with its own settings (restart `river serve` to change them), or drop --bridge"
                )
            backend = bridge_backend()
            open_backend.callback(backend.close)
            profile = _server_profile(backend, args.profile)
        judge = args.judge or ("tiny" if profile == "tiny" else None)
        settings = EvalSettings(
            llm=llm,
            profile=profile,
            render=args.render,
            limit=args.limit,
            max_new_tokens=1024 if args.max_new_tokens is None else args.max_new_tokens,
            max_rounds=4 if args.max_rounds is None else args.max_rounds,
            prompt=args.prompt,
            seed=args.seed,
            judge=judge if args.render != "none" else None,
            workers=args.workers,
            bridge=args.bridge,
            device=args.device,
            dtype=args.dtype,
        )
        dataset = load_dataset(args.what[0], split=args.split, profile=profile)
        say = say_to(args)
        with progress_bar(args) as progress:
            samples = evaluate(dataset, args.out, settings, progress=progress, say=say, backend=backend)
    notes = {"musiq": MUSIQ_NOTE} if args.render != "none" else {}
    if args.render != "none" and judge is None:
        notes["judge"] = "not run: pass --judge SPEC"
    paths = write_report(args.out, samples, notes)
    if args.json:
        print(json.dumps(metrics_rows(samples), indent=2))
        return 0
    counts = summary_of(samples)
    say(f"{counts['tasks']} tasks, {counts['valid']} valid plans; wrote " + ", ".join(str(p) for p in paths))
    return 0


def check_eval_flags(args: argparse.Namespace) -> None:
    """Check ``river eval``'s flags as ``river reason`` and ``river edit`` check theirs, before any
    dataset loads or task runs (a bad one would otherwise be recorded in the run)."""
    from river_core.cli.twin import check_device_flag
    from river_core.components import PROFILES
    from river_core.errors import RiverError
    from river_core.eval.run import check_report_folder
    from river_core.reasoning.llm import MAX_SEED
    from river_core.rewards.judges import parse_judge_spec

    if args.profile is not None and args.profile not in PROFILES:
        raise UsageError(f"--profile {args.profile!r} is not one of {', '.join(PROFILES)}", field="profile")
    check_device_flag(args.device)
    for name, value, what in (
        ("limit", args.limit, "tasks to run"),
        ("workers", args.workers, "worker processes"),
        ("max_rounds", args.max_rounds, "execute rounds per rollout"),
        ("max_new_tokens", args.max_new_tokens, "tokens per generation call"),
    ):
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} {value} must be at least 1 ({what})", field=name)
    if not 0 <= args.seed < MAX_SEED:
        raise UsageError(f"--seed {args.seed} must be in 0…{MAX_SEED - 1}", field="seed")
    if args.judge is not None:
        if args.render == "none":
            raise UsageError(
                "--judge scores rendered edits: add --render instant or --render full, or drop --judge",
                field="judge",
            )
        try:
            parse_judge_spec(args.judge)
        except RiverError as exc:
            raise UsageError(str(exc), field="judge") from None
    check_report_folder(args.out)


def bridge_backend() -> Any:
    """The jobs of the running server, through the ``bridge`` entry point of :data:`BACKENDS_GROUP`
    (the engine never imports the bridge)."""
    from river_core.errors import RiverError

    found = [ep for ep in entry_points(group=BACKENDS_GROUP) if ep.name == "bridge"]
    if not found:
        raise UsageError(
            "--bridge needs the bridge client installed (pip install 'river-nle[host]'; in a checkout, "
            "`pip install -e .` registers it)"
        )
    connect = found[0].load()
    try:
        return connect()
    except Exception as exc:  # noqa: BLE001 — the bridge's own error type is not the engine's to import
        raise RiverError(f"--bridge: {exc}") from None


def _server_profile(backend: Any, asked: str | None) -> str:
    from river_core.errors import RiverError

    try:
        served = backend.profile()
    except backend.errors as exc:
        raise RiverError(f"--bridge ({backend.address}): {exc}") from None
    if asked and asked != served:
        raise UsageError(
            f"the server runs the {served} profile, not --profile {asked}: restart it with "
            f"`river serve --profile {asked}`, or drop --profile"
        )
    return served


def _table(args: argparse.Namespace) -> int:
    from river_core.eval.report import read_run, runs_table

    if len(args.what) < 2:
        raise UsageError("usage: river eval table A [B …] (report folders)")
    runs = [(Path(w).name, read_run(Path(w))[1]) for w in args.what[1:]]
    print(runs_table(runs))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from river_core.eval.report import compare, compare_markdown, read_run

    if len(args.what) != 3:
        raise UsageError("usage: river eval compare A B (two report folders)")
    a, b = Path(args.what[1]), Path(args.what[2])
    (_, sa), (_, sb) = read_run(a), read_run(b)
    try:
        rows = compare(sa, sb, seed=args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(rows, indent=2) if args.json else compare_markdown(str(a), str(b), rows))
    return 0
