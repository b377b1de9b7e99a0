"""Benchmark (GPU): the real-size Wan2.1-VACE-1.3B stack, our render against bare diffusers.

No weights are downloaded: the architecture is built from its configuration, carried below, with
random weights (a render's cost does not depend on the weights' values):

- transformer: ``WanVACETransformer3DModel`` as diffusers' conversion script configures
  ``Wan-VACE-1.3B`` (12 heads × 128 = 1536 wide, FFN 8960, 30 layers, VACE blocks on every
  second layer 0…28, 96 control channels), bfloat16 with diffusers' float32 modules kept;
- VAE: ``AutoencoderKLWan`` defaults (base 96, z 16, the Wan2.1 VAE), float32;
- text encoder: ``UMT5EncoderModel`` with google/umt5-xxl's configuration (d_model 4096, FFN 10240
  gated-GELU, 24 layers, 64 heads × 64, vocabulary 256384), bfloat16. Its tokenizer is replaced by
  ``ByT5Tokenizer`` (no files needed); prompts are padded to ``max_sequence_length`` tokens either
  way, so the encoder's work is the same.

Measured at 81 frames × 480×832 (the paper's window), CFG on (guidance 5.0):

  resident  everything on the GPU: seconds per denoising step and per call, ours
            (``VaceEditor.render``) against a bare ``WanVACEPipeline.__call__`` with PIL frames, on
            the same pipeline object with the same seed, alternating; peak VRAM;
  offload   ``enable_model_cpu_offload`` (what ``load_editor`` does on CUDA): seconds and peak VRAM.

Step times come from the step-end callbacks (after a CUDA synchronize): the median gap between
consecutive steps, so text encoding and VAE encode/decode are not in it.

    python benchmarks/bench_vace_gpu.py [--steps 5] [--frames 81] [--size 832x480] [--repeats 1]
                                        [--phases resident,offload] [--arch paper|tiny] [--json OUT]

``--arch tiny --device cpu`` runs the same code on the tiny model (a smoke test without a GPU).
Prints progress and a JSON summary; asserts nothing. Never run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

# The architecture of Wan-AI/Wan2.1-VACE-1.3B-diffusers (transformer/config.json; diffusers'
# scripts/convert_wan_to_diffusers.py, "Wan-VACE-1.3B").
TRANSFORMER_1_3B: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 8960,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
    "vace_layers": list(range(0, 30, 2)),
    "vace_in_channels": 96,
}

# google/umt5-xxl (the encoder half is Wan's text encoder).
UMT5_XXL: dict[str, Any] = {
    "vocab_size": 256384,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "feed_forward_proj": "gated-gelu",
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "layer_norm_epsilon": 1e-6,
    "tie_word_embeddings": False,
}

# AutoencoderKLWan's defaults are the Wan2.1 VAE; spelled out so a change of defaults shows here.
VAE_WAN21: dict[str, Any] = {
    "base_dim": 96,
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "temperal_downsample": [False, True, True],
}

PROMPT = "the dog is made of polished bronze, studio lighting"


def size_arg(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH (e.g. 832x480), got {text!r}") from None
    return w, h


def build(arch: str, device: str) -> Any:
    """The pipeline with random weights: transformer/text encoder bfloat16, VAE float32, on ``device``."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import AutoencoderKLWan
    from diffusers.models.transformers.transformer_wan_vace import WanVACETransformer3DModel
    from diffusers.pipelines.wan.pipeline_wan_vace import WanVACEPipeline
    from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler
    from transformers import ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    from river_core.editing.vace import _cast, tiny_pipeline

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if arch == "tiny":
        pipe = tiny_pipeline(0)
    else:
        torch.manual_seed(0)
        default = torch.get_default_dtype()
        # Initialised on the GPU (seconds, not minutes on the CPU), the big two directly in their
        # dtype (the 5.7B-parameter encoder would take 23 GB in float32).
        with torch.device(device):
            vae = AutoencoderKLWan(**VAE_WAN21)
            torch.set_default_dtype(dtype)
            try:
                transformer = WanVACETransformer3DModel(**TRANSFORMER_1_3B)
                text_encoder = UMT5EncoderModel(UMT5Config(**UMT5_XXL))
            finally:
                torch.set_default_dtype(default)
        scheduler = UniPCMultistepScheduler(
            flow_shift=3.0, prediction_type="flow_prediction", use_flow_sigmas=True
        )
        components: dict[str, Any] = {
            "tokenizer": ByT5Tokenizer(),
            "text_encoder": text_encoder.eval(),
            "vae": vae.eval(),
            "scheduler": scheduler,
            "transformer": transformer.eval(),
        }
        pipe = WanVACEPipeline(**components)
    _cast(pipe.transformer, dtype)
    _cast(pipe.text_encoder, dtype)
    _cast(pipe.vae, torch.float32)
    pipe.to(device)
    return pipe


