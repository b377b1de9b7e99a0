"""Benchmark: a tiny job through the bridge against the same pipeline call in process.

One run, side by side: a ``river serve`` subprocess (tiny profile, Unix socket, token) and, in this
process, one ``RiverPipeline`` (models loaded once) called with the same ``EditRequest`` — each warmed
by one untimed job, then ``--reps`` timed jobs each, interleaved. The bridge time is from
``SubmitEdit`` to the terminal event on ``WatchJob``. Also: the latency from submit to the first event
the client receives, and to the RUNNING event, over ``--latency`` quick jobs (twin jobs answered from
the cache). Asserts nothing.

    .venv/bin/python benchmarks/bench_bridge.py [--clip PATH] [--range 0:17] [--op blur|generate] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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
    parser.add_argument("--clip", type=Path)
    parser.add_argument("--range", default="0:17")
    parser.add_argument("--op", choices=("blur", "generate"), default="blur")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--latency", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rbb-", dir="/tmp"))
    os.environ.update(
        RIVER_CACHE_DIR=str(tmp / "cache"), RIVER_RUNTIME_DIR=str(tmp / "run"), HF_HUB_OFFLINE="1"
    )
    (tmp / "run").mkdir(mode=0o700)
    from bridge.client import RiverClient, state_name
    from river_core.media import FrameRange
    from river_core.pipeline import RiverPipeline
    from river_core.request import EditRequest
    from river_core.samples import bundled_sample

    clip = (args.clip or bundled_sample()).resolve()
    start, end = (int(x) for x in args.range.split(":"))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "river_core.cli",
            "serve",
            "--profile",
            "tiny",
            "--no-preload",
            "-q",
            "--media-root",
            str(clip.parent),
            "--state-dir",
            str(tmp / "state"),
            "--output-root",
            str(tmp / "out"),
        ],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = _connect(RiverClient)
        twin_job = client.wait(client.submit_edit(clip, kind="twin", frames=(start, end)).id, timeout=600)
        objects = json.loads(twin_job.results.summary_json)["objects"]
        target = str(objects[0]["id"])
        options = {"op": args.op, "prompt": "a bronze statue" if args.op == "generate" else ""}

        def through_bridge(n: int) -> float:
            started = time.perf_counter()
            job = client.submit_edit(
                clip, frames=(start, end), targets=[target], output=f"bridge{n}", **options
            )
            last = list(client.watch(job.id))[-1]
            assert last.state.state and state_name(last.state.state) == "SUCCEEDED", last
            return time.perf_counter() - started

        pipeline = RiverPipeline.from_pretrained("tiny")

        def in_process(n: int) -> float:
            started = time.perf_counter()
            request = EditRequest(
                clip, targets=(target,), op=args.op, prompt=options["prompt"] or None,
                range=FrameRange(start, end), output=tmp / "local" / f"local{n}",
            )  # fmt: skip
            pipeline(request)
            return time.perf_counter() - started

        through_bridge(0), in_process(0)  # warm both: models, imports, caches
        bridge_s, local_s = [], []
        for n in range(1, args.reps + 1):
            bridge_s.append(through_bridge(n))
            local_s.append(in_process(n))
        submit, first_event, running = [], [], []
        for _ in range(args.latency):
            started = time.perf_counter()
            job = client.submit_edit(clip, kind="twin", frames=(start, end))
            submit.append(time.perf_counter() - started)
            events = client.watch(job.id)
            next(events)
            first_event.append(time.perf_counter() - started)
            for event in events:
                if event.WhichOneof("event") == "state" and state_name(event.state.state) == "RUNNING":
                    running.append(time.perf_counter() - started)
        report = {
            "clip": str(clip),
            "range": args.range,
            "op": args.op,
            "reps": args.reps,
            "bridge_s": [round(x, 3) for x in bridge_s],
            "in_process_s": [round(x, 3) for x in local_s],
            "median_bridge_s": round(statistics.median(bridge_s), 3),
            "median_in_process_s": round(statistics.median(local_s), 3),
            "ratio_bridge_over_in_process": round(
                statistics.median(bridge_s) / statistics.median(local_s), 3
            ),
            "submit_ms": _percentiles(submit),  # SubmitEdit alone: the server probes the file to check it
            "submit_to_first_event_ms": _percentiles(first_event),
            "submit_to_running_ms": _percentiles(running),
        }
        print(json.dumps(report, indent=2))
        client.close()
    finally:
        server.terminate()
        server.wait(60)
    return 0


def _connect(client_class: type) -> object:
    deadline = time.monotonic() + 120
    while True:
        try:
            client = client_class.connect()
            client.wait_ready(60)
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _percentiles(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {
        "p50": round(statistics.median(ms), 2),
        "p95": round(ms[int(0.95 * (len(ms) - 1))], 2),
        "n": len(ms),
    }


if __name__ == "__main__":
    sys.exit(main())
