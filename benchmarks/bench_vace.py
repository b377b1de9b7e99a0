"""Benchmark: what VaceEditor.render costs over a bare WanVACEPipeline call, and how a call scales.

Both parts run the tiny pipeline (the real diffusers classes at tiny size, random weights) on the
CPU, offline:

  1. overhead — ``VaceEditor.render`` against a bare ``WanVACEPipeline.__call__`` fed the way the
     diffusers docs show (lists of PIL frames and "L" masks), on the same pipeline object with the
     same inputs, settings and seed. Repeats alternate (ours, bare, ours, …) so drift in the
     machine hits both; the medians and their ratio (ours / bare; target ≤ 1.05) are printed, and
     whether both return identical frames.
  2. scaling — one render each of 81, 161 and 321 frames at a small size: seconds, seconds per
     frame, and the cost relative to linear growth from 81 frames (1.00 = linear).

    .venv/bin/python benchmarks/bench_vace.py [--size 224x128] [--frames 17] [--repeats 5]
                                              [--scale-size 64x32] [--scale-frames 81,161,321]

This prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from PIL import Image

from river_core.editing import vace
from river_core.editing.vace import RenderSettings, VaceEditor, load_editor, to_uint8

PROMPT = "the dog is made of polished bronze"


def size_arg(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH (e.g. 224x128), got {text!r}") from None
    return w, h


def clip(frames: int, width: int, height: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth moving gradient (closer to footage than noise) and a box mask that drifts right."""
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    rng = np.random.default_rng(seed)
    base = np.stack([(x + 2 * t) % 256, (y * 2 + t) % 256, (x + y) % 256], axis=-1).astype(np.float64)
    video = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((frames, height, width), dtype=bool)
    for f in range(frames):
        x0 = width // 4 + (f * width // (4 * max(frames - 1, 1)))
        mask[f, height // 4 : 3 * height // 4, x0 : x0 + width // 3] = True
    return video, mask


def bare_call(
    editor: VaceEditor, video: np.ndarray, mask: np.ndarray, settings: RenderSettings
) -> np.ndarray:
    """The documented diffusers call: PIL frames, PIL "L" masks (255 = regenerate)."""
    frames = [Image.fromarray(f) for f in video]
    masks = [Image.fromarray(m.astype(np.uint8) * 255, mode="L") for m in mask]
    out = editor.pipeline(
        prompt=PROMPT,
        negative_prompt=settings.negative_prompt,
        video=frames,
        mask=masks,
        conditioning_scale=settings.conditioning_scale,
        height=video.shape[1],
        width=video.shape[2],
        num_frames=video.shape[0],
        num_inference_steps=settings.steps,
        guidance_scale=settings.guidance_scale,
        generator=torch.Generator(device="cpu").manual_seed(settings.seed),
        output_type="np",
        max_sequence_length=settings.max_sequence_length,
    ).frames[0]
    return to_uint8(out)


def overhead(editor: VaceEditor, size: tuple[int, int], frames: int, repeats: int) -> None:
    width, height = size
    settings = RenderSettings.for_profile("tiny")
    video, mask = clip(frames, width, height)
    print(f"1. overhead: {frames} frames at {width}×{height}, {settings.steps} steps, {repeats} repeats each")
    ours_out = editor.render(video, mask, PROMPT, settings)  # warm-up (and the reference output)
    bare_out = bare_call(editor, video, mask, settings)
    ours_t: list[float] = []
    bare_t: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        editor.render(video, mask, PROMPT, settings)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare_call(editor, video, mask, settings)
        bare_t.append(time.perf_counter() - t0)
    ours_med, bare_med = statistics.median(ours_t), statistics.median(bare_t)
    print(f"   ours  median {ours_med:.3f} s  min {min(ours_t):.3f} s  (runs: {runs(ours_t)})")
    print(f"   bare  median {bare_med:.3f} s  min {min(bare_t):.3f} s  (runs: {runs(bare_t)})")
    print(
        f"   ratio ours/bare: median {ours_med / bare_med:.3f}, min {min(ours_t) / min(bare_t):.3f}  "
        "(target ≤ 1.05; the min is the least disturbed by other processes)"
    )
    same = np.array_equal(ours_out, bare_out)
    diff = int(np.abs(ours_out.astype(np.int16) - bare_out.astype(np.int16)).max())
    print(f"   outputs identical: {same}" + ("" if same else f" (max |difference| {diff})"))
    # What each side does before the model: our checks and conversion vs the PIL frames of the docs.
    ours_prep = best_of(lambda: (vace._video_input(video), vace._mask_input(mask, video.shape[:3])))
    bare_prep = best_of(
        lambda: (
            [Image.fromarray(f) for f in video],
            [Image.fromarray(m.astype(np.uint8) * 255, mode="L") for m in mask],
        )
    )
    print(
        f"   input preparation (best of 5): ours {ours_prep * 1000:.2f} ms (checks + float32), "
        f"bare {bare_prep * 1000:.2f} ms (PIL frames + masks; diffusers converts them again inside)"
    )


def runs(times: list[float]) -> str:
    return ", ".join(f"{t:.3f}" for t in times)


def best_of(fn: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def scaling(editor: VaceEditor, size: tuple[int, int], counts: list[int]) -> None:
    width, height = size
    settings = RenderSettings.for_profile("tiny")
    print(f"2. scaling: one render per length at {width}×{height}, {settings.steps} steps")
    video, mask = clip(5, width, height)
    editor.render(video, mask, PROMPT, settings)  # warm-up
    base: float | None = None
    for n in counts:
        video, mask = clip(n, width, height)
        t0 = time.perf_counter()
        editor.render(video, mask, PROMPT, settings)
        seconds = time.perf_counter() - t0
        base = base if base is not None else seconds / n
        print(
            f"   {n:4d} frames: {seconds:7.3f} s  {seconds / n * 1000:7.2f} ms/frame  "
            f"{seconds / n / base:5.2f}× linear"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=size_arg, default=(224, 128), help="WxH for the overhead part")
    parser.add_argument("--frames", type=int, default=17, help="4k+1 frames for the overhead part")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale-size", type=size_arg, default=(64, 32), help="WxH for the scaling part")
    parser.add_argument("--scale-frames", default="81,161,321", help="comma-separated 4k+1 frame counts")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    editor = load_editor("tiny", device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {editor.info.model_id}")
    if not args.skip_overhead:
        overhead(editor, args.size, args.frames, args.repeats)
    if not args.skip_scaling:
        scaling(editor, args.scale_size, [int(v) for v in args.scale_frames.split(",")])
    editor.close()


if __name__ == "__main__":
    main()