def clip(frames: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    video = np.stack([(x + 2 * t) % 256, (y * 2 + t) % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    mask = np.zeros((frames, height, width), dtype=bool)
    mask[:, height // 4 : 3 * height // 4, width // 3 : 2 * width // 3] = True
    return video, mask


class StepClock:
    """Times of step ends (after a synchronize, so GPU work is counted where it happens)."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.ends: list[float] = []

    def tick(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.ends.append(time.perf_counter())

    def per_step(self) -> float | None:
        gaps = [b - a for a, b in zip(self.ends, self.ends[1:], strict=False)]
        return statistics.median(gaps) if gaps else None


def run_ours(editor: Any, video: np.ndarray, mask: np.ndarray, settings: Any, device: str) -> dict[str, Any]:
    clock = StepClock(device)

    def progress(event: Any) -> None:
        if event.done > 0:
            clock.tick()

    sync(device)
    t0 = time.perf_counter()
    out = editor.render(video, mask, PROMPT, settings, progress=progress)
    sync(device)
    return {"total_s": time.perf_counter() - t0, "s_per_step": clock.per_step(), "out": out}


def run_bare(pipe: Any, video: np.ndarray, mask: np.ndarray, settings: Any, device: str) -> dict[str, Any]:
    from PIL import Image

    from river_core.editing.vace import to_uint8

    clock = StepClock(device)

    def on_step(_pipe: Any, _i: int, _t: Any, _kw: dict[str, Any]) -> dict[str, Any]:
        clock.tick()
        return {}

    sync(device)
    t0 = time.perf_counter()
    frames = pipe(
        prompt=PROMPT,
        negative_prompt=settings.negative_prompt,
        video=[Image.fromarray(f) for f in video],
        mask=[Image.fromarray(m.astype(np.uint8) * 255, mode="L") for m in mask],
        conditioning_scale=settings.conditioning_scale,
        height=video.shape[1],
        width=video.shape[2],
        num_frames=video.shape[0],
        num_inference_steps=settings.steps,
        guidance_scale=settings.guidance_scale,
        generator=torch.Generator(device="cpu").manual_seed(settings.seed),
        output_type="np",
        max_sequence_length=settings.max_sequence_length,
        callback_on_step_end=on_step,
    ).frames[0]
    sync(device)
    return {"total_s": time.perf_counter() - t0, "s_per_step": clock.per_step(), "out": to_uint8(frames)}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_gib(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=5, help="denoising steps per call (default 5)")
    parser.add_argument("--frames", type=int, default=81, help="4k+1 frames per call (default 81)")
    parser.add_argument("--size", type=size_arg, default=(832, 480), help="WxH (default 832x480)")
    parser.add_argument("--guidance", type=float, default=5.0, help="guidance scale (default 5.0: CFG on)")
    parser.add_argument("--repeats", type=int, default=1, help="alternating ours/bare pairs (default 1)")
    parser.add_argument("--phases", default="resident,offload", help="resident and/or offload")
    parser.add_argument("--arch", choices=("paper", "tiny"), default="paper")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            "bench_vace_gpu: no CUDA device here; run it on a GPU machine (or --arch tiny --device cpu)"
        )

    import diffusers
    import transformers

    from river_core.editing.vace import EditorInfo, RenderSettings, VaceEditor

    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    width, height = args.size
    settings = RenderSettings(
        steps=args.steps,
        guidance_scale=args.guidance,
        max_sequence_length=64 if args.arch == "tiny" else 512,
    )
    summary: dict[str, Any] = {
        "arch": args.arch,
        "device": torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else (platform.processor() or "cpu"),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "frames": args.frames,
        "size": f"{width}x{height}",
        "steps": args.steps,
        "guidance_scale": args.guidance,
    }
    t0 = time.perf_counter()
    pipe = build(args.arch, args.device)
    summary["build_s"] = round(time.perf_counter() - t0, 2)
    summary["params_b"] = {
        name: round(sum(p.numel() for p in getattr(pipe, name).parameters()) / 1e9, 3)
        for name in ("transformer", "text_encoder", "vae")
    }
    print(
        f"built {args.arch} in {summary['build_s']} s: {summary['params_b']} billion parameters", flush=True
    )
    dtype = str(pipe.transformer.dtype).removeprefix("torch.")
    editor = VaceEditor(pipe, EditorInfo(f"random:{args.arch}", None, args.device, dtype))
    video, mask = clip(args.frames, width, height)

    if "resident" in phases:
        warm = RenderSettings(**{**settings.to_json(), "steps": 1})
        editor.render(video[:5], mask[:5], PROMPT, warm)  # kernels, allocator, cuDNN choices
        reset_peak(args.device)
        ours_runs, bare_runs = [], []
        for r in range(args.repeats):
            ours_runs.append(run_ours(editor, video, mask, settings, args.device))
            print(f"resident ours #{r}: {fmt(ours_runs[-1])}", flush=True)
            bare_runs.append(run_bare(pipe, video, mask, settings, args.device))
            print(f"resident bare #{r}: {fmt(bare_runs[-1])}", flush=True)
        ours, bare = collect(ours_runs), collect(bare_runs)
        diff = int(np.abs(ours_runs[0]["out"].astype(np.int16) - bare_runs[0]["out"].astype(np.int16)).max())
        summary["resident"] = {
            "ours": ours,
            "bare": bare,
            "ratio_step": ratio(ours["s_per_step"], bare["s_per_step"]),
            "ratio_total": ratio(ours["total_s"], bare["total_s"]),
            "outputs_max_abs_diff": diff,
            "peak_vram_gib": round_or_none(peak_gib(args.device)),
        }
    if "offload" in phases and args.device.startswith("cuda"):
        pipe.enable_model_cpu_offload(device=args.device)
        reset_peak(args.device)
        run = run_ours(editor, video, mask, settings, args.device)
        print(f"offload ours: {fmt(run)}", flush=True)
        summary["offload_model"] = {**collect([run]), "peak_vram_gib": round_or_none(peak_gib(args.device))}
    editor.close()
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return summary


def collect(runs: list[dict[str, Any]]) -> dict[str, Any]:
    steps = [r["s_per_step"] for r in runs if r["s_per_step"] is not None]
    return {
        "total_s": round(statistics.median(r["total_s"] for r in runs), 3),
        "s_per_step": round(statistics.median(steps), 4) if steps else None,
        "runs_total_s": [round(r["total_s"], 3) for r in runs],
    }


def fmt(run: dict[str, Any]) -> str:
    step = run["s_per_step"]
    return f"{run['total_s']:.2f} s total, " + (f"{step:.3f} s/step" if step is not None else "s/step n/a")


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def round_or_none(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


if __name__ == "__main__":
    main()
