"""The performance reward R_perf (paper §3.2): an MLLM judge of the rendered edit.

The judge sees a few sampled frames of the original clip and of the edited clip, and the query, and
says whether the edit carries out the query while leaving everything else as it was: +1 or −1.
Every judge is a :class:`Judge` (one method, :meth:`Judge.judge`, returning a :class:`Verdict`):

- :class:`~river_core.rewards.judge_qwen.QwenVLJudge`: Qwen2.5-VL in this process (``tiny`` in tests).
- :class:`OpenAIJudge`: an OpenAI-compatible chat-completions server with vision (vLLM, Ollama).
- :class:`CachedJudge`: wraps either, keyed by content, so a re-run asks no model twice.

Which judge a ``--judge`` spec names is the literal table of :mod:`river_core.rewards.judges`;
:func:`r_perf` turns a verdict into the reward. A judge never raises on what a model or server
answers: an unusable reply, a refused connection, an HTTP error or a timeout is an *abstention*
(score None, the reason in the verdict, one warning on the ``river_core.rewards.judge`` logger)
and R_perf is 0 for it. Bad arguments (no frames, an empty query) are the caller's bug and raise.

The prompt (:data:`JUDGE_PROMPT_VERSION` ``"river-judge/1"``) is one user turn, images inline::

    A video was edited to carry out this request: "<query, whitespace collapsed>"
    Original video, <n> frames in time order: <image> … <image>
    Edited video, <m> frames in time order: <image> … <image>
    Does the edited video carry out the request, with everything the request does not concern left
    as it is in the original? Answer with one word: yes or no.

Replies are read by :func:`parse_verdict` (its docstring holds the rule). Bump the version when the
prompt or the rule changes: it is part of every cache key.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import logging
import os
import re
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from river_core.atomic import write_bytes_atomic
from river_core.errors import RiverError
from river_core.reasoning.llm import one_line, server_message, split_model_fragment

LOG = logging.getLogger(__name__)

JUDGE_PROMPT_VERSION: Final = "river-judge/1"
# The MLLM we suggest: the paper does not name its training judge (its evaluation used GPT-5).
JUDGE_MODEL_ID: Final = "Qwen/Qwen2.5-VL-7B-Instruct"
MAX_FRAMES: Final = 16  # per side: 2 × 16 frames at ≤ 256 visual tokens each is already 8k tokens
MAX_ANSWER_CHARS: Final = 2000  # after the last </think>: longer is no one-word answer
API_KEY_VARS: Final = ("RIVER_JUDGE_API_KEY", "OPENAI_API_KEY")

INTRO = 'A video was edited to carry out this request: "{query}"\nOriginal video, {n} frames in time order:'
EDITED = "\nEdited video, {m} frames in time order:"
QUESTION = (
    "\nDoes the edited video carry out the request, with everything the request does not concern left "
    "as it is in the original? Answer with one word: yes or no."
)


@dataclass(frozen=True)
class Verdict:
    """What a judge said: ``score`` +1 (the edit carries out the query), −1 (it does not) or None
    (abstention); the ``raw`` reply ("" when none came); the ``reason`` for the score in words;
    ``cached`` when it came from a :class:`CachedJudge` without asking the model."""

    score: int | None
    raw: str
    reason: str
    cached: bool = False

    @property
    def abstained(self) -> bool:
        return self.score is None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data for training logs."""
        return {"score": self.score, "raw": self.raw, "reason": self.reason, "cached": self.cached}


@runtime_checkable
class Judge(Protocol):
    """An MLLM judge of one edit. ``identity`` names the model and every setting that changes its
    replies (a cache key part); ``judge`` never raises on a model's or server's answer."""

    @property
    def identity(self) -> str: ...

    def judge(self, query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]) -> Verdict:
        """Whether ``edited`` (sampled frames of the edited clip) carries out ``query`` on
        ``original`` (the same moments of the source clip), leaving the rest unchanged."""
        ...


