"""The report of one ``river eval`` run, and the comparison of two.

:func:`write_report` turns ``samples.jsonl`` into ``report.md`` (the paper's layout: one row per
reasoning level, per category and per level × category, every metric a column; means, with the paper's
± as the standard error over tasks), ``metrics.csv`` (the same cells, machine-readable) and the plots
(:mod:`river_core.eval.plot`). :func:`compare` pairs two runs by task id and gives, per metric, the
means, their difference and a 95 % paired bootstrap interval of it (``scipy.stats.bootstrap``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from river_core.atomic import write_bytes_atomic

REASONING: Final = (
    ("target_acc", "target acc"),
    ("target_f1", "target F1"),
    ("jf", "J&F"),
    ("j", "J"),
    ("f", "F"),
    ("tiou", "tIoU"),
    ("valid", "valid plan"),
    ("rounds", "rounds"),
    ("tokens", "tokens"),
    ("seconds", "s/query"),
)
EDITING: Final = (
    ("clip_t", "CLIP-T"),
    ("clip_f", "CLIP-F"),
    ("musiq", "MUSIQ"),
    ("ssim", "SSIM out"),
    ("psnr", "PSNR out dB"),
    ("gdino", "GroundingDINO"),
    ("judge", "LLM judge"),
)
METRICS: Final = REASONING + EDITING
LEVELS: Final = (1, 2, 3)
CATEGORIES: Final = ("semantic", "spatial", "temporal")


def sample_values(sample: dict[str, Any]) -> dict[str, float | None]:
    """Every metric of one sample as a number (None: not applicable, e.g. not rendered)."""
    values: dict[str, float | None] = dict(sample["scores"])
    values["valid"] = 1.0 if sample["valid"] else 0.0
    values["rounds"] = float(sample["rounds"])
    values["tokens"] = float(sample["tokens"])
    values["seconds"] = float(sample["seconds"])
    rendered = (sample.get("render") or {}).get("metrics") or {}
    for key, _ in EDITING:
        v = rendered.get(key)
        values[key] = float(v) if isinstance(v, (int, float)) else None
    return values


def groups(samples: Sequence[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(kind, name, samples) for every level, category, level × category cell and all."""
    out: list[tuple[str, str, list[dict[str, Any]]]] = []
    for level in LEVELS:
        out.append(("level", f"L{level}", [s for s in samples if s["level"] == level]))
    for cat in CATEGORIES:
        out.append(("category", cat, [s for s in samples if s["category"] == cat]))
    for level in LEVELS:
        for cat in CATEGORIES:
            out.append(
                (
                    "cell",
                    f"L{level} {cat}",
                    [s for s in samples if s["level"] == level and s["category"] == cat],
                )
            )
    out.append(("all", "all", list(samples)))
    return [g for g in out if g[2]]


def cell_stats(samples: Sequence[dict[str, Any]], key: str) -> tuple[float | None, float | None, int]:
    """(mean, standard error, n) of ``key`` over the samples where it applies."""
    vals = [v for s in samples if (v := sample_values(s)[key]) is not None]
    if not vals:
        return None, None, 0
    arr = np.asarray(vals, dtype=float)
    sem = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else 0.0
    return float(arr.mean()), sem, int(arr.size)


