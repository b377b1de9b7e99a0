"""Benchmark: latency of one sandboxed ``<execute>`` run, pooled and started per run, vs a bare subprocess.

All three run ``print(sum(range(10)))``, alternating, in one process:

- the sandbox with workers started ahead (``Sandbox(prestart=1)``, the default): gate, request, a
  worker already loaded and locked down (bubblewrap, seccomp, limits) builds the twin namespace and runs
  the code; the worker that replaces it starts in the background;
- the sandbox starting a worker per run (``Sandbox(prestart=0)``): the same plus the worker's start;
- a bare ``python -I -S -c ...`` (no isolation at all).

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 40] [--twin-frames 10]

Each pooled run is timed with its worker ready (the runs between give the replacement time to start):
the latency a caller sees when its calls are further apart than a worker's start, as in rollouts
where the model generates between runs. Back-to-back calls are bounded by the start instead; the
last line measures that. This prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river_core.reasoning.sandbox import Sandbox

CODE = "print(sum(range(10)))"


def small_data(n_frames: int = 10) -> dict:
    """A tiny twin in the plain-data shape of river_core.reasoning.twin_data: two objects, n frames."""
    frames = []
    for t in range(n_frames):
        objects = [
            {"id": 1, "category": "dog", "attributes": "a small brown dog", "x": 0.2 + 0.01 * t, "y": 0.5,
             "depth": 0.3, "size": 0.02, "bbox": [0.15 + 0.01 * t, 0.45, 0.25 + 0.01 * t, 0.55]},
            {"id": 2, "category": "ball", "attributes": "a red ball", "x": 0.7, "y": 0.6, "depth": 0.5,
             "size": 0.01, "bbox": [0.68, 0.58, 0.72, 0.62]},
        ]  # fmt: skip
        frames.append({"frame": t, "objects": objects})
    video = {"width": 640, "height": 360, "rate": "30/1", "fps": [30, 1], "frame_range": [0, n_frames],
             "frame_count": n_frames}  # fmt: skip
    return {"video": video, "frames": frames}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def timed(run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs of each (default 40)")
    parser.add_argument("--twin-frames", type=int, default=10, help="frames in the twin (default 10)")
    args = parser.parse_args()
    python = os.path.realpath(sys.executable)
    data = small_data(args.twin_frames)
    pooled, per_run = Sandbox(prestart=1), Sandbox(prestart=0)
    isolation = pooled.isolation  # probe once, outside the timings
    for sandbox in (pooled, per_run):
        warm = sandbox.run(CODE, data)
        assert warm.ok and warm.stdout == "45\n", warm.error
        assert warm.isolation == isolation

    def run_pooled() -> None:
        result = pooled.run(CODE, data)
        assert result.ok, result.error

    def run_per_run() -> None:
        result = per_run.run(CODE, data)
        assert result.ok, result.error

    def run_bare() -> None:
        subprocess.run([python, "-I", "-S", "-c", CODE], check=True, capture_output=True)

    times: dict[str, list[float]] = {"pooled": [], "per_run": [], "bare": []}
    for _ in range(args.runs):
        pooled.warm_up()  # its worker is ready (in practice it always is by now)
        times["pooled"].append(timed(run_pooled))
        pooled.warm_up()  # and its replacement: no start in the background while the others run
        times["per_run"].append(timed(run_per_run))
        times["bare"].append(timed(run_bare))
    started = time.perf_counter()
    for _ in range(args.runs):
        run_pooled()
    back_to_back = (time.perf_counter() - started) * 1000 / args.runs
    pooled.close()

    print(f"isolation: {isolation.level} (namespaces={isolation.namespaces}, seccomp={isolation.seccomp})")
    for note in isolation.notes:
        print(f"  note: {note}")
    size = len(json.dumps(data, separators=(",", ":")))
    print(f"{args.runs} runs each, alternating; twin of {args.twin_frames} frames ({size} bytes); {python}")
    print(f"{'':<36} {'p50 ms':>8} {'p90 ms':>8}")
    labels = {
        "pooled": "sandbox, started ahead (prestart=1)",
        "per_run": "sandbox, started per run",
        "bare": "bare python -I -S",
    }
    p50 = {}
    for key, label in labels.items():
        p50[key] = percentile(times[key], 50)
        print(f"{label:<36} {p50[key]:>8.1f} {percentile(times[key], 90):>8.1f}")
    ratios = {
        "pooled / bare": p50["pooled"] / p50["bare"],
        "pooled / per run": p50["pooled"] / p50["per_run"],
        "per run / bare": p50["per_run"] / p50["bare"],
    }
    print("ratios (p50): " + ", ".join(f"{name} {value:.2f}×" for name, value in ratios.items()))
    print(f"pooled, back to back (no gap for the replacement to start): {back_to_back:.1f} ms per run")


if __name__ == "__main__":
    main()
