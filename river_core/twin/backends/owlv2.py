"""OWLv2 open-vocabulary detector (``Detector``): ``Owlv2ForObjectDetection`` + ``Owlv2Processor``.

The processor pads every image at the bottom/right to a square before resizing it to the model's
``image_size``, so the model's boxes are fractions of that padded square, not of the image:
:func:`image_boxes` scales them by the image's longer side and clips them to the image.

>>> from river_core.devices import choose_device
>>> detector = tiny(plan=choose_device("cpu"))                      # doctest: +SKIP
>>> detector.detect([frame], ["dog", "ball"], threshold=0.1, max_detections=10)  # doctest: +SKIP
[[Detection(box=(412.0, 188.5, 730.2, 655.0), score=0.61, label='dog'), ...]]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor
from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.twin.backends._hub import check_images, loading, place, revision_of
from river_core.twin.backends.tiny_tokenizers import clip_tokenizer
from river_core.twin.stages import Box, Detection, ModelInfo, ModelSpec

PAPER_MODEL_ID = "google/owlv2-base-patch16-ensemble"
NMS_IOU = 0.5  # class-agnostic: one object matched by two queries ("dog", "puppy") is kept once
BATCH_SIZE = 8  # images per forward; a 960² OWLv2-B image is 3,600 tokens
TINY_IMAGE_SIZE = 64  # 4×4 patches of 16 pixels
QUERY_TOKENS = 16  # OWLv2's text positions (CLIP's 77 cut to 16): longer queries are truncated


class Owlv2Detector:
    """Detects the text ``queries`` in images; see :meth:`detect`."""

    def __init__(
        self,
        model: Owlv2ForObjectDetection,
        processor: Owlv2Processor,
        info: ModelInfo,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.info = info
        self.batch_size = batch_size
        self._model: Owlv2ForObjectDetection | None = model
        self._processor = processor
        self._max_query_tokens = int(
            getattr(model.config.text_config, "max_position_embeddings", QUERY_TOKENS)
        )

    def detect(
        self,
        images: Sequence[np.ndarray],
        queries: Sequence[str],
        *,
        threshold: float,
        max_detections: int,
    ) -> list[list[Detection]]:
        """Per image, the detections scoring ≥ ``threshold`` after class-agnostic NMS (IoU 0.5),
        best first, at most ``max_detections``; boxes in that image's pixels, label = the query."""
        model = self._require_model()
        check_images(images)
        queries = _check_queries(queries)
        if not 0.0 <= threshold <= 1.0:
            raise RiverError(f"`threshold` must be in [0, 1], got {threshold}")
        if max_detections < 0:
            raise RiverError(f"`max_detections` must be ≥ 0, got {max_detections}")
        results: list[list[Detection]] = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            scores, labels, boxes = self._forward(model, batch, queries)
            for image, s, lab, b in zip(batch, scores, labels, boxes, strict=True):
                height, width = image.shape[:2]
                results.append(
                    _select(image_boxes(b, width, height), s, lab, queries, threshold, max_detections)
                )
        return results

    def _forward(
        self, model: Owlv2ForObjectDetection, images: Sequence[np.ndarray], queries: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best query score, its index, and the padded-square box for every patch of every image."""
        inputs = self._processor(
            text=[queries] * len(images),
            images=list(images),
            return_tensors="pt",
            input_data_format="channels_last",
            truncation=True,
            max_length=self._max_query_tokens,
        )
        inputs = inputs.to(model.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with torch.inference_mode():
            out = model(**inputs)
        logits = out.logits.float()  # [B, patches, queries]
        best = logits.max(dim=-1)
        scores = torch.sigmoid(best.values)  # [B, patches]
        return scores.cpu().numpy(), best.indices.cpu().numpy(), out.pred_boxes.float().cpu().numpy()

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model and processor so ``load(ModelSpec(str(path)), plan)`` rebuilds this stage."""
        model = self._require_model()
        model.save_pretrained(path)
        self._processor.save_pretrained(path)

    def close(self) -> None:
        """Free the weights (idempotent)."""
        self._model = None

    def _require_model(self) -> Owlv2ForObjectDetection:
        if self._model is None:
            raise RiverError(f"the detector {self.info.model_id!r} was closed; load it again to use it")
        return self._model


def image_boxes(pred_boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """OWLv2 boxes ``[N, (cx, cy, w, h)]`` as fractions of the padded square → ``[N, (x0, y0, x1, y1)]``
    in the pixels of the ``width × height`` image, clipped to it.

    The processor pads at the bottom/right to a ``max(width, height)`` square, so both axes scale
    by the longer side and the origin stays put; a box in the padding clips to zero area.
    """
    side = float(max(width, height))
    cx, cy, w, h = (pred_boxes[:, i].astype(np.float64) * side for i in range(4))
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    corners[:, 0::2] = corners[:, 0::2].clip(0.0, width)
    corners[:, 1::2] = corners[:, 1::2].clip(0.0, height)
    return corners


def nms(
    boxes: np.ndarray, scores: np.ndarray, *, iou: float = NMS_IOU, limit: int | None = None
) -> list[int]:
    """Greedy non-maximum suppression over ``[N, (x0, y0, x1, y1)]`` boxes: the indices kept, best
    score first, at most ``limit``. A box is dropped when its IoU with a better kept box is > ``iou``.
    """
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(order), dtype=bool)
    kept: list[int] = []
    for pos, i in enumerate(order):
        if limit is not None and len(kept) >= limit:
            break
        if suppressed[pos]:
            continue
        kept.append(int(i))
        suppressed[pos + 1 :] |= _iou_one_to_many(boxes[i], boxes[order[pos + 1 :]]) > iou
    return kept


def _iou_one_to_many(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``others`` (0 where the union is empty), as ``stages.boxes_iou``."""
    iw = (np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])).clip(min=0)
    ih = (np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])).clip(min=0)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1])
    union = area + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def _select(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    queries: list[str],
    threshold: float,
    max_detections: int,
) -> list[Detection]:
    """Threshold, drop boxes that clipped to nothing, NMS, cap — as :class:`Detection`s."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    candidates = np.flatnonzero((scores >= threshold) & (areas > 0))
    kept = nms(boxes[candidates], scores[candidates], limit=max_detections)
    detections = []
    for k in candidates[kept]:
        x0, y0, x1, y1 = (float(v) for v in boxes[k])
        box: Box = (x0, y0, x1, y1)
        detections.append(Detection(box=box, score=float(scores[k]), label=queries[int(labels[k])]))
    return detections


def load(spec: ModelSpec, plan: DevicePlan) -> Owlv2Detector:
    """Load an OWLv2 checkpoint (a Hugging Face id in the cache, or a local directory)."""
    with loading(spec, what="OWLv2", files="config.json, weights, processor files") as src:
        model = Owlv2ForObjectDetection.from_pretrained(src.model_id, dtype=plan.torch_dtype, **src.kwargs)
        processor = Owlv2Processor.from_pretrained(src.model_id, **src.kwargs)
    place(model, plan)
    return Owlv2Detector(model, processor, ModelInfo("detector", spec.model_id, revision_of(model, spec)))


def tiny(*, seed: int = 0, plan: DevicePlan) -> Owlv2Detector:
    """The same classes at tiny size (random weights from ``seed``): 64² images, 16 patches."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Owlv2ForObjectDetection(tiny_config())
    place(model, plan)
    processor = Owlv2Processor(
        image_processor=Owlv2ImageProcessorPil(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}),
        tokenizer=clip_tokenizer(model_max_length=QUERY_TOKENS),
    )
    return Owlv2Detector(model, processor, ModelInfo("detector", "tiny:Owlv2ForObjectDetection"))


def tiny_config() -> Owlv2Config:
    """Hidden 32, 2 layers per tower, 64² images in 16-pixel patches; the vocabulary of
    :func:`~river_core.twin.backends.tiny_tokenizers.clip_tokenizer` (514 ids)."""
    vocab = len(clip_tokenizer())
    text = {
        "vocab_size": vocab,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": QUERY_TOKENS,
        "pad_token_id": 0,
        "bos_token_id": vocab - 2,
        "eos_token_id": vocab - 1,
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": TINY_IMAGE_SIZE,
        "patch_size": 16,
    }
    config = Owlv2Config(text_config=text, vision_config=vision, projection_dim=32)
    # The detection heads fall back to the base class's Linear init, which reads a top-level
    # `initializer_range` (absent by default → std 1.0): random boxes then saturate to zero width.
    config.initializer_range = 0.02
    return config


def paper_config() -> Owlv2Config:
    """The architecture of ``google/owlv2-base-patch16-ensemble`` (its config.json on the Hub):
    a CLIP B/16 pair — text 512 wide, 12 layers, 8 heads, 16 positions, vocabulary 49,408; vision
    768 wide, 12 layers, 12 heads, 960² images in 16-pixel patches (3,600 tokens) — projection 512."""
    text: dict[str, Any] = {
        "vocab_size": 49408,
        "hidden_size": 512,
        "intermediate_size": 2048,
        "num_hidden_layers": 12,
        "num_attention_heads": 8,
        "max_position_embeddings": QUERY_TOKENS,
        "pad_token_id": 0,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
    }
    vision: dict[str, Any] = {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "image_size": 960,
        "patch_size": 16,
    }
    return Owlv2Config(text_config=text, vision_config=vision, projection_dim=512)


def _check_queries(queries: Sequence[str]) -> list[str]:
    if isinstance(queries, str):
        raise RiverError(f"`queries` must be a list of strings, got the single string {queries!r}")
    if not queries or any(not isinstance(q, str) or not q.strip() for q in queries):
        raise RiverError(f"`queries` must be one or more non-empty strings, got {list(queries)!r}")
    return [q.strip() for q in queries]
