"""Qwen2.5-VL describer (``Describer``): ``Qwen2_5_VLForConditionalGeneration`` + its image
processor and tokenizer, behind :class:`QwenVLChat` (which the R_perf judge shares).

We compose the inputs ourselves instead of using ``Qwen2_5_VLProcessor``: that processor also
requires a video processor, which needs torchvision (absent in the CPU profile), and we only ever
send still images (one for the describer, a few frames for the judge). The steps are the
processor's: the chat template puts one ``<|image_pad|>`` per image between
``<|vision_start|>``/``<|vision_end|>``; each is expanded to one token per merged patch of its image
(``grid_t·grid_h·grid_w / merge²``); ``mm_token_type_ids`` marks those tokens for M-RoPE.

Image size is bounded per call (``DESCRIBE_PIXELS``, ``LIST_PIXELS``) so a crop costs at most
256 visual tokens and a frame 512, whatever the checkpoint's processor allows. Generation is
greedy and short; the text is parsed by :func:`parse_phrase` / :func:`parse_object_list`, which
accept only words made of letters and digits, so neither garbage from random tiny weights nor
markup or code in a generation (text in the footage can steer a model) reaches the twin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoImageProcessor,
    AutoTokenizer,
    BatchEncoding,
    GenerationConfig,
    PreTrainedTokenizerBase,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
)
from transformers.image_processing_utils import BaseImageProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.twin.backends._hub import check_image, loading, place, revision_of
from river_core.twin.backends.tiny_tokenizers import (
    QWEN_EOT,
    QWEN_IM_END,
    QWEN_IMAGE_PAD,
    QWEN_VL_CHAT_TEMPLATE,
    qwen_token_ids,
    qwen_tokenizer,
)
from river_core.twin.stages import ModelInfo, ModelSpec

PAPER_MODEL_ID = "Qwen/Qwen2.5-VL-7B-Instruct"
TOKEN_PIXELS = 28 * 28  # one visual token = a 2×2 merge of 14-pixel patches
DESCRIBE_PIXELS = (64 * TOKEN_PIXELS, 256 * TOKEN_PIXELS)  # (min, max) pixels of a crop: 64–256 tokens
LIST_PIXELS = (256 * TOKEN_PIXELS, 512 * TOKEN_PIXELS)  # a whole frame: 256–512 tokens
DESCRIBE_TOKENS, LIST_TOKENS = 24, 48  # max_new_tokens: a ≤12-word phrase, a list of ~16 nouns
MAX_WORDS = 12  # in a description
MAX_OBJECTS, MAX_OBJECT_WORDS = 16, 4  # a list's items, and words per item ("red fire hydrant")
MAX_WORD_CHARS = 24  # longer "words" are runs of garbage, not English
MAX_ASPECT = 100  # Qwen's resize refuses aspect ratios over 200: thinner crops are padded

DESCRIBE_PROMPT = (
    "Describe the {category} in this picture in one short phrase of at most 12 words: its colour, "
    "material, texture and pose. Reply with the phrase only."
)
LIST_PROMPT = (
    "List the distinct kinds of objects visible in this picture as a comma-separated list of short "
    "singular nouns, for example: dog, ball, woman. Reply with the list only."
)


Content = Sequence[np.ndarray | str]  # one user turn: H×W×3 uint8 images and text, in order


class QwenVLChat:
    """A Qwen2.5-VL checkpoint answering one user turn of images and text with greedy text.

    What the describer (below) and the R_perf judge (:mod:`river_core.rewards.judge`) share: input
    composition without the processor (see the module), bounded image sizes, greedy generation that
    stops at the end of the turn, ``save_pretrained`` and ``close``.
    """

    def __init__(
        self,
        model: Qwen2_5_VLForConditionalGeneration,
        image_processor: BaseImageProcessor,
        tokenizer: PreTrainedTokenizerBase,
        model_id: str,
    ) -> None:
        self.model_id = model_id
        self.model: Qwen2_5_VLForConditionalGeneration | None = model
        # A Qwen2-VL image processor (PIL or torchvision backend): `size`, `merge_size` are its own.
        self.image_processor: Any = image_processor
        self.tokenizer = tokenizer
        self._chat_template = tokenizer.chat_template or QWEN_VL_CHAT_TEMPLATE
        ends = (tokenizer.convert_tokens_to_ids(t) for t in (QWEN_IM_END, QWEN_EOT))
        self._stop_ids = sorted({i for i in ends if isinstance(i, int)})

    def generate(self, content: Content, *, max_new_tokens: int, pixels: tuple[int, int]) -> str:
        """The raw greedy answer to one user turn (special tokens removed, unparsed), each image
        resized to within ``pixels`` = (min, max) pixels."""
        model = self.require_model()
        inputs = self.prepare_inputs(content, pixels).to(model.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=self._stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        with torch.inference_mode():
            # transformers types `generate`'s self as a protocol its own models do not satisfy
            out = model.generate(**inputs, generation_config=config)  # type: ignore[misc]  # [1, prompt + new]
        new_tokens = out[0, inputs["input_ids"].shape[1] :]
        return str(self.tokenizer.decode(new_tokens, skip_special_tokens=True))

    def prepare_inputs(self, content: Content, pixels: tuple[int, int]) -> BatchEncoding:
        """Model inputs for one user turn, as ``Qwen2_5_VLProcessor`` would build them, each image
        resized to within ``pixels`` = (min, max) pixels (also capped by the checkpoint's own bounds)."""
        images = [part for part in content if not isinstance(part, str)]
        if not images:
            raise RiverError("`content` holds no image; Qwen2.5-VL inputs here always carry one or more")
        for i, image in enumerate(images):
            check_image(image, f"images[{i}]")
        low, high = self._pixel_bounds(pixels)
        vision = self.image_processor(
            images=[_limit_aspect(image) for image in images],
            size={"shortest_edge": low, "longest_edge": high},
            return_tensors="pt",
            input_data_format="channels_last",
        )
        parts = [{"type": "text", "text": p} if isinstance(p, str) else {"type": "image"} for p in content]
        messages: Any = [{"role": "user", "content": parts}]
        text = str(
            self.tokenizer.apply_chat_template(
                messages, chat_template=self._chat_template, tokenize=False, add_generation_prompt=True
            )
        )
        if text.count(QWEN_IMAGE_PAD) != len(images):
            raise RiverError(
                f"the chat template of {self.model_id!r} puts {text.count(QWEN_IMAGE_PAD)} "
                f"{QWEN_IMAGE_PAD} placeholders for {len(images)} images; use the checkpoint's own "
                "tokenizer files (tokenizer_config.json, chat_template)"
            )
        merge = int(getattr(self.image_processor, "merge_size", 2))
        counts = [int(grid.prod()) // merge**2 for grid in vision["image_grid_thw"]]
        pieces = text.split(QWEN_IMAGE_PAD)  # one more piece than images
        expanded = (QWEN_IMAGE_PAD * n + piece for n, piece in zip(counts, pieces[1:], strict=True))
        text = pieces[0] + "".join(expanded)
        inputs = self.tokenizer([text], return_tensors="pt")
        image_id = self.tokenizer.convert_tokens_to_ids(QWEN_IMAGE_PAD)
        inputs["mm_token_type_ids"] = (inputs["input_ids"] == image_id).int()  # 1 = image, 0 = text
        inputs.update(vision)
        return inputs

    def _pixel_bounds(self, pixels: tuple[int, int]) -> tuple[int, int]:
        size = self.image_processor.size
        high = min(int(size["longest_edge"]), pixels[1])
        return min(max(int(size["shortest_edge"]), pixels[0]), high), high

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model, image processor and tokenizer (with its chat template) so
        :func:`load_parts` rebuilds them."""
        model = self.require_model()
        model.save_pretrained(path)
        self.image_processor.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def close(self) -> None:
        """Free the weights (idempotent)."""
        self.model = None

    def require_model(self) -> Qwen2_5_VLForConditionalGeneration:
        if self.model is None:
            raise RiverError(f"the Qwen2.5-VL model {self.model_id!r} was closed; load it again to use it")
        return self.model


class QwenVLDescriber:
    """Names and describes what is in an image; see :meth:`describe` and :meth:`list_objects`."""

    def __init__(
        self,
        model: Qwen2_5_VLForConditionalGeneration,
        image_processor: BaseImageProcessor,
        tokenizer: PreTrainedTokenizerBase,
        info: ModelInfo,
    ) -> None:
        self.info = info
        self.chat = QwenVLChat(model, image_processor, tokenizer, info.model_id)

    def describe(self, crop: np.ndarray, category: str) -> str:
        """A ≤12-word lower-case phrase of the visible attributes of the ``category`` object filling
        ``crop`` (colour, material, texture, pose); "" when the model gives nothing usable."""
        name = parse_phrase(category, max_words=6) if isinstance(category, str) else ""
        if not name:
            raise RiverError(f"`category` must name an object in words, got {category!r}")
        prompt = DESCRIBE_PROMPT.format(category=name)
        return parse_phrase(self.generate_text(crop, prompt, max_new_tokens=DESCRIBE_TOKENS))

    def list_objects(self, image: np.ndarray) -> list[str]:
        """The distinct objects in ``image``: short lower-case noun phrases, at most 16, in the order
        the model named them; [] when it gives nothing usable."""
        text = self.generate_text(image, LIST_PROMPT, max_new_tokens=LIST_TOKENS, pixels=LIST_PIXELS)
        return parse_object_list(text)

    def generate_text(
        self,
        image: np.ndarray,
        prompt: str,
        *,
        max_new_tokens: int,
        pixels: tuple[int, int] = DESCRIBE_PIXELS,
    ) -> str:
        """The raw greedy answer to ``prompt`` about ``image`` (special tokens removed, unparsed),
        with the image resized to within ``pixels`` = (min, max) pixels."""
        check_image(image)
        return self.chat.generate([image, prompt], max_new_tokens=max_new_tokens, pixels=pixels)

    def prepare_inputs(self, image: np.ndarray, prompt: str, pixels: tuple[int, int]) -> BatchEncoding:
        """Model inputs for one image and one user turn (see :meth:`QwenVLChat.prepare_inputs`)."""
        check_image(image)
        return self.chat.prepare_inputs([image, prompt], pixels)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model, image processor and tokenizer (with its chat template) so
        ``load(ModelSpec(str(path)), plan)`` rebuilds this stage."""
        self.chat.save_pretrained(path)

    def close(self) -> None:
        """Free the weights (idempotent)."""
        self.chat.close()


# --- parsing: model text → clean phrases ---------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['/-][^\W_]+)*")  # letters/digits, inner ' / - ("short-haired")
_EDGE_PUNCT = "\"'`.,;:!?()[]{}<>«»“”‘’*_~"
_LEAD = re.compile(r"^\s*(?:[-*•·>]+|\(?\d{1,3}[.)]|[a-z][.)](?=\s))\s*", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(?:answer|description|attributes?|phrase|objects?|list)\s*:\s*", re.IGNORECASE)
_ARTICLES = frozenset({"a", "an", "the"})


def parse_phrase(text: str, *, max_words: int = MAX_WORDS) -> str:
    """The first usable line of ``text`` as one clean lower-case phrase of ≤ ``max_words`` words.

    >>> parse_phrase("Answer: A brown, short-haired dog (sitting).\\nExtra line")
    'brown short-haired dog sitting'
    >>> parse_phrase("\\ufffd\\x00 <|im_end|> ###")
    ''
    """
    for line in _normalize(text).splitlines():
        words = _clean_words(_LABEL.sub("", _LEAD.sub("", line)))
        if words:
            return " ".join(_drop_article(words)[:max_words])
    return ""


def parse_object_list(
    text: str, *, max_items: int = MAX_OBJECTS, max_words: int = MAX_OBJECT_WORDS
) -> list[str]:
    """Distinct short lower-case noun phrases from a comma/semicolon/line-separated list.

    Numbering, bullets, articles and a leading "and" go; items longer than ``max_words`` words
    (sentences, not names) and items with no usable word are dropped; duplicates keep their
    first place; at most ``max_items``.

    >>> parse_object_list("Objects: 1. A dog\\n2. the red ball, and a woman; dog.")
    ['dog', 'red ball', 'woman']
    """
    items: list[str] = []
    for line in _normalize(text).splitlines():
        line = _LABEL.sub("", _LEAD.sub("", line))
        for part in re.split(r"[,;•|]", line):
            words = _clean_words(_LABEL.sub("", _LEAD.sub("", part)))
            if words and words[0] == "and":
                words = words[1:]
            words = _drop_article(words)
            phrase = " ".join(words)
            if words and len(words) <= max_words and phrase not in items:
                items.append(phrase)
                if len(items) == max_items:
                    return items
    return items


def _normalize(text: str) -> str:
    """NFKC (full-width letters → ASCII), lower case; other separators and controls become spaces."""
    text = unicodedata.normalize("NFKC", text if isinstance(text, str) else "").lower()
    return "".join(ch if ch == "\n" or ch.isprintable() else " " for ch in text)


def _clean_words(line: str) -> list[str]:
    """The words of ``line`` made only of letters/digits (inner ' / - allowed), edge punctuation
    stripped; anything else (symbols, markup, replacement characters) is dropped."""
    words = []
    for raw in line.split():
        word = raw.strip(_EDGE_PUNCT)
        if word and len(word) <= MAX_WORD_CHARS and _WORD.fullmatch(word):
            words.append(word)
    return words


def _drop_article(words: list[str]) -> list[str]:
    return words[1:] if len(words) > 1 and words[0] in _ARTICLES else words


# --- loading --------------------------------------------------------------------------------------


def load(spec: ModelSpec, plan: DevicePlan) -> QwenVLDescriber:
    """Load a Qwen2.5-VL checkpoint (a Hugging Face id in the cache, or a local directory)."""
    model, image_processor, tokenizer = load_parts(spec, plan)
    info = ModelInfo("describer", spec.model_id, revision_of(model, spec))
    return QwenVLDescriber(model, image_processor, tokenizer, info)


def tiny(*, seed: int = 0, plan: DevicePlan) -> QwenVLDescriber:
    """The same classes at tiny size (random weights from ``seed``), images of ≤ 16 visual tokens.
    Random weights generate random bytes: the parsers turn them into "" / [] or stray words."""
    model, image_processor, tokenizer = tiny_parts(seed=seed, plan=plan)
    info = ModelInfo("describer", "tiny:Qwen2_5_VLForConditionalGeneration")
    return QwenVLDescriber(model, image_processor, tokenizer, info)


Parts = tuple[Qwen2_5_VLForConditionalGeneration, BaseImageProcessor, PreTrainedTokenizerBase]


def load_parts(spec: ModelSpec, plan: DevicePlan) -> Parts:
    """Model, image processor and tokenizer of a checkpoint (hub id in the cache, or a directory),
    the model placed by ``plan``; a missing checkpoint is one :class:`ModelUnavailableError` line."""
    files = "config.json, weights, preprocessor and tokenizer files"
    with loading(spec, what="Qwen2.5-VL", files=files) as src:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            src.model_id, dtype=plan.torch_dtype, **src.kwargs
        )
        image_processor = AutoImageProcessor.from_pretrained(src.model_id, **src.kwargs)
        tokenizer = AutoTokenizer.from_pretrained(src.model_id, **src.kwargs)
    place(model, plan)
    return model, image_processor, tokenizer


def tiny_parts(*, seed: int = 0, plan: DevicePlan) -> Parts:
    """The parts at tiny size: :func:`tiny_config` with random weights from ``seed`` (the global
    RNG is left as it was), the byte tokenizer, an image processor capped at 4–16 visual tokens."""
    tokenizer = qwen_tokenizer()
    config = tiny_config(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
    place(model, plan)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=4 * TOKEN_PIXELS, max_pixels=16 * TOKEN_PIXELS)
    return model, image_processor, tokenizer


def tiny_config(tokenizer: PreTrainedTokenizerBase | None = None) -> Qwen2_5_VLConfig:
    """Text: 32 wide, 2 layers, 2 heads (1 KV head), M-RoPE sections 2/3/3 of the 8 rotary pairs;
    vision: 32 wide, 2 blocks (the second with full attention), 14-pixel patches merged 2×2.
    Vocabulary and special ids come from ``tokenizer`` (default :func:`qwen_tokenizer`)."""
    tokenizer = tokenizer or qwen_tokenizer()
    ids = qwen_token_ids(tokenizer)
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 2048,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": ids["bos_token_id"],
        "eos_token_id": ids["eos_token_id"],
        "pad_token_id": ids["pad_token_id"],
    }
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 32,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 56,
        "fullatt_block_indexes": [1],
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["image_token_id"],
        video_token_id=ids["video_token_id"],
        vision_start_token_id=ids["vision_start_token_id"],
        vision_end_token_id=ids["vision_end_token_id"],
    )


