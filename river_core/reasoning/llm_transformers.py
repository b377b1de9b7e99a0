"""The reasoner LLM in this process with transformers: ``--llm paper`` (DeepSeek-R1-Distill-Qwen-7B),
``--llm tiny`` (a random 2-layer Qwen2 built in code) and ``--llm transformers:ID_OR_DIR``.

A session keeps **token ids**, not text: the prompt, the prefill, every generated token and every
injected token, with a parallel mask (1 = the model sampled it, 0 = prompt, prefill or runtime
text). Each ``generate`` continues from those ids, so the rollout the GRPO trainer scores is exactly
what the model saw; injected ``<results>`` are tokenized once, on their own, and masked out of the
policy loss.

Stop strings are matched on text, not tokens (a tag may be one token, several, or end inside a
token such as ``">\\n"``): a stopping criterion decodes the last few new tokens after each step and
stops once a stop string appears. When the token completing a stop string runs past it, that token
is replaced by the tokens of the stop string's remaining characters (still mask 1: the model wrote
those characters), so the ids decode to exactly the returned text.

>>> llm = tiny(seed=0, plan=DevicePlan("cpu", "float32"))
>>> session = llm.start("", "Remove the dog.", GenerationSettings(temperature=0))
>>> text = session.generate(stop=STOP_STRINGS, max_new_tokens=8)
>>> session.completion_text() == session.prefill + text
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Qwen2Config,
    Qwen2ForCausalLM,
    StoppingCriteria,
    StoppingCriteriaList,
)

from river_core.devices import DevicePlan, choose_device
from river_core.errors import RiverError
from river_core.reasoning.llm import (
    PAPER_MODEL_ID,
    R1_ASSISTANT,
    R1_BOS,
    R1_EOS,
    R1_SPECIAL_TOKENS,
    R1_USER,
    GenerationSettings,
    LLMInfo,
    call_seed,
    check_generate_args,
    find_stop,
    render_r1_prompt,
)
from river_core.reasoning.protocol import STOP_STRINGS, TAG_STRINGS, THINK_PREFILL, Segment
from river_core.twin.backends._hub import loading, place, revision_of
from river_core.twin.backends.tiny_tokenizers import qwen_tokenizer
from river_core.twin.stages import ModelSpec

__all__ = ["PAPER_MODEL_ID", "STOP_STRINGS", "TransformersLLM", "TransformersSession", "load", "tiny"]

TINY_MODEL_ID = "tiny:Qwen2ForCausalLM"
# R1-Distill's chat template reduced to what the reasoner sends (system text, user turns, earlier
# assistant turns); the generation prompt ends with the <think> prefill, as in the updated R1 template.
TINY_R1_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}{% endif %}"
    "{% endfor %}{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ '" + R1_USER + "' + m['content'] }}"
    "{% elif m['role'] == 'assistant' %}{{ '" + R1_ASSISTANT + "' + m['content'] + '" + R1_EOS + "' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '"
    + R1_ASSISTANT
    + THINK_PREFILL.replace("\n", "\\n")
    + "' }}{% endif %}"
)


class TransformersLLM:
    """A causal LM and its tokenizer, placed on ``plan``; :meth:`start` opens a rollout."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        info: LLMInfo,
        plan: DevicePlan,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.plan = plan
        ends = [tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)]
        flat = [i for e in ends for i in (e if isinstance(e, list) else [e])]
        self.eos_ids = sorted({i for i in flat if isinstance(i, int)})
        if not self.eos_ids:
            raise RiverError(f"the tokenizer of {info.model!r} has no end-of-sequence token; set eos_token")
        pad = tokenizer.pad_token_id
        self.pad_id = pad if isinstance(pad, int) else self.eos_ids[0]

    def render_prompt(self, system: str, user: str) -> tuple[str, str]:
        """(prompt, prefill): the chat template's rendering of one system + user turn, split before
        the ``<think>\\n`` prefill. A template without it (R1's first release, other models) gets the
        prefill appended, so every rollout opens the same way; a tokenizer without a template gets
        :data:`~river_core.reasoning.llm.R1_TEMPLATE`."""
        if not self.tokenizer.chat_template:
            return render_r1_prompt(system, user), THINK_PREFILL
        messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        text = str(rendered)
        return text.removesuffix(THINK_PREFILL), THINK_PREFILL

    def start(self, system: str, user: str, settings: GenerationSettings) -> TransformersSession:
        """A new rollout; the prompt and prefill are tokenized here (mask 0)."""
        if not isinstance(settings, GenerationSettings):
            raise RiverError(f"`settings` must be GenerationSettings, got {type(settings).__name__}")
        prompt, prefill = self.render_prompt(system, user)
        return TransformersSession(self, self.encode(prompt), prefill, settings)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` as it stands (the templates already hold the BOS token)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return str(
            self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)
        )

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model and tokenizer so :func:`load` (``path``) rebuilds this LLM."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


class TransformersSession:
    """A rollout on a :class:`TransformersLLM` (see :class:`~river_core.reasoning.llm.LLMSession`).

    ``token_ids``/``token_mask`` cover prompt + completion; ``completion_ids``/``completion_mask``
    start at the prefill (its tokens masked 0), ``prompt_ids`` is the rest. An end-of-sequence
    token the model sampled stays in the ids (mask 1) but not in the text.
    """

    def __init__(
        self, llm: TransformersLLM, prompt_ids: list[int], prefill: str, settings: GenerationSettings
    ) -> None:
        self.llm = llm
        self.settings = settings
        self.prompt_ids = prompt_ids
        self.prefill = prefill
        self.segments: list[Segment] = [Segment("prefill", prefill)] if prefill else []
        self.completion_ids: list[int] = llm.encode(prefill) if prefill else []
        self.completion_mask: list[int] = [0] * len(self.completion_ids)
        self.finished = False  # the model ended its turn (end-of-sequence token)
        self._calls = 0

    @property
    def token_ids(self) -> list[int]:
        return self.prompt_ids + self.completion_ids

    @property
    def token_mask(self) -> list[int]:
        return [0] * len(self.prompt_ids) + self.completion_mask

    @property
    def budget_left(self) -> int:
        """Model tokens this session may still write."""
        return max(0, self.settings.max_new_tokens - sum(self.completion_mask))

    def completion_text(self) -> str:
        return "".join(s.text for s in self.segments)

    def inject(self, text: str) -> None:
        if not isinstance(text, str):
            raise RiverError(f"`text` to inject must be a string, got {type(text).__name__}")
        ids = self.llm.encode(text)
        self.completion_ids += ids
        self.completion_mask += [0] * len(ids)
        self.segments.append(Segment("injected", text))
        self.finished = False  # the runtime handed the turn back

    def generate(self, *, stop: Sequence[str], max_new_tokens: int) -> str:
        # 1. Check the arguments and the budget
        stops = check_generate_args(stop, max_new_tokens)
        budget = min(max_new_tokens, self.budget_left)
        if budget == 0:
            return ""
        # 2. Sample from the full id sequence
        llm = self.llm
        context = self.token_ids
        inputs = torch.tensor([context], device=llm.model.device)  # [1, L]
        config = GenerationConfig(
            max_new_tokens=budget,
            do_sample=not self.settings.greedy,
            # explicit even when greedy: None would take the checkpoint's sampling defaults
            temperature=1.0 if self.settings.greedy else self.settings.temperature,
            top_p=1.0 if self.settings.greedy else self.settings.top_p,
            top_k=None if self.settings.greedy else 0,  # 0: no top-k cut (transformers' default is 50)
            eos_token_id=llm.eos_ids,
            pad_token_id=llm.pad_id,
        )
        criteria = StoppingCriteriaList([StopOnText(llm, stops, start=len(context))] if stops else [])
        with torch.inference_mode(), self._seeded():
            out = llm.model.generate(  # type: ignore[operator]  # transformers types generate loosely
                inputs,
                attention_mask=torch.ones_like(inputs),
                generation_config=config,
                stopping_criteria=criteria,
            )  # [1, L + new]
        self._calls += 1
        # 3. Cut at the end of sequence or the first stop string; record ids, mask and text
        new_ids, text = self.cut(out[0, len(context) :].tolist(), stops)
        self.completion_ids += new_ids
        self.completion_mask += [1] * len(new_ids)
        if text:
            self.segments.append(Segment("generated", text))
        return text

    def cut(self, new_ids: list[int], stops: Sequence[str]) -> tuple[list[int], str]:
        """(ids, text) of a generation ending at its first end-of-sequence token or stop string.

        A stop string ending inside a token (``">\\n"`` completing ``"</execute>"``) keeps the tokens
        before it plus the tokenization of the stop string's remaining characters.
        """
        llm = self.llm
        eos = next((k for k, i in enumerate(new_ids) if i in llm.eos_ids), None)
        self.finished = eos is not None
        if eos is not None:
            new_ids = new_ids[: eos + 1]
        text_ids = new_ids[:-1] if eos is not None else new_ids
        text = llm.decode(text_ids)
        end = find_stop(text, stops)
        if end is None:
            return new_ids, text
        self.finished = False
        text = text[:end]
        # the first k whose prefix reaches the stop string's end (usually the last token)
        k = len(text_ids)
        while k > 1 and len(llm.decode(text_ids[: k - 1])) >= end:
            k -= 1
        head = text_ids[: k - 1]
        if llm.decode(text_ids[:k]) == text:
            return text_ids[:k], text
        return head + llm.encode(text[len(llm.decode(head)) :]), text

    @contextlib.contextmanager
    def _seeded(self) -> Iterator[None]:
        """Sample from the session's seed without touching the global random state."""
        seed = self.settings.seed
        if seed is None or self.settings.greedy:
            yield
            return
        device = torch.device(self.llm.plan.device)
        # fork the CPU generator and the plan's device's (only the one CUDA device in use)
        if device.type == "cpu":
            forked = torch.random.fork_rng(devices=[])
        elif device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            forked = torch.random.fork_rng(devices=[index], device_type="cuda")
        else:
            forked = torch.random.fork_rng(device_type=device.type)
        with forked:
            torch.manual_seed(call_seed(seed, self._calls))
            yield


class StopOnText(StoppingCriteria):
    """Stops generation (batch of one) once a stop string appears in the text generated after
    position ``start``; only the last few tokens are decoded at each step."""

    def __init__(self, llm: TransformersLLM, stops: Sequence[str], *, start: int) -> None:
        self.llm = llm
        self.stops = tuple(stops)
        self.start = start
        # a stop string of n characters spans at most 4n byte-level tokens; +1 for an overhanging one
        self.window = 4 * max(len(s) for s in self.stops) + 1

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        tail = input_ids[0, max(self.start, input_ids.shape[1] - self.window) :].tolist()
        done = find_stop(self.llm.decode(tail), self.stops) is not None
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


# --- building and loading --------------------------------------------------------------------------


def load(
    model_id_or_dir: str = PAPER_MODEL_ID, revision: str | None = None, plan: DevicePlan | None = None
) -> TransformersLLM:
    """Load a causal LM and its tokenizer: a Hugging Face id from the local cache (downloaded only
    where the machine may) or a directory written by ``save_pretrained``; one-line
    :class:`~river_core.errors.ModelUnavailableError` when it cannot be had."""
    plan = plan or choose_device()
    spec = ModelSpec(model_id_or_dir, revision, license="MIT" if model_id_or_dir == PAPER_MODEL_ID else "")
    with loading(spec, what="reasoner LLM", files="config.json, weights and tokenizer files") as src:
        model = AutoModelForCausalLM.from_pretrained(src.model_id, dtype=plan.torch_dtype, **src.kwargs)
        tokenizer = AutoTokenizer.from_pretrained(src.model_id, **src.kwargs)
    place(model, plan)
    info = LLMInfo("transformers", model_id_or_dir, revision_of(model, spec))
    return TransformersLLM(model, tokenizer, info=info, plan=plan)


def tiny(seed: int = 0, plan: DevicePlan | None = None) -> TransformersLLM:
    """A random 2-layer Qwen2 (weights from ``seed``) with :func:`tiny_tokenizer`; it writes random
    bytes, which is what tests of the plumbing need."""
    plan = plan or choose_device()
    tokenizer = tiny_tokenizer()
    config = tiny_config(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    place(model, plan)
    return TransformersLLM(model, tokenizer, info=LLMInfo("transformers", TINY_MODEL_ID), plan=plan)


def tiny_tokenizer() -> PreTrainedTokenizerBase:
    """A byte-level Qwen2 tokenizer with R1's chat tokens as special tokens, the protocol's tags as
    ordinary added tokens (one id each, kept by ``skip_special_tokens`` decoding) and an R1-style
    chat template; ``<｜end▁of▁sentence｜>`` ends a turn, as in R1."""
    tokenizer = qwen_tokenizer(
        special_tokens=R1_SPECIAL_TOKENS,
        added_tokens=TAG_STRINGS,
        chat_template=TINY_R1_CHAT_TEMPLATE,
        eos_token=R1_EOS,
    )
    tokenizer.bos_token = R1_BOS
    return tokenizer


def tiny_config(tokenizer: PreTrainedTokenizerBase | None = None) -> Qwen2Config:
    """32 wide, 2 layers, 2 query heads / 1 KV head; vocabulary and ids from ``tokenizer``."""
    tokenizer = tokenizer or tiny_tokenizer()
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=65536,  # byte-level prompts run to ~15k tokens
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def paper_config() -> Qwen2Config:
    """The architecture of ``deepseek-ai/DeepSeek-R1-Distill-Qwen-7B`` (a Qwen2.5-Math-7B decoder):
    3,584 wide, 28 layers, 28 query / 4 KV heads, MLP 18,944, vocabulary 152,064, 131,072
    positions, θ = 10⁴, untied embeddings. BOS/EOS are its tokenizer's ``<｜begin▁of▁sentence｜>``
    (151646) and ``<｜end▁of▁sentence｜>`` (151643), as in its generation_config.json."""
    return Qwen2Config(
        vocab_size=152064,
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        hidden_act="silu",
        max_position_embeddings=131072,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        use_sliding_window=False,
        sliding_window=4096,
        max_window_layers=28,
        bos_token_id=151646,
        eos_token_id=151643,
    )
