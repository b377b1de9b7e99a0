"""``river data …``: reasoning tasks with exact answers: synthesize them, check a task file, the schema.

Handlers import what they need when they run.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from river_core.cli.common import progress_bar
from river_core.errors import UsageError

if TYPE_CHECKING:
    from river_core.rl.tasks import Task

_CATEGORY_SHORT = {"semantic": "sem", "spatial": "spa", "temporal": "tem"}


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    data = groups.add_parser(
        "data", help="reasoning tasks with exact answers (training data)", parents=[common]
    )
    data_cmds = data.add_subparsers(title="data commands", metavar="COMMAND")
    p = data_cmds.add_parser(
        "synth", parents=[common], help="generate tasks with exact answers from synthetic scenes"
    )
    p.add_argument(
        "--out", type=Path, required=True, help="folder to write: twins/, train|val|test.jsonl, summary.json"
    )
    p.add_argument("--n", type=int, required=True, help="how many tasks")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same files (default 0)")
    p.add_argument(
        "--levels", default="1,2,3", metavar="L,…", help="reasoning levels to generate (default 1,2,3)"
    )
    p.add_argument(
        "--split",
        default="0.8,0.1,0.1",
        metavar="TRAIN,VAL,TEST",
        help="fractions of the scenes per split (default 0.8,0.1,0.1); a scene's tasks share a split",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out (only a folder RIVER wrote)")
    p.add_argument("--json", action="store_true", help="print summary.json")
    p.set_defaults(handler=cmd_data_synth)

    p = data_cmds.add_parser("schema", parents=[common], help="print the JSON Schema of a task line")
    p.set_defaults(handler=cmd_data_schema)

    p = data_cmds.add_parser(
        "check", parents=[common], help="validate a task file (and its twins) and count its tasks"
    )
    p.add_argument("tasks", type=Path, help="a .jsonl task file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_data_check)


# -- flags -----------------------------------------------------------------------------------------


def parse_levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        levels = ()
    if not levels or not set(levels) <= {1, 2, 3}:
        raise UsageError(f"--levels {text!r} must list levels 1 to 3, e.g. 1,2,3 or 2", field="levels")
    return levels


def parse_split(text: str) -> tuple[float, float, float]:
    from river_core.rl.synth import check_split

    try:
        return check_split([float(part) for part in text.split(",")])
    except ValueError:
        raise UsageError(
            f"--split {text!r} must be three fractions for train, val and test summing to 1, with train "
            "above 0, e.g. 0.8,0.1,0.1",
            field="split",
        ) from None


# -- handlers --------------------------------------------------------------------------------------


def cmd_data_synth(args: argparse.Namespace) -> int:
    from river_core.atomic import check_output_path
    from river_core.rl.synth import synthesize, write_dataset

    # 1. Check the flags and the output folder before any work.
    if args.n < 1:
        raise UsageError(f"--n {args.n} must be at least 1 (tasks to generate)", field="n")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} must be 0 or more", field="seed")
    levels, split = parse_levels(args.levels), parse_split(args.split)
    check_output_path(args.out, overwrite=args.overwrite, directory=True)
    # 2. Generate, then write the folder atomically.
    with progress_bar(args) as progress:
        data = synthesize(args.n, args.seed, levels=levels, split=split, progress=progress)
    write_dataset(data, args.out, overwrite=args.overwrite)
    summary = data.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"wrote {args.out}/: {args.n} tasks from {len(data.scenes)} scenes (seed {args.seed})")
    print(_table({split: data.tasks[split] for split in data.tasks}, levels))
    return 0


def cmd_data_schema(args: argparse.Namespace) -> int:
    from river_core.rl.tasks import task_schema_text

    print(task_schema_text(), end="")
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from river_core.rl.tasks import TaskFormatError, read_tasks

    tasks = read_tasks(args.tasks)
    if not tasks:
        raise TaskFormatError(
            f"no tasks in {args.tasks} (empty, or only blank lines): a task file holds one JSON task per "
            "line; `river data synth` writes them, `river data schema` describes them"
        )
    problems = _source_problems(tasks, args.tasks.parent)
    if problems:
        listed = "; ".join(problems[:5]) + (f"; … and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise TaskFormatError(f"{args.tasks}: {len(problems)} task(s) do not fit their sources: {listed}")
    by_split: dict[str, list[Task]] = {}
    for task in tasks:
        by_split.setdefault(task.split, []).append(task)
    if args.json:
        cells: Counter[tuple[str, int, str]] = Counter((t.split, t.level, t.category) for t in tasks)
        print(
            json.dumps(
                {
                    "valid": True,
                    "tasks": len(tasks),
                    "scenes": len({t.scene for t in tasks}),
                    "counts": {
                        split: {
                            str(level): {c: cells[(split, level, c)] for c in _CATEGORY_SHORT}
                            for level in (1, 2, 3)
                        }
                        for split in by_split
                    },
                },
                indent=2,
            )
        )
        return 0
    print(f"{args.tasks}: valid, {len(tasks)} tasks from {len({t.scene for t in tasks})} scenes")
    print(_table(by_split, (1, 2, 3)))
    return 0


def _source_problems(tasks: list[Task], base: Path) -> list[str]:
    """Twin sources must exist and hold every gold target in every gold frame; media must exist."""
    from river_core.errors import RiverError
    from river_core.reasoning.plan import track_frames
    from river_core.rl.tasks import MediaSource
    from river_core.twin.schema import load_twin

    tracks: dict[Path, dict[int, set[int]] | str] = {}
    problems: list[str] = []
    for task in tasks:
        path = task.twin_path(base)
        if path is None:
            assert isinstance(task.source, MediaSource)
            if not (base / task.source.media).is_file():
                problems.append(f"{task.id}: media {task.source.media} does not exist")
            continue
        if path not in tracks:
            try:
                tracks[path] = track_frames(load_twin(path))
            except RiverError as exc:
                tracks[path] = str(exc)
        known = tracks[path]
        if isinstance(known, str):
            problems.append(f"{task.id}: twin {path}: {known}")
            continue
        for target in task.gold.targets:
            frames = {f for r in target.frames for f in r}
            if target.id not in known:
                problems.append(f"{task.id}: object {target.id} is not in twin {path}")
            elif not frames <= known[target.id]:
                missing = sorted(frames - known[target.id])
                problems.append(
                    f"{task.id}: object {target.id} is absent from frames {missing[:5]} of its gold"
                )
    return problems


def _table(by_split: dict[str, list[Task]], levels: tuple[int, ...]) -> str:
    """Tasks per split × level × category, as a small table."""
    head = "split   scenes  tasks" + "".join(f"   L{level} sem/spa/tem" for level in levels)
    rows = [head]
    for split, tasks in by_split.items():
        cells: Counter[tuple[int, str]] = Counter((t.level, t.category) for t in tasks)
        row = f"{split:<6} {len({t.scene for t in tasks}):>7} {len(tasks):>6}"
        for level in levels:
            counts = "/".join(str(cells[(level, c)]) for c in _CATEGORY_SHORT)
            row += f"   {counts:<14}"
        rows.append(row.rstrip())
    return "\n".join(rows)
