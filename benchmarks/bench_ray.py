"""Benchmark: eight tiny jobs through the server with the Ray runner (CPU actors) against the local runner.

One run, side by side, each an in-process ``BridgeServer`` on the tiny profile driven by the real client:

- ``local_1thread``: the local runner (one worker, one pipeline) with ``torch.set_num_threads(1)``;
- ``local_default``: the same with torch's default thread count (all cores);
- ``ray_<N>actors``: ``--runner ray --ray-cpus N`` on a local Ray cluster, one torch thread per actor.

Each setting gets its own twin cache (every job is a miss: the twin stages run), is warmed by one
untimed job per worker, then submits ``--jobs`` twin jobs on distinct ranges as one batch and is timed
from the submit to the last job's end. Asserts nothing.

    .venv/bin/python benchmarks/bench_ray.py [--jobs 8] [--frames 9] [--actors 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--actors", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rbr-", dir="/tmp"))
    os.environ.update(RIVER_RUNTIME_DIR=str(tmp / "run"), HF_HUB_OFFLINE="1")
    (tmp / "run").mkdir(mode=0o700)
    import ray
    import torch

    from river_core.samples import bundled_sample

    clip = bundled_sample().resolve()
    default_threads = torch.get_num_threads()
    ray.init(num_cpus=args.actors, include_dashboard=False, logging_level="WARNING")
    report: dict[str, object] = {
        "jobs": args.jobs,
        "frames_per_job": args.frames,
        "cpu_count": os.cpu_count(),
        "torch_default_threads": default_threads,
    }
    try:
        settings = [
            ("local_1thread", {"runner": "local"}, 1),
            ("local_default", {"runner": "local"}, default_threads),
            (f"ray_{args.actors}actors", {"runner": "ray", "ray_cpus": args.actors}, default_threads),
        ]
        for name, options, threads in settings:
            torch.set_num_threads(threads)  # the local worker's threads; Ray actors set 1 each themselves
            load = os.getloadavg()[0]
            report[name] = run_setting(tmp / name, clip, options, args, warm=args.actors)
            # The machine may be shared: the 1-minute load average before and after says how much.
            report[name]["load_avg_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # type: ignore[index]
        torch.set_num_threads(default_threads)
    finally:
        ray.shutdown()
    ray_s = report[f"ray_{args.actors}actors"]["seconds"]  # type: ignore[index]
    for local in ("local_1thread", "local_default"):
        report[f"throughput_ratio_ray_over_{local}"] = round(report[local]["seconds"] / ray_s, 3)  # type: ignore[index]
    print(json.dumps(report, indent=2))
    return 0


def run_setting(
    folder: Path, clip: Path, options: dict[str, object], args: argparse.Namespace, *, warm: int
) -> dict[str, object]:
    from bridge.client import RiverClient, state_name
    from bridge.server.app import BridgeServer
    from bridge.server.config import ServerConfig

    os.environ["RIVER_CACHE_DIR"] = str(folder / "cache")  # set before the actors start: they inherit it
    config = ServerConfig(
        state_dir=folder / "state",
        media_roots=[clip.parent],
        output_root=folder / "out",
        profile="tiny",
        preload=False,
        socket=Path(os.environ["RIVER_RUNTIME_DIR"]) / f"{folder.name[:12]}.sock",
        discovery=folder / "bridge.json",
        **options,  # type: ignore[arg-type]
    )
    started = time.perf_counter()
    server = BridgeServer(config)
    server.start()
    startup = time.perf_counter() - started
    n, length = args.jobs, args.frames
    try:
        with RiverClient(server.address, server.token) as client:
            # Warm every worker (models built, imports done) on ranges the timed jobs do not use.
            tail = 90 - length
            warmups = [
                client.submit_edit(clip, kind="twin", frames=(tail - i, tail - i + length))
                for i in range(warm)
            ]
            for job in warmups:
                assert state_name(client.wait(job.id, timeout=600).state) == "SUCCEEDED"
            specs = [
                client.edit_spec(clip, kind="twin", frames=(i * length % 72, i * length % 72 + length))
                for i in range(n)
            ]
            started = time.perf_counter()
            batch = client.submit_batch(specs)
            for job in batch.jobs:
                done = client.wait(job.id, timeout=600)
                assert state_name(done.state) == "SUCCEEDED", done.error.message
            seconds = time.perf_counter() - started
            shares: dict[str, int] = {}
            for name in getattr(server.runner, "assignments", {}).values():
                shares[name] = shares.get(name, 0) + 1
    finally:
        server.stop(grace=0)
    return {
        "seconds": round(seconds, 2),
        "jobs_per_minute": round(60 * n / seconds, 2),
        "startup_s": round(startup, 2),
        **({"jobs_per_actor": sorted(shares.values())} if shares else {}),
    }


if __name__ == "__main__":
    sys.exit(main())