# --- the reward ---------------------------------------------------------------------------------


def r_perf(verdict: Verdict) -> float:
    """The paper's R_perf: +1 when the judge says the edit carries out the query, −1 when it says it
    does not, 0 for an abstention (the judge logged why; ``verdict.reason`` says it again).

    >>> r_perf(Verdict(1, "Yes.", "answered yes")), r_perf(Verdict(-1, "No", "answered no"))
    (1.0, -1.0)
    >>> r_perf(Verdict(None, "yes and no", "the reply says both yes and no"))
    0.0
    """
    return 0.0 if verdict.score is None else float(verdict.score)


# --- the prompt ---------------------------------------------------------------------------------


def check_judge_inputs(
    query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]
) -> tuple[str, list[Image.Image], list[Image.Image]]:
    """Validate a judge call; the query with its whitespace collapsed (a query cannot forge lines
    of the prompt) and the frames as RGB images, as the judge will see them."""
    if not isinstance(query, str) or not query.split():
        raise RiverError(f"`query` must be a non-empty string, got {query!r}")
    frames = []
    for name, seq in (("original", original), ("edited", edited)):
        if isinstance(seq, Image.Image) or not isinstance(seq, Sequence) or not 1 <= len(seq) <= MAX_FRAMES:
            raise RiverError(
                f"`{name}` must be a sequence of 1 to {MAX_FRAMES} PIL images (sampled frames), got "
                f"{type(seq).__name__}{f' of {len(seq)}' if isinstance(seq, Sequence) else ''}"
            )
        for i, frame in enumerate(seq):
            if not isinstance(frame, Image.Image) or min(frame.size) < 1:
                raise RiverError(f"`{name}[{i}]` must be a non-empty PIL image, got {frame!r}")
        frames.append([f if f.mode == "RGB" else f.convert("RGB") for f in seq])
    return " ".join(query.split()), frames[0], frames[1]


def judge_prompt(query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]) -> list[Any]:
    """The user turn as texts and images in order (see the module); inputs as
    :func:`check_judge_inputs` returns them."""
    return [
        INTRO.format(query=query, n=len(original)),
        *original,
        EDITED.format(m=len(edited)),
        *edited,
        QUESTION,
    ]


# --- parsing ------------------------------------------------------------------------------------

_THINK_OPEN = re.compile(r"<think\s*>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think\s*>", re.IGNORECASE)
_MINUS = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-"))  # hyphens, en dash, minus
_MARKUP = str.maketrans(dict.fromkeys("*_`~", ""))
_LABEL = re.compile(
    r"^[ \t>#•-]*(?:final\s+)?(?:answer|verdict|judg(?:e)?ment|decision|score|result)\s*:", re.MULTILINE
)
_EDGE = " \t\n\r.,;:!?'\"()[]{}<>"
_PLUS_ONE = re.compile(r"\+?1(?:\.0+)?")
_MINUS_ONE = re.compile(r"-1(?:\.0+)?")
# A whole word: no letter, digit, apostrophe or hyphenated word on either side ("no-one" is not "no").
_YES = re.compile(r"(?<![\w'])(?<!\w-)yes(?![\w']|-\w)")
_NO = re.compile(r"(?<![\w'])(?<!\w-)no(?![\w']|-\w)")
# Letters of other scripts that imitate those of "yes"/"no" (after case folding): never an answer.
_LOOKALIKES = str.maketrans(
    {
        "\u0435": "e", "\u0455": "s", "\u0443": "y", "\u043e": "o", "\u03bf": "o", "\u03b5": "e",
        "\u03c5": "y", "\u03bd": "n", "\u0585": "o", "\u028f": "y", "\u0274": "n", "\u1d0f": "o",
        "\ua731": "s", "\u1d07": "e", "\u0578": "n", "\u04af": "y",
    }
)  # fmt: skip


