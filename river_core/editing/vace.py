"""The Wan2.1-VACE editor: one window of video + a regenerate mask + a prompt → the rendered window.

:class:`VaceEditor` wraps diffusers' ``WanVACEPipeline`` and renders one window per call (the window
planner in :mod:`river_core.editing.windows` cuts long ranges). It adds nothing to the model's work:
inputs are checked up front with errors that name the fix, handed to the pipeline in the format it
converts PIL images to anyway (float32 in [0, 1]; bit-identical results, without the PIL round
trip), the output is rounded back to uint8, and progress/cancellation ride on the pipeline's
``callback_on_step_end``.

Models:

- ``paper``: ``Wan-AI/Wan2.1-VACE-1.3B-diffusers`` (or the 14B, or a local directory written by
  ``save_pretrained``): the VAE in float32, the transformer and the UMT5 text encoder at the plan's
  dtype (bfloat16 on CUDA), ``UniPCMultistepScheduler`` with ``flow_shift=3.0`` (480p). On CUDA the
  components are offloaded to the CPU between uses by default (``offload="model"``), which keeps
  the 1.3B stack within a 24 GB card.
- ``tiny``: the same classes at tiny size built in code from a seed (random weights), so the whole
  path runs offline on a CPU in seconds.

Conventions: frames are ``uint8`` RGB ``(F, H, W, 3)`` at model size (:func:`model_size`), ``F``
``4k+1``, ``H`` and ``W`` multiples of 16; masks are ``(F, H, W)``, 1/True = regenerate (white in
VACE's terms), 0 = keep. diffusers binarises the mask at 0.5 where it splits the video into kept
and regenerated parts for the VAE, and passes soft values through to the mask channels.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import AutoencoderKLWan
from diffusers.models.transformers.transformer_wan_vace import WanVACETransformer3DModel
from diffusers.pipelines.wan.pipeline_wan_vace import WanVACEPipeline
from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler
from diffusers.utils import is_ftfy_available
from huggingface_hub import constants as hf_constants
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from PIL import Image
from transformers import ByT5Tokenizer, T5Config, T5EncoderModel

from river_core.devices import DevicePlan, choose_device
from river_core.editing.windows import is_4k1, lengths_near
from river_core.errors import RiverError
from river_core.progress import CancelToken, ProgressCallback, check, report
from river_core.twin.backends import _hub
from river_core.twin.backends._hub import revision_of
from river_core.twin.stages import ModelSpec

PAPER_MODEL_ID = "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
LARGE_MODEL_ID = "Wan-AI/Wan2.1-VACE-14B-diffusers"
TINY_MODEL_ID = "tiny:WanVACEPipeline"
PROFILES = ("paper", "tiny")
OFFLOADS = ("auto", "none", "model", "sequential")

# profile -> (width, height) of a landscape source; a portrait source swaps them. 832×480 is the
# 480p area VACE was trained on; 224×128 keeps the tiny model's calls to seconds on a CPU.
MODEL_SIZES: dict[str, tuple[int, int]] = {"paper": (832, 480), "tiny": (224, 128)}

DEFAULT_NEGATIVE_PROMPT = (
    "blurry, out of focus, low quality, worst quality, low resolution, jpeg artifacts, compression "
    "artifacts, noise, flicker, jitter, temporal inconsistency, color shift, oversaturated, overexposed, "
    "underexposed, washed out, watermark, text, subtitles, logo, distorted, deformed, disfigured, "
    "malformed limbs, extra limbs, extra fingers, fused fingers, bad anatomy, poorly drawn face, "
    "poorly drawn hands, duplicated objects, ghosting, visible seams, frozen frame, messy background"
)

SIZE_MULTIPLE = 16  # the VAE's 8× downsampling times the transformer's 2×2 patches
MAX_SEED = 2**63 - 1
MAX_STEPS = 1000  # the scheduler's training timesteps
MAX_TEXT_TOKENS = 512  # Wan's text length


class VaceError(RiverError, ValueError):
    """An input or setting of the VACE editor cannot be used."""


class RenderFailedError(RiverError, RuntimeError):
    """The model could not finish a render (out of memory, a missing runtime dependency...)."""


def model_size(profile: str, source_w: int, source_h: int) -> tuple[int, int]:
    """The ``(width, height)`` frames are rendered at for ``profile``: landscape unless the source
    is portrait (taller than wide), whose frames get the same area turned on its side."""
    if profile not in MODEL_SIZES:
        raise VaceError(f"unknown profile {profile!r}; use one of: {', '.join(MODEL_SIZES)}")
    for name, value in (("source_w", source_w), ("source_h", source_h)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise VaceError(f"{name} must be a positive number of pixels, got {value!r}")
    width, height = MODEL_SIZES[profile]
    return (height, width) if source_h > source_w else (width, height)


@dataclass(frozen=True)
class RenderSettings:
    """How a window is rendered; recorded with every render for provenance (:meth:`to_json`).

    ``window``/``overlap`` are read by the window planner, not by :meth:`VaceEditor.render` (which
    renders exactly the frames it is given). ``flow_shift`` is the scheduler's (3.0 for 480p, 5.0
    for 720p). ``guidance_scale`` ≤ 1 turns classifier-free guidance off (half the cost).
    """

    seed: int = 0
    steps: int = 50
    guidance_scale: float = 5.0
    conditioning_scale: float = 1.0
    flow_shift: float = 3.0
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    window: int = 81
    overlap: int = 16
    max_sequence_length: int = 512

    def __post_init__(self) -> None:
        _check_int(self.seed, "seed", 0, MAX_SEED, "pass e.g. seed=0")
        _check_int(self.steps, "steps", 1, MAX_STEPS, "50 is the paper's setting")
        _check_float(self.guidance_scale, "guidance_scale", 0.0, "5.0 is the paper's setting")
        _check_float(self.conditioning_scale, "conditioning_scale", 0.0, "1.0 is VACE's default")
        _check_float(self.flow_shift, "flow_shift", None, "3.0 for 480p, 5.0 for 720p")
        if not self.flow_shift > 0:
            raise VaceError(f"flow_shift must be > 0, got {self.flow_shift!r}; 3.0 for 480p, 5.0 for 720p")
        if not isinstance(self.negative_prompt, str):
            raise VaceError(
                f"negative_prompt must be a string, got {type(self.negative_prompt).__name__}; "
                "pass '' for none"
            )
        _check_int(self.window, "window", 1, None, "81 is Wan's default")
        if not (is_4k1(self.window) and self.window >= 5):
            raise VaceError(
                f"window must be 4k+1 frames, at least 5 (…, 77, 81, 85 …), got {self.window}; "
                f"use {lengths_near(self.window)}"
            )
        _check_int(self.overlap, "overlap", 0, self.window - 1, "16 is the default")
        _check_int(self.max_sequence_length, "max_sequence_length", 1, MAX_TEXT_TOKENS, "512 is Wan's")

    @classmethod
    def for_profile(cls, profile: str) -> RenderSettings:
        """The paper's settings, or the tiny profile's (2 steps, 64 text tokens) that keep CI fast."""
        if profile == "paper":
            return cls()
        if profile == "tiny":
            return cls(steps=2, max_sequence_length=64)
        raise VaceError(f"unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RenderSettings:
        """The settings :meth:`to_json` wrote (missing keys take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise VaceError(f"unknown render settings {unknown}; known: {', '.join(sorted(known))}")
        return cls(**dict(data))


def _check_int(value: object, name: str, low: int, high: int | None, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise VaceError(f"{name} must be an integer, got {value!r}; {hint}")
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"≥ {low}"
        raise VaceError(f"{name} must be {span}, got {value}; {hint}")


def _check_float(value: object, name: str, low: float | None, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise VaceError(f"{name} must be a number, got {value!r}; {hint}")
    if not math.isfinite(float(value)) or (low is not None and value < low):
        span = f"a finite number ≥ {low}" if low is not None else "finite"
        raise VaceError(f"{name} must be {span}, got {value!r}; {hint}")


@dataclass(frozen=True)
class EditorInfo:
    """What renders, for provenance: the checkpoint (hub id, local directory, or ``tiny:…``), its
    revision, where and at which precision it runs, and how weights are offloaded."""

    model_id: str
    revision: str | None
    device: str
    dtype: str
    vae_dtype: str = "float32"
    offload: str = "none"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------------
# Building and loading pipelines


def tiny_pipeline(seed: int = 0) -> WanVACEPipeline:
    """The real classes at tiny size on the CPU in float32; the same weights for the same ``seed``.

    Mirrors diffusers' own tests, with a longer rotary table (128 positions: 32 is too small above
    ~64 px, and 832×480 needs at least 52 per axis) so the tiny model takes any model size.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        transformer = WanVACETransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=3,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=128,
            vace_layers=[0, 2],
            vace_in_channels=96,
        )
        text_encoder = T5EncoderModel(
            T5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
        )
    scheduler = UniPCMultistepScheduler(
        flow_shift=3.0, prediction_type="flow_prediction", use_flow_sigmas=True
    )
    for module in (vae, transformer, text_encoder):
        module.eval()
    # T5 + ByT5 stand in for UMT5 + its tokenizer (same interface; ByT5 needs no vocabulary file).
    components: dict[str, Any] = {
        "tokenizer": ByT5Tokenizer(),
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": scheduler,
        "transformer": transformer,
    }
    return WanVACEPipeline(**components)


CHECKPOINT_FILES = (
    "model_index.json and the vae/, transformer/, text_encoder/, tokenizer/, scheduler/ folders"
)


@contextlib.contextmanager
def _loading(spec: ModelSpec) -> Iterator[_hub.Source]:
    """:func:`river_core.twin.backends._hub.loading` for a diffusers pipeline.

    The same rules and messages; only the file that proves a checkpoint is in the Hugging Face cache
    differs: a pipeline repository holds ``model_index.json`` at its root, not ``config.json``
    (``_hub.loading`` would take a cached pipeline for missing on a machine without network).
    """
    what = "Wan2.1-VACE"
    model_id = _hub.resolve(spec)
    revision = spec.revision or "main"
    local = Path(model_id).is_dir() or hf_constants.HF_HUB_OFFLINE or _index_cached(model_id, revision)
    if not local and not _hub._hub_reachable():
        raise _hub.unavailable(
            spec, ConnectionError("huggingface.co cannot be reached"), what=what, files=CHECKPOINT_FILES
        )
    try:
        yield _hub.Source(model_id, revision, bool(local))
    except (OSError, HFValidationError) as exc:
        raise _hub.unavailable(spec, exc, what=what, files=CHECKPOINT_FILES) from None


def _index_cached(model_id: str, revision: str) -> bool:
    try:
        found = try_to_load_from_cache(model_id, "model_index.json", revision=revision)
    except HFValidationError:
        return False
    return isinstance(found, str)


def load_pipeline(spec: ModelSpec, plan: DevicePlan) -> WanVACEPipeline:
    """Load a Wan2.1-VACE checkpoint (a Hub id in the cache, or a ``save_pretrained`` directory).

    The VAE loads in float32 (decoding quality), everything else at ``plan.dtype``; the scheduler
    becomes ``UniPCMultistepScheduler`` with ``flow_shift=3.0`` (480p). Weights are placed on
    ``plan.device``, on the CPU copied out of the memory-mapped files (bit-identical reloads).
    """
    with _loading(spec) as src:
        vae = AutoencoderKLWan.from_pretrained(
            src.model_id, subfolder="vae", dtype=torch.float32, **src.kwargs
        )
        pipe = WanVACEPipeline.from_pretrained(src.model_id, vae=vae, dtype=plan.torch_dtype, **src.kwargs)
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=3.0)
    _place(pipe, plan.device)
    return pipe


def _place(pipe: WanVACEPipeline, device: str) -> None:
    """Move every model of ``pipe`` to ``device`` in eval mode, keeping each tensor's dtype.

    Not ``_hub.place``: that casts whole models, and diffusers keeps some of the transformer's
    modules (rotary table, time embedder, norms, modulation) in float32 under a bfloat16 load.
    On the CPU, weights are copied out of the memory-mapped files as ``_hub.place`` does, so a
    ``save_pretrained`` → :func:`load_pipeline` round trip renders bit-identically.
    """
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.to(device=device)
            module.eval()
            with torch.no_grad():
                for tensor in itertools.chain(module.parameters(), module.buffers()):
                    if tensor.device.type == "cpu":
                        tensor.data = tensor.data.clone()


def _cast(module: torch.nn.Module, dtype: torch.dtype) -> None:
    """Floating weights of ``module`` to ``dtype``, except the modules diffusers keeps in float32
    (``_keep_in_fp32_modules``, matched on name parts as diffusers' loader does)."""
    keep = set(getattr(module, "_keep_in_fp32_modules", None) or ())
    with torch.no_grad():
        for name, tensor in itertools.chain(module.named_parameters(), module.named_buffers()):
            if tensor.is_floating_point():
                target = torch.float32 if keep.intersection(name.split(".")) else dtype
                tensor.data = tensor.data.to(target)


# ---------------------------------------------------------------------------------------------------
# Rendering


class VaceEditor:
    """Renders windows with one ``WanVACEPipeline``; see :meth:`render`."""

    def __init__(self, pipe: WanVACEPipeline, info: EditorInfo) -> None:
        self.info = info
        self._pipe: WanVACEPipeline | None = pipe
        pipe.set_progress_bar_config(disable=True)

    @property
    def pipeline(self) -> WanVACEPipeline:
        """The diffusers pipeline (for benchmarks and advanced use); refused after :meth:`close`."""
        if self._pipe is None:
            raise RiverError(f"the VACE editor {self.info.model_id!r} was closed; load it again to render")
        return self._pipe

    def render(
        self,
        video: np.ndarray,
        mask: np.ndarray,
        prompt: str,
        settings: RenderSettings,
        *,
        reference_images: Sequence[np.ndarray] = (),
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        seed_offset: int = 0,
    ) -> np.ndarray:
        """Render one window: ``uint8 (F, H, W, 3)``, regenerated where ``mask`` is 1 (True).

        ``video`` is ``uint8 (F, H, W, 3)`` at model size, ``F`` = 4k+1, ``H``/``W`` multiples of
        16; ``mask`` is ``(F, H, W)`` bool or float in [0, 1]. ``reference_images`` (uint8 RGB, any
        size) are fitted into the frame on white and given to VACE as extra context. The noise comes
        from a CPU generator seeded with ``settings.seed + seed_offset`` (the same on every device).
        Progress is reported per denoising step as stage ``"render"``; ``cancel`` is checked before
        the model starts and after every step (:class:`~river_core.errors.Cancelled`).
        """
        pipe = self.pipeline
        if not isinstance(settings, RenderSettings):
            raise VaceError(f"settings must be a RenderSettings, got {type(settings).__name__}")
        frames = _video_input(video)
        regen = _mask_input(mask, video.shape[:3])
        refs = [_reference_input(image, i) for i, image in enumerate(reference_images)]
        if not isinstance(prompt, str):
            raise VaceError(f"prompt must be a string, got {type(prompt).__name__}")
        seed = _seed(settings.seed, seed_offset)
        if not is_ftfy_available():
            raise RenderFailedError(
                "diffusers' Wan pipeline needs the `ftfy` package to clean prompts; pip install ftfy"
            )
        _apply_flow_shift(pipe, settings.flow_shift)
        num_frames, height, width = video.shape[:3]
        steps = settings.steps
        check(cancel)
        report(progress, "render", 0, steps, unit="step")

        def on_step(_pipe: Any, i: int, _t: Any, _kwargs: dict[str, Any]) -> dict[str, Any]:
            report(progress, "render", i + 1, steps, unit="step")
            check(cancel)
            return {}

        try:
            result: Any = pipe(
                prompt=prompt,
                negative_prompt=settings.negative_prompt,
                video=frames,
                mask=regen,
                reference_images=[Image.fromarray(r) for r in refs] or None,
                conditioning_scale=float(settings.conditioning_scale),
                height=height,
                width=width,
                num_frames=num_frames,
                num_inference_steps=steps,
                guidance_scale=float(settings.guidance_scale),
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="np",
                return_dict=False,
                callback_on_step_end=on_step,
                max_sequence_length=settings.max_sequence_length,
            )
        except torch.OutOfMemoryError:
            _reset(pipe)
            raise RenderFailedError(
                f"{self.info.device} ran out of memory rendering {num_frames} frames at {width}×{height}; "
                "use offload='model' (or 'sequential'), a shorter window, or the 1.3B model"
            ) from None
        except BaseException:
            _reset(pipe)
            raise
        out = np.asarray(result[0][0], dtype=np.float32)  # (F, H, W, 3) in [0, 1]
        if out.shape != (num_frames, height, width, 3):
            raise RenderFailedError(
                f"the pipeline returned frames of shape {out.shape}, "
                f"expected {(num_frames, height, width, 3)}"
            )
        return to_uint8(out)

    def close(self) -> None:
        """Drop the pipeline and free its memory (idempotent)."""
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            with contextlib.suppress(Exception):
                pipe.remove_all_hooks()
            del pipe
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] → uint8, rounding half up and clipping."""
    return np.clip(np.floor(frames * 255.0 + 0.5), 0, 255).astype(np.uint8)


def _video_input(video: object) -> np.ndarray:
    """``uint8 (F, H, W, 3)`` → float32 ``(1, F, H, W, 3)`` in [0, 1], what the pipeline makes of PIL frames.

    A 5-D batch of one: diffusers reads the size of a 4-D numpy video from the wrong axes.
    """
    if not isinstance(video, np.ndarray) or video.dtype != np.uint8:
        raise VaceError(
            f"video must be a uint8 numpy array (F, H, W, 3), got "
            f"{getattr(video, 'dtype', type(video).__name__)}; "
            "convert with np.clip(v, 0, 255).astype(np.uint8)"
        )
    if video.ndim != 4 or video.shape[3] != 3:
        raise VaceError(f"video must have shape (F, H, W, 3) (RGB frames), got {video.shape}")
    frames, height, width = video.shape[:3]
    if not is_4k1(frames):
        raise VaceError(
            f"video has {frames} frames; Wan renders 4k+1 frames (…, 77, 81, 85 …): use "
            f"{lengths_near(frames)} (pad with river_core.editing.windows.pad_to_length, "
            "or cut with plan_windows)"
        )
    if height < SIZE_MULTIPLE or width < SIZE_MULTIPLE or height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        raise VaceError(
            f"video frames are {width}×{height}; width and height must be multiples of {SIZE_MULTIPLE}: "
            "resize to model_size(profile, source_w, source_h)"
        )
    return (video.astype(np.float32) / 255.0)[None]


def _mask_input(mask: object, shape: tuple[int, ...]) -> np.ndarray:
    """``(F, H, W)`` bool or float in [0, 1] → float32 ``(1, F, H, W, 1)``."""
    if not isinstance(mask, np.ndarray):
        raise VaceError(f"mask must be a numpy array (F, H, W), got {type(mask).__name__}")
    if mask.shape != tuple(shape):
        raise VaceError(
            f"mask has shape {mask.shape} but the video is {tuple(shape)} (frames, height, width); "
            "give one mask per frame at the video's size"
        )
    if mask.dtype == np.bool_:
        return mask.astype(np.float32)[None, ..., None]
    if not np.issubdtype(mask.dtype, np.floating):
        raise VaceError(
            f"mask must be bool or float in [0, 1], got {mask.dtype}; for a 0/255 mask pass mask > 127"
        )
    values = mask.astype(np.float32)
    if not np.isfinite(values).all() or values.min(initial=0.0) < 0 or values.max(initial=0.0) > 1:
        raise VaceError("mask values must be finite and within [0, 1]; clip with np.clip(mask, 0, 1)")
    return values[None, ..., None]


def _reference_input(image: object, index: int) -> np.ndarray:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3):
        raise VaceError(
            f"reference_images[{index}] must be an H×W×3 uint8 RGB array, got "
            f"{getattr(image, 'dtype', type(image).__name__)} of shape {getattr(image, 'shape', '?')}"
        )
    if image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise VaceError(f"reference_images[{index}] must be H×W×3 with H, W ≥ 1, got shape {image.shape}")
    return np.ascontiguousarray(image)


def _seed(seed: int, offset: object) -> int:
    try:
        offset = operator.index(offset)  # type: ignore[arg-type]
    except TypeError:
        raise VaceError(f"seed_offset must be an integer, got {offset!r}") from None
    total = seed + int(offset)
    if not 0 <= total <= MAX_SEED:
        raise VaceError(f"seed + seed_offset = {total} is outside [0, 2**63 - 1]; use a smaller seed_offset")
    return total


def _apply_flow_shift(pipe: WanVACEPipeline, flow_shift: float) -> None:
    """Make the scheduler's ``flow_shift`` the one asked for (rebuilt from its config only if it differs)."""
    config = pipe.scheduler.config
    current = config.get("flow_shift") if isinstance(config, Mapping) else None
    if current is None:
        raise VaceError(
            f"the pipeline's scheduler {type(pipe.scheduler).__name__} has no flow_shift; use "
            "UniPCMultistepScheduler(prediction_type='flow_prediction', use_flow_sigmas=True) "
            "as load_pipeline does"
        )
    if float(current) != float(flow_shift):
        pipe.scheduler = type(pipe.scheduler).from_config(config, flow_shift=float(flow_shift))


def _reset(pipe: WanVACEPipeline) -> None:
    """After a failed call: offload what model offloading left on the GPU, drop stateful caches."""
    with contextlib.suppress(Exception):
        pipe.maybe_free_model_hooks()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------------
# The entry point


def load_editor(
    profile: str = "paper",
    *,
    model: str | None = None,
    revision: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    offload: str = "auto",
    seed: int = 0,
) -> VaceEditor:
    """The editor for ``profile``: ``"paper"`` loads ``model`` (default :data:`PAPER_MODEL_ID`;
    :data:`LARGE_MODEL_ID` or a local directory also work), ``"tiny"`` builds :func:`tiny_pipeline`
    from ``seed`` (float32 unless ``dtype`` says otherwise).

    ``offload``: ``"auto"`` is ``"model"`` for the paper profile on CUDA (one model on the GPU at a
    time: the 1.3B stack fits 24 GB) and ``"none"`` otherwise; ``"sequential"`` streams layer by
    layer (slowest, least memory). Offloading needs a CUDA device.
    """
    if profile not in PROFILES:
        raise VaceError(f"unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")
    if offload not in OFFLOADS:
        raise VaceError(f"unknown offload {offload!r}; use one of: {', '.join(OFFLOADS)}")
    if profile == "tiny" and model is not None:
        raise VaceError("the tiny profile builds its model in code; drop the model, or use profile 'paper'")
    plan = choose_device(device, dtype if profile == "paper" else (dtype or "float32"))
    on_cuda = plan.device.split(":")[0] == "cuda"
    mode = ("model" if on_cuda and profile == "paper" else "none") if offload == "auto" else offload
    if mode != "none" and not on_cuda:
        raise VaceError(
            f"offload {mode!r} moves weights between the CPU and a CUDA device; "
            f"use offload 'none' on {plan.device}"
        )
    load_plan = DevicePlan("cpu", plan.dtype) if mode != "none" else plan
    if profile == "tiny":
        pipe = tiny_pipeline(seed)
        if plan.dtype != "float32":
            _cast(pipe.transformer, plan.torch_dtype)
            _cast(pipe.text_encoder, plan.torch_dtype)
        _place(pipe, load_plan.device)
        model_id, rev = TINY_MODEL_ID, None
    else:
        spec = ModelSpec(model or PAPER_MODEL_ID, revision)
        pipe = load_pipeline(spec, load_plan)
        model_id, rev = spec.model_id, revision_of(pipe.transformer, spec)
    _offload(pipe, mode, plan.device)
    info = EditorInfo(model_id, rev, plan.device, plan.dtype, "float32", mode)
    return VaceEditor(pipe, info)


def _offload(pipe: WanVACEPipeline, mode: str, device: str) -> None:
    enable: Callable[..., None] | None = {
        "model": pipe.enable_model_cpu_offload,
        "sequential": pipe.enable_sequential_cpu_offload,
    }.get(mode)
    if enable is not None:
        enable(device=device)


__all__ = [
    "DEFAULT_NEGATIVE_PROMPT",
    "LARGE_MODEL_ID",
    "MODEL_SIZES",
    "PAPER_MODEL_ID",
    "EditorInfo",
    "RenderFailedError",
    "RenderSettings",
    "VaceEditor",
    "VaceError",
    "load_editor",
    "load_pipeline",
    "model_size",
    "tiny_pipeline",
    "to_uint8",
]
