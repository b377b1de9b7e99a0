"""Fixtures for the reasoner tests: a small synthetic twin with known objects, saved to disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from river_core.twin.schema import TwinDocument, save_twin
from river_core.twin.synthetic import SceneObject, SyntheticScene

CREATED = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="session")
def small_scene() -> SyntheticScene:
    """Four objects; object 3 (a dog-colored disc) leaves the frame at 20 and is absent from then on."""
    objects = (
        SceneObject(
            1, "square", "red", 12, 0.3, (30, 40), (1.0, 0.0), category="person", attributes="a woman"
        ),
        SceneObject(
            2, "circle", "blue", 8, 0.6, (120, 30), (0.0, 0.5), category="ball", attributes="a blue ball"
        ),
        SceneObject(
            3,
            "circle",
            "yellow",
            10,
            0.4,
            (60, 70),
            (0.5, 0.0),
            disappear=20,
            category="dog",
            attributes="a small yellow dog",
        ),
        SceneObject(4, "triangle", "green", 9, 0.8, (140, 75), category="cup", attributes="a green cup"),
    )
    return SyntheticScene(width=160, height=96, num_frames=24, objects=objects, seed=3)


@pytest.fixture(scope="session")
def small_twin(small_scene: SyntheticScene) -> TwinDocument:
    return small_scene.ground_truth(created=CREATED)


@pytest.fixture(scope="session")
def small_twin_path(small_twin: TwinDocument, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_twin(small_twin, tmp_path_factory.mktemp("twin") / "twin.json")
