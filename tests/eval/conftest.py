"""Shared fixtures of the evaluation tests: a small synthetic task set (exact twins)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from river_core.rl.synth import synthesize, write_dataset

    out = tmp_path_factory.mktemp("synth") / "tasks"
    write_dataset(synthesize(24, 0), out)  # 11 train tasks over all levels and categories
    return out
