"""``river train sft|grpo``: train the reasoner on tasks with exact answers (trainer/README.md).

Handlers import torch, peft and TRL only when they run (the ``train`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from river_core.errors import UsageError


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    train = groups.add_parser("train", help="train the reasoner (SFT warm start, GRPO)", parents=[common])
    cmds = train.add_subparsers(title="train commands", metavar="COMMAND")
    for name, help_text, handler in (
        ("sft", "supervised warm start on oracle rollouts (loss on the model's own tokens)", cmd_train_sft),
        (
            "grpo",
            "GRPO with the protocol rollouts and the paper's rewards (after OUT/sft if present)",
            cmd_train_grpo,
        ),
    ):
        p = cmds.add_parser(name, parents=[common], help=help_text)
        p.add_argument(
            "--config", type=Path, required=True, help="a recipe, e.g. trainer/configs/tiny-cpu.yaml"
        )
        p.add_argument(
            "--out", type=Path, required=True, help="run folder: model/, metrics.jsonl, rewards.png"
        )
        p.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a recipe key (typed), e.g. --set grpo_lr=1e-5; repeatable",
        )
        p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
        p.add_argument(
            "--overwrite",
            action="store_true",
            help="replace the run in --out from scratch (only a run folder RIVER wrote)",
        )
        p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
        p.add_argument("--json", action="store_true", help="print summary.json")
        p.set_defaults(handler=handler)
    p = cmds.add_parser(
        "report",
        parents=[common],
        help="held-out reward, valid plans and correct targets per level, before and after, for runs",
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (their summary.json)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(handler=cmd_train_report)


def _run(args: argparse.Namespace, *, grpo: bool) -> int:
    from river_core.rl.config import ConfigError, load_config
    from river_core.rl.grpo import train

    if args.config.is_dir():
        raise UsageError(
            f"--config {str(args.config)!r} is a folder; give a recipe file such as "
            "trainer/configs/tiny-cpu.yaml",
            field="config",
        )
    if not args.config.is_file():
        raise UsageError(
            f"--config {str(args.config)!r} does not exist; try trainer/configs/tiny-cpu.yaml", field="config"
        )
    if args.resume and args.overwrite:
        raise UsageError(
            "--resume continues the run in --out and --overwrite replaces it; pass only one",
            field="overwrite",
        )
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as exc:
        raise UsageError(str(exc), field="set") from None
    with _library_warnings(shown=args.debug):
        summary = train(
            config,
            args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            do_sft=True,
            do_grpo=grpo,
            do_eval=not args.no_eval,
            progress=not getattr(args, "quiet", False),
        )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        model = args.out / "model"
        print(f"wrote {model} (load with --llm transformers:{model}), metrics.jsonl, rewards.png")
        for key in ("eval_before", "eval_after_sft", "eval_after"):
            if key in summary:
                print(f"{key}: mean reward {summary[key]['mean_reward']:.3f}")
    return 0


@contextlib.contextmanager
def _library_warnings(*, shown: bool) -> Iterator[None]:
    """Hide the deprecation notices torch, transformers and TRL print while training (``--debug`` shows
    them): they are about those libraries' own APIs, not the user's input."""
    if shown:
        yield
        return
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        hf_logging.set_verbosity(verbosity)


def cmd_train_sft(args: argparse.Namespace) -> int:
    return _run(args, grpo=False)


def cmd_train_grpo(args: argparse.Namespace) -> int:
    return _run(args, grpo=True)


def cmd_train_report(args: argparse.Namespace) -> int:
    from river_core.rl.report import read_summary, report_rows, report_table

    runs = []
    for run in args.runs:
        path = run / "summary.json" if run.is_dir() else run
        if not path.is_file():
            raise UsageError(f"{str(run)!r} has no summary.json; run `river train grpo --out {run}` first")
        try:
            summary = read_summary(run)
        except ValueError as exc:  # not JSON, not UTF-8, or not a summary's mapping
            raise UsageError(
                f"{str(path)!r} is not the summary.json `river train` writes ({exc}); give a run folder"
            ) from None
        runs.append((run.name if run.is_dir() else run.parent.name, summary))
    try:
        if args.json:
            print(json.dumps([r for name, s in runs for r in report_rows(name, s)], indent=2))
        else:
            print(report_table(runs))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0
