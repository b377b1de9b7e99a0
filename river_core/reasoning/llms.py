"""Which reasoner LLM a ``--llm`` spec names: a literal table, one row per form.

=====================  =====================================================================
``paper``              DeepSeek-R1-Distill-Qwen-7B through transformers (the paper's reasoner)
``tiny``               the same class at tiny size with random weights, built in code (offline)
``transformers:ID``    another causal-LM checkpoint: a hub id or a local folder (a trained one)
``replay:FILE``        a recorded rollout (.txt, or a ``river reason --trace`` JSON)
``openai:URL``         a server with the OpenAI completions endpoint (vLLM, llama.cpp, Ollama)
=====================  =====================================================================

>>> sorted(LLM_SPECS)
['openai', 'paper', 'replay', 'tiny', 'transformers']
>>> llm_help().split(";")[0]
'paper: DeepSeek-R1-Distill-Qwen-7B via transformers'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from river_core.errors import RiverError
from river_core.reasoning.llm import PAPER_MODEL_ID, split_model_fragment

if TYPE_CHECKING:
    from river_core.reasoning.llm import ReasonerLLM


@dataclass(frozen=True)
class LLMSpecForm:
    """One form of ``--llm``: what its argument is (None: takes none), what it runs, how it loads."""

    argument: str | None
    help: str
    load: Callable[[str | None, str | None, str | None], ReasonerLLM]  # (argument, device, dtype)


def _transformers(arg: str | None, device: str | None, dtype: str | None) -> ReasonerLLM:
    from river_core.devices import choose_device
    from river_core.reasoning import llm_transformers

    return llm_transformers.load(arg or PAPER_MODEL_ID, plan=choose_device(device, dtype))


def _tiny(arg: str | None, device: str | None, dtype: str | None) -> ReasonerLLM:
    from river_core.devices import choose_device
    from river_core.reasoning import llm_transformers

    return llm_transformers.tiny(plan=choose_device(device, dtype))


def _replay(arg: str | None, device: str | None, dtype: str | None) -> ReasonerLLM:
    from river_core.reasoning.replay import ReplayLLM

    assert arg is not None
    return ReplayLLM.from_file(Path(arg))


def _openai(arg: str | None, device: str | None, dtype: str | None) -> ReasonerLLM:
    from river_core.reasoning.llm import OpenAICompatibleLLM

    assert arg is not None
    return OpenAICompatibleLLM(arg)


LLM_SPECS: Final[dict[str, LLMSpecForm]] = {
    "paper": LLMSpecForm(None, "DeepSeek-R1-Distill-Qwen-7B via transformers", _transformers),
    "tiny": LLMSpecForm(None, "the same class, random tiny weights, offline", _tiny),
    "transformers": LLMSpecForm(
        "ID_OR_DIR", "another causal-LM checkpoint (e.g. a trained one)", _transformers
    ),
    "replay": LLMSpecForm("FILE", "a saved rollout (.txt or a --trace JSON)", _replay),
    "openai": LLMSpecForm(
        "URL",
        "an OpenAI-compatible server (vLLM, Ollama, llama.cpp), e.g. openai:http://127.0.0.1:8000",
        _openai,
    ),
}


SPEC_FORMS: Final = ", ".join(f"{k}:{f.argument}" if f.argument else k for k, f in LLM_SPECS.items())


def parse_llm_spec(spec: str) -> tuple[str, str | None]:
    """Split a ``--llm`` value into (form, argument), checking it against :data:`LLM_SPECS`.

    ``openai:URL#model=NAME`` picks the served model (else the first one the server lists).

    >>> parse_llm_spec("paper"), parse_llm_spec("replay:runs/a.jsonl")
    (('paper', None), ('replay', 'runs/a.jsonl'))
    >>> parse_llm_spec("openai:http://127.0.0.1:8000#model=r1")
    ('openai', 'http://127.0.0.1:8000#model=r1')
    """
    if not isinstance(spec, str):
        raise RiverError(f"--llm must be a string, got {spec!r}; accepted forms: {SPEC_FORMS}")
    text = spec.strip()
    if text in LLM_SPECS and LLM_SPECS[text].argument is None:
        return text, None
    kind, sep, arg = text.partition(":")
    if sep and kind in LLM_SPECS and LLM_SPECS[kind].argument is not None:
        if not arg:
            raise RiverError(
                f"--llm {spec!r} lacks its argument after {kind!r}; accepted forms: {SPEC_FORMS}"
            )
        if kind == "openai":
            split_model_fragment(arg)  # validates the URL
        return kind, arg
    raise RiverError(f"--llm {spec!r} is not understood; accepted forms: {SPEC_FORMS}")


def llm_help() -> str:
    """The ``--llm`` help text, from the table."""
    return "; ".join(
        f"{name}{':' + form.argument if form.argument else ''}: {form.help}"
        for name, form in LLM_SPECS.items()
    )


def load_llm(spec: str, *, device: str | None = None, dtype: str | None = None) -> ReasonerLLM:
    """The backend a ``--llm`` spec names, loaded (``paper`` downloads nothing: the hub cache or a
    local folder must hold it)."""
    kind, arg = parse_llm_spec(spec)
    return LLM_SPECS[kind].load(arg, device, dtype)


def replayed(spec: str) -> bool:
    """Whether ``spec`` replays a recorded rollout (a stateful script: read anew for every job)."""
    return parse_llm_spec(spec)[0] == "replay"


def spec_inputs(spec: str) -> list[Path]:
    """Files the spec reads (a replay file): a command must never write over them."""
    kind, arg = parse_llm_spec(spec)
    return [Path(arg)] if kind == "replay" and arg else []
