"""An independent answer to every template: from the scene definition, never through the twin.

The synthetic twin records the objects it was drawn from (``provenance.settings.objects``). From those
alone — category, color, radius, depth, the analytic centre at each frame, the visible window
``[appear, disappear)`` and the full (unoccluded) shape each frame — this module works out what each
template's query asks, with the definitions of the template docs, written again here in plain
geometry: no twin masks, no ``spatial`` values, no twin-API helpers.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from river_core.twin.synthetic import SceneObject


class Truth:
    def __init__(self, twin_json: dict[str, Any]) -> None:
        video = twin_json["video"]
        self.width, self.height, self.count = video["width"], video["height"], video["frame_count"]
        objects = twin_json["provenance"]["settings"]["objects"]
        self.objects = {o["id"]: SceneObject.from_json(o) for o in objects}
        self.box = cache(self._box)

    # -- facts of the scene definition ------------------------------------------------------------

    def window(self, i: int) -> range:
        o = self.objects[i]
        return range(o.appear, o.disappear if o.disappear is not None else self.count)

    def of(self, category: str | None) -> list[int]:
        return sorted(i for i, o in self.objects.items() if category in (None, o.category))

    def one(self, category: str, color: str | None = None) -> int:
        found = [i for i in self.of(category) if color in (None, self.objects[i].color)]
        assert len(found) == 1, (category, color, found)
        return found[0]

    def centroid(self, i: int, t: int) -> tuple[float, float]:
        """Centre of mass in pixels: the shape's centre, lower by r/3 for the apex-up triangle."""
        o = self.objects[i]
        x, y = o.center(t, self.width, self.height)
        return x, y + (o.radius / 3 if o.shape == "triangle" else 0.0)

    def area(self, i: int) -> float:
        o = self.objects[i]
        return {"circle": math.pi, "square": 4.0, "diamond": 2.0, "triangle": 2.0}[o.shape] * o.radius**2

    def mean_position(self, i: int, axis: int) -> float:
        values = [self.centroid(i, t)[axis] for t in self.window(i)]
        return sum(values) / len(values)

    def covisible(self, a: int, b: int) -> list[int]:
        return sorted(set(self.window(a)) & set(self.window(b)))

    def _box(self, i: int, t: int) -> tuple[int, int, int, int]:
        mask = self.objects[i].shape_mask(t, self.width, self.height)
        cols, rows = mask.any(axis=0).nonzero()[0], mask.any(axis=1).nonzero()[0]
        return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1

    def touch_frames(self, a: int, b: int) -> list[int]:
        """Frames where both are in their window and their full shapes' pixel boxes meet or overlap."""
        out = []
        for t in self.covisible(a, b):
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = self.box(a, t), self.box(b, t)
            if min(ax1, bx1) >= max(ax0, bx0) and min(ay1, by1) >= max(ay0, by0):
                out.append(t)
        return out

    def mean_distance(self, a: int, b: int) -> float | None:
        frames = self.covisible(a, b)
        if not frames:
            return None
        dists = [math.dist(self.centroid(a, t), self.centroid(b, t)) for t in frames]
        return sum(dists) / len(dists)

    # -- the templates ----------------------------------------------------------------------------

    def answer(self, template: str, slots: dict[str, str]) -> tuple[int, list[int]]:
        """The target and the frames it is edited in."""
        result = getattr(self, template)(slots)
        return result if isinstance(result, tuple) else (result, list(self.window(result)))

    def l1_semantic_attribute(self, s: dict[str, str]) -> int:
        return self.one(s["category"], s["color"])

    def _pool(self, category: str) -> list[int]:
        return self.of(None if category == "object" else category)

    def l1_spatial_depth(self, s: dict[str, str]) -> int:
        pick = min if s["extreme"] == "nearest" else max
        return pick(self._pool(s["category"]), key=lambda i: self.objects[i].depth)

    def l1_spatial_size(self, s: dict[str, str]) -> int:
        return self._extreme_size(s["category"], s["extreme"])

    def _extreme_size(self, category: str, extreme: str) -> int:
        pick = max if extreme == "largest" else min
        return pick(self.of(category), key=self.area)

    def l1_spatial_position(self, s: dict[str, str]) -> int:
        axis, pick = {"leftmost": (0, min), "rightmost": (0, max), "topmost": (1, min), "lowest": (1, max)}[
            s["position"]
        ]
        return pick(self.of(s["category"]), key=lambda i: self.mean_position(i, axis))

    def l1_temporal_appears_last(self, s: dict[str, str]) -> int:
        return max(self._pool(s["category"]), key=lambda i: self.objects[i].appear)

    def l1_temporal_leaves_first(self, s: dict[str, str]) -> int:
        leaving = [i for i in self._pool(s["category"]) if self.window(i).stop < self.count]
        return min(leaving, key=lambda i: self.window(i).stop)

    def l2_semantic_same_color(self, s: dict[str, str]) -> int:
        anchor = self.one(s["anchor"])
        return self.one(s["category"], self.objects[anchor].color)

    def l2_spatial_relation(self, s: dict[str, str]) -> int:
        anchor = self._extreme_size(s["anchor_category"], s["anchor_extreme"])
        axis, sign = {"left of": (0, -1), "right of": (0, 1), "above": (1, -1), "below": (1, 1)}[
            s["relation"]
        ]
        found = []
        for i in self.of(s["category"]):
            frames = self.covisible(i, anchor)
            votes = [sign * (self.centroid(i, t)[axis] - self.centroid(anchor, t)[axis]) > 0 for t in frames]
            if sum(votes) * 2 > len(votes):
                found.append(i)
        assert len(found) == 1, (s, found)
        return found[0]

    def _toucher(self, which: str, category: str) -> int:
        ball = self.one("ball")
        pool = [i for i in self.of(None if category == "anyone" else category) if i != ball]
        touches = {i: f for i in pool if (f := self.touch_frames(ball, i))}
        if which == "first":
            return min(touches, key=lambda i: (touches[i][0], i))
        return min(touches, key=lambda i: (-touches[i][-1], i))

    def l2_temporal_touch(self, s: dict[str, str]) -> int:
        return self._toucher(s["which"], s["category"])

    def l2_temporal_while_touching(self, s: dict[str, str]) -> tuple[int, list[int]]:
        ball = self.one("ball")
        other = self.one(s["toucher_category"], s["toucher_color"])
        return ball, self.touch_frames(ball, other)

    def l3_temporal_enters_after(self, s: dict[str, str]) -> int:
        gone = self.window(self.one(s["anchor_category"], s["anchor_color"])).stop
        later = [i for i in self.objects if self.objects[i].appear >= gone]
        return min(later, key=lambda i: (self.objects[i].appear, i))

    def l3_spatial_nearest_to_relation(self, s: dict[str, str]) -> int:
        hub = self.l2_spatial_relation({**s, "category": s["hub_category"]})
        distances = {i: d for i in self.objects if i != hub and (d := self.mean_distance(hub, i)) is not None}
        return min(distances, key=lambda i: (distances[i], i))

    def l3_semantic_color_of(self, s: dict[str, str]) -> int:
        if s["which"] == "appears last":
            who = max(self.objects, key=lambda i: self.objects[i].appear)
        else:
            who = self._toucher(s["which"], "anyone")
        return self.one(s["category"], self.objects[who].color)
