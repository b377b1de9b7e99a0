"""Editing metrics of one rendered task (paper §4), on ~8 frames kept while the pipeline encodes.

- **CLIP-T**: 100 × cosine of the CLIP image embedding of each edited frame and the text embedding of
  the query, averaged (transformers ``CLIPModel``; the paper's ``openai/clip-vit-large-patch14``).
- **CLIP-F**: 100 × cosine of the CLIP image embeddings of consecutive edited frames, averaged.
- **MUSIQ**: pyiqa's MUSIQ, the maintained implementation. pyiqa imports torchvision (its
  ``archs/arch_util.py``) and declares it, and torchvision cannot be installed in the CPU profile
  (docs: FIELD-NOTES), so here it is reported unavailable; where pyiqa imports (the GPU profile) it runs.
- **SSIM / PSNR outside the edit region**: the pipeline's own QC (scikit-image), measured on every frame
  while encoding; an outside left bit-identical has no finite PSNR and is reported as 100 dB.
- **GroundingDINO**: 100 × the fraction of frames where Grounding DINO, asked for the target's category,
  finds a box (score ≥ 0.35) overlapping the edited region's box with IoU ≥ 0.5
  (``IDEA-Research/grounding-dino-base``).
- **LLM judge**: 100 × the judge's yes (issue 11's ``Judge``; abstentions are left out).

With the ``tiny`` profile every model is the real class at tiny size with seeded random weights, built
in code (no download): the numbers exercise the code path and mean nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np

CLIP_ID: Final = "openai/clip-vit-large-patch14"
GDINO_ID: Final = "IDEA-Research/grounding-dino-base"
MUSIQ_NOTE: Final = "unavailable: needs the gpu profile (pyiqa + torchvision); never hand-written here"
BOX_THRESHOLD: Final = 0.35
PSNR_IDENTICAL: Final = 100.0

Frame = tuple[np.ndarray, np.ndarray, np.ndarray, int]  # (source, output, matte, index)


def _features(output: Any) -> Any:
    """transformers 5 returns a model output from ``get_*_features``; older versions a tensor."""
    return getattr(output, "pooler_output", output)


class _Clip:
    def __init__(self, profile: str, seed: int) -> None:
        import torch
        from transformers import CLIPConfig, CLIPModel

        self.tiny = profile == "tiny"
        if self.tiny:
            torch.manual_seed(seed)
            config = CLIPConfig(
                text_config=dict(
                    vocab_size=512,
                    hidden_size=32,
                    intermediate_size=64,
                    num_hidden_layers=2,
                    num_attention_heads=2,
                    max_position_embeddings=77,
                    bos_token_id=1,
                    eos_token_id=2,
                ),
                vision_config=dict(
                    image_size=32,
                    patch_size=8,
                    hidden_size=32,
                    intermediate_size=64,
                    num_hidden_layers=2,
                    num_attention_heads=2,
                ),
                projection_dim=32,
            )
            self.model = CLIPModel(config).eval()
            self.model.name_or_path = f"tiny ({CLIP_ID} at hidden 32, seed {seed})"
            self.size = 32
        else:
            from transformers import CLIPProcessor

            self.model = CLIPModel.from_pretrained(CLIP_ID).eval()
            self.processor = CLIPProcessor.from_pretrained(CLIP_ID)
            self.size = int(self.model.config.vision_config.image_size)

    def images(self, frames: Sequence[np.ndarray]) -> Any:
        import torch
        from PIL import Image

        pil = [Image.fromarray(f) for f in frames]
        if self.tiny:
            from transformers import CLIPImageProcessorPil

            proc = CLIPImageProcessorPil(
                size={"shortest_edge": self.size}, crop_size={"height": self.size, "width": self.size}
            )
            pixels = proc(images=pil, return_tensors="pt")["pixel_values"]
        else:
            pixels = self.processor(images=pil, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            feats = _features(self.model.get_image_features(pixel_values=pixels))
        return torch.nn.functional.normalize(feats, dim=-1)

    def text(self, text: str) -> Any:
        import torch

        if self.tiny:  # byte ids between BOS 1 and EOS 2: the tiny model has no tokenizer files
            ids = torch.tensor([[1, *[3 + b % 509 for b in text.encode()[:70]], 2]])
            mask = torch.ones_like(ids)
        else:
            enc = self.processor(text=[text], return_tensors="pt", padding=True, truncation=True)
            ids, mask = enc["input_ids"], enc["attention_mask"]
        with torch.no_grad():
            feats = _features(self.model.get_text_features(input_ids=ids, attention_mask=mask))
        return torch.nn.functional.normalize(feats, dim=-1)


class _GroundingDino:
    def __init__(self, profile: str, seed: int) -> None:
        import torch
        from transformers import GroundingDinoConfig, GroundingDinoForObjectDetection

        self.tiny = profile == "tiny"
        if self.tiny:
            torch.manual_seed(seed)
            config = GroundingDinoConfig(
                backbone_config=dict(
                    model_type="swin",
                    embed_dim=8,
                    depths=[1, 1, 1, 1],
                    num_heads=[1, 1, 1, 1],
                    window_size=4,
                    image_size=64,
                    out_features=["stage2", "stage3", "stage4"],
                ),
                # BERT's [CLS] 101, [SEP] 102 and "." 1012 must be in the vocabulary: the model reads them
                text_config=dict(
                    model_type="bert",
                    vocab_size=1100,
                    hidden_size=32,
                    num_hidden_layers=1,
                    num_attention_heads=2,
                    intermediate_size=32,
                    max_position_embeddings=64,
                ),
                d_model=32,
                encoder_layers=1,
                decoder_layers=2,
                encoder_attention_heads=2,
                decoder_attention_heads=2,
                encoder_ffn_dim=32,
                decoder_ffn_dim=32,
                num_queries=10,
                num_feature_levels=3,
                encoder_n_points=2,
                decoder_n_points=2,
                max_text_len=64,
            )
            self.model = GroundingDinoForObjectDetection(config).eval()
            self.size = 64
        else:
            from transformers import GroundingDinoProcessor

            self.model = GroundingDinoForObjectDetection.from_pretrained(GDINO_ID).eval()
            self.processor = GroundingDinoProcessor.from_pretrained(GDINO_ID)

    def best_box(
        self, frame: np.ndarray, label: str
    ) -> tuple[float, tuple[float, float, float, float]] | None:
        """(score, normalized x0, y0, x1, y1) of the best box for ``label``, or None."""
        import torch
        from PIL import Image

        text = f"{label.strip().lower()}."
        if self.tiny:
            image = Image.fromarray(frame).resize((self.size, self.size))
            pixels = torch.tensor(np.asarray(image), dtype=torch.float32).permute(2, 0, 1)[None] / 255.0
            mean, std = (
                torch.tensor([0.485, 0.456, 0.406])[:, None, None],
                torch.tensor([0.229, 0.224, 0.225])[:, None, None],
            )
            body = [200 + b for b in label.strip().lower().encode()[:40]]
            ids = torch.tensor([[101, *body, 1012, 102]])
            inputs = {
                "pixel_values": (pixels - mean) / std,
                "input_ids": ids,
                "attention_mask": torch.ones_like(ids),
            }
        else:
            inputs = self.processor(images=Image.fromarray(frame), text=text, return_tensors="pt")
        with torch.no_grad():
            out = self.model(**inputs)
        scores = out.logits.sigmoid()[0].max(dim=-1).values  # [queries]: best text token per box
        k = int(scores.argmax())
        if float(scores[k]) < BOX_THRESHOLD:
            return None
        cx, cy, w, h = (float(v) for v in out.pred_boxes[0, k])
        return float(scores[k]), (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def region_box(matte: np.ndarray) -> tuple[float, float, float, float] | None:
    """Normalized box of a matte's non-zero pixels."""
    m = np.asarray(matte)
    m = m.reshape(m.shape[0], m.shape[1], -1).max(axis=-1) > 0
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    if rows.size == 0:
        return None
    h, w = m.shape
    return cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h


