"""Benchmark: instant operations (no diffusion) at 720p with a target covering a quarter of the frame.

Frames are the bundled 1280×720 sample (or ``--clip``); the twin is built here: one object per frame,
a wobbly ellipse covering 25% of the frame that drifts a little from frame to frame, stored as COCO
RLE like any twin. Two parts, in one process:

  (a) per kind, the per-frame cost from the twin's RLE mask to the finished output frame, decoded
      frames held in memory: ``operation_masks`` (decode the RLE, shape it) → ``edit_alpha`` →
      ``instant.apply`` (which composites), median over ``--reps`` of the mean over ``--frames``;
  (b) an instant blur job over ``--frames`` frames: decode → op → encode (``--format``, ProRes 422 HQ
      by default, through ``MediaWriter``) against the same frames decoded and encoded with no op,
      alternating which runs first; prints both medians and the ratio.

    .venv/bin/python benchmarks/bench_instant.py [--frames 90] [--reps 5] [--format prores] [--clip PATH]

It asserts nothing about time. Run it against another checkout of ``river_core`` (``PYTHONPATH``)
to compare versions: it uses only the public API.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river_core.editing import instant
from river_core.editing.masks import MaskShape, edit_alpha, operation_masks
from river_core.media import FrameRange, MediaWriter, Timecode, VideoReader, probe
from river_core.media.rational import format_rate
from river_core.reasoning.plan import Operation, Target
from river_core.samples import bundled_sample
from river_core.twin.masks import encode_mask, spatial_from_mask
from river_core.twin.schema import (
    RLE,
    FrameEntry,
    MaskRef,
    TwinDocument,
    TwinObject,
    VideoInfo,
    summarize_tracks,
)

COLORS = {"recolor": "teal", "mask_out": None, "highlight": None}


def target_mask(height: int, width: int, t: int) -> np.ndarray:
    """A wobbly ellipse of a quarter of the frame's area, drifting with ``t``."""
    yy, xx = np.mgrid[:height, :width]
    cy, cx = height / 2 + 0.02 * height * np.sin(t / 7), width / 2 + 0.03 * width * np.sin(t / 11)
    ry, rx = 0.282 * height, 0.282 * width  # π · ry · rx = 0.25 · H · W
    angle = np.arctan2(yy - cy, xx - cx)
    return np.hypot((yy - cy) / ry, (xx - cx) / rx) * (1 + 0.06 * np.sin(5 * angle + t / 5)) <= 1.0


def build_twin(path: Path, height: int, width: int, frames: int, rate: str) -> TwinDocument:
    entries = []
    for t in range(frames):
        mask = target_mask(height, width, t)
        obj = TwinObject(
            id=1,
            category="blob",
            attributes="",
            mask=MaskRef(rle=RLE.model_validate(encode_mask(mask))),
            spatial=spatial_from_mask(mask, 0.5),
        )
        entries.append(FrameEntry(index=t, objects=[obj]))
    return TwinDocument(
        video=VideoInfo(
            path=str(path),
            content_hash="sha256:" + "0" * 64,
            width=width,
            height=height,
            rate=rate,
            frame_count=frames,
            frame_range=FrameRange(0, frames),
            start_timecode="00:00:00:00",
            drop_frame=False,
        ),
        frames=entries,
        tracks=summarize_tracks(entries),
    )


def operation(kind: str, frames: int) -> Operation:
    target = Target(id=1, category="blob", attributes="", frames=[FrameRange(0, frames)])
    return Operation(id="op1", kind=kind, targets=[target], color=COLORS.get(kind), prompt="")


def edited_frame(
    op: Operation, twin: TwinDocument, shape: MaskShape, index: int, image: np.ndarray
) -> np.ndarray:
    """One frame's whole instant path: RLE → region → alpha → the finished frame."""
    [(_, region)] = operation_masks(op, twin, [index], shape)
    alpha = edit_alpha(region, shape.feather_px)
    return instant.apply(op.kind, image, alpha, color=op.color)


