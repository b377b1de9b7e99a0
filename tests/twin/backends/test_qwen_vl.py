"""Qwen2.5-VL describer backend: the real transformers classes at tiny size, on real footage.

Random tiny weights generate random bytes, so these tests check behaviour — clean strings and
lists whatever the model says, the visual-token budget, determinism, round trips — and test the
parsers on hostile text directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.media import FrameRange, read_frames, resize
from river_core.samples import bundled_sample
from river_core.twin.backends import qwen_vl as q
from river_core.twin.profiles import load_stage
from river_core.twin.stages import Describer, ModelSpec


@pytest.fixture(scope="module")
def plan() -> DevicePlan:
    return DevicePlan("cpu", "float32")


@pytest.fixture(scope="module")
def describer(plan: DevicePlan) -> q.QwenVLDescriber:
    return q.tiny(seed=0, plan=plan)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    """Frame 50 of the bundled 1280×720 clip."""
    return read_frames(bundled_sample(), FrameRange(50, 51))[0]


def assert_clean_phrase(text: str, max_words: int) -> None:
    assert isinstance(text, str)
    assert text == text.strip() and "\n" not in text and text.isprintable() and text == text.lower()
    words = text.split()
    assert len(words) <= max_words
    assert all(q._WORD.fullmatch(w) for w in words), text


def assert_clean_list(items: list[str]) -> None:
    assert isinstance(items, list) and len(items) <= q.MAX_OBJECTS and len(set(items)) == len(items)
    for item in items:
        assert item
        assert_clean_phrase(item, q.MAX_OBJECT_WORDS)


def test_is_a_describer_stage(describer: q.QwenVLDescriber, plan: DevicePlan) -> None:
    assert isinstance(describer, Describer)
    assert describer.info.role == "describer"
    assert describer.info.model_id == "tiny:Qwen2_5_VLForConditionalGeneration"
    assert isinstance(load_stage("describer", ModelSpec("tiny:describer"), plan), q.QwenVLDescriber)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_garbage_generations_come_out_clean(plan: DevicePlan, frame: np.ndarray, seed: int) -> None:
    stage = q.tiny(seed=seed, plan=plan)
    crop = np.ascontiguousarray(frame[250:450, 500:760])
    raw = stage.generate_text(crop, "Describe the dog.", max_new_tokens=q.DESCRIBE_TOKENS)
    assert raw  # random weights say *something*; what matters is what the parsers make of it
    assert_clean_phrase(stage.describe(crop, "dog"), q.MAX_WORDS)
    assert_clean_list(stage.list_objects(resize(frame, (128, 72))))


def test_thin_and_tiny_crops_are_accepted(describer: q.QwenVLDescriber, frame: np.ndarray) -> None:
    for crop in (frame[100:101, 0:400], frame[0:300, 5:6], frame[10:13, 10:12]):
        assert_clean_phrase(describer.describe(np.ascontiguousarray(crop), "pole"), q.MAX_WORDS)


def test_inputs_follow_the_processor_layout(describer: q.QwenVLDescriber, frame: np.ndarray) -> None:
    inputs = describer.prepare_inputs(frame, "What is this?", q.DESCRIBE_PIXELS)
    t, h, w = inputs["image_grid_thw"][0].tolist()
    n_image = t * h * w // 4  # one token per 2×2 merge
    image_id = describer.chat.tokenizer.convert_tokens_to_ids(q.QWEN_IMAGE_PAD)
    assert int((inputs["input_ids"] == image_id).sum()) == n_image
    assert int(inputs["mm_token_type_ids"].sum()) == n_image
    assert inputs["pixel_values"].shape[0] == t * h * w
    text = describer.chat.tokenizer.decode(inputs["input_ids"][0])
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert "What is this?<|im_end|>" in text


def test_visual_tokens_are_bounded_per_task(describer: q.QwenVLDescriber, frame: np.ndarray) -> None:
    """With the checkpoint's own (huge) pixel bounds, our caps decide: a frame costs ≤ 512 tokens
    as a whole and ≤ 256 as a crop; a small crop is enlarged to ≥ 64."""
    model = describer.chat.model
    assert model is not None
    real_bounds = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=28 * 28 * 16384)
    stage = q.QwenVLDescriber(model, real_bounds, describer.chat.tokenizer, describer.info)

    def tokens(image: np.ndarray, pixels: tuple[int, int]) -> int:
        return int(stage.prepare_inputs(image, "x", pixels)["image_grid_thw"][0].prod()) // 4

    assert 256 < tokens(frame, q.LIST_PIXELS) <= 512
    assert 128 < tokens(frame, q.DESCRIBE_PIXELS) <= 256
    assert 64 <= tokens(np.ascontiguousarray(frame[:40, :30]), q.DESCRIBE_PIXELS) <= 100
    # and the tiny checkpoint's own smaller bound wins over ours
    assert int(describer.prepare_inputs(frame, "x", q.LIST_PIXELS)["image_grid_thw"][0].prod()) // 4 <= 16


def test_same_seed_same_text_and_round_trip_through_save_pretrained(
    describer: q.QwenVLDescriber, plan: DevicePlan, frame: np.ndarray, tmp_path: Path
) -> None:
    crop = np.ascontiguousarray(frame[250:450, 500:760])

    def answers(stage: q.QwenVLDescriber) -> tuple[str, str, str, list[str]]:
        return (
            stage.generate_text(crop, "Describe the dog.", max_new_tokens=12),
            stage.generate_text(frame, q.LIST_PROMPT, max_new_tokens=12, pixels=q.LIST_PIXELS),
            stage.describe(crop, "dog"),
            stage.list_objects(frame),
        )

    expected = answers(describer)
    assert answers(q.tiny(seed=0, plan=plan)) == expected
    assert answers(q.tiny(seed=1, plan=plan))[:2] != expected[:2]

    describer.save_pretrained(tmp_path)
    loaded = q.load(ModelSpec(str(tmp_path)), plan)
    assert loaded.info.model_id == str(tmp_path)
    assert answers(loaded) == expected


def test_load_of_a_missing_checkpoint_says_how_to_get_it(plan: DevicePlan, tmp_path: Path) -> None:
    with pytest.raises(RiverError, match=r"`hf download river-tests/no-such-qwen-vl`"):
        q.load(ModelSpec("river-tests/no-such-qwen-vl"), plan)
    with pytest.raises(RiverError, match="does not exist"):
        q.load(ModelSpec(str(tmp_path / "missing")), plan)
    with pytest.raises(RiverError, match=r"does not hold a checkpoint of Qwen2\.5-VL"):
        q.load(ModelSpec(str(tmp_path)), plan)


def test_bad_arguments_are_named_and_close_is_final(plan: DevicePlan, frame: np.ndarray) -> None:
    stage = q.tiny(plan=plan)
    for category in ("", "   ", "<|im_start|>", "###"):
        with pytest.raises(RiverError, match="`category`"):
            stage.describe(frame, category)
    with pytest.raises(RiverError, match="H×W×3 uint8"):
        stage.list_objects(frame.astype(np.float32))
    stage.close()
    stage.close()
    with pytest.raises(RiverError, match="closed"):
        stage.list_objects(frame)


def test_paper_config_is_qwen2_5_vl_7b() -> None:
    config = q.paper_config()
    assert (config.text_config.hidden_size, config.text_config.num_hidden_layers) == (3584, 28)
    assert (config.vision_config.depth, config.vision_config.out_hidden_size) == (32, 3584)
    assert config.image_token_id == 151655


# --- parsers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A brown, short-haired dog with a red collar.", "brown short-haired dog with a red collar"),
        ("Answer: The dog is BROWN\nand this is a second line", "dog is brown"),
        ("\n\n  - glossy black ceramic mug  \n", "glossy black ceramic mug"),
        ("1. Red ball", "red ball"),
        ("ｆｕｌｌ－ｗｉｄｔｈ letters", "full-width letters"),
        ("🐶 fluffy dog 🐾", "fluffy dog"),
        ("one two three four five six seven eight nine ten eleven twelve thirteen", None),
        ("", ""),
        ("\x00\x01\x02\x1b\x7f", ""),
        ("\ufffd\ufffd\ufffd s\ufffd7777", ""),
        ("<|im_end|><|endoftext|>", ""),
        ("<script>alert(1)</script>", ""),
        ("{{ config }} ${HOME} `rm -rf /`", "config rm"),  # words survive, syntax does not
        ("x" * 100, ""),
    ],
)
def test_parse_phrase(text: str, expected: str | None) -> None:
    phrase = q.parse_phrase(text)
    assert_clean_phrase(phrase, q.MAX_WORDS)
    if expected is None:
        assert phrase.split() == text.split()[: q.MAX_WORDS]
    else:
        assert phrase == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dog, ball, woman", ["dog", "ball", "woman"]),
        ("Objects: 1. A dog\n2. The red ball\n3. a dog", ["dog", "red ball"]),
        ("dog; cat, and a tennis ball.", ["dog", "cat", "tennis ball"]),
        ("- Dog\n- Frisbee\n* Tree\n• grass", ["dog", "frisbee", "tree", "grass"]),
        ("a woman wearing a long red coat, bench", ["bench"]),
        ("dog, " * 200, ["dog"]),
        ("", []),
        ("\ufffd,\ufffd,\x00,;;", []),
        ("<|image_pad|>, <think>, ```", ["think"]),
        ("<script>alert(1)</script>", []),
    ],
)
def test_parse_object_list(text: str, expected: list[str]) -> None:
    items = q.parse_object_list(text)
    assert_clean_list(items)
    assert items == expected


def test_parse_object_list_caps_the_count() -> None:
    items = q.parse_object_list(", ".join(f"thing{i}" for i in range(40)))
    assert items == [f"thing{i}" for i in range(q.MAX_OBJECTS)]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", errors="replace"))))
def test_parsers_never_fail_and_return_clean_text(text: str) -> None:
    assert_clean_phrase(q.parse_phrase(text), q.MAX_WORDS)
    assert_clean_list(q.parse_object_list(text))