class EditingScorer:
    """The editing models, loaded once per run on first use."""

    def __init__(self, profile: str, *, judge: str | None = None, seed: int = 0) -> None:
        self.profile, self.judge_spec, self.seed = profile, judge, seed
        self._clip: _Clip | None = None
        self._gdino: _GroundingDino | None = None
        self._judge: Any = None
        self._musiq: Any = None
        self.musiq_reason: str | None = None

    def musiq(self) -> Any:
        if self._musiq is None and self.musiq_reason is None:
            try:
                import pyiqa  # type: ignore[import-not-found]  # the maintained MUSIQ; imports torchvision

                self._musiq = pyiqa.create_metric("musiq", as_loss=False)
            except Exception:  # noqa: BLE001 — ImportError, or torchvision's broken import: unavailable
                self.musiq_reason = MUSIQ_NOTE
        return self._musiq

    def score(self, query: str, plan: Any, twin: Any, frames: Sequence[Frame], qc: Any) -> dict[str, Any]:
        """Every editing metric of one rendered task (None where it does not apply, with why)."""
        import torch

        if self._clip is None:
            self._clip = _Clip(self.profile, self.seed)
        if self._gdino is None:
            self._gdino = _GroundingDino(self.profile, self.seed)
        edited = [f[1] for f in frames]
        images = self._clip.images(edited)  # [N, D], unit length
        text = self._clip.text(query)  # [1, D]
        clip_t = float((images @ text.T).mean()) * 100
        clip_f = float((images[1:] * images[:-1]).sum(-1).mean()) * 100 if len(edited) > 1 else None
        category = next((t.category for op in plan.operations for t in op.targets if t.category), "object")
        hits = []
        for _, output, matte, _ in frames:
            region = region_box(matte)
            if region is None:
                continue
            found = self._gdino.best_box(output, category)
            hits.append(found is not None and box_iou(found[1], region) >= 0.5)
        musiq = None
        metric = self.musiq()
        if metric is not None:
            with torch.no_grad():
                scores = [float(metric(torch.tensor(f).permute(2, 0, 1)[None].float() / 255)) for f in edited]
            musiq = float(np.mean(scores))
        judge, judge_why = None, "no --judge"
        if self.judge_spec:
            from PIL import Image

            from river_core.rewards.judges import load_judge

            if self._judge is None:
                self._judge = load_judge(self.judge_spec)
            picks = frames[:: max(1, len(frames) // 4)][:4]
            verdict = self._judge.judge(
                query, [Image.fromarray(f[0]) for f in picks], [Image.fromarray(f[1]) for f in picks]
            )
            judge = None if verdict.score is None else (100.0 if verdict.score > 0 else 0.0)
            judge_why = verdict.reason
        psnr = qc.psnr_outside_mean_db
        if psnr is None and qc.identical_outside:
            psnr = PSNR_IDENTICAL
        return {
            "clip_t": clip_t,
            "clip_f": clip_f,
            "musiq": musiq,
            "ssim": None if qc.ssim_outside_mean is None else float(qc.ssim_outside_mean) * 100,
            "psnr": psnr,
            "gdino": 100.0 * sum(hits) / len(hits) if hits else None,
            "judge": judge,
            "judge_reason": judge_why,
            "psnr_capped": qc.psnr_outside_mean_db is None and qc.identical_outside,
            "frames_measured": len(frames),
            "category": category,
        }
