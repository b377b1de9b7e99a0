"""SAM 2.1 video tracking (paper §3.1) on transformers' maintained port, ``Sam2VideoModel``.

A :class:`Sam2Tracker` holds the weights; each video gets a :class:`Sam2Session` that streams frames
in increasing order, starts objects from boxes and returns one bool mask per known object.

The CPU profile has no torchvision, so transformers' SAM 2 processors cannot be loaded. This module
does their three jobs itself, exactly as they do them (transformers 5.23):

- frames: ``Sam2VideoVideoProcessor`` — RGB uint8 resized to ``image_size²`` (bilinear, antialiased,
  torchvision's uint8 rule), rescaled by 1/255 and normalized with the ImageNet mean/std;
- boxes: ``Sam2VideoProcessor.process_new_points_or_boxes_for_video_frame`` — corners scaled by
  ``image_size / width`` and ``image_size / height``, labelled 2 (top-left) and 3 (bottom-right);
- masks: ``Sam2ImageProcessorFast.post_process_masks`` — low-res logits upsampled bilinearly to the
  frame, thresholded at 0.

Frames are ``90×160×3`` uint8 here; each call returns ``{object_id: 90×160 bool mask}``:

>>> tracker = tiny(plan=choose_device("cpu"))                           # doctest: +SKIP
>>> session = tracker.start(160, 90)                                    # doctest: +SKIP
>>> masks = session.track(0, frame0, {1: (20.0, 10.0, 80.0, 70.0)})     # doctest: +SKIP
>>> masks = session.track(1, frame1)                                    # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import (
    Sam2HieraDetConfig,
    Sam2VideoConfig,
    Sam2VideoMaskDecoderConfig,
    Sam2VideoModel,
    Sam2VideoPromptEncoderConfig,
    Sam2VisionConfig,
)
from transformers.models.sam2_video.modeling_sam2_video import (
    Sam2VideoInferenceSession,
    Sam2VideoSegmentationOutput,
)

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.twin.backends._hub import loading, place, revision_of
from river_core.twin.stages import Box, ModelInfo, ModelSpec

# Sam2VideoVideoProcessor's class defaults (checked against the class in the tests).
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
RESCALE_FACTOR = 1 / 255
# The prompt encoder's labels for a box's top-left and bottom-right corners.
BOX_LABELS = (2, 3)

TINY_MODEL_ID = "tiny:Sam2VideoModel"
TINY_IMAGE_SIZE = 128
TINY_PRESENCE_LOGIT = 1.0


# ---------------------------------------------------------------------------------------------
# Pre- and post-processing, as transformers' processors do it
# ---------------------------------------------------------------------------------------------


def preprocess(image: np.ndarray, image_size: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """An ``H×W×3`` uint8 RGB frame as the model's ``[3, image_size, image_size]`` float32 input."""
    if not image.flags.writeable:
        image = image.copy()  # torch warns on read-only numpy memory (decoded frames often are)
    pixels = torch.from_numpy(image).to(device).permute(2, 0, 1).unsqueeze(0)  # [1, 3, H, W] uint8
    pixels = _resize_uint8(pixels, image_size)
    # The processor fuses rescale and normalize: (x - mean/rescale) / (std/rescale), in float32.
    mean = torch.tensor(IMAGE_MEAN, device=pixels.device) * (1.0 / RESCALE_FACTOR)
    std = torch.tensor(IMAGE_STD, device=pixels.device) * (1.0 / RESCALE_FACTOR)
    return ((pixels.to(torch.float32) - mean[:, None, None]) / std[:, None, None])[0]


