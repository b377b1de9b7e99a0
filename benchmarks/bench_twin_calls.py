"""Benchmark: heavy-model calls per 81-frame clip, the twin builder vs a naive per-frame pipeline.

Heavy calls are the images (or crops) the detector, the depth model and the describer process; the
tracker runs on every frame in both pipelines and is reported apart. The naive pipeline runs the
detector, the depth model and the describer on every frame (one describer call per frame, the
smallest possible naive count). Both pipelines run, in one process, on the same stages:

  --mode synthetic  (default) an 81-frame synthetic scene with six moving, occluding objects and
                    stage doubles that answer from its ground truth — instant, deterministic;
  --mode tiny       the real model classes at tiny size (random weights) on real footage.

    .venv/bin/python benchmarks/bench_twin_calls.py [--mode synthetic|tiny] [--clip PATH]

The builder must stay at or below one tenth of the naive count. This prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river_core.media import FrameRange, VideoReader, probe
from river_core.twin.builder import BuildSettings, TwinBuilder
from river_core.twin.stages import Role, Stage

N_FRAMES = 81
HEAVY: tuple[Role, ...] = ("detector", "depth", "describer")


def naive(
    clip: Path, frame_range: FrameRange, load: Callable[[Role], Stage], vocabulary: list[str]
) -> Counter[str]:
    """Detector, depth and describer on every frame (the tracker is left out: both pipelines run it)."""
    calls: Counter[str] = Counter()
    detector, depth, describer = load("detector"), load("depth"), load("describer")
    with VideoReader(clip) as reader:
        for frame in reader.frames(frame_range):
            detector.detect([frame.image], vocabulary, threshold=0.2, max_detections=8)  # type: ignore[attr-defined]
            depth.estimate([frame.image])  # type: ignore[attr-defined]
            describer.describe(frame.image, "scene")  # type: ignore[attr-defined]
            calls.update(HEAVY)
    for stage in (detector, depth, describer):
        stage.close()
    return calls


def synthetic_setup(workdir: Path) -> tuple[Path, FrameRange, Callable[[Role], Stage], BuildSettings]:
    from river_core.twin.synthetic import random_scene
    from tests.twin.doubles import Events, SceneIndex, loader  # the ground-truth doubles of the tests

    scene = random_scene(2024, width=320, height=192, num_frames=N_FRAMES, n_objects=6)
    clip = scene.write_clip(workdir / "scene.mkv")
    load = loader(SceneIndex(scene), Events())
    settings = BuildSettings(default_vocabulary=("circle", "square", "triangle", "diamond"))
    return clip, FrameRange(0, N_FRAMES), load, settings  # type: ignore[return-value]


def tiny_setup(clip: Path) -> tuple[Path, FrameRange, Callable[[Role], Stage], BuildSettings]:
    from river_core.devices import choose_device
    from river_core.twin.profiles import load_stage, model_specs

    specs, plan = model_specs("tiny"), choose_device("cpu")
    n = min(N_FRAMES, probe(clip).frame_count)

    def load(role: Role) -> Stage:
        return load_stage(role, specs[role], plan)

    return clip, FrameRange(0, n), load, BuildSettings.for_profile("tiny")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("synthetic", "tiny"), default="synthetic")
    parser.add_argument("--clip", type=Path, help="footage for --mode tiny (default: the bundled sample)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.mode == "synthetic":
            clip, frame_range, load, settings = synthetic_setup(Path(tmp))
        else:
            from river_core.samples import bundled_sample

            clip, frame_range, load, settings = tiny_setup(args.clip or bundled_sample())
        started = time.perf_counter()
        builder = TwinBuilder(load, settings)
        twin = builder.build(clip, frame_range, content_hash="sha256:" + "0" * 64)
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        base = naive(clip, frame_range, load, list(twin.provenance.vocabulary))
        naive_s = time.perf_counter() - started
    ours = Counter({role: twin.provenance.calls.get(role, 0) for role in HEAVY})
    print(
        f"clip: {clip.name if args.mode == 'tiny' else 'synthetic scene'}, {len(frame_range)} frames, "
        f"{len(twin.tracks)} tracks, mode {args.mode}"
    )
    print(f"{'stage':<10} {'builder':>8} {'naive':>8}")
    for role in HEAVY:
        print(f"{role:<10} {ours[role]:>8} {base[role]:>8}")
    total, naive_total = sum(ours.values()), sum(base.values())
    print(f"{'heavy':<10} {total:>8} {naive_total:>8}   ratio {total / naive_total:.3f} (target ≤ 0.100)")
    print(
        f"tracker frames run by the builder: {twin.provenance.calls.get('tracker', 0)} "
        f"(the naive pipeline needs a tracker too)"
    )
    print(f"wall time: builder {ours_s:.2f} s, naive heavy stages {naive_s:.2f} s")


if __name__ == "__main__":
    main()
