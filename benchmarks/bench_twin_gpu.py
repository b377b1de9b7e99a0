"""GPU benchmark: the twin builder with the paper's real-size architectures (random weights) on an
81-frame 832×480 range; wall time and peak GPU memory per stage.

No checkpoint is downloaded: each backend's ``paper_config()`` (the checkpoint's architecture,
carried in code) is built directly on the GPU in bfloat16 with random weights, so speed and memory
are the real ones while the outputs are meaningless. The detector threshold is 0 so that random
scores still produce a realistic number of tracks (up to 8 per keyframe), and the tracker's
object-score head is biased to "present" so masks flow into the depth and attribute stages.

    python benchmarks/bench_twin_gpu.py [--out results.json] [--frames 81]

Needs CUDA. Prints a table; with --out also writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from river_core.devices import DevicePlan
from river_core.media import FrameRange, MediaWriter, Placement, Timecode, VideoReader, probe
from river_core.samples import bundled_sample
from river_core.twin.builder import BuildSettings, TwinBuilder
from river_core.twin.stages import ModelInfo, Role, Stage

SIZE = (832, 480)


def make_clip(out: Path, frames: int) -> Path:
    """``frames`` frames of the bundled sample scaled to 832×480, lossless."""
    source = bundled_sample()
    info = probe(source)
    fit = Placement.fit((info.width, info.height), SIZE, "stretch")
    with (
        VideoReader(source, info) as reader,
        MediaWriter(
            out, "ffv1", width=SIZE[0], height=SIZE[1], rate=info.rate, timecode=Timecode(0, info.rate)
        ) as w,
    ):
        for frame in reader.frames(FrameRange(0, min(frames, info.frame_count)), fit=fit):
            w.write_video(frame.image)
    return out


def build_random(cls: Any, config: Any, plan: DevicePlan) -> Any:
    """A model of ``config``'s real size with random weights, created on the GPU in the plan's dtype."""
    torch.manual_seed(0)
    with torch.device(plan.device):
        model = cls._from_config(config, dtype=plan.torch_dtype)
    return model.eval()


def real_size_stages(plan: DevicePlan) -> dict[Role, Callable[[], Stage]]:
    from transformers import (
        DepthAnythingForDepthEstimation,
        Owlv2ForObjectDetection,
        Owlv2Processor,
        Qwen2_5_VLForConditionalGeneration,
        Sam2VideoModel,
    )
    from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from river_core.twin.backends import depth_anything, owlv2, qwen_vl, sam2
    from river_core.twin.backends.tiny_tokenizers import clip_tokenizer, qwen_token_ids, qwen_tokenizer

    def tracker() -> Stage:
        model = build_random(Sam2VideoModel, sam2.paper_config(), plan)
        with torch.no_grad():
            model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(1.0)
        return sam2.Sam2Tracker(model, ModelInfo("tracker", "random:facebook/sam2.1-hiera-large"), plan)

    def detector() -> Stage:
        config = owlv2.paper_config()
        model = build_random(Owlv2ForObjectDetection, config, plan)
        side = config.vision_config.image_size  # 960 for the checkpoint
        processor = Owlv2Processor(
            image_processor=Owlv2ImageProcessorPil(size={"height": side, "width": side}),
            tokenizer=clip_tokenizer(model_max_length=owlv2.QUERY_TOKENS),
        )
        return owlv2.Owlv2Detector(model, processor, ModelInfo("detector", f"random:{owlv2.PAPER_MODEL_ID}"))

    def depth() -> Stage:
        model = build_random(DepthAnythingForDepthEstimation, depth_anything.paper_config(), plan)
        processor = depth_anything.tiny_processor(518)  # the checkpoint's preprocessing at its 518 pixels
        info = ModelInfo("depth", f"random:{depth_anything.PAPER_MODEL_ID}")
        return depth_anything.DepthAnythingEstimator(model, processor, info)

    def describer() -> Stage:
        tokenizer = qwen_tokenizer()
        config = qwen_vl.paper_config()
        ids = qwen_token_ids(tokenizer)  # the byte-level tokenizer's special ids, in the real-size config
        for name in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
            setattr(config, name, ids[name])
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            setattr(config.text_config, name, ids[name])
        model = build_random(Qwen2_5_VLForConditionalGeneration, config, plan)
        image_processor = Qwen2VLImageProcessorPil()  # the checkpoint's pixel limits; the stage caps tokens
        info = ModelInfo("describer", f"random:{qwen_vl.PAPER_MODEL_ID}")
        return qwen_vl.QwenVLDescriber(model, image_processor, tokenizer, info)

    return {"tracker": tracker, "detector": detector, "depth": depth, "describer": describer}


def _model_of(stage: Stage) -> torch.nn.Module:
    """The stage's torch module (SAM 2 exposes ``model``; the others keep it as ``_model``)."""
    model = getattr(stage, "model", None) or getattr(stage, "_model", None)
    assert isinstance(model, torch.nn.Module), f"cannot find the model of {stage.info.model_id}"
    return model


class Measured:
    """A stage whose load time and peak GPU memory (from its load to its close) are recorded."""

    def __init__(self, role: Role, make: Callable[[], Stage], log: list[dict[str, Any]]) -> None:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        self._stage = make()
        torch.cuda.synchronize()
        self._entry: dict[str, Any] = {
            "role": role,
            "load_s": round(time.perf_counter() - started, 2),
            "weights_gib": round(torch.cuda.memory_allocated() / 2**30, 2),
            "params_m": round(sum(p.numel() for p in _model_of(self._stage).parameters()) / 1e6, 1),
        }
        self._started = time.perf_counter()
        log.append(self._entry)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stage, name)

    def close(self) -> None:
        torch.cuda.synchronize()
        self._entry["run_s"] = round(time.perf_counter() - self._started, 2)
        self._entry["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        self._stage.close()
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    plan = DevicePlan("cuda", "bfloat16")
    makers = real_size_stages(plan)
    log: list[dict[str, Any]] = []
    settings = BuildSettings(detection_threshold=0.0, max_detections=8)
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mkv", args.frames)
        builder = TwinBuilder(lambda role: Measured(role, makers[role], log), settings)  # type: ignore[arg-type,return-value]
        started = time.perf_counter()
        twin = builder.build(clip, content_hash="sha256:" + "0" * 64)
        total = time.perf_counter() - started
    result = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "frames": len(twin.frames),
        "size": list(SIZE),
        "tracks": len(twin.tracks),
        "calls": twin.provenance.calls,
        "step_ms": twin.provenance.timings_ms,
        "stages": log,
        "total_s": round(total, 1),
    }
    print(
        f"{result['gpu']}, torch {result['torch']}: {result['frames']} frames at 832×480, "
        f"{result['tracks']} tracks, {total:.1f} s in all"
    )
    print(f"{'stage':<10} {'params M':>9} {'load s':>7} {'run s':>7} {'weights GiB':>12} {'peak GiB':>9}")
    for e in log:
        print(
            f"{e['role']:<10} {e['params_m']:>9} {e['load_s']:>7} {e.get('run_s', '-'):>7} "
            f"{e['weights_gib']:>12} {e.get('peak_gib', '-'):>9}"
        )
    print("builder steps (ms, loads included):", json.dumps(result["step_ms"]))
    print("model calls:", json.dumps(result["calls"]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
