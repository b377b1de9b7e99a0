"""Benchmark: latency of one sandboxed ``<execute>`` run vs a bare Python subprocess.

Both run ``print(sum(range(10)))``, alternating, in one process: the sandbox with a small twin (gate,
worker start, twin API load, bubblewrap and seccomp when available) and a bare
``python -I -S -c ...`` (no isolation at all), so the ratio is the price of the isolation.

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 40]

This prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
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
    """A tiny twin in the plain-data shape of river_core.reasoning.twin_data: two objects, ten frames."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs of each (default 40)")
    args = parser.parse_args()
    python = os.path.realpath(sys.executable)
    sandbox, data = Sandbox(), small_data()
    isolation = sandbox.isolation  # probe once, outside the timings
    warm = sandbox.run(CODE, data)
    assert warm.ok and warm.stdout == "45\n", warm.error

    ours: list[float] = []
    bare: list[float] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = sandbox.run(CODE, data)
        ours.append((time.perf_counter() - started) * 1000)
        assert result.ok, result.error
        started = time.perf_counter()
        subprocess.run([python, "-I", "-S", "-c", CODE], check=True, capture_output=True)
        bare.append((time.perf_counter() - started) * 1000)

    print(f"isolation: {isolation.level} (namespaces={isolation.namespaces}, seccomp={isolation.seccomp})")
    for note in isolation.notes:
        print(f"  note: {note}")
    print(f"{args.runs} runs each, {python}")
    print(f"{'':<28} {'p50 ms':>8} {'p90 ms':>8}")
    print(f"{'sandbox (twin, isolated)':<28} {percentile(ours, 50):>8.1f} {percentile(ours, 90):>8.1f}")
    print(f"{'bare python -I -S':<28} {percentile(bare, 50):>8.1f} {percentile(bare, 90):>8.1f}")
    print(f"ratio (p50): {percentile(ours, 50) / percentile(bare, 50):.2f}×")


if __name__ == "__main__":
    main()
