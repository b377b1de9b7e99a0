"""The replay backend: an LLM that "generates" a saved rollout, for tests, demos and debugging.

The saved text is either a plain rollout (``.txt``), a trace written by ``river reason --trace``, or a
plan (its ``trace.rollout``). Only what the model wrote is replayed: saved ``<results>`` blocks are
dropped, because the runtime runs each ``<execute>`` block again against the twin it is given and
injects fresh results, exactly as with a live model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from river_core.errors import RiverError
from river_core.reasoning.llm import GenerationSettings, LLMInfo
from river_core.reasoning.protocol import THINK_PREFILL, Segment

if TYPE_CHECKING:
    from river_core.reasoning.plan import TwinRef

_SAVED_RESULTS = re.compile(r"\s*<results>.*?</results>\s*", re.DOTALL)
_FIRST_TAG = re.compile(r"</?(think|execute|results|edit)>")


def read_rollout(path: Path) -> str:
    """The rollout text saved at ``path`` (plain text, a trace or a plan JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RiverError(f"{path}: cannot read the rollout ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise RiverError(f"{path}: not UTF-8 text; a rollout is a text file or a trace JSON") from None
    if path.suffix.lower() != ".json":
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RiverError(f"{path}: not valid JSON ({exc}); save plain rollouts as .txt") from None
    if isinstance(data, dict):
        trace = data["trace"] if isinstance(data.get("trace"), dict) else data
        rollout = trace.get("rollout")
        attempts = trace.get("attempts")
        if not rollout and isinstance(attempts, list) and attempts and isinstance(attempts[-1], dict):
            rollout = attempts[-1].get("rollout")  # a failed run's trace: its last sample
        if isinstance(rollout, str) and rollout:
            return rollout
    raise RiverError(
        f'{path}: no "rollout" text in this JSON; pass a trace from river reason --trace or a .txt'
    )


def replayed_twin(path: Path) -> TwinRef | None:
    """The twin a saved rollout was made on, where the file says (a plan, or a trace ``river reason
    --trace`` wrote); None for plain text or a file that does not say."""
    from pydantic import ValidationError

    from river_core.reasoning.plan import TwinRef

    if path.suffix.lower() != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # read_rollout says what is wrong with it
    ref = data.get("twin") if isinstance(data, dict) else None
    try:
        return TwinRef.model_validate(ref) if isinstance(ref, dict) else None
    except ValidationError:
        return None


class ReplaySession:
    """Hands out the saved model text chunk by chunk, pausing at the stop strings like a live model."""

    def __init__(self, generated: str, prefill: str) -> None:
        self.prefill = prefill
        self.segments: list[Segment] = [Segment("prefill", prefill)] if prefill else []
        self._rest = generated

    def generate(self, *, stop: Sequence[str], max_new_tokens: int) -> str:
        hits = [(self._rest.find(s), s) for s in stop if s in self._rest]
        if hits:
            at, word = min(hits)
            chunk, self._rest = self._rest[: at + len(word)], self._rest[at + len(word) :]
        else:
            chunk, self._rest = self._rest, ""
        if chunk:
            self.segments.append(Segment("generated", chunk))
        return chunk

    def inject(self, text: str) -> None:
        self.segments.append(Segment("injected", text))

    def completion_text(self) -> str:
        return "".join(s.text for s in self.segments)


class ReplayLLM:
    """A :class:`~river_core.reasoning.llm.ReasonerLLM` that replays one saved rollout."""

    def __init__(self, rollout: str, *, name: str = "replay") -> None:
        if not rollout.strip():
            raise RiverError(f"{name}: the rollout is empty")
        generated = _SAVED_RESULTS.sub("\n", rollout)
        first = _FIRST_TAG.search(generated)
        # A completion saved without its opening <think> was pre-filled by the chat template.
        prefilled = (
            first is not None
            and first.group(0) == "</think>"
            and not generated.lstrip().startswith("<think>")
        )
        self._prefill = THINK_PREFILL if prefilled else ""
        self._generated = generated
        self.info = LLMInfo(kind="replay", model=name)

    @classmethod
    def from_file(cls, path: Path | str) -> ReplayLLM:
        path = Path(path)
        return cls(read_rollout(path), name=str(path))

    def start(self, system: str, user: str, settings: GenerationSettings) -> ReplaySession:
        return ReplaySession(self._generated, self._prefill)