def per_kind(images: list[np.ndarray], twin: TwinDocument, reps: int) -> None:
    print(
        f"(a) per frame, RLE mask → finished frame, {len(images)} frames × {reps} reps (median of rep means)"
    )
    print(f"    {'kind':10s} {'masks':>7s} {'alpha':>7s} {'apply':>7s} {'total':>7s}  frames/s")
    for kind in instant.INSTANT_OPS:
        op, shape = operation(kind, len(images)), MaskShape.for_kind(kind)
        stages: list[tuple[float, float, float]] = []
        for _ in range(reps):
            spent = np.zeros(3)
            for index, image in enumerate(images):
                t0 = time.perf_counter()
                [(_, region)] = operation_masks(op, twin, [index], shape)
                t1 = time.perf_counter()
                alpha = edit_alpha(region, shape.feather_px)
                t2 = time.perf_counter()
                instant.apply(kind, image, alpha, color=op.color)
                t3 = time.perf_counter()
                spent += (t1 - t0, t2 - t1, t3 - t2)
            stages.append(tuple(spent * 1000 / len(images)))
        masks, alpha_ms, apply_ms = (statistics.median(s[i] for s in stages) for i in range(3))
        total = statistics.median(sum(s) for s in stages)
        print(
            f"    {kind:10s} {masks:7.1f} {alpha_ms:7.1f} {apply_ms:7.1f} {total:7.1f}  {1000 / total:8.1f}"
        )


def job(clip: Path, out: Path, fmt: str, n: int, twin: TwinDocument | None) -> float:
    """Decode ``n`` frames, blur the target when ``twin`` is given, encode; seconds."""
    info = probe(clip)
    op, shape = operation("blur", n), MaskShape.for_kind("blur")
    started = time.perf_counter()
    with (
        VideoReader(clip, info) as reader,
        MediaWriter(
            out,
            fmt,
            width=info.width,
            height=info.height,
            rate=info.rate,
            timecode=Timecode(0, info.rate),
            overwrite=True,
        ) as writer,
    ):
        for frame in reader.frames(FrameRange(0, n)):
            image = frame.image if twin is None else edited_frame(op, twin, shape, frame.index, frame.image)
            writer.write_video(image)
    return time.perf_counter() - started


def blur_job(clip: Path, twin: TwinDocument, fmt: str, n: int, reps: int) -> None:
    print(f"\n(b) blur job over {n} frames: decode → op → encode ({fmt}) vs decode → encode, {reps} reps")
    times: dict[str, list[float]] = {"blur": [], "no op": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(reps):
            order = ("blur", "no op") if rep % 2 == 0 else ("no op", "blur")
            for name in order:
                out = Path(tmp) / f"{name.replace(' ', '_')}.mov"
                times[name].append(job(clip, out, fmt, n, twin if name == "blur" else None))
    blurred, plain = statistics.median(times["blur"]), statistics.median(times["no op"])
    for name, median in (("no op", plain), ("blur", blurred)):
        runs = " ".join(f"{t:.2f}" for t in times[name])
        print(f"    {name:6s} median {median:6.2f} s  {n / median:6.1f} frames/s   (runs: {runs})")
    added = (blurred - plain) * 1000 / n
    paired = statistics.median(b / p for b, p in zip(times["blur"], times["no op"], strict=True))
    print(f"    ratio blur / no op = {blurred / plain:.2f} (median of the pairs' ratios {paired:.2f})")
    print(f"    the op adds {added:.1f} ms/frame to the job")


def decoded(clip: Path, n: int) -> Iterator[np.ndarray]:
    with VideoReader(clip) as reader:
        for frame in reader.frames(FrameRange(0, n)):
            yield frame.image


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, help="a video (default: the bundled 720p sample)")
    parser.add_argument(
        "--frames", type=int, default=90, help="frames per run (default 90, the whole sample)"
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians are reported (default 5)")
    parser.add_argument("--format", default="prores", help="deliverable format of the job (default prores)")
    parser.add_argument("--skip-job", action="store_true", help="only part (a)")
    args = parser.parse_args()
    clip = args.clip or bundled_sample()
    info = probe(clip)
    n = min(args.frames, info.frame_count)
    where = Path(instant.__file__).parents[1]
    print(f"{clip.name}: {info.width}×{info.height}, {n} frames; river_core from {where}")
    twin = build_twin(clip, info.height, info.width, n, format_rate(info.rate))
    coverage = np.mean([target_mask(info.height, info.width, t).mean() for t in (0, n // 2, n - 1)])
    print(f"target: {coverage:.1%} of the frame\n")
    images = list(decoded(clip, n))
    per_kind(images, twin, args.reps)
    del images
    if not args.skip_job:
        blur_job(clip, twin, args.format, n, args.reps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
