"""Benchmark: one edited range delivered with every deliverable, serial vs concurrent encoders.

The same frames (decoded once, with an inverted, feathered box as the edit) go through
``Delivery(..., concurrent=False)`` (every deliverable encoded in the caller's thread, one after
another) and ``Delivery(..., concurrent=True)`` (one worker thread per deliverable and one for the
QC), alternating so that machine noise hits both alike, and the medians and their ratio are printed
(> 1 means the concurrent delivery is faster). The two deliveries are also compared: PNGs byte for
byte, movies decoded frame for frame.

    .venv/bin/python benchmarks/bench_deliver.py [CLIP] [--frames 200] [--repeats 3] [--format prores]

CLIP defaults to ../shared/media/01_dog.mp4 (1280×720), or the bundled 3-second sample (its first 90
frames) when that is absent. This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from river_core.demo import bundled_sample
from scipy import ndimage

from river_core.editing.composite import composite
from river_core.editing.deliver import Delivery, DeliverySpec
from river_core.media import FrameRange, probe, read_frames

SHARED_DOG = Path(__file__).resolve().parents[2] / "shared" / "media" / "01_dog.mp4"


def feathered_box(height: int, width: int) -> np.ndarray:
    inside = np.zeros((height, width), bool)
    inside[height // 4 : height // 2, width // 3 : width * 2 // 3] = True
    return np.clip(1.0 - ndimage.distance_transform_edt(~inside) / 7.0, 0.0, 1.0).astype(np.float32)


def deliver(
    clip: Path, frame_range: FrameRange, frames: list, out: Path, fmt: str, concurrent: bool
) -> float:
    info = probe(clip)
    spec = DeliverySpec(out, fmt=fmt)  # every deliverable
    started = time.perf_counter()
    with Delivery(clip, info, frame_range, spec, concurrent=concurrent) as delivery:
        for source, output, alpha in frames:
            delivery.write(source, output, alpha)
        delivery.finish({"benchmark": "bench_deliver"})
    return time.perf_counter() - started


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgba") for f in container.decode(video=0)]


def same_delivery(a: Path, b: Path) -> bool:
    names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    for name in names:
        if name.endswith(".png") and (a / name).read_bytes() != (b / name).read_bytes():
            return False
        if name.endswith((".mov", ".mp4", ".mkv")):
            fa, fb = decoded(a / name), decoded(b / name)
            if len(fa) != len(fb) or not all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True)):
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clip", nargs="?", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", default="prores", help="the edited media's format (default prores)")
    args = parser.parse_args()
    clip = args.clip or (SHARED_DOG if SHARED_DOG.is_file() else bundled_sample())
    info = probe(clip)
    n = min(args.frames, info.frame_count)
    frame_range = FrameRange(0, n)
    sources = read_frames(clip, frame_range)  # [N, H, W, 3]
    base = feathered_box(info.height, info.width)
    alphas = [np.roll(base, 3 * k, axis=1) for k in range(n)]
    frames = [(s, composite(s, 255 - s, a), a) for s, a in zip(sources, alphas, strict=True)]
    print(
        f"{clip.name}: {n} frames {info.width}×{info.height}, --format {args.format} + matte PNGs, "
        "matte.mov, "
        f"preview.mp4, contact sheet, QC; {os.cpu_count()} CPUs; PyAV {av.__version__}"
    )
    times: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="bench-deliver-") as tmp:
        for rep in range(args.repeats):
            for concurrent in (False, True) if rep % 2 == 0 else (True, False):
                out = Path(tmp) / f"{'concurrent' if concurrent else 'serial'}{rep}"
                elapsed = deliver(clip, frame_range, frames, out, args.format, concurrent)
                times[concurrent].append(elapsed)
                print(f"  rep {rep + 1} {'concurrent' if concurrent else 'serial    '} {elapsed:7.2f} s")
        identical = same_delivery(Path(tmp) / "serial0", Path(tmp) / "concurrent0")
        shutil.rmtree(tmp, ignore_errors=True)
    serial, concurrent = statistics.median(times[False]), statistics.median(times[True])
    print(f"serial      median {serial:7.2f} s  ({n / serial:5.1f} frames/s)")
    print(f"concurrent  median {concurrent:7.2f} s  ({n / concurrent:5.1f} frames/s)")
    print(f"ratio serial / concurrent: {serial / concurrent:.2f}×; outputs identical: {identical}")


if __name__ == "__main__":
    main()
