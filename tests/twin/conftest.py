"""Fixtures for the twin tests: one random synthetic scene and its exact twin, built once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from river_core.twin.schema import TwinDocument
from river_core.twin.synthetic import SyntheticScene, random_scene

CREATED = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="session")
def scene() -> SyntheticScene:
    return random_scene(7)


@pytest.fixture(scope="session")
def twin(scene: SyntheticScene) -> TwinDocument:
    return scene.ground_truth(created=CREATED)


@pytest.fixture
def twin_json(twin: TwinDocument) -> dict[str, Any]:
    """A fresh JSON dict of the twin that a test may break."""
    return copy.deepcopy(twin.to_json())