def _resize_uint8(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """torchvision's ``resize`` of a uint8 image (bilinear, antialias), which the processor calls.

    torchvision resizes uint8 natively on AVX2 CPUs and through float32 + rounding everywhere else
    (GPUs, AVX-512 CPUs); the two differ by up to one grey level, so follow the same rule.
    """
    if tuple(pixels.shape[-2:]) == (size, size):
        return pixels
    native = pixels.device.type == "cpu" and "AVX2" in torch.backends.cpu.get_cpu_capability()
    if native:
        return F.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    resized = F.interpolate(
        pixels.to(torch.float32), size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
    return resized.round_().to(torch.uint8)


def box_prompt(box: Box, width: int, height: int, image_size: int) -> dict[str, torch.Tensor]:
    """A pixel box on a ``width × height`` frame as the point prompt the model stores for it."""
    # Same float32 arithmetic as the processor: a float32 box times python-float scale factors.
    corners = torch.tensor([box], dtype=torch.float32).reshape(1, 1, 2, 2)  # [1, objects, corners, xy]
    corners[..., 0] = corners[..., 0] * (image_size / width)
    corners[..., 1] = corners[..., 1] * (image_size / height)
    labels = torch.tensor([[BOX_LABELS]], dtype=torch.int32)  # [1, objects, corners]
    return {"point_coords": corners, "point_labels": labels}


def masks_from_logits(logits: torch.Tensor, width: int, height: int) -> np.ndarray:
    """Low-res mask logits ``[N, 1, h, w]`` as ``[N, height, width]`` bool masks of the frame."""
    full = F.interpolate(logits.to(torch.float32), size=(height, width), mode="bilinear", align_corners=False)
    return (full[:, 0] > 0).cpu().numpy()


# ---------------------------------------------------------------------------------------------
# Tracker and session
# ---------------------------------------------------------------------------------------------


def _image_size(model: Sam2VideoModel) -> int:
    size = model.config.image_size  # an int in every SAM 2 config; typed loosely by transformers
    return int(size if isinstance(size, int) else size[0])


class Sam2Tracker:
    """The ``Tracker`` stage: SAM 2.1 weights on a device; :meth:`start` opens one video."""

    def __init__(self, model: Sam2VideoModel, info: ModelInfo, plan: DevicePlan) -> None:
        self.info = info
        self.plan = plan
        self._model: Sam2VideoModel | None = model

    @property
    def model(self) -> Sam2VideoModel:
        if self._model is None:
            raise RiverError(f"the tracker {self.info.model_id!r} is closed; load it again to use it")
        return self._model

    @property
    def image_size(self) -> int:
        """The square side the model sees every frame at (1024 for the paper checkpoint)."""
        return _image_size(self.model)

    def start(self, width: int, height: int) -> Sam2Session:
        """A new session for frames of ``width × height`` pixels."""
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, int) or value <= 0:
                raise RiverError(f"`{name}` must be a positive int, got {value!r}")
        return Sam2Session(self, width, height)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the config and weights, so ``load(ModelSpec(str(path)), plan)`` reloads them."""
        self.model.save_pretrained(str(path))

    def close(self) -> None:
        """Free the weights (idempotent)."""
        if self._model is None:
            return
        self._model = None
        if self.plan.device.startswith("cuda"):
            torch.cuda.empty_cache()


class Sam2Session:
    """One video being tracked (the ``TrackerSession`` Protocol).

    Frames get consecutive model steps whatever the caller's numbering, so a video sampled every
    n-th frame still fills all of SAM 2's memory slots. Only what the memory attention can still
    reach is kept: the current frame's pixels and features, every object's conditioning (prompted)
    output, and the last ``max(num_maskmem, max_object_pointers_in_encoder) - 1`` tracked outputs.
    """

    def __init__(self, tracker: Sam2Tracker, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.frames_run = 0
        """How many times the model ran over a frame (a tracking pass and a start pass count two)."""
        self.last_scores: dict[int, float] = {}
        """Object-score logits of the last frame returned (≤ 0: absent, and the mask is empty)."""
        self.last_logits: dict[int, np.ndarray] = {}
        """Low-res mask logits (float32 ``h×w``) of the last frame returned."""
        self._tracker: Sam2Tracker | None = tracker
        model = tracker.model
        config = model.config
        self._history = max(config.num_maskmem, config.max_object_pointers_in_encoder) - 1
        self._num_maskmem = config.num_maskmem
        self._state = Sam2VideoInferenceSession(
            video_height=height,
            video_width=width,
            inference_device=tracker.plan.device,
            inference_state_device=tracker.plan.device,
            video_storage_device=tracker.plan.device,
            dtype=tracker.plan.torch_dtype,
            max_vision_features_cache_size=1,  # only the current frame's features are ever reused
        )
        self._frame_idx: int | None = None  # the caller's number of the current frame
        self._step = -1  # the model's number of the current frame
        self._masks: dict[int, np.ndarray] = {}

    @property
    def object_ids(self) -> list[int]:
        """Every object started in this session, in the order they were started."""
        return list(self._state.obj_ids)

    def track(
        self, frame_idx: int, image: np.ndarray, new_objects: Mapping[int, Box] | None = None
    ) -> dict[int, np.ndarray]:
        """Masks (``H×W`` bool) of every known object in frame ``frame_idx``; see ``TrackerSession``.

        ``new_objects`` maps never-used object ids to boxes on this frame, in its pixel coordinates.
        Calling again for the same frame with new objects starts them without touching the others.
        """
        tracker = self._require_open()
        self._check_image(image)
        new = self._check_new_objects(new_objects)
        new_frame = self._enter_frame(frame_idx)
        if not new_frame and not new:
            return self._copy_result()
        with torch.inference_mode():
            model = tracker.model
            if new_frame and self._state.obj_ids:
                self._store_result(self._forward(model, image))
            if new:
                self._store_result(self._start_objects(model, image, new))
        self._prune()
        return self._copy_result()

    def memory_footprint(self) -> dict[str, int]:
        """What the session holds: frames, cached features, outputs, memories (for bounds checks)."""
        state = self._state
        per_obj = state.output_dict_per_obj.values()
        return {
            "frames": len(state.processed_frames or {}),
            "vision_features": len(state.cache._vision_features),
            "cond_outputs": sum(len(out["cond_frame_outputs"]) for out in per_obj),
            "non_cond_outputs": sum(len(out["non_cond_frame_outputs"]) for out in per_obj),
            "memories": sum(
                "maskmem_features" in frame_out
                for out in per_obj
                for kind in ("cond_frame_outputs", "non_cond_frame_outputs")
                for frame_out in out[kind].values()
            ),
            "tracked_marks": sum(len(marks) for marks in state.frames_tracked_per_obj.values()),
        }

    def close(self) -> None:
        """Drop the session's frames, features and memories (idempotent)."""
        if self._tracker is None:
            return
        self._state.reset_inference_session()
        self._state.processed_frames = None
        self._masks, self.last_scores, self.last_logits = {}, {}, {}
        self._tracker = None

    # -- one call, step by step ----------------------------------------------------------------

    def _require_open(self) -> Sam2Tracker:
        if self._tracker is None:
            raise RiverError("this tracking session is closed; start a new one with Tracker.start()")
        return self._tracker

    def _check_image(self, image: np.ndarray) -> None:
        expected = (self.height, self.width, 3)
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != expected:
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise RiverError(
                f"`image` must be a uint8 RGB array of shape {expected} (the session's {self.width}×"
                f"{self.height}), got {got}; resize frames to the size given to Tracker.start()"
            )

    def _check_new_objects(self, new_objects: Mapping[int, Box] | None) -> dict[int, Box]:
        new: dict[int, Box] = {}
        for obj_id, box in (new_objects or {}).items():
            if not isinstance(obj_id, int | np.integer) or isinstance(obj_id, bool):
                raise RiverError(f"object ids must be ints, got {obj_id!r} in `new_objects`")
            if obj_id in self._state.obj_ids:
                raise RiverError(
                    f"object id {obj_id} in `new_objects` is already tracked in this session; "
                    "new objects need ids never used before"
                )
            try:
                values = tuple(float(v) for v in box)
            except (TypeError, ValueError):
                values = ()
            if len(values) != 4 or not all(math.isfinite(v) for v in values):
                raise RiverError(f"the box of object {obj_id} must be 4 finite numbers, got {box!r}")
            x0, y0, x1, y1 = values
            if x1 < x0 or y1 < y0:
                raise RiverError(
                    f"the box of object {obj_id} must be (x0, y0, x1, y1) with x0 ≤ x1 and y0 ≤ y1, "
                    f"got {box!r}"
                )
            new[int(obj_id)] = (x0, y0, x1, y1)
        return new

    def _enter_frame(self, frame_idx: int) -> bool:
        """Move to ``frame_idx``; True when it is a new frame, False when it is the current one."""
        if not isinstance(frame_idx, int | np.integer) or isinstance(frame_idx, bool):
            raise RiverError(f"`frame_idx` must be an int, got {frame_idx!r}")
        frame_idx = int(frame_idx)
        if self._frame_idx is not None and frame_idx < self._frame_idx:
            raise RiverError(
                f"frame {frame_idx} came after frame {self._frame_idx}: a tracking session takes frames "
                "in increasing order; start a new session with Tracker.start() to track another range"
            )
        if frame_idx == self._frame_idx:
            return False
        self._frame_idx, self._step = frame_idx, self._step + 1
        self._masks, self.last_scores, self.last_logits = {}, {}, {}
        return True

    def _pixels(self, image: np.ndarray, model: Sam2VideoModel) -> torch.Tensor:
        stored = (self._state.processed_frames or {}).get(self._step)
        if stored is not None:
            return stored  # a second pass over the current frame: it was preprocessed already
        return preprocess(image, _image_size(model), self._state.video_storage_device)

    def _forward(self, model: Sam2VideoModel, image: np.ndarray) -> Sam2VideoSegmentationOutput:
        """One model pass over the current frame (streaming: the frame is passed in)."""
        output = model(inference_session=self._state, frame_idx=self._step, frame=self._pixels(image, model))
        self.frames_run += 1
        return output

    def _start_objects(
        self, model: Sam2VideoModel, image: np.ndarray, new: dict[int, Box]
    ) -> Sam2VideoSegmentationOutput:
        """Start ``new`` objects on the current frame, leaving the tracked ones exactly as they are.

        ``forward`` re-runs every object without a conditioning output on the frame, and would encode
        the tracked objects' memories again in one batch with the prompted ones — binarized instead
        of sigmoid. It reuses conditioning outputs as they are, so the tracked objects' outputs for
        this frame are lent to it as conditioning ones for the pass, and taken back after.
        """
        state, step = self._state, self._step
        image_size = _image_size(model)
        lent: dict[int, dict[str, Any]] = {}
        for obj_idx, outputs in state.output_dict_per_obj.items():
            if step in outputs["non_cond_frame_outputs"]:
                lent[obj_idx] = outputs["non_cond_frame_outputs"].pop(step)
                outputs["cond_frame_outputs"][step] = lent[obj_idx]
        for obj_id, box in new.items():
            obj_idx = state.obj_id_to_idx(obj_id)
            state.add_point_inputs(obj_idx, step, box_prompt(box, self.width, self.height, image_size))
        state.obj_with_new_inputs = list(new)
        try:
            return self._forward(model, image)
        finally:
            for obj_idx, frame_output in lent.items():
                outputs = state.output_dict_per_obj[obj_idx]
                del outputs["cond_frame_outputs"][step]
                outputs["non_cond_frame_outputs"][step] = frame_output

    def _store_result(self, output: Sam2VideoSegmentationOutput) -> None:
        pred_masks, score_logits = output.pred_masks, output.object_score_logits
        assert output.object_ids is not None and pred_masks is not None and score_logits is not None
        ids = [int(i) for i in output.object_ids]
        logits = pred_masks.reshape(len(ids), 1, *pred_masks.shape[-2:])  # [N, 1, h, w]
        scores = score_logits.reshape(len(ids)).to(torch.float32).cpu().numpy()
        masks = masks_from_logits(logits, self.width, self.height)
        low_res = logits[:, 0].to(torch.float32).cpu().numpy()
        for i, obj_id in enumerate(ids):
            present = scores[i] > 0  # the model's own rule (it blanks the logits of absent objects)
            self._masks[obj_id] = masks[i] if present else np.zeros((self.height, self.width), dtype=bool)
            self.last_scores[obj_id] = float(scores[i])
            self.last_logits[obj_id] = low_res[i]

    def _copy_result(self) -> dict[int, np.ndarray]:
        return {obj_id: mask.copy() for obj_id, mask in self._masks.items()}

    def _prune(self) -> None:
        """Keep only what later frames can reach (see the class docstring)."""
        state, step = self._state, self._step
        pixels = state.processed_frames or {}
        for frame in [f for f in pixels if f != step]:
            del pixels[frame]
        oldest_tracked = step - self._history + 1  # the next step reads tracked outputs from here on
        oldest_memory = step - self._num_maskmem + 2  # ... and spatial memories from here on
        for outputs in state.output_dict_per_obj.values():
            tracked = outputs["non_cond_frame_outputs"]
            for frame in [f for f in tracked if f < oldest_tracked]:
                del tracked[frame]
            for frame, frame_output in tracked.items():
                if frame < oldest_memory:  # still needed for its object pointer only
                    frame_output.pop("maskmem_features", None)
                    frame_output.pop("maskmem_pos_enc", None)
            for kind in ("cond_frame_outputs", "non_cond_frame_outputs"):
                for frame, frame_output in outputs[kind].items():
                    # Masks are read back only for the current frame (a second pass over it).
                    frame_output.pop("high_res_masks", None)
                    if frame != step:
                        frame_output.pop("pred_masks", None)
        for marks in state.frames_tracked_per_obj.values():
            for frame in [f for f in marks if f < oldest_tracked]:
                del marks[frame]


# ---------------------------------------------------------------------------------------------
# Entry points (see river_core.twin.backends)
# ---------------------------------------------------------------------------------------------


def load(spec: ModelSpec, plan: DevicePlan) -> Sam2Tracker:
    """The SAM 2.1 checkpoint ``spec`` (a Hugging Face id in the cache, or a local directory)."""
    with loading(spec, what="SAM 2.1", files="config.json and weights") as src:
        model = Sam2VideoModel.from_pretrained(src.model_id, dtype=plan.torch_dtype, **src.kwargs)
    place(model, plan)
    return Sam2Tracker(model, ModelInfo("tracker", spec.model_id, revision_of(model, spec)), plan)


def tiny(*, seed: int = 0, plan: DevicePlan) -> Sam2Tracker:
    """The same classes at tiny size (:func:`tiny_config`), random weights from ``seed``.

    Masks are meaningless but deterministic: the same seed gives bit-identical masks.
    """
    with torch.random.fork_rng(devices=[]):  # seed the build without touching the caller's RNG
        torch.manual_seed(seed)
        model = Sam2VideoModel(tiny_config())
    # Random weights put the object score within ±0.01 of zero, mostly "absent" once tracking, and
    # an absent object's mask is empty: bias the score head to "present" so tiny runs carry masks
    # through every later stage. (The tests flip it to exercise the absent path.)
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(TINY_PRESENCE_LOGIT)
    place(model, plan)
    return Sam2Tracker(model, ModelInfo("tracker", TINY_MODEL_ID), plan)


def tiny_config(image_size: int = TINY_IMAGE_SIZE) -> Sam2VideoConfig:
    """A ~1.4M-parameter SAM 2.1 video config that runs every code path (≈15 ms a frame on CPU).

    The port hard-codes a 64-channel memory, so ``memory_encoder_output_channels`` stays 64 and the
    hidden sizes are 128 (multiples of 64, at least 128). The video-level algorithm — 7 memory
    slots, 16 object pointers, multimask rules, occlusion embedding — is the paper checkpoint's.
    """
    hidden = 128
    feature_sizes = [[image_size // stride] * 2 for stride in (4, 8, 16)]
    backbone = Sam2HieraDetConfig(
        hidden_size=16,
        embed_dim_per_stage=[16, 32, 64, 128],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        blocks_per_stage=[1, 1, 2, 1],
        # A global block must not open a stage: the first block of a stage pools its window.
        global_attention_blocks=[3],
        window_size_per_stage=[4, 4, 4, 4],
        window_positional_embedding_background_size=[4, 4],
        image_size=[image_size, image_size],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[128, 64, 32, 16],
        backbone_feature_sizes=feature_sizes,
        fpn_hidden_size=hidden,
    )
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=Sam2VideoPromptEncoderConfig(hidden_size=hidden, image_size=image_size),
        mask_decoder_config=Sam2VideoMaskDecoderConfig(
            hidden_size=hidden, mlp_dim=128, num_attention_heads=2, iou_head_hidden_dim=64
        ),
        image_size=image_size,
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=128,
        memory_attention_rope_feat_sizes=feature_sizes[-1],
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=128,
        memory_fuser_num_layers=1,
    )


def paper_config() -> Sam2VideoConfig:
    """The architecture of ``facebook/sam2.1-hiera-large`` (224M parameters), carried in code.

    Source: transformers' ``convert_sam2_video_to_hf.py`` (``get_config("sam2.1_hiera_large")``),
    which wrote that checkpoint's config, cross-checked with Meta's ``sam2.1_hiera_l.yaml``: Hiera-L
    trunk (embed_dim 144, num_heads 2, stages [2, 6, 36, 4], global_att_blocks [23, 33, 43],
    window_spec [8, 4, 16, 8], window_pos_embed_bkg_spatial_size [7, 7]), FPN neck d_model 256 over
    [1152, 576, 288, 144], 4 memory-attention layers (256, FFN 2048, RoPE), a 64-channel memory
    encoder, num_maskmem 7, image_size 1024, SAM 2.1's temporal pointer encoding and occlusion
    embedding. The video-level numbers are written out so a change of transformers' defaults
    cannot move them.
    """
    backbone = Sam2HieraDetConfig(
        hidden_size=144,
        embed_dim_per_stage=[144, 288, 576, 1152],
        num_attention_heads_per_stage=[2, 4, 8, 16],
        blocks_per_stage=[2, 6, 36, 4],
        global_attention_blocks=[23, 33, 43],
        window_positional_embedding_background_size=[7, 7],
        window_size_per_stage=[8, 4, 16, 8],
        image_size=[1024, 1024],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[1152, 576, 288, 144],
        backbone_feature_sizes=[[256, 256], [128, 128], [64, 64]],
        fpn_hidden_size=256,
        fpn_top_down_levels=[2, 3],
    )
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=Sam2VideoPromptEncoderConfig(hidden_size=256, image_size=1024, patch_size=16),
        mask_decoder_config=Sam2VideoMaskDecoderConfig(hidden_size=256, mlp_dim=2048, num_attention_heads=8),
        image_size=1024,
        num_maskmem=7,
        max_object_pointers_in_encoder=16,
        sigmoid_scale_for_mem_enc=20.0,
        sigmoid_bias_for_mem_enc=-10.0,
        multimask_output_in_sam=True,
        multimask_min_pt_num=0,
        multimask_max_pt_num=1,
        multimask_output_for_tracking=True,
        enable_temporal_pos_encoding_for_object_pointers=True,
        enable_occlusion_spatial_embedding=True,
        memory_attention_hidden_size=256,
        memory_attention_num_layers=4,
        memory_attention_feed_forward_hidden_size=2048,
        memory_attention_rope_feat_sizes=[64, 64],
        memory_encoder_hidden_size=256,
        memory_encoder_output_channels=64,
    )