def paper_config() -> Qwen2_5_VLConfig:
    """The architecture of ``Qwen/Qwen2.5-VL-7B-Instruct`` (its config.json on the Hub): a Qwen2.5-7B
    decoder (3,584 wide, 28 layers, 28 query / 4 KV heads, MLP 18,944, vocabulary 152,064,
    M-RoPE sections 16/24/24, θ = 10⁶) and a 32-block, 1,280-wide ViT (14-pixel patches, 2×2
    merge into 3,584, 112-pixel windows, full attention in blocks 7/15/23/31)."""
    text: dict[str, Any] = {
        "vocab_size": 152064,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "max_position_embeddings": 128000,
        "rms_norm_eps": 1e-6,
        "sliding_window": 32768,
        "max_window_layers": 28,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [16, 24, 24]},
        "bos_token_id": 151643,
        "eos_token_id": 151645,
    }
    vision: dict[str, Any] = {
        "depth": 32,
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "out_hidden_size": 3584,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
    )


def _limit_aspect(image: np.ndarray) -> np.ndarray:
    """Pad (black, bottom/right) an image thinner than 1:``MAX_ASPECT`` up to that ratio."""
    height, width = image.shape[:2]
    if max(height, width) <= MAX_ASPECT * min(height, width):
        return image
    shape = (max(height, -(-width // MAX_ASPECT)), max(width, -(-height // MAX_ASPECT)), 3)
    canvas = np.zeros(shape, np.uint8)
    canvas[:height, :width] = image
    return canvas
