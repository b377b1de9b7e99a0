"""The held-out numbers of several runs side by side: ``river train report RUN…`` reads each run's
``summary.json`` (written by ``river train sft|grpo``) and prints, per run and level, the mean reward
before training and after it, and the fractions of valid plans and of correct targets.

>>> print(report_table([("s0", summary)]))                 # doctest: +SKIP
run  level  n   reward before  after   delta   valid before  after  correct before  after
s0   1      37  -1.50          +0.62   +2.12   0.00          0.97   0.00            0.41
…
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

COLUMNS = (
    "run",
    "level",
    "n",
    "reward_before",
    "reward_after",
    "delta",
    "valid_before",
    "valid_after",
    "correct_before",
    "correct_after",
)


def read_summary(run: Path) -> dict[str, Any]:
    path = run / "summary.json" if run.is_dir() else run
    data = json.loads(path.read_text(encoding="utf-8"))  # ValueError: not JSON or not UTF-8
    if not isinstance(data, dict):
        raise ValueError(f"it holds a {type(data).__name__}, not a mapping")
    return data


def report_rows(name: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per level and one for all levels (``level`` = "all"): before = ``eval_before``,
    after = ``eval_after``."""
    before, after = summary.get("eval_before"), summary.get("eval_after")
    if before is None or after is None:
        raise ValueError(f"{name}: summary.json has no eval_before/eval_after (was it run with --no-eval?)")
    rows = []
    levels = sorted(set(before["per_level"]) | set(after["per_level"]), key=int)
    for level in levels:
        b, a = before["per_level"].get(level, {}), after["per_level"].get(level, {})
        rows.append(_row(name, level, b, a))
    rows.append(_row(name, "all", _overall(before), _overall(after)))
    return rows


def _overall(evaluation: dict[str, Any]) -> dict[str, float]:
    levels = list(evaluation["per_level"].values())
    n = sum(v["n"] for v in levels)
    if not n:
        return {"n": 0.0}

    def mean(key: str) -> float:
        return sum(v[key] * v["n"] for v in levels) / n

    return {
        "n": n,
        "mean_reward": evaluation["mean_reward"],
        "valid_plans": mean("valid_plans"),
        "correct_targets": mean("correct_targets"),
    }


def _row(name: str, level: str, b: dict[str, float], a: dict[str, float]) -> dict[str, Any]:
    rb, ra = b.get("mean_reward"), a.get("mean_reward")
    return {
        "run": name,
        "level": level,
        "n": int(a.get("n", b.get("n", 0))),
        "reward_before": rb,
        "reward_after": ra,
        "delta": None if rb is None or ra is None else ra - rb,
        "valid_before": b.get("valid_plans"),
        "valid_after": a.get("valid_plans"),
        "correct_before": b.get("correct_targets"),
        "correct_after": a.get("correct_targets"),
    }


def report_table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """A plain-text table of :func:`report_rows` for every run, then the mean delta over the runs."""
    rows = [r for name, summary in runs for r in report_rows(name, summary)]
    shown = [[_cell(c, r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(s[i]) for s in shown)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(s.ljust(w) for s, w in zip(cells, widths, strict=True)).rstrip() for cells in shown]
    deltas = [r["delta"] for r in rows if r["level"] == "all" and r["delta"] is not None]
    if deltas:
        lines.append(
            f"mean reward change over {len(deltas)} run(s): {statistics.fmean(deltas):+.3f} "
            f"(min {min(deltas):+.3f}, max {max(deltas):+.3f})"
        )
    return "\n".join(lines)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+.3f}" if column.startswith(("reward", "delta")) else f"{value:.3f}"
    return str(value)