def parse_verdict(text: object) -> int | None:
    """+1, −1, or None (abstain) for a judge's reply. The rule, in order:

    1. Anything but a non-empty string abstains.
    2. Reasoning is skipped: only the text after the last ``</think>`` counts (R1-style models;
       the opening tag may be missing, as when a template pre-fills it). A ``<think>`` never
       closed is unfinished reasoning: abstain. The rest must be at most
       :data:`MAX_ANSWER_CHARS` characters: a longer reply is no one-word answer.
    3. Normalisation: NFKC (full-width and styled letters become ASCII), format characters
       (zero-width spaces, soft hyphens) removed, the Unicode minus, hyphens and the en dash read
       as "-", case folded, Markdown emphasis (``* _ ` ~``) removed.
    4. If a line *starts* with an answer label (``Answer:``, ``Final answer:``, ``Verdict:``,
       ``Judgement:``, ``Decision:``, ``Score:``, ``Result:``), only the last such label counts,
       with the rest of its line (or the next non-empty line when the label ends its line). A
       label in mid-line (quoted from the footage, say) is no label.
    5. That text, stripped of punctuation and brackets at its ends, is read as a number when it
       is only one: ``1``/``+1`` → +1, ``-1`` → −1.
    6. Otherwise its whole words ``yes`` and ``no`` decide: only "yes" → +1, only "no" → −1,
       both ("yes and no", an injected "answer yes" beside a final "no") or neither ("I cannot
       judge") → abstain. "no-one", "nothing", "not", "yesterday" are not the words.
    7. A word that reads "yes"/"no" only once letters of other scripts are replaced by their
       Latin look-alikes (Cyrillic "уеѕ") makes the reply ambiguous: abstain.

    >>> [parse_verdict(t) for t in ["Yes.", "**NO**", "-1", "Answer: no", "yes and no", "Maybe"]]
    [1, -1, -1, -1, None, None]
    >>> parse_verdict("<think>The sign says: answer yes.</think>\\nNo, the dog is still brown.")
    -1
    """
    return read_verdict(text)[0]


def read_verdict(text: object) -> tuple[int | None, str]:
    """:func:`parse_verdict` with the reason in words (for the :class:`Verdict`)."""
    if not isinstance(text, str) or not text.strip():
        return None, "empty reply"
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    elif _THINK_OPEN.search(text):
        return None, "unfinished reasoning: <think> without </think>"
    if len(text) > MAX_ANSWER_CHARS:
        return None, f"reply too long for a one-word answer ({len(text)} characters after reasoning)"
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    text = text.translate(_MINUS).casefold().translate(_MARKUP)
    labels = list(_LABEL.finditer(text))
    if labels:
        lines = [line for line in text[labels[-1].end() :].splitlines() if line.strip()]
        text = lines[0] if lines else ""
    answer = text.strip(_EDGE)
    if _PLUS_ONE.fullmatch(answer):
        return 1, "answered +1"
    if _MINUS_ONE.fullmatch(answer):
        return -1, "answered -1"
    yes, no = len(_YES.findall(answer)), len(_NO.findall(answer))
    folded = answer.translate(_LOOKALIKES)
    if (len(_YES.findall(folded)), len(_NO.findall(folded))) != (yes, no):
        return None, "letters of another script imitate yes/no"
    if yes and not no:
        return 1, "answered yes"
    if no and not yes:
        return -1, "answered no"
    return None, "the reply says both yes and no" if yes else "the reply holds no yes/no answer"


def verdict_of(raw: str, identity: str) -> Verdict:
    """The verdict for a model's raw reply (a parse abstention is logged)."""
    score, reason = read_verdict(raw)
    if score is None:
        return abstain(identity, reason, raw)
    return Verdict(score, raw, reason)


def abstain(identity: str, reason: str, raw: str = "") -> Verdict:
    """An abstention, logged once as a warning."""
    LOG.warning("judge %s abstained: %s (reply %r)", identity, reason, raw[:200])
    return Verdict(None, raw, reason)


# --- an OpenAI-compatible server ----------------------------------------------------------------


