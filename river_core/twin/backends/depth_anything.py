"""Depth Anything V2 (``DepthEstimator``): ``DepthAnythingForDepthEstimation`` + its DPT image processor.

The model predicts *relative inverse depth* (disparity: larger = nearer) at the resolution it was
fed; :meth:`DepthAnythingEstimator.estimate` brings it back to each image's own size. The DPT
processor keeps the aspect ratio and rounds both sides to a multiple of the 14-pixel patch; when a
checkpoint's processor does not, we pad the resized picture to a patch multiple ourselves
(centered, as DPT's own ``do_pad`` does) and crop the padding off the prediction before
upsampling, so the map always covers exactly the picture.

Only the Small checkpoint is Apache-2.0 (Base/Large are CC-BY-NC-4.0); see ``twin.profiles``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoImageProcessor, DepthAnythingConfig, DepthAnythingForDepthEstimation
from transformers.image_processing_utils import BaseImageProcessor
from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.twin.backends._hub import check_images, loading, place, revision_of
from river_core.twin.stages import ModelInfo, ModelSpec

PAPER_MODEL_ID = "depth-anything/Depth-Anything-V2-Small-hf"
BATCH_SIZE = 8  # equal-sized images per forward (frames of one clip share a size)
TINY_SIDE = 70  # 5×5 patches of 14 pixels for a square image
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # what Depth Anything was trained with (its preprocessor_config)
IMAGENET_STD = (0.229, 0.224, 0.225)

Pad = tuple[int, int, int, int]  # (top, bottom, left, right) pixels added around the picture


class DepthAnythingEstimator:
    """Relative inverse depth per image; see :meth:`estimate`."""

    def __init__(
        self,
        model: DepthAnythingForDepthEstimation,
        processor: BaseImageProcessor,
        info: ModelInfo,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.info = info
        self.batch_size = batch_size
        self._model: DepthAnythingForDepthEstimation | None = model
        self._processor = processor
        patch = model.config.patch_size
        self._patch = patch if isinstance(patch, int) else int(patch[0])

    def estimate(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Float32 ``H×W`` relative inverse depth (larger = nearer) at each image's own size.

        Images of the same size are batched together; the order of the result follows ``images``.
        """
        model = self._require_model()
        check_images(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_size.setdefault(image.shape[:2], []).append(i)
        depths: list[np.ndarray | None] = [None] * len(images)
        for (height, width), indices in by_size.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                maps = self._predict(model, [images[i] for i in chunk], (height, width))
                for i, depth in zip(chunk, maps, strict=True):
                    depths[i] = depth
        return [d for d in depths if d is not None]

    def _predict(
        self, model: DepthAnythingForDepthEstimation, images: list[np.ndarray], size: tuple[int, int]
    ) -> list[np.ndarray]:
        """One forward for equal-sized images → their maps at ``size`` (height, width)."""
        # Padding is ours to add and remove: the processor's own `do_pad` stays off.
        pixels = self._processor(
            images=images, return_tensors="pt", do_pad=False, input_data_format="channels_last"
        )["pixel_values"]
        pixels, pad = pad_to_multiple(pixels, self._patch)  # [B, 3, H', W']
        with torch.inference_mode():
            predicted = model(
                pixel_values=pixels.to(model.device, model.dtype)
            ).predicted_depth  # [B, H', W']
        predicted = crop_padding(predicted.float(), pad)
        # Bilinear, not the processor's bicubic post-processing: bicubic overshoots at depth edges.
        full = F.interpolate(predicted[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        return [np.ascontiguousarray(m, dtype=np.float32) for m in full.cpu().numpy()]

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model and image processor so ``load(ModelSpec(str(path)), plan)`` rebuilds this stage."""
        model = self._require_model()
        model.save_pretrained(path)
        self._processor.save_pretrained(path)

    def close(self) -> None:
        """Free the weights (idempotent)."""
        self._model = None

    def _require_model(self) -> DepthAnythingForDepthEstimation:
        if self._model is None:
            raise RiverError(
                f"the depth estimator {self.info.model_id!r} was closed; load it again to use it"
            )
        return self._model


def pad_to_multiple(pixels: torch.Tensor, multiple: int) -> tuple[torch.Tensor, Pad]:
    """Zero-pad ``[B, C, H, W]`` so H and W are multiples of ``multiple``, centered like DPT's
    ``pad_image`` (the odd pixel goes to the bottom/right); returns the padding added."""
    height, width = pixels.shape[-2:]
    extra_h, extra_w = -height % multiple, -width % multiple
    pad = (extra_h // 2, extra_h - extra_h // 2, extra_w // 2, extra_w - extra_w // 2)
    if extra_h == extra_w == 0:
        return pixels, pad
    top, bottom, left, right = pad
    return F.pad(pixels, (left, right, top, bottom)), pad


def crop_padding(maps: torch.Tensor, pad: Pad) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on ``[..., H, W]`` maps predicted at the padded size."""
    top, bottom, left, right = pad
    height, width = maps.shape[-2:]
    return maps[..., top : height - bottom, left : width - right]


def load(spec: ModelSpec, plan: DevicePlan) -> DepthAnythingEstimator:
    """Load a Depth Anything checkpoint (a Hugging Face id in the cache, or a local directory)."""
    files = "config.json, weights, preprocessor_config.json"
    with loading(spec, what="Depth Anything", files=files) as src:
        model = DepthAnythingForDepthEstimation.from_pretrained(
            src.model_id, dtype=plan.torch_dtype, **src.kwargs
        )
        processor = AutoImageProcessor.from_pretrained(src.model_id, **src.kwargs)
    place(model, plan)
    return DepthAnythingEstimator(
        model, processor, ModelInfo("depth", spec.model_id, revision_of(model, spec))
    )


def tiny(*, seed: int = 0, plan: DevicePlan) -> DepthAnythingEstimator:
    """The same classes at tiny size (random weights from ``seed``), fed ~70-pixel images."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DepthAnythingForDepthEstimation(tiny_config())
    place(model, plan)
    processor = tiny_processor()
    return DepthAnythingEstimator(
        model, processor, ModelInfo("depth", "tiny:DepthAnythingForDepthEstimation")
    )


def tiny_processor(side: int = TINY_SIDE, *, ensure_multiple_of: int = 14) -> DPTImageProcessorPil:
    """The paper checkpoint's preprocessing (keep the aspect ratio, bicubic, ImageNet statistics,
    sides rounded to ``ensure_multiple_of``) aimed at ``side`` pixels instead of 518."""
    return DPTImageProcessorPil(
        size={"height": side, "width": side},
        keep_aspect_ratio=True,
        ensure_multiple_of=ensure_multiple_of,
        resample=3,  # PIL bicubic
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
    )


def tiny_config() -> DepthAnythingConfig:
    """A 4-layer, 32-wide DINOv2 backbone (patch 14, every layer feeds the neck), neck 8–32, fusion 16."""
    backbone: dict[str, Any] = {
        "model_type": "dinov2",
        "hidden_size": 32,
        "num_hidden_layers": 4,
        "num_attention_heads": 2,
        "mlp_ratio": 2,
        "image_size": TINY_SIDE,
        "patch_size": 14,
        "out_indices": [1, 2, 3, 4],
        "reshape_hidden_states": False,
    }
    return DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=14,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
    )


def paper_config() -> DepthAnythingConfig:
    """The architecture of ``depth-anything/Depth-Anything-V2-Small-hf`` (its config.json on the Hub,
    matching the V2 paper's ViT-S: ``features=64, out_channels=[48, 96, 192, 384]``, intermediate
    layers 2, 5, 8, 11): DINOv2-S/14 (384 wide, 12 layers, 6 heads, 518² positions) feeding the
    neck from layers 3, 6, 9, 12; neck 48/96/192/384, fusion 64, head 32, relative depth."""
    backbone: dict[str, Any] = {
        "model_type": "dinov2",
        "hidden_size": 384,
        "num_hidden_layers": 12,
        "num_attention_heads": 6,
        "mlp_ratio": 4,
        "image_size": 518,
        "patch_size": 14,
        "out_indices": [3, 6, 9, 12],
        "reshape_hidden_states": False,
    }
    return DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=14,
        reassemble_hidden_size=384,
        reassemble_factors=[4, 2, 1, 0.5],
        neck_hidden_sizes=[48, 96, 192, 384],
        fusion_hidden_size=64,
        head_hidden_size=32,
        head_in_index=-1,
        depth_estimation_type="relative",
    )
