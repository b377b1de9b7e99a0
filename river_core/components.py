"""What a pipeline loads: the video editor, the reasoner LLM and the twin builder's stages.

Each is a :class:`Component`: loaded at most once, when a job first needs it, then kept, and
replaceable by a ready object (an editor or LLM of your own, a test double). Which checkpoint each
one loads comes from a profile (``paper``, ``tiny``) or a pipeline folder's ``river_pipeline.json``
(:func:`read_manifest`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

from river_core.errors import RiverError

if TYPE_CHECKING:
    from river_core.editing.render import Editor
    from river_core.reasoning.llm import ReasonerLLM

Profile = Literal["paper", "tiny"]
PROFILES: Final = ("paper", "tiny")
MANIFEST: Final = "river_pipeline.json"
T = TypeVar("T")


class ComponentError(RiverError, ValueError):
    """A pipeline's components cannot be set up as asked."""


class Component(Generic[T]):
    """One model of a pipeline: loaded at most once, when first needed, then kept (thread-safe).

    ``loads`` counts how often it was loaded (0 or 1 unless :meth:`close` freed it in between).
    """

    def __init__(self, name: str, load: Callable[[], T] | None = None, *, value: T | None = None) -> None:
        if load is None and value is None:
            raise ValueError(f"component {name}: give a loader or a value")
        self.name, self._load, self._value = name, load, value
        self.loads = 0
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                assert self._load is not None
                self._value = self._load()
                self.loads += 1
            return self._value

    def close(self) -> None:
        """Free the model (it loads again when next needed); a given value is kept."""
        with self._lock:
            if self._load is not None and self._value is not None:
                closer = getattr(self._value, "close", None)
                if callable(closer):
                    closer()
                self._value = None


def editor_component(
    base: Profile,
    editor: str | Path | Editor | None,
    *,
    revision: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    offload: str = "auto",
    seed: int = 0,
    say: Callable[[str], None] | None = None,
) -> Component[Editor]:
    """The Wan2.1-VACE editor of ``base``, or the checkpoint ``editor`` names (hub id or folder), or
    ``editor`` itself when it is an editor object."""
    if not (isinstance(editor, str | Path) or editor is None):
        return Component("editor", value=editor)
    model = None if editor is None else str(editor)

    def load() -> Editor:
        from river_core.editing.vace import load_editor

        if say:
            say(
                "loading the Wan2.1-VACE editor"
                + (" (tiny, random weights)" if base == "tiny" and not model else "")
            )
        # A tiny pipeline's own checkpoint folder loads like a paper checkpoint, in float32.
        checkpoint_dtype = dtype if model is None or base == "paper" else (dtype or "float32")
        return load_editor(
            base if model is None else "paper", model=model, revision=revision, device=device,
            dtype=checkpoint_dtype, offload=offload, seed=seed,
        )  # fmt: skip

    return Component("editor", load)


def reasoner_component(
    base: Profile,
    llm: str | ReasonerLLM | None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[Component[ReasonerLLM], str | None]:
    """The reasoner a ``--llm`` spec names (default: the profile's), or ``llm`` itself when it is a
    reasoner object; with the spec (None for an object). A bad spec fails here, not in a job."""
    if not (isinstance(llm, str) or llm is None):
        return Component("reasoner", value=llm), None
    from river_core.reasoning.llms import parse_llm_spec

    spec = llm or base
    parse_llm_spec(spec)

    def load() -> ReasonerLLM:
        from river_core.reasoning.llms import load_llm

        if say:
            say(f"loading the reasoner LLM ({spec})")
        return load_llm(spec, device=device, dtype=dtype)

    return Component("reasoner", load), spec


def read_manifest(folder: Path) -> dict[str, Any]:
    """A pipeline folder's ``river_pipeline.json``::

        {"profile": "paper",                      # paper | tiny: settings, sizes, other defaults
         "editor": "editor",                      # a VACE checkpoint: hub id, or a folder (relative ok)
         "reasoner": "transformers:reasoner",     # a --llm spec (a relative folder/file is resolved)
         "twin": {"depth": "depth-checkpoint"}}   # twin roles → checkpoints

    Every key but ``profile`` is optional (the profile's own component then).
    """
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ComponentError(f"{path}: cannot read the pipeline manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("profile") not in PROFILES:
        raise ComponentError(f'{path}: needs "profile": one of {", ".join(PROFILES)}')

    def local(value: str) -> str:
        return str(folder / value) if (folder / value).exists() else value

    out: dict[str, Any] = {"profile": data["profile"]}
    if isinstance(data.get("editor"), str):
        out["editor"] = local(data["editor"])
    if isinstance(data.get("reasoner"), str):
        kind, sep, arg = data["reasoner"].partition(":")
        out["reasoner"] = (
            f"{kind}:{local(arg)}" if sep and kind in ("transformers", "replay") else data["reasoner"]
        )
    if isinstance(data.get("twin"), dict):
        out["twin"] = {str(role): local(str(v)) for role, v in data["twin"].items()}
    return out


def profile_of(profile_or_dir: str | Path) -> tuple[Profile, dict[str, Any]]:
    """The profile a ``from_pretrained`` argument names, with its folder's manifest (``{}`` for a profile)."""
    if isinstance(profile_or_dir, str) and profile_or_dir in PROFILES:
        return profile_or_dir, {}  # type: ignore[return-value]
    folder = Path(profile_or_dir)
    if folder.is_dir():
        manifest = read_manifest(folder)
        return manifest["profile"], manifest
    raise ComponentError(
        f"{profile_or_dir!s}: not a profile ({', '.join(PROFILES)}) nor a folder with a {MANIFEST}"
    )
