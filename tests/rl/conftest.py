"""Shared fixtures of the trainer tests: a small synthetic task set and a tiny policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from river_core.rl.synth import synthesize, write_dataset

    out = tmp_path_factory.mktemp("synth") / "tasks"
    write_dataset(synthesize(24, 0), out)
    return out


@pytest.fixture(scope="session")
def sandbox():  # type: ignore[no-untyped-def]
    from river_core.reasoning.sandbox import Sandbox

    box = Sandbox(prestart=2)
    yield box
    box.close()
