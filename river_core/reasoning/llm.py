"""The reasoner's LLM behind one Protocol: a session that generates up to a stop string and takes
injected runtime text, so a rollout interleaves the model's ``<think>``/``<execute>``/``<edit>`` with
the runtime's ``<results>``.

Backends:

- :class:`~river_core.reasoning.llm_transformers.TransformersLLM` (``--llm paper``, ``tiny``,
  ``transformers:ID_OR_DIR``): the model in this process; keeps token ids and a model/runtime mask
  for training. Imports torch, so it lives in its own module.
- :class:`OpenAICompatibleLLM` (``--llm openai:URL``): a local server with the OpenAI *completions*
  endpoint (vLLM, llama.cpp's ``llama-server``, Ollama); stdlib HTTP only.
- a replay backend (``--llm replay:FILE``) in its own module.

Every backend renders the same DeepSeek-R1 prompt (:data:`R1_TEMPLATE`) and opens the assistant
turn with :data:`~river_core.reasoning.protocol.THINK_PREFILL`, so rollouts read the same whichever
backend wrote them. This module imports no torch. Which backend a ``--llm`` spec names is the
literal table of :mod:`river_core.reasoning.llms`.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from river_core.errors import ModelUnavailableError, RiverError
from river_core.reasoning.protocol import THINK_PREFILL, Segment

PAPER_MODEL_ID = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"

# DeepSeek-R1's chat tokens (special tokens of its tokenizer; the tiny tokenizer has them too).
R1_BOS = "<｜begin▁of▁sentence｜>"
R1_EOS = "<｜end▁of▁sentence｜>"
R1_USER = "<｜User｜>"
R1_ASSISTANT = "<｜Assistant｜>"
R1_SPECIAL_TOKENS = (R1_BOS, R1_EOS, R1_USER, R1_ASSISTANT)
# What R1-Distill's chat template renders for one system + user turn with the generation prompt.
R1_TEMPLATE = R1_BOS + "{system}" + R1_USER + "{user}" + R1_ASSISTANT + THINK_PREFILL

LLMKind = Literal["transformers", "openai", "replay"]
API_KEY_VARS = ("RIVER_LLM_API_KEY", "OPENAI_API_KEY")
MAX_SEED = 2**31  # seeds go to servers that take 32-bit seeds (llama.cpp)


@dataclass(frozen=True)
class LLMInfo:
    """Which LLM wrote a rollout: the backend kind, the model (hub id, directory, server model
    name, or ``tiny:…``) and its revision when known."""

    kind: LLMKind
    model: str
    revision: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: ``{"kind": ..., "model": ..., "revision": ...}``."""
        return {"kind": self.kind, "model": self.model, "revision": self.revision}


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling for one rollout. ``max_new_tokens`` caps the model-written tokens of the whole
    session (all ``generate`` calls together; injected text does not count). ``temperature`` 0 is
    greedy. ``seed`` makes sampling reproducible: two sessions with the same seed, prompt and
    injections write the same text (on the same backend and hardware)."""

    max_new_tokens: int = field(default=1024, metadata={"help": "model tokens per rollout, ≥ 1"})
    temperature: float = field(default=0.6, metadata={"help": "0 = greedy; R1 recommends 0.5–0.7"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling mass, in (0, 1]"})
    seed: int | None = field(default=None, metadata={"help": f"None or an integer in [0, {MAX_SEED})"})

    def __post_init__(self) -> None:
        if not _is_int(self.max_new_tokens) or self.max_new_tokens < 1:
            raise RiverError(
                f"`max_new_tokens` must be an integer ≥ 1, got {self.max_new_tokens!r}; "
                "the default is 1024 tokens per rollout"
            )
        temperature = self.temperature
        if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
            raise RiverError(
                f"`temperature` must be a finite number ≥ 0, got {temperature!r}; use 0 for greedy "
                "decoding or 0.6 as DeepSeek recommends for R1 models"
            )
        top_p = self.top_p
        if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
            raise RiverError(f"`top_p` must be in (0, 1], got {top_p!r}; use 1.0 to disable nucleus sampling")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed < MAX_SEED):
            raise RiverError(
                f"`seed` must be None or an integer in [0, {MAX_SEED}), got {self.seed!r}; "
                "pick a smaller non-negative integer"
            )

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


class LLMSession(Protocol):
    """One rollout in progress: the prompt is fixed at start, then generated and injected text
    alternate. ``segments`` holds the rollout without the prompt, in order, starting with the
    prefill segment when ``prefill`` is not empty."""

    prefill: str
    segments: list[Segment]

    def generate(self, *, stop: Sequence[str], max_new_tokens: int) -> str:
        """Continue the rollout; return the new text. If a ``stop`` string was produced, the text
        ends with it (included) and nothing after it; otherwise generation ended at the model's
        end of sequence or the token budget (this call's ``max_new_tokens``, capped by what is left
        of the session's :attr:`GenerationSettings.max_new_tokens`; "" when nothing is left)."""
        ...

    def inject(self, text: str) -> None:
        """Append runtime text (e.g. ``<results>…</results>``) to the context, recorded as an
        ``"injected"`` segment: the model reads it but never wrote it."""
        ...

    def completion_text(self) -> str:
        """The rollout so far: the prefill and every generated and injected segment, joined."""
        ...


class ReasonerLLM(Protocol):
    """A reasoner LLM: starts sessions from a system and a user message."""

    @property
    def info(self) -> LLMInfo:
        """What to record as the rollout's author (a plain attribute satisfies this too)."""
        ...

    def start(self, system: str, user: str, settings: GenerationSettings) -> LLMSession:
        """A new session whose prompt is the R1 chat rendering of ``system`` and ``user``."""
        ...


# --- shared helpers ------------------------------------------------------------------------------


def render_r1_prompt(system: str, user: str) -> str:
    """The DeepSeek-R1 prompt *without* the prefill (it ends with ``<｜Assistant｜>``).

    >>> render_r1_prompt("S", "U")
    '<｜begin▁of▁sentence｜>S<｜User｜>U<｜Assistant｜>'
    """
    return R1_TEMPLATE.format(system=system, user=user).removesuffix(THINK_PREFILL)


def check_generate_args(stop: Sequence[str], max_new_tokens: int) -> tuple[str, ...]:
    """Validate the arguments of :meth:`LLMSession.generate`; the stop strings as a tuple."""
    if isinstance(stop, str) or not all(isinstance(s, str) and s for s in stop):
        raise RiverError(
            f"`stop` must be a sequence of non-empty strings, got {stop!r}; e.g. stop=STOP_STRINGS "
            '(a bare string like "</execute>" must be wrapped: ["</execute>"])'
        )
    if not _is_int(max_new_tokens) or max_new_tokens < 1:
        raise RiverError(f"`max_new_tokens` must be an integer ≥ 1, got {max_new_tokens!r}")
    return tuple(stop)


def find_stop(text: str, stops: Sequence[str]) -> int | None:
    """Where ``text`` must be cut: the end of the stop string that is completed first, or None.

    >>> find_stop("a</execute>b</edit>", ["</edit>", "</execute>"])
    11
    """
    ends = [i + len(s) for s in stops if (i := text.find(s)) >= 0]
    return min(ends) if ends else None


def call_seed(seed: int, call: int) -> int:
    """The seed of a session's ``call``-th generate call (0-based): ``seed`` itself first, then
    values derived from it, so a resumed generation does not replay the first call's draws."""
    if call == 0:
        return seed
    return (seed * 0x9E3779B1 + call * 0x85EBCA77) % MAX_SEED


def split_model_fragment(url: str) -> tuple[str, str | None]:
    """``"http://h:8000/v1#model=r1"`` → (``"http://h:8000"``, ``"r1"``): the server root (no
    ``/v1``, no trailing slash) and the model named in the fragment, if any."""
    base, _, fragment = url.strip().partition("#")
    model: str | None = None
    if fragment:
        key, eq, model = fragment.partition("=")
        if key != "model" or not eq or not model:
            raise RiverError(f"the URL fragment {'#' + fragment!r} is not understood; write URL#model=NAME")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RiverError(
            f"{url!r} is not an http(s) URL; write e.g. openai:http://127.0.0.1:8000 (vLLM), "
            "openai:http://127.0.0.1:8080 (llama.cpp) or openai:http://127.0.0.1:11434 (Ollama)"
        )
    base = base.rstrip("/")
    base = base.removesuffix("/v1").rstrip("/")
    return base, model


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- OpenAI-compatible HTTP backend ----------------------------------------------------------------


class OpenAICompatibleLLM:
    """A reasoner served over HTTP by a server with the OpenAI *completions* endpoint.

    The prompt is rendered here (:func:`render_r1_prompt`, without the BOS token: servers add it
    themselves, as vLLM and llama.cpp do for R1 checkpoints) so the ``<think>`` prefill and
    resumption after injected results work as with the in-process backend: every ``generate``
    posts the prompt plus the rollout so far. ``base_url`` may end with ``/v1`` or carry
    ``#model=NAME``; ``model=None`` takes the first id of ``GET /v1/models``. The API key comes
    from ``api_key`` or ``RIVER_LLM_API_KEY`` / ``OPENAI_API_KEY`` and is sent as a bearer token.

    >>> llm = OpenAICompatibleLLM("http://127.0.0.1:8000/v1", model="r1")   # doctest: +SKIP
    >>> session = llm.start("", "Remove the dog.", GenerationSettings(seed=0))  # doctest: +SKIP
    """

    def __init__(
        self, base_url: str, *, model: str | None = None, api_key: str | None = None, timeout_s: float = 120
    ) -> None:
        self.base_url, fragment_model = split_model_fragment(base_url)
        if model is not None and fragment_model is not None and model != fragment_model:
            raise RiverError(f"`model` {model!r} contradicts the URL's #model={fragment_model}; give one")
        if not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise RiverError(f"`timeout_s` must be a number of seconds > 0, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self._model = model or fragment_model
        self._api_key = api_key or next((os.environ[v] for v in API_KEY_VARS if os.environ.get(v)), None)

    @property
    def model(self) -> str:
        """The served model's name (asked of the server on first use when not given)."""
        if self._model is None:
            self._model = self.discover_model()
        return self._model

    @property
    def info(self) -> LLMInfo:
        """``LLMInfo("openai", model)``; asks the server for the model when none was named."""
        return LLMInfo("openai", self.model)

    def discover_model(self) -> str:
        """The first model id the server lists at ``GET /v1/models``."""
        answer = self.request("GET", "/v1/models")
        data = answer.get("data") if isinstance(answer, dict) else None
        ids = [m.get("id") for m in data if isinstance(m, dict)] if isinstance(data, list) else []
        if not ids or not isinstance(ids[0], str) or not ids[0]:
            raise ModelUnavailableError(
                f"the LLM server at {self.base_url} lists no model at /v1/models; load one, or name it "
                "with --llm openai:URL#model=NAME"
            )
        return ids[0]

    def start(self, system: str, user: str, settings: GenerationSettings) -> OpenAISession:
        """A new session; nothing is sent until the first ``generate``."""
        return OpenAISession(self, render_r1_prompt(system, user).removeprefix(R1_BOS), settings)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON request to the server; every failure becomes a one-line RiverError."""
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(url, exc) from None
        except TimeoutError:  # socket.timeout is TimeoutError
            raise self._timeout(url) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._timeout(url) from None
            raise ModelUnavailableError(
                f"no LLM server answers at {self.base_url} ({one_line(exc.reason)}): start one (e.g. "
                f"`vllm serve {PAPER_MODEL_ID}`) or check --llm openai:URL"
            ) from None
        except OSError as exc:  # connection reset mid-answer and the like
            raise ModelUnavailableError(
                f"the connection to the LLM server at {self.base_url} failed ({one_line(exc)}); "
                "check that the server is up and retry"
            ) from None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise RiverError(
                f"the LLM server at {url} answered with invalid JSON ({one_line(raw[:120])}); "
                "is this an OpenAI-compatible server? check --llm openai:URL"
            ) from None

    def _timeout(self, url: str) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"the LLM server at {url} did not answer within {self.timeout_s:g} s; it may be overloaded "
            "or still loading the model: retry, or raise the timeout"
        )

    def _http_error(self, url: str, exc: urllib.error.HTTPError) -> RiverError:
        try:
            raw = exc.read()
        except OSError:
            raw = b""
        message = server_message(raw) or exc.reason or "no details"
        if exc.code in (401, 403):
            remedy = f"set the API key in {API_KEY_VARS[0]} (or {API_KEY_VARS[1]})"
        elif exc.code == 404:
            remedy = (
                "check the URL and the model name (--llm openai:URL#model=NAME); the server must offer "
                "the OpenAI /v1/completions endpoint"
            )
        elif exc.code >= 500:
            remedy = "see the server's log"
        else:
            remedy = "check the model name and the server's limits (context length, max_tokens)"
        cls = ModelUnavailableError if exc.code == 404 else RiverError
        return cls(f"the LLM server at {url} answered HTTP {exc.code}: {one_line(message)}; {remedy}")


class OpenAISession:
    """A rollout on an :class:`OpenAICompatibleLLM` (see :class:`LLMSession`)."""

    def __init__(self, llm: OpenAICompatibleLLM, prompt: str, settings: GenerationSettings) -> None:
        self.llm = llm
        self.prompt = prompt
        self.settings = settings
        self.prefill = THINK_PREFILL
        self.segments: list[Segment] = [Segment("prefill", THINK_PREFILL)]
        self.tokens_used = 0  # model tokens so far, as the server's usage reports them
        self.finished = False  # the model ended its turn (end of sequence, not a stop string)
        self._calls = 0

    @property
    def budget_left(self) -> int:
        """Model tokens this session may still write."""
        return max(0, self.settings.max_new_tokens - self.tokens_used)

    def completion_text(self) -> str:
        return "".join(s.text for s in self.segments)

    def inject(self, text: str) -> None:
        if not isinstance(text, str):
            raise RiverError(f"`text` to inject must be a string, got {type(text).__name__}")
        self.segments.append(Segment("injected", text))
        self.finished = False  # the runtime handed the turn back

    def generate(self, *, stop: Sequence[str], max_new_tokens: int) -> str:
        stops = check_generate_args(stop, max_new_tokens)
        budget = min(max_new_tokens, self.budget_left)
        if budget == 0:
            return ""
        body: dict[str, Any] = {
            "model": self.llm.model,
            "prompt": self.prompt + self.completion_text(),
            "max_tokens": budget,
            "temperature": self.settings.temperature,
            "top_p": self.settings.top_p,
            "n": 1,
            "stream": False,
        }
        if stops:
            body["stop"] = list(stops)
        if self.settings.seed is not None:
            body["seed"] = call_seed(self.settings.seed, self._calls)
        self._calls += 1
        answer = self.llm.request("POST", "/v1/completions", body)
        choice, text = _first_choice(answer, self.llm.base_url)
        text = self._with_stop(text, choice, stops)
        self.finished = choice.get("finish_reason") == "stop" and find_stop(text, stops) is None
        usage = answer.get("usage") if isinstance(answer, dict) else None
        used = usage.get("completion_tokens") if isinstance(usage, dict) else None
        # Without a usage report, count about 4 characters per token so the budget still ends.
        self.tokens_used += used if isinstance(used, int) and used >= 0 else max(1, len(text) // 4)
        if text:
            self.segments.append(Segment("generated", text))
        return text

    def _with_stop(self, text: str, choice: dict[str, Any], stops: tuple[str, ...]) -> str:
        """The new text ending with the stop string the server stopped at (servers leave it out).

        A server's own report wins: vLLM's ``stop_reason`` (the string, or None / a token id for
        end of sequence), llama.cpp's ``stopping_word`` ("" for end of sequence). Without one, a
        ``"stop"`` finish inside an open block whose closing tag was asked for (the last
        ``<execute>`` after the last ``</execute>``) is taken to be that tag.
        """
        cut = find_stop(text, stops)
        if cut is not None:  # the server kept the stop string (or ran past it): cut after it
            return text[:cut]
        if choice.get("finish_reason") != "stop":
            return text
        for key in ("stop_reason", "stopping_word"):
            if key in choice:
                reported = choice[key]
                return text + reported if isinstance(reported, str) and reported in stops else text
        rollout = self.completion_text() + text
        best: tuple[int, str] | None = None
        for closing in stops:
            if not (closing.startswith("</") and closing.endswith(">")):
                continue
            opening = "<" + closing[2:]
            opened = rollout.rfind(opening)
            if opened > rollout.rfind(closing) and (best is None or opened > best[0]):
                best = (opened, closing)
        return text + best[1] if best else text


def _first_choice(answer: Any, base_url: str) -> tuple[dict[str, Any], str]:
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RiverError(
            f"the LLM server at {base_url} answered without completion choices "
            f"({one_line(json.dumps(answer)[:120])}); is /v1/completions OpenAI-compatible there?"
        )
    text = choices[0].get("text")
    if not isinstance(text, str):
        raise RiverError(f"the LLM server at {base_url} answered a choice without text; check the server")
    return choices[0], text


def server_message(raw: bytes) -> str:
    """The error message of an error body: OpenAI/vLLM ``{"error": {"message"}}``, Ollama
    ``{"error": "..."}``, FastAPI ``{"detail": ...}``, llama.cpp, or the raw text."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace").strip()[:300]
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                return str(value)[:300]
    return str(body)[:300]


def one_line(value: object) -> str:
    """``value`` (text, or bytes read as UTF-8) on one line: every run of whitespace becomes a space."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())
