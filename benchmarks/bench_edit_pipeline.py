"""Benchmark: a second edit of the same clip range against the first (the twin comes from the cache).

Both jobs run in one process, through one ``RiverPipeline`` (models loaded once), with the ``tiny`` profile
on the bundled sample clip (or ``--clip``), into a fresh twin cache: the first builds the twin, the
second finds it (diffusers is imported before both, a one-time process cost). Prints each step's
time and the ratio second/first; it asserts nothing.

    .venv/bin/python benchmarks/bench_edit_pipeline.py [--clip PATH] [--range 30:63] [--op generate|blur]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path)
    parser.add_argument("--range", default="30:63")
    parser.add_argument("--op", choices=("generate", "blur"), default="generate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RIVER_CACHE_DIR"] = str(Path(tmp) / "cache")  # a cold cache for the first job
        from river_core.media import FrameRange, probe
        from river_core.pipeline import RiverPipeline
        from river_core.request import EditRequest
        from river_core.samples import bundled_sample

        clip = args.clip or bundled_sample()
        frame_range = FrameRange.parse(args.range, probe(clip).frame_count)
        pipe = RiverPipeline.from_pretrained("tiny")
        pipe.preload()  # the editor (and diffusers' import): a one-time cost of the process, not of a job

        runs = []
        target = None
        for name in ("first", "second"):
            started = time.monotonic()
            first = EditRequest(clip, targets=("0",), op="blur", range=frame_range, output=Path(tmp) / name)
            job = pipe.start(first)
            job.check_inputs()
            twin = job.twin()
            counts: dict[int, int] = {}
            for entry in twin.frames:
                for obj in entry.objects:
                    counts[obj.id] = counts.get(obj.id, 0) + 1
            target = max(counts, key=lambda i: (counts[i], -i))
            prompt = "a bronze statue" if args.op == "generate" else None
            request = EditRequest(
                clip,
                targets=(str(target),),
                op=args.op,
                prompt=prompt,
                range=frame_range,
                output=Path(tmp) / name,
            )
            job = pipe.start(request)
            result = job.run()
            wall = time.monotonic() - started
            runs.append(
                {
                    "job": name,
                    "wall_s": round(wall, 2),
                    "twin_cache_hit": result.twin_cache_hit,
                    "timings_ms": {k: round(v) for k, v in result.timings_ms.items()},
                }
            )
        report = {
            "clip": str(clip),
            "range": str(frame_range),
            "op": args.op,
            "runs": runs,
            "ratio_second_over_first": round(runs[1]["wall_s"] / runs[0]["wall_s"], 3),
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
