"""Synthetic scenes made so that the relations of the task templates occur, with an exact twin.

A scene is a table seen from above plus people and animals moving over it (256×144, 48 frames):

- **table** (static): 2–3 plates of clearly different sizes, 2–4 cups and one ball, none overlapping;
  the ball stands clear of the rest so only the movers reach it;
- **people** (2–3) walk in straight lines (bouncing off the frame edges) and each passes the ball at
  its own moment, so they touch it in turn; some arrive late or leave early;
- **comings and goings**: an animal or vehicle that leaves mid-clip, one or two that enter after it
  leaves, and sometimes one that enters before.

Depth comes in bands: cups and the ball nearest, movers in the middle, plates farthest, so no object
is ever hidden completely (a scene where one is, in some frame of its window, is drawn again): every
object is in the twin in exactly the frames ``[appear, disappear)``. Every object's attributes name its
color (``"red ceramic cup"``, ``"person in a red jacket"``); within a category colors are distinct, so
"the red cup" and "the person in red" always name one object.

>>> scene, twin = make_scene(seed=0, index=3)
>>> twin.video.path
'synthetic://syn-0-0003'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from river_core.twin.schema import TwinDocument
from river_core.twin.synthetic import COLORS, SceneObject, Shape, SyntheticScene

WIDTH: Final = 256
HEIGHT: Final = 144
NUM_FRAMES: Final = 48
CREATED: Final = "2026-01-01T00:00:00+00:00"
"""The twins' provenance time: fixed, so that a seed gives the same bytes."""

# Depth bands (0 = nearest): small table things, movers, plates.
_NEAR, _MIDDLE, _FAR = (0.05, 0.30), (0.32, 0.66), (0.70, 0.95)
_PLATE_RADII: Final = (10, 13, 16, 19, 22)
_CUP_RADII: Final = (5, 6, 7)
_BALL_RADIUS: Final = 6
# Free space around the ball: a mover touching it cannot reach another table object at the same time.
_BALL_CLEARANCE: Final = 26
_GAP: Final = 6  # between table objects


@dataclass(frozen=True)
class Look:
    """How a category is drawn and described."""

    shape: Shape
    radii: tuple[int, ...]
    words: tuple[str, ...]  # material, garment or texture words, one is drawn per object


LOOKS: Final[dict[str, Look]] = {
    "plate": Look("circle", _PLATE_RADII, ("ceramic", "porcelain", "metal", "plastic")),
    "cup": Look("square", _CUP_RADII, ("ceramic", "paper", "glass", "enamel")),
    "ball": Look("circle", (_BALL_RADIUS,), ("rubber", "leather")),
    "person": Look("triangle", (9, 10, 11), ("jacket", "shirt", "coat", "dress")),
    "dog": Look("diamond", (11, 12, 13), ("furry", "short-haired")),
    "cat": Look("diamond", (9, 10), ("striped", "fluffy")),
    "bird": Look("triangle", (8, 9), ("small", "feathered")),
    "car": Look("square", (10, 11, 12), ("hatchback", "toy")),
}
COMERS: Final = ("dog", "cat", "bird", "car")
"""Categories of the objects that enter and leave."""


def describe(category: str, color: str, word: str) -> str:
    """The attributes of an object: its color always, as a word of its own."""
    if category == "person":
        return f"person in a {color} {word}"
    return f"{color} {word} {category}"


def scene_id(seed: int, index: int) -> str:
    return f"syn-{seed}-{index:04d}"


def make_scene(seed: int, index: int) -> tuple[SyntheticScene, TwinDocument]:
    """Scene ``index`` of ``seed`` and its exact twin; the same arguments give the same bytes."""
    rng = np.random.default_rng([seed, index])
    name = scene_id(seed, index)
    for _attempt in range(100):
        objects = _draw(rng)
        if objects is None:
            continue
        scene = SyntheticScene(WIDTH, HEIGHT, NUM_FRAMES, objects=tuple(objects), seed=seed * 100_003 + index)
        twin = scene.ground_truth(path=f"synthetic://{name}", created=CREATED)
        if _fully_visible(scene, twin):
            return scene, twin
    raise RuntimeError(f"no valid scene for seed {seed}, index {index} in 100 draws; this is a bug")


