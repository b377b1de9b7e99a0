"""Tiny tokenizers built in code, for the tiny profile's models (no hub, no files shipped).

No installed package ships tokenizer files and nothing can be downloaded, so the tiny models get
byte-level BPE tokenizers with **no merges**: every UTF-8 byte is one token, so any text
round-trips (exactly up to NFC, which Qwen's tokenizer applies; CLIP's also lower-cases), and the
real tokenizer classes (``CLIPTokenizer``, ``Qwen2Tokenizer``) save and reload through
``save_pretrained`` / ``AutoTokenizer.from_pretrained`` like a hub checkpoint.

The module name shadows the ``tokenizers`` package only for a script run from this directory
(``python river_core/twin/backends/x.py``); imported as ``river_core.twin.backends.tiny_tokenizers``
it does not.

The vocabularies keep the *layout* the models rely on, not just the token names:

- CLIP (OWLv2's text tower): ``!`` is id 0 and the pad token, ``<|startoftext|>`` and
  ``<|endoftext|>`` are the two highest ids — OWLv2 pools the text at ``argmax(input_ids)`` (the
  end-of-text token) and treats a query whose first id is 0 as padding.
- Qwen: the 256 byte tokens, then ``<|endoftext|>``, then the chat and vision tokens, so a tiny
  model's config can take the ids from the tokenizer (:func:`qwen_token_ids`).

>>> tok = qwen_tokenizer()
>>> tok.decode(tok("naïve café")["input_ids"])
'naïve café'
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from tokenizers import AddedToken
from transformers import CLIPTokenizer, PreTrainedTokenizerBase, Qwen2Tokenizer

from river_core.errors import RiverError

CLIP_BOS, CLIP_EOS, CLIP_PAD = "<|startoftext|>", "<|endoftext|>", "!"
CLIP_WORD_END = "</w>"

QWEN_EOT = "<|endoftext|>"
QWEN_IM_START, QWEN_IM_END = "<|im_start|>", "<|im_end|>"
QWEN_VISION_START, QWEN_VISION_END = "<|vision_start|>", "<|vision_end|>"
QWEN_IMAGE_PAD, QWEN_VIDEO_PAD = "<|image_pad|>", "<|video_pad|>"
QWEN_VL_SPECIAL_TOKENS: tuple[str, ...] = (
    QWEN_IM_START,
    QWEN_IM_END,
    QWEN_VISION_START,
    QWEN_VISION_END,
    QWEN_IMAGE_PAD,
    QWEN_VIDEO_PAD,
)

# Qwen2.5-VL-Instruct's chat template (its chat_template.json): a default system turn, images and
# videos as <|vision_start|><|image_pad|><|vision_end|> (the processor expands the pad token to one
# token per merged patch), and an optional generation prompt.
QWEN_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


# Qwen's tokenizers have no unknown token (every byte is in the vocabulary); the signature types
# `unk_token` as str, so None goes through an untyped mapping.
_NO_UNKNOWN: dict[str, Any] = {"unk_token": None}


@cache
def byte_alphabet() -> tuple[str, ...]:
    """The 256 printable stand-ins of GPT-2's byte-level BPE, in the order of its table.

    Printable ASCII and Latin-1 bytes map to themselves (so ``!`` comes first); the others
    (control bytes, space, …) map to code points from 256 upward (space becomes ``Ġ``).
    """
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(kept)
    shifted = 0
    for byte in range(256):
        if byte not in kept:
            kept.append(byte)
            chars.append(256 + shifted)
            shifted += 1
    return tuple(chr(c) for c in chars)


def clip_tokenizer(*, model_max_length: int = 16) -> CLIPTokenizer:
    """A CLIP tokenizer (OWL-ViT/OWLv2 text tower) with a byte vocabulary and no merges.

    Vocabulary: the 256 byte characters, the same with the ``</w>`` end-of-word suffix, then
    ``<|startoftext|>`` and ``<|endoftext|>`` (514 ids). ``model_max_length`` is the text tower's
    ``max_position_embeddings`` (16 in OWLv2); longer queries need ``truncation=True``.
    """
    alphabet = byte_alphabet()
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    vocab.update({ch + CLIP_WORD_END: len(alphabet) + i for i, ch in enumerate(alphabet)})
    vocab[CLIP_BOS] = len(vocab)
    vocab[CLIP_EOS] = len(vocab)
    return CLIPTokenizer(
        vocab=vocab,
        merges=[],
        bos_token=CLIP_BOS,
        eos_token=CLIP_EOS,
        unk_token=CLIP_EOS,
        pad_token=CLIP_PAD,
        model_max_length=model_max_length,
    )


def qwen_tokenizer(
    *,
    special_tokens: Sequence[str] = QWEN_VL_SPECIAL_TOKENS,
    added_tokens: Sequence[str] = (),
    chat_template: str | None = QWEN_VL_CHAT_TEMPLATE,
    eos_token: str = QWEN_IM_END,
    model_max_length: int = 32768,
) -> Qwen2Tokenizer:
    """A Qwen2 tokenizer with a byte vocabulary and no merges, plus Qwen's special tokens.

    Ids: 0–255 the bytes, 256 ``<|endoftext|>`` (also the pad token), then ``special_tokens``
    (skipped by ``decode(..., skip_special_tokens=True)``), then ``added_tokens`` — ordinary added
    tokens that decoding keeps, e.g. a reasoner's ``<think>``/``<execute>`` tags (TRL decodes
    completions with ``skip_special_tokens=True``, which would strip special ones).
    ``eos_token`` ends a chat turn, as in the Instruct checkpoints; it must be one of those tokens.
    """
    if eos_token not in (QWEN_EOT, *special_tokens, *added_tokens):
        raise RiverError(
            f"`eos_token` {eos_token!r} must be {QWEN_EOT!r} or one of `special_tokens`/`added_tokens`, "
            "so that it is a single id"
        )
    vocab = {ch: i for i, ch in enumerate(byte_alphabet())}
    vocab[QWEN_EOT] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        eos_token=QWEN_EOT,
        pad_token=QWEN_EOT,
        model_max_length=model_max_length,
        **_NO_UNKNOWN,
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in special_tokens]}
    )
    if added_tokens:
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in added_tokens])
    if eos_token != QWEN_EOT:
        tokenizer.eos_token = eos_token
    tokenizer.chat_template = chat_template
    return tokenizer


def qwen_token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """The ids a Qwen2.5-VL config needs, read from ``tokenizer`` (so config and vocabulary agree)."""
    ids = {
        "bos_token_id": QWEN_EOT,
        "eos_token_id": QWEN_IM_END,
        "pad_token_id": QWEN_EOT,
        "image_token_id": QWEN_IMAGE_PAD,
        "video_token_id": QWEN_VIDEO_PAD,
        "vision_start_token_id": QWEN_VISION_START,
        "vision_end_token_id": QWEN_VISION_END,
    }
    resolved: dict[str, int] = {}
    for name, token in ids.items():
        i = tokenizer.convert_tokens_to_ids(token)
        # a missing token maps to the unknown token's id (or None when there is none)
        if not isinstance(i, int) or tokenizer.convert_ids_to_tokens(i) != token:
            raise RiverError(f"the tokenizer lacks the Qwen token {token!r}; build it with qwen_tokenizer()")
        resolved[name] = i
    return resolved