class OpenAIJudge:
    """A judge served by an OpenAI-compatible chat-completions endpoint with image input (vLLM,
    Ollama, llama.cpp with a vision projector). Frames go as PNG data URLs (lossless: a subtle
    edit must not drown in compression). Greedy (temperature 0), ``max_tokens`` per reply: raise it
    for a model that reasons before answering (the parser reads what follows ``</think>``).

    ``base_url`` may end with ``/v1`` and carry ``#model=NAME``; the model must be named (here or
    there): it is part of every cache key. The API key comes from ``api_key`` or
    ``RIVER_JUDGE_API_KEY`` / ``OPENAI_API_KEY``. ``timeout_s`` bounds each socket operation.

    >>> judge = OpenAIJudge("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-VL-7B-Instruct")
    >>> judge.identity
    'openai:http://127.0.0.1:8000#model=Qwen/Qwen2.5-VL-7B-Instruct|max_tokens=16|png'
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_tokens: int = 16,
    ) -> None:
        self.base_url, fragment_model = split_model_fragment(base_url)
        if model is not None and fragment_model is not None and model != fragment_model:
            raise RiverError(f"`model` {model!r} contradicts the URL's #model={fragment_model}; give one")
        self.model = model or fragment_model
        if not isinstance(self.model, str) or not self.model.strip():
            raise RiverError(
                f"name the judge's model for {base_url!r}: OpenAIJudge(url, model=NAME) or --judge "
                "openai:URL#model=NAME (the name is part of every cache key)"
            )
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise RiverError(f"`timeout_s` must be a number of seconds > 0, got {timeout_s!r}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise RiverError(f"`max_tokens` must be an integer ≥ 1, got {max_tokens!r}")
        self.timeout_s = float(timeout_s)
        self.max_tokens = max_tokens
        self._api_key = api_key or next((os.environ[v] for v in API_KEY_VARS if os.environ.get(v)), None)

    @property
    def identity(self) -> str:
        return f"openai:{self.base_url}#model={self.model}|max_tokens={self.max_tokens}|png"

    def judge(self, query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]) -> Verdict:
        query, original, edited = check_judge_inputs(query, original, edited)
        content = [
            {"type": "text", "text": part}
            if isinstance(part, str)
            else {"type": "image_url", "image_url": {"url": png_data_url(part)}}
            for part in judge_prompt(query, original, edited)
        ]
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "n": 1,
            "stream": False,
        }
        answer, failure = self.post("/v1/chat/completions", body)
        if failure is not None:
            return abstain(self.identity, failure)
        raw, failure = reply_text(answer)
        if failure is not None:
            return abstain(self.identity, failure, raw)
        return verdict_of(raw, self.identity)

    def post(self, path: str, body: dict[str, Any]) -> tuple[Any, str | None]:
        """POST JSON; (the decoded answer, None) or (None, why it failed in one line)."""
        url = self.base_url + path
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            try:
                detail = server_message(exc.read()) or str(exc.reason)
            except (OSError, http.client.HTTPException):
                detail = str(exc.reason)
            return None, f"the judge server at {url} answered HTTP {exc.code}: {one_line(detail)[:300]}"
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                return None, f"the judge server at {url} did not answer within {self.timeout_s:g} s"
            return None, f"no judge server answers at {url} ({one_line(exc.reason)})"
        except TimeoutError:
            return None, f"the judge server at {url} did not answer within {self.timeout_s:g} s"
        except (OSError, http.client.HTTPException, ValueError) as exc:  # reset, truncated, bad status
            return None, f"the connection to the judge server at {url} failed ({type(exc).__name__}: {exc})"
        try:
            return json.loads(raw), None
        except (ValueError, UnicodeDecodeError):
            return None, f"the judge server at {url} answered with invalid JSON ({one_line(raw[:120])})"


def reply_text(answer: Any) -> tuple[str, str | None]:
    """The assistant's text of a chat-completions answer; ("", why) when there is none. Content may
    be a string or a list of text parts; a reasoning field (vLLM's ``reasoning_content``) is not
    the answer and is ignored."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        return "", f"the answer holds no chat message ({one_line(json.dumps(answer)[:120])})"
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    if not isinstance(content, str):
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        return "", f"the reply has no text content (finish_reason={finish!r}); raise max_tokens?"
    return content, None


def png_data_url(image: Image.Image) -> str:
    """``data:image/png;base64,…`` of ``image``."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- the cache ----------------------------------------------------------------------------------

CACHE_FORMAT: Final = 1


class CachedJudge:
    """``judge`` with its decisive verdicts stored in ``cache_dir``, one small JSON file per key.

    The key (:meth:`key`) is a SHA-256 over the judge's identity, :data:`JUDGE_PROMPT_VERSION`, the
    query as the judge sees it, and every frame's size and RGB pixels, in order and side by side:
    the same content gives a hit whatever object holds it; one changed pixel, query word, frame
    order or judge setting gives a miss. A hit returns the stored verdict with ``cached=True``
    without calling the model.

    Only +1/−1 are stored. Abstentions are not: a server that was down, or an unusable reply
    (which a fixed parser may read next time), is asked again. Files are written atomically
    (temporary sibling, then rename); a damaged or unreadable entry is a miss and is rewritten; a
    failed write is logged and the verdict returned anyway.
    """

    def __init__(self, judge: Judge, cache_dir: str | Path) -> None:
        self.inner = judge
        self.cache_dir = Path(cache_dir)

    @property
    def identity(self) -> str:
        return self.inner.identity

    def key(self, query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]) -> str:
        query, original, edited = check_judge_inputs(query, original, edited)
        document = {
            "cache": CACHE_FORMAT,
            "judge": self.inner.identity,
            "prompt": JUDGE_PROMPT_VERSION,
            "query": query,
            "original": [frame_digest(f) for f in original],
            "edited": [frame_digest(f) for f in edited],
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def judge(self, query: str, original: Sequence[Image.Image], edited: Sequence[Image.Image]) -> Verdict:
        key = self.key(query, original, edited)
        found = self.lookup(key)
        if found is not None:
            return found
        verdict = self.inner.judge(query, original, edited)
        if verdict.score is not None:
            self.store(key, verdict)
        return verdict

    def lookup(self, key: str) -> Verdict | None:
        """The stored verdict for ``key`` (``cached=True``), or None on a miss or a damaged entry."""
        path = self.path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            LOG.warning("judge cache entry %s is unreadable (%s); asking the judge again", path, exc)
            return None
        ok = (
            isinstance(data, dict)
            and data.get("key") == key
            and data.get("score") in (1, -1)
            and not isinstance(data.get("score"), bool)
            and isinstance(data.get("raw"), str)
            and isinstance(data.get("reason"), str)
        )
        if not ok:
            LOG.warning("judge cache entry %s is damaged; asking the judge again", path)
            return None
        return Verdict(data["score"], data["raw"], data["reason"], cached=True)

    def store(self, key: str, verdict: Verdict) -> None:
        document = {
            "format": CACHE_FORMAT,
            "key": key,
            "judge": self.inner.identity,
            "prompt": JUDGE_PROMPT_VERSION,
            **verdict.to_json(),
        }
        del document["cached"]
        try:
            write_bytes_atomic(self.path(key), json.dumps(document, indent=1).encode("utf-8"))
        except OSError as exc:  # OutputError included: a full disk must not stop training
            LOG.warning("could not store a judge verdict in %s: %s", self.cache_dir, exc)


def frame_digest(image: Image.Image) -> str:
    """SHA-256 of an image's size and RGB pixels (what a judge sees, whatever the file format)."""
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    digest = hashlib.sha256(f"{rgb.shape[1]}x{rgb.shape[0]}:RGB8:".encode())
    digest.update(np.ascontiguousarray(rgb).tobytes())
    return digest.hexdigest()
