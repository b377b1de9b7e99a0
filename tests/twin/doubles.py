"""Stage doubles that read a synthetic scene's ground truth.

They stand in for the models' judgement (what is where, how far, what it looks like) so that the
builder's own logic — keyframing, track birth and merge, id assignment, depth sampling, attribute
scheduling — is tested against an exact answer. Each double finds which scene frame it was given
by the image's bytes: the builder decodes lossless FFV1 clips at their own size, so model frames
are the rendered frames exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from river_core.twin.stages import Box, Detection, ModelInfo, Role, boxes_iou, mask_box
from river_core.twin.synthetic import SceneObject, SyntheticScene


class SceneIndex:
    """Maps a rendered frame's pixels back to its frame number in the scene."""

    def __init__(self, scene: SyntheticScene) -> None:
        self.scene = scene
        self._by_digest: dict[str, int] = {}
        self._masks: dict[int, dict[int, np.ndarray]] = {}
        for t in range(scene.num_frames):
            rgb, masks = scene.render_frame(t)
            # Identical frames (a static scene) have identical answers: the first one stands for all.
            self._by_digest.setdefault(hashlib.sha1(rgb.tobytes()).hexdigest(), t)
            self._masks[t] = {i: m for i, m in masks.items() if m.any()}

    def frame_of(self, image: np.ndarray) -> int:
        digest = hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()
        assert digest in self._by_digest, "the builder passed an image that is not a frame of the scene"
        return self._by_digest[digest]

    def visible(self, t: int) -> dict[int, np.ndarray]:
        """Ground-truth visible masks of frame ``t`` (objects with at least one pixel)."""
        return self._masks[t]

    def object(self, object_id: int):
        return next(o for o in self.scene.objects if o.id == object_id)


@dataclass
class Events:
    """What the doubles saw, for assertions."""

    log: list[str] = field(default_factory=list)  # "load detector", "close detector", ...
    detected_frames: list[int] = field(default_factory=list)
    depth_frames: list[int] = field(default_factory=list)
    described: list[tuple[int, int, tuple[int, ...]]] = field(
        default_factory=list
    )  # (gt id, frame, crop shape)
    listed_frames: list[int] = field(default_factory=list)
    tracked: list[tuple[int, int]] = field(default_factory=list)  # (session number, scene frame)


class _Double:
    role: Role

    def __init__(self, index: SceneIndex, events: Events) -> None:
        self.index, self.events = index, events
        self.info = ModelInfo(self.role, f"double:{self.role}")
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.events.log.append(f"close {self.role}")
        self.closed = True


class GroundTruthDetector(_Double):
    """Boxes of the visible objects whose category was asked for. ``extra`` adds detections
    (e.g. a shifted duplicate) on chosen frames."""

    role: Role = "detector"

    def __init__(
        self, index: SceneIndex, events: Events, extra: Mapping[int, Sequence[Detection]] | None = None
    ):
        super().__init__(index, events)
        self.extra = dict(extra or {})

    def detect(self, images, queries, *, threshold, max_detections):
        assert not self.closed
        out = []
        for image in images:
            t = self.index.frame_of(image)
            self.events.detected_frames.append(t)
            found = [
                Detection(mask_box(mask), 0.9 - 0.01 * object_id, self.index.object(object_id).category)
                for object_id, mask in self.index.visible(t).items()
                if self.index.object(object_id).category in queries
            ]
            found += list(self.extra.get(t, ()))
            out.append(
                sorted([d for d in found if d.score >= threshold], key=lambda d: -d.score)[:max_detections]
            )
        return out


class GroundTruthTracker(_Double):
    """Tracks like a perfect tracker: a prompt box picks the ground-truth object it overlaps most,
    and the session returns that object's visible mask (empty while occluded or gone)."""

    role: Role = "tracker"

    def start(self, width: int, height: int) -> GroundTruthSession:
        assert not self.closed
        assert (width, height) == (self.index.scene.width, self.index.scene.height)
        return GroundTruthSession(self, len([e for e in self.events.log if e == "session"]))


