"""A fake DaVinci Resolve (tests/host_plugins/resolve/fake_resolve, faithful to Blackmagic's README and
to Resolve's known failure modes) found exactly as the plugin finds the real one: RESOLVE_SCRIPT_API."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bridge.conftest import make_server, media_root, runtime_dir

FAKE = Path(__file__).resolve().parent / "fake_resolve"
MODULES = FAKE / "Modules"

__all__ = ["make_server", "media_root", "runtime_dir", "fake_world", "resolve_env"]


@pytest.fixture
def resolve_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """RESOLVE_SCRIPT_API pointing at the fake; yields the fake_world module (its builder API)."""
    monkeypatch.setenv("RESOLVE_SCRIPT_API", str(FAKE))
    monkeypatch.setenv("RESOLVE_SCRIPT_LIB", str(MODULES / "DaVinciResolveScript.py"))
    monkeypatch.delenv("FAKE_RESOLVE_STATE", raising=False)
    for name in ("DaVinciResolveScript", "fake_world"):
        sys.modules.pop(name, None)
    monkeypatch.syspath_prepend(str(MODULES))
    world_module = importlib.import_module("fake_world")
    yield world_module
    if hasattr(world_module, "install"):
        world_module.install(None)
    for name in ("DaVinciResolveScript", "fake_world"):
        sys.modules.pop(name, None)


@pytest.fixture
def fake_world(resolve_env: Any) -> Any:
    return resolve_env