def _fully_visible(scene: SyntheticScene, twin: TwinDocument) -> bool:
    """Whether every object is in the twin in exactly the frames of its window."""
    for obj in scene.objects:
        window = list(range(obj.appear, obj.disappear if obj.disappear is not None else scene.num_frames))
        if [f for f, _ in twin.track(obj.id)] != window:
            return False
    return True


class _Draw:
    """One attempt at a scene: ids, colors and depths handed out without repeats."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.objects: list[SceneObject] = []
        self.colors: dict[str, set[str]] = {}
        self.depths: set[float] = set()

    def color(self, category: str, prefer: Sequence[str] = ()) -> str:
        """A color not yet used in ``category``: one of ``prefer`` half the time, if free."""
        used = self.colors.setdefault(category, set())
        free_preferred = [c for c in prefer if c not in used]
        if free_preferred and self.rng.random() < 0.5:
            color = str(self.rng.choice(free_preferred))
        else:
            color = str(self.rng.choice(sorted(set(COLORS) - used)))
        used.add(color)
        return color

    def depth(self, band: tuple[float, float]) -> float:
        while True:
            value = round(float(self.rng.uniform(*band)), 3)
            if value not in self.depths:
                self.depths.add(value)
                return value

    def add(
        self,
        category: str,
        color: str,
        radius: float,
        band: tuple[float, float],
        start: tuple[float, float],
        velocity: tuple[float, float] = (0.0, 0.0),
        appear: int = 0,
        disappear: int | None = None,
    ) -> None:
        look = LOOKS[category]
        word = str(self.rng.choice(look.words))
        self.objects.append(
            SceneObject(
                id=len(self.objects) + 1,
                shape=look.shape,
                color=color,
                radius=float(radius),
                depth=self.depth(band),
                category=category,
                attributes=describe(category, color, word),
                start=start,
                velocity=velocity,
                appear=appear,
                disappear=disappear,
            )
        )

    def velocity(self, lo: float, hi: float) -> tuple[float, float]:
        speed, angle = self.rng.uniform(lo, hi), self.rng.uniform(0, 2 * math.pi)
        return float(speed * math.cos(angle)), float(speed * math.sin(angle))


def _draw(rng: np.random.Generator) -> list[SceneObject] | None:
    """One scene's objects, or None when the table could not be laid out (draw again)."""
    d = _Draw(rng)
    n_people = int(rng.integers(2, 4))
    people_colors = [d.color("person") for _ in range(n_people)]
    ball_color = d.color("ball")
    # Comings and goings, drawn first so the table can share their colors (added last): one leaves,
    # one or two enter after it, maybe one before.
    leaves = int(rng.integers(14, 33))
    arrivals = [leaves + int(rng.integers(0, 6))]
    if rng.random() < 0.6 and arrivals[0] + 3 < NUM_FRAMES - 4:
        arrivals.append(int(rng.integers(arrivals[0] + 3, NUM_FRAMES - 3)))
    if rng.random() < 0.6:
        arrivals.append(int(rng.integers(3, leaves - 2)))
    comers: list[tuple[str, int, int | None]] = [(str(rng.choice(COMERS)), 0, leaves)]
    for appear in arrivals:
        stays = rng.random() < 0.7 or appear + 10 >= NUM_FRAMES
        disappear = None if stays else int(rng.integers(appear + 10, NUM_FRAMES))
        comers.append((str(rng.choice(COMERS)), appear, disappear))
    comer_colors = [d.color(category) for category, _, _ in comers]
    # 1. The table: the ball in the middle, then plates and cups around it.
    ball = (float(rng.uniform(70, WIDTH - 70)), float(rng.uniform(45, HEIGHT - 45)))
    placed: list[tuple[float, float, float]] = [(ball[0], ball[1], _BALL_RADIUS)]
    plate_radii = [float(r) for r in rng.choice(_PLATE_RADII, size=int(rng.integers(2, 4)), replace=False)]
    cup_radii = [float(rng.choice(_CUP_RADII)) for _ in range(int(rng.integers(2, 5)))]
    d.add("ball", ball_color, _BALL_RADIUS, _NEAR, start=ball)
    for category, radius in [("plate", r) for r in plate_radii] + [("cup", r) for r in cup_radii]:
        reach = radius * (math.sqrt(2) if LOOKS[category].shape == "square" else 1.0)
        spot = _free_spot(rng, placed, reach)
        if spot is None:
            return None
        placed.append((spot[0], spot[1], reach))
        prefer = [*people_colors, *comer_colors, ball_color]
        band = _FAR if category == "plate" else _NEAR
        d.add(category, d.color(category, prefer), radius, band, start=spot)
    # 2. People: each passes the ball at its own time, from its own direction, a little off-centre.
    times = _spaced(rng, n_people, lo=5, hi=43, gap=7)
    if times is None:
        return None
    for color, t in zip(people_colors, times, strict=True):
        radius = float(rng.choice(LOOKS["person"].radii))
        vx, vy = d.velocity(1.5, 3.0)
        offset = float(rng.uniform(-0.7, 0.7)) * (_BALL_RADIUS + radius)
        norm = math.hypot(vx, vy)
        at = (ball[0] - vy / norm * offset, ball[1] + vx / norm * offset)
        appear, disappear = 0, None
        if rng.random() < 0.25:  # arrives late or leaves early, still around when it passes the ball
            if t < NUM_FRAMES // 2:
                disappear = int(rng.integers(t + 8, NUM_FRAMES - 1))
            else:
                appear = int(rng.integers(2, t - 5))
        start = (at[0] - vx * t, at[1] - vy * t)
        d.add(
            "person",
            color,
            radius,
            _MIDDLE,
            start=start,
            velocity=(vx, vy),
            appear=appear,
            disappear=disappear,
        )
    # 3. The comings and goings.
    for (category, appear, disappear), color in zip(comers, comer_colors, strict=True):
        radius = float(rng.choice(LOOKS[category].radii))
        start = (float(rng.uniform(radius, WIDTH - radius)), float(rng.uniform(radius, HEIGHT - radius)))
        d.add(
            category, color, radius, _MIDDLE,
            start=start, velocity=d.velocity(1.0, 3.0), appear=appear, disappear=disappear,
        )  # fmt: skip
    return d.objects


def _free_spot(
    rng: np.random.Generator, placed: list[tuple[float, float, float]], reach: float
) -> tuple[float, float] | None:
    """A centre for a static object of circumradius ``reach``, apart from the others and the ball."""
    for _try in range(300):
        x = float(rng.uniform(reach + 2, WIDTH - reach - 2))
        y = float(rng.uniform(reach + 2, HEIGHT - reach - 2))
        ok = True
        for i, (px, py, pr) in enumerate(placed):
            need = reach + pr + (_BALL_CLEARANCE if i == 0 else _GAP)
            if math.hypot(x - px, y - py) < need:
                ok = False
                break
        if ok:
            return round(x, 1), round(y, 1)
    return None


def _spaced(rng: np.random.Generator, count: int, *, lo: int, hi: int, gap: int) -> list[int] | None:
    """``count`` distinct frames in ``[lo, hi)`` at least ``gap`` apart."""
    for _try in range(100):
        times = sorted(int(t) for t in rng.choice(np.arange(lo, hi), size=count, replace=False))
        if all(b - a >= gap for a, b in itertools.pairwise(times)):
            return times
    return None