def metrics_rows(samples: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for kind, name, members in groups(samples):
        row: dict[str, Any] = {"group": kind, "name": name, "n": len(members)}
        for key, _ in METRICS:
            mean, sem, n = cell_stats(members, key)
            row[key] = mean
            row[f"{key}_sem"] = sem
            row[f"{key}_n"] = n
        rows.append(row)
    return rows


def _fmt(key: str, mean: float | None, sem: float | None, notes: dict[str, str]) -> str:
    if mean is None:
        return "—" if key in notes else "n/a"
    if key in ("rounds", "tokens"):
        return f"{mean:.1f}"
    if key == "seconds":
        return f"{mean:.2f}"
    if key == "psnr":
        return f"{mean:.2f} ± {sem:.2f}"
    return f"{mean:.3f} ± {sem:.3f}" if sem else f"{mean:.3f}"


def report_markdown(samples: Sequence[dict[str, Any]], run: dict[str, Any], notes: dict[str, str]) -> str:
    rows = metrics_rows(samples)
    notes = {**notes, **_render_notes(samples)}
    rendered = any((s.get("render") or {}).get("rendered") for s in samples)
    lines = [
        f"# river eval: {run.get('llm')} on {run.get('dataset')}",
        "",
        f"{len(samples)} tasks; profile `{run.get('profile')}`, render `{run.get('render')}`, "
        f"max new tokens {run.get('max_new_tokens')}, greedy, seed {run.get('seed')}. "
        "Means ± standard error over tasks; reasoning metrics in [0, 1] (an invalid plan scores 0).",
        "",
    ]
    for title, kinds, keys in (
        ("Reasoning, by level and category", ("level", "category", "all"), REASONING),
        (
            "Reasoning, by level × category",
            ("cell",),
            (("target_acc", ""), ("target_f1", ""), ("jf", ""), ("tiou", ""), ("valid", "")),
        ),
        ("Editing (rendered tasks)", ("level", "category", "all"), EDITING),
    ):
        if keys is EDITING and not rendered:
            why = (
                "Not rendered (`--render none`)."
                if run.get("render") == "none"
                else "No task rendered (see Notes)."
            )
            lines += [f"## {title}", "", why, ""]
            continue
        labels = dict(METRICS)
        lines += [f"## {title}", "", "| | n | " + " | ".join(labels[k] for k, _ in keys) + " |"]
        lines.append("|---|---:|" + "---:|" * len(keys))
        for r in rows:
            if r["group"] in kinds:
                n = r[f"{keys[0][0]}_n"] if keys is EDITING else r["n"]
                cells = [_fmt(k, r[k], r[f"{k}_sem"], notes) for k, _ in keys]
                lines.append(f"| {r['name']} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
    if notes:
        lines += ["## Notes", ""] + [f"- **{dict(METRICS).get(k, k)}**: {v}" for k, v in notes.items()] + [""]
    errors = [s for s in samples if not s["valid"]]
    if errors:
        lines += ["## Invalid plans", "", f"{len(errors)} of {len(samples)}; the first reasons:", ""]
        lines += [f"- `{s['id']}`: {str(s['error'])[:160]}" for s in errors[:5]] + [""]
    lines += ["Plots: `accuracy.png` (per level and category), `scores.png` (score distributions).", ""]
    return "\n".join(lines)


def _render_notes(samples: Sequence[dict[str, Any]]) -> dict[str, str]:
    """What the editing table's cells cannot say: abstentions, capped PSNRs, tasks not rendered."""
    metrics = [m for s in samples if (m := (s.get("render") or {}).get("metrics"))]
    notes = {}
    abstained = [m for m in metrics if m.get("judge") is None and m.get("judge_reason") != "no --judge"]
    if abstained:
        why = abstained[0].get("judge_reason", "")
        notes["judge"] = (
            f"the judge abstained on {len(abstained)} of {len(metrics)} rendered tasks (e.g. {why})"
        )
    capped = sum(1 for m in metrics if m.get("psnr_capped"))
    if capped:
        notes["psnr"] = (
            f"{capped} of {len(metrics)} renders left the outside bit-identical: PSNR counted as 100 dB"
        )
    skipped = [s for s in samples if (s.get("render") or {}).get("rendered") is False]
    if skipped:
        reasons = sorted({s["render"]["why"] for s in skipped})
        notes["rendering"] = f"{len(skipped)} task(s) not rendered: " + "; ".join(reasons)
    return notes


def metrics_csv(samples: Sequence[dict[str, Any]]) -> str:
    rows = metrics_rows(samples)
    buf = io.StringIO()
    fields = ["group", "name", "n"] + [k for key, _ in METRICS for k in (key, f"{key}_sem", f"{key}_n")]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {
                k: ("" if r[k] is None else (round(r[k], 6) if isinstance(r[k], float) else r[k]))
                for k in fields
            }
        )
    return buf.getvalue()


def write_report(
    out: Path, samples: Sequence[dict[str, Any]], notes: dict[str, str] | None = None
) -> list[Path]:
    """``report.md``, ``metrics.csv``, ``accuracy.png``, ``scores.png`` in ``out`` (atomically)."""
    from river_core.eval.plot import plot_accuracy, plot_scores

    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    notes = dict(notes or {})
    write_bytes_atomic(out / "report.md", report_markdown(samples, run, notes).encode())
    write_bytes_atomic(out / "metrics.csv", metrics_csv(samples).encode())
    title = f"{run.get('llm')} on {Path(str(run.get('dataset'))).name}"
    return [
        out / "report.md",
        out / "metrics.csv",
        plot_accuracy(samples, out / "accuracy.png", title),
        plot_scores(samples, out / "scores.png", title),
    ]


def read_run(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from river_core.errors import UsageError
    from river_core.eval.run import read_samples

    if not (folder / "run.json").is_file():
        raise UsageError(
            f"{folder} is not a `river eval` report folder (no run.json); run `river eval … --out {folder}`"
        )
    return json.loads((folder / "run.json").read_text(encoding="utf-8")), read_samples(folder)


def compare(
    a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], *, resamples: int = 2000, seed: int = 0
) -> list[dict[str, Any]]:
    """Per metric and level (and all): mean of A, of B, B − A and its 95 % paired bootstrap interval,
    over the tasks both runs scored (paired by id)."""
    from scipy.stats import bootstrap

    by_id = {s["id"]: s for s in a}
    pairs = [(by_id[s["id"]], s) for s in b if s["id"] in by_id]
    if not pairs:
        raise ValueError("the two runs share no task id; compare runs of the same dataset")
    rows = []
    for level in ("all", *LEVELS):
        chosen = [p for p in pairs if level == "all" or p[0]["level"] == level]
        for key, label in METRICS:
            vals = [(sample_values(x)[key], sample_values(y)[key]) for x, y in chosen]
            vals = [(x, y) for x, y in vals if x is not None and y is not None]
            if not vals:
                continue
            xa, yb = np.array([v[0] for v in vals]), np.array([v[1] for v in vals])
            diff = yb - xa
            lo = hi = float(diff.mean())
            if len(diff) > 1 and np.ptp(diff) > 0:
                ci = bootstrap(
                    (diff,),
                    np.mean,
                    n_resamples=resamples,
                    confidence_level=0.95,
                    method="percentile",
                    random_state=seed,
                ).confidence_interval
                lo, hi = float(ci.low), float(ci.high)
            rows.append(
                {
                    "level": str(level),
                    "metric": label,
                    "n": len(vals),
                    "a": float(xa.mean()),
                    "b": float(yb.mean()),
                    "delta": float(diff.mean()),
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return rows


def compare_markdown(name_a: str, name_b: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"B − A with B = {name_b}, A = {name_a}; 95 % paired bootstrap interval (2000 resamples).",
        "",
        "| level | metric | n | A | B | B − A | 95 % CI |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        sig = "" if r["ci_low"] <= 0 <= r["ci_high"] else " *"
        lines.append(
            f"| {r['level']} | {r['metric']} | {r['n']} | {r['a']:.3f} | {r['b']:.3f} | "
            f"{r['delta']:+.3f}{sig} | "
            f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] |"
        )
    lines += ["", "`*`: the interval excludes 0."]
    return "\n".join(lines)


TABLE_KEYS: Final = ("target_acc", "target_f1", "jf", "tiou", "valid", "rounds", "tokens", "seconds")


def runs_table(runs: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> str:
    """One markdown table of several runs: a row per run and level (and all), the reasoning metrics."""
    labels = dict(METRICS)
    lines = ["| run | level | n | " + " | ".join(labels[k] for k in TABLE_KEYS) + " |"]
    lines.append("|---|---|---:|" + "---:|" * len(TABLE_KEYS))
    for name, samples in runs:
        for kind, group, members in groups(samples):
            if kind not in ("level", "all"):
                continue
            cells = []
            for key in TABLE_KEYS:
                mean, _, _ = cell_stats(members, key)
                cells.append(_fmt(key, mean, None, {}))
            lines.append(f"| {name} | {group} | {len(members)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
