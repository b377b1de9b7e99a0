"""The R_perf judge in this process: Qwen2.5-VL through transformers (imports torch).

It talks to the model through :class:`~river_core.twin.backends.qwen_vl.QwenVLChat`, the same
input composition (no processor, no torchvision) and checkpoint loading as the twin's describer.
The prompt and the reply's reading are :mod:`river_core.rewards.judge`'s, shared with the server
backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image
from transformers import BatchEncoding

from river_core.devices import choose_device
from river_core.errors import RiverError
from river_core.rewards.judge import (
    JUDGE_MODEL_ID,
    Verdict,
    abstain,
    check_judge_inputs,
    judge_prompt,
    verdict_of,
)
from river_core.twin.backends import qwen_vl
from river_core.twin.backends._hub import revision_of
from river_core.twin.stages import ModelSpec

JUDGE_PIXELS: Final = (64 * qwen_vl.TOKEN_PIXELS, 256 * qwen_vl.TOKEN_PIXELS)  # 64–256 visual tokens a frame
JUDGE_TOKENS: Final = 16  # "Yes." is 2 tokens; room for "The answer is no." and a stray word


class QwenVLJudge:
    """A Qwen2.5-VL judge: the module's prompt, ``max_new_tokens`` greedy tokens, each frame resized
    to within ``pixels`` = (min, max) pixels (the checkpoint's own bounds may be tighter).

    Build it with :meth:`from_pretrained` (a hub id in the cache, e.g. ``Qwen/Qwen2.5-VL-7B-Instruct``,
    or a directory from :meth:`save_pretrained`) or :meth:`tiny` (random weights from a seed, for
    tests: its replies are noise and almost always abstentions). A model error at generation
    (out of memory, say) is an abstention; a closed judge raises.
    """

    def __init__(
        self,
        chat: qwen_vl.QwenVLChat,
        *,
        source: str,
        dtype: str,
        max_new_tokens: int = JUDGE_TOKENS,
        pixels: tuple[int, int] = JUDGE_PIXELS,
    ) -> None:
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise RiverError(f"`max_new_tokens` must be an integer ≥ 1, got {max_new_tokens!r}")
        if not (isinstance(pixels, tuple) and len(pixels) == 2 and 0 < pixels[0] <= pixels[1]):
            raise RiverError(f"`pixels` must be (min, max) pixels with 0 < min ≤ max, got {pixels!r}")
        self.chat = chat
        self.source = source
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.pixels = pixels

    @classmethod
    def from_pretrained(
        cls,
        id_or_dir: str | Path = JUDGE_MODEL_ID,
        *,
        revision: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        max_new_tokens: int = JUDGE_TOKENS,
        pixels: tuple[int, int] = JUDGE_PIXELS,
    ) -> QwenVLJudge:
        """Load a checkpoint. Nothing is downloaded where the hub cache or the directory holds it;
        a missing one is one :class:`~river_core.errors.ModelUnavailableError` line."""
        plan = choose_device(device, dtype)
        spec = ModelSpec(str(id_or_dir), revision=revision)
        model, image_processor, tokenizer = qwen_vl.load_parts(spec, plan)
        chat = qwen_vl.QwenVLChat(model, image_processor, tokenizer, spec.model_id)
        rev = revision_of(model, spec)
        source = f"qwen2.5-vl:{spec.model_id}" + (f"@{rev}" if rev else "")
        return cls(chat, source=source, dtype=plan.dtype, max_new_tokens=max_new_tokens, pixels=pixels)

    @classmethod
    def tiny(cls, seed: int = 0, *, device: str | None = None, dtype: str | None = None) -> QwenVLJudge:
        """The same classes at tiny size (:func:`~river_core.twin.backends.qwen_vl.tiny_config`),
        random weights from ``seed``; frames of ≤ 16 visual tokens."""
        plan = choose_device(device, dtype)
        model, image_processor, tokenizer = qwen_vl.tiny_parts(seed=seed, plan=plan)
        chat = qwen_vl.QwenVLChat(
            model, image_processor, tokenizer, "tiny:Qwen2_5_VLForConditionalGeneration"
        )
        return cls(chat, source=f"tiny:qwen2.5-vl#seed={seed}", dtype=plan.dtype)

    @property
    def identity(self) -> str:
        """The checkpoint (and revision), dtype and generation settings: what changes a reply.
        A directory is named by its path: give a retrained judge a new one (or a new cache)."""
        low, high = self.pixels
        return f"{self.source}|{self.dtype}|max_new_tokens={self.max_new_tokens}|pixels={low}-{high}"

    def judge(self, query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]) -> Verdict:
        content = self._content(query, original, edited)
        try:
            raw = self.chat.generate(content, max_new_tokens=self.max_new_tokens, pixels=self.pixels)
        except RuntimeError as exc:  # torch's errors (out of memory included); RiverError is not one
            return abstain(self.identity, f"the model failed: {type(exc).__name__}: {exc}"[:400])
        return verdict_of(raw, self.identity)

    def prepare_inputs(
        self, query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]
    ) -> BatchEncoding:
        """The model inputs of one judgement (to inspect the prompt)."""
        return self.chat.prepare_inputs(self._content(query, original, edited), self.pixels)

    def _content(
        self, query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]
    ) -> list[np.ndarray | str]:
        query, original, edited = check_judge_inputs(query, original, edited)
        return [
            part if isinstance(part, str) else np.asarray(part)
            for part in judge_prompt(query, original, edited)
        ]

    def save_pretrained(self, path: str | Path) -> None:
        """Write model, image processor and tokenizer: ``from_pretrained(path)`` judges the same."""
        self.chat.save_pretrained(path)

    def close(self) -> None:
        """Free the weights (idempotent)."""
        self.chat.close()
