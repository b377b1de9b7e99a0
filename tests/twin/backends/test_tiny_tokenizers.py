"""Tiny tokenizers built in code: exact UTF-8 round trips, special-token layout, chat template,
and save_pretrained → AutoTokenizer round trips (the way a tiny checkpoint is reloaded)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, CLIPTokenizer, Qwen2Tokenizer

from river_core.errors import RiverError
from river_core.twin.backends import tiny_tokenizers as tk

HOSTILE = [
    "",
    "naïve café — 日本語 🐶🐾",
    "tabs\tand\r\nnewlines\n\n",
    "\x00\x01\x1b[31m\x7f",
    "e\u0301 combining, \u200b zero width, \ufeff BOM",
    "<|im_start|> typed as text, <think> too",
    "  leading and trailing spaces  ",
]


def test_byte_alphabet_is_gpt2s_table() -> None:
    alphabet = tk.byte_alphabet()
    assert len(alphabet) == len(set(alphabet)) == 256
    assert alphabet[0] == "!" and alphabet[ord("~") - ord("!")] == "~"
    assert "Ġ" in alphabet and " " not in alphabet  # space (byte 32) is shifted to U+0120


_QWEN = tk.qwen_tokenizer()


@pytest.mark.parametrize("text", HOSTILE)
def test_qwen_tokenizer_round_trips_any_text(text: str) -> None:
    """Exact up to NFC, which Qwen's own tokenizer applies too ("e" + U+0301 comes back as "é")."""
    assert _QWEN.decode(_QWEN(text)["input_ids"]) == unicodedata.normalize("NFC", text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_qwen_tokenizer_round_trips_arbitrary_unicode(text: str) -> None:
    assert _QWEN.decode(_QWEN(text)["input_ids"]) == unicodedata.normalize("NFC", text)


def test_qwen_special_tokens_are_single_ids_and_skippable() -> None:
    tokenizer = tk.qwen_tokenizer(added_tokens=["<think>", "</think>"])
    ids = tk.qwen_token_ids(tokenizer)
    assert ids["bos_token_id"] == ids["pad_token_id"] == 256  # <|endoftext|> right after the bytes
    assert len(set(ids.values())) == 6
    assert tokenizer.eos_token == tk.QWEN_IM_END and tokenizer.eos_token_id == ids["eos_token_id"]
    text = "<|im_start|>user\n<think>hi</think><|image_pad|><|im_end|>"
    encoded = tokenizer(text)["input_ids"]
    assert encoded[0] == tokenizer.convert_tokens_to_ids(tk.QWEN_IM_START)
    assert ids["image_token_id"] in encoded
    assert tokenizer.decode(encoded) == text
    # special tokens go, ordinary added tokens (a reasoner's tags) stay
    assert tokenizer.decode(encoded, skip_special_tokens=True) == "user\n<think>hi</think>"


def test_qwen_chat_template_matches_qwen2_5_vl_instruct() -> None:
    tokenizer = tk.qwen_tokenizer()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is it?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    plain = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert tokenizer.apply_chat_template(plain, tokenize=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    )


def test_qwen_tokenizer_survives_save_and_auto_load(tmp_path: Path) -> None:
    tokenizer = tk.qwen_tokenizer(added_tokens=["<execute>"])
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, Qwen2Tokenizer)
    for text in [*HOSTILE, "<|im_start|>x<execute>y<|im_end|>"]:
        assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert loaded.chat_template == tokenizer.chat_template
    assert tk.qwen_token_ids(loaded) == tk.qwen_token_ids(tokenizer)
    assert (loaded.eos_token, loaded.pad_token, loaded.unk_token) == ("<|im_end|>", "<|endoftext|>", None)
    assert len(loaded) == len(tokenizer)


def test_qwen_token_ids_refuses_a_tokenizer_without_them() -> None:
    with pytest.raises(RiverError, match="lacks the Qwen token"):
        tk.qwen_token_ids(tk.clip_tokenizer())
    with pytest.raises(RiverError, match="`eos_token`"):
        tk.qwen_tokenizer(eos_token="<|end|>")
    assert tk.qwen_tokenizer(added_tokens=["<|end|>"], eos_token="<|end|>").eos_token == "<|end|>"


def test_clip_tokenizer_has_owlv2s_layout() -> None:
    tokenizer = tk.clip_tokenizer()
    assert isinstance(tokenizer, CLIPTokenizer) and len(tokenizer) == 514
    # OWLv2 pools text at argmax(input_ids) → end-of-text must be the highest id; padding is id 0
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 512, 513)
    batch = tokenizer(["a dog", "a photo of a cat"], padding="max_length", truncation=True)
    for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True):
        assert len(ids) == 16 and ids[0] == 512 and max(ids) == 513
        assert ids.index(513) == sum(mask) - 1  # end-of-text, then padding
    long = tokenizer(["x" * 100], padding="max_length", truncation=True)["input_ids"][0]
    assert len(long) == 16 and long[-1] == 513
    assert tokenizer.decode(batch["input_ids"][1], skip_special_tokens=True) == "a photo of a cat"


def test_clip_tokenizer_survives_save_and_auto_load(tmp_path: Path) -> None:
    tokenizer = tk.clip_tokenizer(model_max_length=32)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, CLIPTokenizer) and loaded.model_max_length == 32
    texts = ["dog", "Ünïcode 🐶", "a person next to a red car"]
    assert (
        loaded(texts, padding="max_length")["input_ids"]
        == tokenizer(texts, padding="max_length")["input_ids"]
    )
