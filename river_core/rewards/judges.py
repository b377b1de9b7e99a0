"""Which R_perf judge a ``--judge`` spec names: a literal table, one row per form (the style of
``--llm``, :mod:`river_core.reasoning.llms`).

=========================  ==================================================================
``tiny``                   Qwen2.5-VL at tiny size with random weights, built in code (offline)
``qwen2.5-vl:ID_OR_DIR``   a Qwen2.5-VL checkpoint in this process: a hub id or a local folder
``openai:URL#model=NAME``  an OpenAI-compatible chat-completions server with vision (vLLM, Ollama)
=========================  ==================================================================

A trainer's config takes the same strings (``judge: "openai:http://127.0.0.1:8000/v1#model=..."``).

>>> sorted(JUDGE_SPECS)
['openai', 'qwen2.5-vl', 'tiny']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from river_core.errors import RiverError
from river_core.rewards.judge import JUDGE_MODEL_ID, CachedJudge, Judge, OpenAIJudge

if TYPE_CHECKING:
    from river_core.rewards.judge_qwen import QwenVLJudge


@dataclass(frozen=True)
class JudgeSpecForm:
    """One form of ``--judge``: what its argument is (None: takes none), what it runs, how it loads."""

    argument: str | None
    help: str
    load: Callable[[str | None, str | None, str | None], Judge]  # (argument, device, dtype)


def _tiny(arg: str | None, device: str | None, dtype: str | None) -> QwenVLJudge:
    from river_core.rewards.judge_qwen import QwenVLJudge

    return QwenVLJudge.tiny(device=device, dtype=dtype)


def _qwen(arg: str | None, device: str | None, dtype: str | None) -> QwenVLJudge:
    from river_core.rewards.judge_qwen import QwenVLJudge

    return QwenVLJudge.from_pretrained(arg or JUDGE_MODEL_ID, device=device, dtype=dtype)


def _openai(arg: str | None, device: str | None, dtype: str | None) -> OpenAIJudge:
    assert arg is not None
    return OpenAIJudge(arg)


JUDGE_SPECS: Final[dict[str, JudgeSpecForm]] = {
    "tiny": JudgeSpecForm(
        None, "Qwen2.5-VL at tiny size, random weights, offline (verdicts are noise)", _tiny
    ),
    "qwen2.5-vl": JudgeSpecForm(
        "ID_OR_DIR", f"a Qwen2.5-VL checkpoint in this process, e.g. qwen2.5-vl:{JUDGE_MODEL_ID}", _qwen
    ),
    "openai": JudgeSpecForm(
        "URL#model=NAME",
        f"an OpenAI-compatible chat server with vision (vLLM, Ollama), e.g. "
        f"openai:http://127.0.0.1:8000/v1#model={JUDGE_MODEL_ID}",
        _openai,
    ),
}
JUDGE_SPEC_FORMS: Final = ", ".join(f"{k}:{f.argument}" if f.argument else k for k, f in JUDGE_SPECS.items())


def parse_judge_spec(spec: str) -> tuple[str, str | None]:
    """Split a ``--judge`` value into (form, argument), checking it against :data:`JUDGE_SPECS`.

    >>> parse_judge_spec("tiny"), parse_judge_spec("qwen2.5-vl:runs/judge")
    (('tiny', None), ('qwen2.5-vl', 'runs/judge'))
    >>> parse_judge_spec("openai:http://127.0.0.1:8000/v1#model=qwen2.5vl:7b")
    ('openai', 'http://127.0.0.1:8000/v1#model=qwen2.5vl:7b')
    """
    if not isinstance(spec, str):
        raise RiverError(f"--judge must be a string, got {spec!r}; accepted forms: {JUDGE_SPEC_FORMS}")
    text = spec.strip()
    if text in JUDGE_SPECS and JUDGE_SPECS[text].argument is None:
        return text, None
    kind, sep, arg = text.partition(":")
    if sep and kind in JUDGE_SPECS and JUDGE_SPECS[kind].argument is not None:
        if not arg:
            raise RiverError(f"--judge {spec!r} lacks its argument after {kind!r}; forms: {JUDGE_SPEC_FORMS}")
        if kind == "openai":
            OpenAIJudge(arg)  # validates the URL and the model name; connects to nothing
        return kind, arg
    raise RiverError(f"--judge {spec!r} is not understood; accepted forms: {JUDGE_SPEC_FORMS}")


def judge_help() -> str:
    """The ``--judge`` help text, from the table."""
    return "; ".join(
        f"{name}{':' + form.argument if form.argument else ''}: {form.help}"
        for name, form in JUDGE_SPECS.items()
    )


def load_judge(
    spec: str, *, device: str | None = None, dtype: str | None = None, cache_dir: str | Path | None = None
) -> Judge:
    """The judge a ``--judge`` spec names, loaded, in a :class:`CachedJudge` when ``cache_dir`` is
    given. A checkpoint loads as the twin's do: a folder or the hub cache without network, otherwise
    a download where the hub can be reached, else one clear error."""
    kind, arg = parse_judge_spec(spec)
    judge = JUDGE_SPECS[kind].load(arg, device, dtype)
    return CachedJudge(judge, cache_dir) if cache_dir is not None else judge
