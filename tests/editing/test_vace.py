"""The Wan2.1-VACE editor on the tiny pipeline (real diffusers classes, random weights, CPU).

Renders are 5 frames at 64×32 with 2 steps (about a second each); input checks run before the
model, so the refusals cost nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import constants as hf_constants

from river_core.devices import DevicePlan
from river_core.editing import vace
from river_core.editing.vace import (
    DEFAULT_NEGATIVE_PROMPT,
    LARGE_MODEL_ID,
    MODEL_SIZES,
    PAPER_MODEL_ID,
    EditorInfo,
    RenderFailedError,
    RenderSettings,
    VaceEditor,
    VaceError,
    load_editor,
    load_pipeline,
    model_size,
    tiny_pipeline,
    to_uint8,
)
from river_core.errors import Cancelled, ModelUnavailableError, RiverError
from river_core.progress import CancelToken, ProgressEvent
from river_core.twin.backends import _hub
from river_core.twin.stages import ModelSpec

F, H, W = 5, 32, 64
SETTINGS = RenderSettings.for_profile("tiny")
PROMPT = "the dog is made of bronze"


@pytest.fixture(scope="module")
def editor() -> VaceEditor:
    return load_editor("tiny", device="cpu")


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    video = rng.integers(0, 256, (F, H, W, 3), dtype=np.uint8)
    mask = np.zeros((F, H, W), dtype=bool)
    mask[:, 8:24, 16:48] = True
    return video, mask


@pytest.fixture(scope="module")
def baseline(editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    video, mask = clip
    return editor.render(video, mask, PROMPT, SETTINGS)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


# -- rendering ---------------------------------------------------------------------------------


def test_render_is_deterministic_uint8_of_the_input_shape(
    editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray], baseline: np.ndarray
) -> None:
    video, mask = clip
    assert baseline.shape == (F, H, W, 3) and baseline.dtype == np.uint8
    again = editor.render(video, mask, PROMPT, SETTINGS)
    assert np.array_equal(again, baseline)
    assert not np.array_equal(baseline, video)  # random weights do change the picture


def test_another_seed_renders_differently(
    editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray], baseline: np.ndarray
) -> None:
    video, mask = clip
    other = editor.render(video, mask, PROMPT, SETTINGS, seed_offset=1)
    assert not np.array_equal(other, baseline)


def test_a_float_mask_of_zeros_and_ones_equals_the_bool_mask(
    editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray], baseline: np.ndarray
) -> None:
    video, mask = clip
    assert np.array_equal(editor.render(video, mask.astype(np.float32), PROMPT, SETTINGS), baseline)


def test_progress_reaches_every_step(editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray]) -> None:
    video, mask = clip
    events: list[ProgressEvent] = []
    editor.render(video, mask, PROMPT, SETTINGS, progress=events.append)
    assert [(e.stage, e.done, e.total, e.unit) for e in events] == [
        ("render", i, SETTINGS.steps, "step") for i in range(SETTINGS.steps + 1)
    ]


def test_cancelled_before_the_model_starts(
    editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    video, mask = clip
    token = CancelToken()
    token.cancel("user pressed stop")

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the pipeline ran although the render was cancelled")

    monkeypatch.setattr(type(editor.pipeline), "__call__", never)
    with pytest.raises(Cancelled, match="user pressed stop"):
        editor.render(video, mask, PROMPT, SETTINGS, cancel=token)


def test_cancelled_between_steps(editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray]) -> None:
    video, mask = clip
    token = CancelToken()
    events: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        editor.render(video, mask, PROMPT, SETTINGS, progress=on_progress, cancel=token)
    assert [e.done for e in events] == [0, 1]


def test_out_of_memory_is_one_line_naming_the_remedies(
    editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    video, mask = clip

    def oom(*_args: object, **_kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB\n(long report)")

    monkeypatch.setattr(type(editor.pipeline), "__call__", oom)
    with pytest.raises(RenderFailedError, match="ran out of memory rendering 5 frames at 64×32") as caught:
        editor.render(video, mask, PROMPT, SETTINGS)
    assert "offload='model'" in one_line(caught.value)


def test_a_missing_ftfy_is_named(
    editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vace, "is_ftfy_available", lambda: False)
    video, mask = clip
    with pytest.raises(RenderFailedError, match="pip install ftfy"):
        editor.render(video, mask, PROMPT, SETTINGS)


def test_reference_images_take_part(
    editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray], baseline: np.ndarray
) -> None:
    video, mask = clip
    reference = np.full((40, 30, 3), 200, dtype=np.uint8)
    out = editor.render(video, mask, PROMPT, SETTINGS, reference_images=[reference])
    assert out.shape == baseline.shape and out.dtype == np.uint8
    assert not np.array_equal(out, baseline)


def test_save_pretrained_round_trip_renders_identically(
    tmp_path: Path, clip: tuple[np.ndarray, np.ndarray], baseline: np.ndarray
) -> None:
    tiny_pipeline(seed=0).save_pretrained(tmp_path / "vace")
    pipe = load_pipeline(ModelSpec(str(tmp_path / "vace")), DevicePlan("cpu", "float32"))
    assert pipe.vae.dtype == torch.float32
    assert pipe.scheduler.config["flow_shift"] == 3.0
    reloaded = VaceEditor(pipe, EditorInfo(str(tmp_path), None, "cpu", "float32"))
    video, mask = clip
    assert np.array_equal(reloaded.render(video, mask, PROMPT, SETTINGS), baseline)


def test_load_pipeline_keeps_the_vae_and_diffusers_fp32_modules_in_float32(tmp_path: Path) -> None:
    tiny_pipeline(seed=0).save_pretrained(tmp_path)
    pipe = load_pipeline(ModelSpec(str(tmp_path)), DevicePlan("cpu", "bfloat16"))
    assert pipe.vae.dtype == torch.float32
    assert pipe.text_encoder.dtype == torch.bfloat16
    dtypes = {name: p.dtype for name, p in pipe.transformer.named_parameters()}
    assert dtypes["scale_shift_table"] == torch.float32  # what diffusers keeps in float32
    assert torch.bfloat16 in dtypes.values()


def test_tiny_weights_depend_only_on_the_seed() -> None:
    a, b, c = tiny_pipeline(3), tiny_pipeline(3), tiny_pipeline(4)
    sa, sb, sc = (p.transformer.state_dict() for p in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_flow_shift_reaches_the_scheduler() -> None:
    pipe = tiny_pipeline()
    before = pipe.scheduler
    vace._apply_flow_shift(pipe, 3.0)
    assert pipe.scheduler is before  # unchanged: not rebuilt
    vace._apply_flow_shift(pipe, 5.0)
    assert pipe.scheduler.config["flow_shift"] == 5.0
    assert pipe.scheduler.config["use_flow_sigmas"] and type(pipe.scheduler) is type(before)


def test_to_uint8_rounds_half_up_and_clips() -> None:
    values = np.array([-0.2, 0.0, 0.49 / 255, 0.5 / 255, 1.5 / 255, 254.5 / 255, 1.0, 1.3], dtype=np.float32)
    assert to_uint8(values).tolist() == [0, 0, 0, 1, 2, 255, 255, 255]


# -- refusals before the model runs -----------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "height", "width", "needle"),
    [
        (6, H, W, r"6 frames; Wan renders 4k\+1 frames .* use 5 or 9"),
        (4, H, W, r"use 5"),
        (F, 40, W, r"multiples of 16: resize to model_size"),
        (F, H, 8, r"multiples of 16"),
    ],
)
def test_bad_video_shapes_name_the_fix(
    editor: VaceEditor, frames: int, height: int, width: int, needle: str
) -> None:
    video = np.zeros((frames, height, width, 3), dtype=np.uint8)
    mask = np.zeros((frames, height, width), dtype=bool)
    with pytest.raises(VaceError, match=needle) as caught:
        editor.render(video, mask, PROMPT, SETTINGS)
    one_line(caught.value)


@pytest.mark.parametrize(
    ("video", "mask", "needle"),
    [
        (np.zeros((F, H, W, 3), np.float32), np.zeros((F, H, W), bool), "uint8 numpy array"),
        (np.zeros((F, H, W), np.uint8), np.zeros((F, H, W), bool), r"\(F, H, W, 3\)"),
        (np.zeros((F, H, W, 3), np.uint8), np.zeros((F, H, W + 16), bool), "one mask per frame"),
        (np.zeros((F, H, W, 3), np.uint8), np.zeros((F - 1, H, W), bool), "one mask per frame"),
        (np.zeros((F, H, W, 3), np.uint8), np.zeros((F, H, W), np.uint8), "mask > 127"),
        (np.zeros((F, H, W, 3), np.uint8), np.full((F, H, W), 1.5, np.float32), r"within \[0, 1\]"),
        (np.zeros((F, H, W, 3), np.uint8), np.full((F, H, W), np.nan, np.float32), "finite"),
        (np.zeros((F, H, W, 3), np.uint8), [[0]], "numpy array"),
    ],
)
def test_bad_inputs_are_refused(editor: VaceEditor, video: object, mask: object, needle: str) -> None:
    with pytest.raises(VaceError, match=needle) as caught:
        editor.render(video, mask, PROMPT, SETTINGS)  # type: ignore[arg-type]
    assert isinstance(caught.value, RiverError)
    one_line(caught.value)


def test_other_bad_arguments(editor: VaceEditor, clip: tuple[np.ndarray, np.ndarray]) -> None:
    video, mask = clip
    with pytest.raises(VaceError, match=r"reference_images\[0\] must be an H×W×3 uint8"):
        editor.render(video, mask, PROMPT, SETTINGS, reference_images=[np.zeros((4, 4), np.uint8)])
    with pytest.raises(VaceError, match="prompt must be a string"):
        editor.render(video, mask, None, SETTINGS)  # type: ignore[arg-type]
    with pytest.raises(VaceError, match="settings must be a RenderSettings"):
        editor.render(video, mask, PROMPT, {"steps": 2})  # type: ignore[arg-type]
    with pytest.raises(VaceError, match="seed_offset"):
        editor.render(video, mask, PROMPT, SETTINGS, seed_offset=-1)
    with pytest.raises(VaceError, match="seed_offset must be an integer"):
        editor.render(video, mask, PROMPT, SETTINGS, seed_offset=1.5)  # type: ignore[arg-type]


def test_a_closed_editor_refuses_to_render(clip: tuple[np.ndarray, np.ndarray]) -> None:
    ed = load_editor("tiny", device="cpu")
    ed.close()
    ed.close()  # idempotent
    video, mask = clip
    with pytest.raises(RiverError, match="closed; load it again"):
        ed.render(video, mask, PROMPT, SETTINGS)


# -- loading ----------------------------------------------------------------------------------


def test_load_editor_tiny_records_provenance() -> None:
    ed = load_editor("tiny", device="cpu", seed=1)
    assert ed.info == EditorInfo("tiny:WanVACEPipeline", None, "cpu", "float32", "float32", "none")
    assert json.loads(json.dumps(ed.info.to_json()))["offload"] == "none"
    assert ed.pipeline.vae.dtype == torch.float32


def test_load_editor_tiny_in_bfloat16_keeps_diffusers_fp32_modules() -> None:
    ed = load_editor("tiny", device="cpu", dtype="bfloat16")
    assert ed.info.dtype == "bfloat16" and ed.info.vae_dtype == "float32"
    transformer = ed.pipeline.transformer
    dtypes = {name: p.dtype for name, p in transformer.named_parameters()}
    assert dtypes["scale_shift_table"] == torch.float32
    assert dtypes["proj_out.weight"] == torch.bfloat16
    assert ed.pipeline.vae.dtype == torch.float32


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"profile": "huge"}, "unknown profile 'huge'; use one of: paper, tiny"),
        ({"profile": "tiny", "offload": "disk"}, "unknown offload 'disk'"),
        ({"profile": "tiny", "offload": "model", "device": "cpu"}, "use offload 'none' on cpu"),
        ({"profile": "tiny", "offload": "sequential", "device": "cpu"}, "CUDA device"),
        ({"profile": "tiny", "model": PAPER_MODEL_ID}, "builds its model in code"),
    ],
)
def test_load_editor_refusals(kwargs: dict[str, str], needle: str) -> None:
    with pytest.raises(VaceError, match=re.escape(needle)) as caught:
        load_editor(**kwargs)  # type: ignore[arg-type]
    one_line(caught.value)


def test_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist; check the path") as caught:
        load_pipeline(ModelSpec(str(tmp_path / "nowhere")), DevicePlan("cpu", "float32"))
    one_line(caught.value)


def test_a_directory_without_a_checkpoint_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"does not hold a checkpoint of Wan2\.1-VACE") as caught:
        load_pipeline(ModelSpec(str(tmp_path)), DevicePlan("cpu", "float32"))
    assert "model_index.json" in one_line(caught.value)


def test_a_hub_id_missing_from_the_cache_offline_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelUnavailableError) as caught:
        load_editor("paper", device="cpu", model=LARGE_MODEL_ID, revision="abc123")
    text = one_line(caught.value)
    assert "HF_HUB_OFFLINE=1" in text
    assert f"hf download {LARGE_MODEL_ID} --revision abc123" in text


def test_an_unreachable_hub_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(_hub, "_hub_reachable", lambda timeout=2.0: False)
    with pytest.raises(ModelUnavailableError, match="cannot be reached") as caught:
        load_pipeline(ModelSpec(PAPER_MODEL_ID), DevicePlan("cpu", "float32"))
    one_line(caught.value)


def test_a_cached_pipeline_is_found_by_its_model_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline repository has model_index.json, not config.json, at its root: found offline."""
    repo = tmp_path / "models--Wan-AI--Wan2.1-VACE-1.3B-diffusers"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model_index.json").write_text("{}")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    assert vace._index_cached(PAPER_MODEL_ID, "main")
    assert not vace._index_cached(LARGE_MODEL_ID, "main")
    assert not vace._index_cached("not a valid id!", "main")