class GroundTruthSession:
    def __init__(self, tracker: GroundTruthTracker, number: int) -> None:
        self.tracker, self.number = tracker, number
        tracker.events.log.append("session")
        self.objects: dict[int, int] = {}  # track id → ground-truth id
        self.last: int | None = None

    def track(self, frame_idx: int, image: np.ndarray, new_objects: Mapping[int, Box] | None = None):
        assert self.last is None or frame_idx >= self.last, "frames must come in order"
        self.last = frame_idx
        if not self.objects and not new_objects:
            return {}
        t = self.tracker.index.frame_of(image)
        visible = self.tracker.index.visible(t)
        for track_id, box in (new_objects or {}).items():
            assert track_id not in self.objects, f"track id {track_id} reused"
            best = max(visible, key=lambda g: boxes_iou(box, mask_box(visible[g]) or (0, 0, 0, 0)))
            self.objects[track_id] = best
        if not self.objects:
            return {}
        self.tracker.events.tracked.append((self.number, t))
        empty = np.zeros((self.tracker.index.scene.height, self.tracker.index.scene.width), dtype=bool)
        return {i: visible.get(g, empty).copy() for i, g in self.objects.items()}

    def close(self) -> None:
        pass


class GroundTruthDepth(_Double):
    """Inverse depth from the scene: each object's pixels get ``1 - depth(id, t)``, background 0.
    ``depth_of(object, t)`` defaults to the object's constant depth."""

    role: Role = "depth"

    def __init__(
        self, index: SceneIndex, events: Events, depth_of: Callable[[int, int], float] | None = None
    ):
        super().__init__(index, events)
        self.depth_of = depth_of or (lambda object_id, t: index.object(object_id).depth)

    def estimate(self, images):
        out = []
        for image in images:
            t = self.index.frame_of(image)
            self.events.depth_frames.append(t)
            inverse = np.zeros(image.shape[:2], dtype=np.float32)
            for object_id, mask in self.index.visible(t).items():
                inverse[mask] = 1.0 - self.depth_of(object_id, t)
            out.append(inverse)
        return out


class GroundTruthDescriber(_Double):
    """Names the visible categories; describes a crop as the ground truth of the object whose color
    dominates it (each object has its own color)."""

    role: Role = "describer"

    def describe(self, crop: np.ndarray, category: str) -> str:
        colors = {tuple(o.rgb): o for o in self.index.scene.objects}
        pixels = [tuple(p) for p in crop.reshape(-1, 3)]
        counts: dict[int, int] = {}
        for p in pixels:
            if p in colors:
                counts[colors[p].id] = counts.get(colors[p].id, 0) + 1
        assert counts, "the crop shows no object"
        object_id = max(counts, key=counts.__getitem__)
        self.events.described.append((object_id, -1, crop.shape))
        return self.index.object(object_id).attributes

    def list_objects(self, image: np.ndarray) -> list[str]:
        t = self.index.frame_of(image)
        self.events.listed_frames.append(t)
        return [self.index.object(i).category for i in self.index.visible(t)]


def loader(index: SceneIndex, events: Events, **overrides) -> Callable[[Role], object]:
    """A ``load_stage`` for the builder that records every load and returns fresh doubles."""
    kinds = {
        "detector": GroundTruthDetector,
        "tracker": GroundTruthTracker,
        "depth": GroundTruthDepth,
        "describer": GroundTruthDescriber,
    }

    def load(role: Role):
        events.log.append(f"load {role}")
        if role in overrides:
            return overrides[role]()
        return kinds[role](index, events)

    return load


def handles_scene() -> SyntheticScene:
    """30 frames where handles would renumber the objects: a square seen only in frames 0–4 and a
    circle all along. The twin of 5:22 calls the circle 1; the twin of 0:27 calls the square 1 (it
    is detected first on keyframe 0) and the circle 2."""
    return SyntheticScene(
        width=160, height=96, num_frames=30, seed=1,
        objects=[
            SceneObject(1, "square", "red", 12, 0.3, (40, 48), appear=0, disappear=5, category="square"),
            SceneObject(2, "circle", "blue", 14, 0.5, (112, 48), category="circle"),
        ],
    )  # fmt: skip
