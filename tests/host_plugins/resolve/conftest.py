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
from tests.host_plugins.otio.test_timeline_jobs import scene_server  # noqa: F401  (a fixture)

FAKE = Path(__file__).resolve().parent / "fake_resolve"
MODULES = FAKE / "Modules"

__all__ = ["fake_world", "make_server", "media_root", "resolve_env", "runtime_dir"]


@pytest.fixture
def resolve_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """RESOLVE_SCRIPT_API pointing at the fake; yields the fake_world module (its builder API). The
    fake's modules are imported once per session (the fake's own tests hold them too)."""
    monkeypatch.setenv("RESOLVE_SCRIPT_API", str(FAKE))
    monkeypatch.setenv("RESOLVE_SCRIPT_LIB", str(MODULES / "DaVinciResolveScript.py"))
    monkeypatch.delenv("FAKE_RESOLVE_STATE", raising=False)
    if str(MODULES) not in sys.path:
        sys.path.append(str(MODULES))
    world_module = importlib.import_module("fake_world")
    world_module.install(None)
    yield world_module
    world_module.install(None)


@pytest.fixture
def fake_world(resolve_env: Any) -> Any:
    return resolve_env
