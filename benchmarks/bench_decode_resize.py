"""Benchmark: decode + resize 720p to 832×480 (Wan2.1-VACE's 480p canvas), ours vs the ffmpeg CLI.

Runs, in one process and alternating so that machine noise hits both alike:
  * ours      — ``VideoReader.frames(fit=Placement)``: YUV → RGB + resize in one swscale pass, then pad
  * ours+PIL  — full-resolution RGB decode, then ``Placement.to_model`` (Pillow box filter)
  * ffmpeg    — ``ffmpeg -i CLIP -vf scale=832:468:flags=area,pad=832:480:0:6 -pix_fmt rgb24 -f rawvideo -``
                piped into this process and discarded (the same work: decoded RGB frames in memory)
and prints frames per second for each and the ratio to ffmpeg (> 1 means faster than ffmpeg).

    .venv/bin/python benchmarks/bench_decode_resize.py [CLIP] [--repeats 5] [--ffmpeg PATH]

CLIP defaults to ../shared/media/01_dog.mp4, or the bundled 3-second sample when that is absent.
This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from river_core.media import FrameRange, Placement, VideoReader, probe
from river_core.samples import bundled_sample

MODEL_SIZE = (832, 480)


def run_ours(clip: Path, placement: Placement, fused: bool) -> int:
    info = probe(clip)
    n = 0
    with VideoReader(clip, info) as reader:
        for frame in reader.frames(FrameRange(0, info.frame_count), fit=placement if fused else None):
            image = frame.image if fused else placement.to_model(frame.image)
            assert image.shape == (MODEL_SIZE[1], MODEL_SIZE[0], 3)
            n += 1
    return n


def run_ffmpeg(ffmpeg: str, clip: Path, placement: Placement) -> int:
    x0, y0, _, _ = placement.content_box
    scale = f"scale={placement.content_w}:{placement.content_h}:flags=area"
    vf = f"{scale},pad={MODEL_SIZE[0]}:{MODEL_SIZE[1]}:{x0}:{y0}"
    cmd = [
        ffmpeg,
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(clip),
        "-an",
        "-vf",
        vf,
        "-pix_fmt",
        "rgb24",
        "-f",
        "rawvideo",
        "-",
    ]
    frame_bytes = MODEL_SIZE[0] * MODEL_SIZE[1] * 3
    n = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(frame_bytes):
            if len(chunk) == frame_bytes:
                n += 1
    if proc.returncode:
        raise SystemExit(f"ffmpeg failed with exit code {proc.returncode}")
    return n


def find_ffmpeg(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except ImportError:
        found = shutil.which("ffmpeg")
        if not found:
            raise SystemExit(
                "no ffmpeg binary: install the dev extra (imageio-ffmpeg) or pass --ffmpeg PATH"
            ) from None
        return found


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "media" / "01_dog.mp4"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "clip", nargs="?", type=Path, default=default if default.exists() else bundled_sample()
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ffmpeg", help="ffmpeg binary (default: the one shipped by imageio-ffmpeg)")
    args = parser.parse_args()

    ffmpeg = find_ffmpeg(args.ffmpeg)
    info = probe(args.clip)
    placement = Placement.fit((info.width, info.height), MODEL_SIZE)
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"clip: {args.clip} ({info.width}×{info.height}, {info.frame_count} frames, {info.codec})")
    print(
        f"target: {MODEL_SIZE[0]}×{MODEL_SIZE[1]} letterbox "
        f"(content {placement.content_w}×{placement.content_h})"
    )
    print(f"reference: {version}")

    runners = {
        "ours": lambda: run_ours(args.clip, placement, fused=True),
        "ours+PIL": lambda: run_ours(args.clip, placement, fused=False),
        "ffmpeg": lambda: run_ffmpeg(ffmpeg, args.clip, placement),
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    for name, fn in runners.items():  # warm-up: page cache, imports
        assert fn() == info.frame_count, f"{name} did not deliver {info.frame_count} frames"
    for _ in range(args.repeats):
        for name, fn in runners.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    ref_fps = info.frame_count / statistics.median(times["ffmpeg"])
    print(f"{'pipeline':<10} {'median s':>9} {'fps':>8} {'vs ffmpeg':>10}")
    for name, ts in times.items():
        fps = info.frame_count / statistics.median(ts)
        print(f"{name:<10} {statistics.median(ts):>9.3f} {fps:>8.1f} {fps / ref_fps:>9.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