def test_a_tiny_spec_is_not_a_checkpoint() -> None:
    with pytest.raises(RiverError, match="tiny build"):
        load_pipeline(ModelSpec("tiny:WanVACEPipeline"), DevicePlan("cpu", "float32"))


# -- settings and sizes -----------------------------------------------------------------------


def test_settings_defaults_and_profiles() -> None:
    paper = RenderSettings.for_profile("paper")
    assert paper == RenderSettings()
    assert (paper.steps, paper.guidance_scale, paper.window, paper.overlap) == (50, 5.0, 81, 16)
    assert paper.negative_prompt == DEFAULT_NEGATIVE_PROMPT and "blurry" in DEFAULT_NEGATIVE_PROMPT
    tiny = RenderSettings.for_profile("tiny")
    assert tiny.steps == 2 and tiny.window == 81 and tiny.max_sequence_length == 64
    data = json.loads(json.dumps(tiny.to_json()))
    assert RenderSettings.from_json(data) == tiny
    with pytest.raises(VaceError, match="unknown render settings"):
        RenderSettings.from_json({**data, "cfg": 3})
    with pytest.raises(VaceError, match="unknown profile"):
        RenderSettings.for_profile("fast")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"window": 80}, r"window must be 4k\+1 frames.*got 80; use 77 or 81"),
        ({"window": 1}, r"at least 5.*use 5"),
        ({"window": 81.0}, "window must be an integer"),
        ({"overlap": 81}, "overlap must be between 0 and 80"),
        ({"overlap": -1}, "overlap must be between 0 and 80"),
        ({"steps": 0}, "steps must be between 1 and 1000"),
        ({"seed": -1}, "seed must be between 0"),
        ({"seed": True}, "seed must be an integer"),
        ({"guidance_scale": float("nan")}, "guidance_scale must be a finite number"),
        ({"guidance_scale": -1.0}, "guidance_scale must be a finite number ≥ 0"),
        ({"conditioning_scale": "1"}, "conditioning_scale must be a number"),
        ({"flow_shift": 0.0}, "flow_shift must be > 0"),
        ({"flow_shift": float("inf")}, "flow_shift must be finite"),
        ({"negative_prompt": None}, "negative_prompt must be a string"),
        ({"max_sequence_length": 0}, "max_sequence_length must be between 1 and 512"),
        ({"max_sequence_length": 1024}, "max_sequence_length must be between 1 and 512"),
    ],
)
def test_settings_validation(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(VaceError, match=needle) as caught:
        RenderSettings(**kwargs)  # type: ignore[arg-type]
    one_line(caught.value)


def test_model_size_turns_for_portrait_sources() -> None:
    assert MODEL_SIZES == {"paper": (832, 480), "tiny": (224, 128)}
    assert model_size("paper", 1920, 1080) == (832, 480)
    assert model_size("paper", 1080, 1920) == (480, 832)
    assert model_size("paper", 1000, 1000) == (832, 480)
    assert model_size("tiny", 720, 1280) == (128, 224)
    with pytest.raises(VaceError, match="unknown profile"):
        model_size("huge", 10, 10)
    with pytest.raises(VaceError, match="source_h must be a positive"):
        model_size("paper", 10, 0)
