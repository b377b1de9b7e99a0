"""Pure decisions of the twin builder: when to detect, when to estimate depth, which detections
start tracks, which tracks are one object, which view of a track to describe.

Nothing here touches a model; the builder feeds these functions what the stages returned. Frame
numbers are local to the built range (0 = its first frame).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from river_core.twin.stages import Box, Detection, boxes_iou, mask_box

_HIST_BINS = 16


def frame_signature(image: np.ndarray) -> np.ndarray:
    """A normalized luma histogram of a (small) frame, for scene-cut detection."""
    luma = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
    hist, _ = np.histogram(luma, bins=_HIST_BINS, range=(0, 256))
    return hist / max(1, hist.sum())


def find_scene_cuts(signatures: Sequence[np.ndarray], threshold: float) -> list[int]:
    """Frames whose histogram differs from the previous frame's by more than ``threshold``.

    The distance is half the L1 distance of normalized histograms, in [0, 1]: 0 for identical
    exposure, 1 for disjoint ones. A hard cut typically scores above 0.4, motion below 0.15.
    """
    return [
        t
        for t in range(1, len(signatures))
        if 0.5 * float(np.abs(signatures[t] - signatures[t - 1]).sum()) > threshold
    ]


def plan_keyframes(n_frames: int, stride: int, cuts: Sequence[int]) -> list[int]:
    """Frames to run the detector on: every ``stride``-th frame, the last one, and every scene cut."""
    frames = set(range(0, n_frames, stride)) | {n_frames - 1} | {c for c in cuts if 0 <= c < n_frames}
    return sorted(frames)


def plan_depth_frames(n_frames: int, stride: int) -> list[int]:
    """Frames to estimate depth on: every ``stride``-th frame and the last one."""
    return sorted(set(range(0, n_frames, stride)) | {n_frames - 1})


def explained(detection: Detection, masks: Mapping[int, np.ndarray], min_iou: float) -> bool:
    """Whether an existing track already covers ``detection`` on this frame.

    A track explains a detection when its mask's box overlaps the detection box with IoU at least
    ``min_iou``, or when most of the track's mask lies inside the box and the mask fills a good part
    of it (a box drawn around an object the tracker sees partly occluded).
    """
    x0, y0, x1, y1 = detection.box
    box_area = max(1e-6, (x1 - x0) * (y1 - y0))
    for mask in masks.values():
        box = mask_box(mask)
        if box is None:
            continue
        if boxes_iou(detection.box, box) >= min_iou:
            return True
        inside = int(mask[int(max(0, y0)) : int(np.ceil(y1)), int(max(0, x0)) : int(np.ceil(x1))].sum())
        area = int(mask.sum())
        if inside >= 0.8 * area and inside >= 0.3 * box_area:
            return True
    return False


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int(np.logical_or(a, b).sum())
    return int(np.logical_and(a, b).sum()) / union if union else 0.0


@dataclass
class MergeTracker:
    """Finds tracks that follow the same object: IoU ≥ ``min_iou`` on ``frames`` consecutive frames.

    The younger track (larger id, born later) merges into the older one. ``canonical(id)`` gives the
    id a track ends up with after all merges (merges chain).
    """

    min_iou: float
    frames: int
    _streaks: dict[tuple[int, int], int] = field(default_factory=dict)
    _parent: dict[int, int] = field(default_factory=dict)

    def observe(self, masks: Mapping[int, np.ndarray]) -> list[tuple[int, int]]:
        """Feed one frame's masks; returns the merges (younger, older) decided on this frame."""
        live = {self.canonical(i): m for i, m in sorted(masks.items()) if m.any()}
        ids = sorted(live)
        merged: list[tuple[int, int]] = []
        seen: set[tuple[int, int]] = set()
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                pair = (a, b)
                seen.add(pair)
                if mask_iou(live[a], live[b]) >= self.min_iou:
                    self._streaks[pair] = self._streaks.get(pair, 0) + 1
                    if self._streaks[pair] >= self.frames and self.canonical(b) != self.canonical(a):
                        self._parent[self.canonical(b)] = self.canonical(a)
                        merged.append((b, a))
                else:
                    self._streaks.pop(pair, None)
        for pair in list(self._streaks):
            if pair not in seen:
                del self._streaks[pair]  # a streak needs consecutive frames
        return merged

    def canonical(self, track_id: int) -> int:
        while track_id in self._parent:
            track_id = self._parent[track_id]
        return track_id


def interpolate(samples: Mapping[int, float], frames: Sequence[int]) -> dict[int, float]:
    """Values at ``frames`` from sparse ``samples``: linear between samples, nearest outside them."""
    if not samples:
        raise ValueError("interpolate needs at least one sample")
    keys = np.array(sorted(samples), dtype=np.float64)
    values = np.array([samples[int(k)] for k in keys], dtype=np.float64)
    out = np.interp(np.asarray(frames, dtype=np.float64), keys, values)  # clamps outside the range
    return {int(f): float(v) for f, v in zip(frames, out, strict=True)}


def sharpness(gray: np.ndarray) -> float:
    """Variance of the discrete Laplacian: low for blurred (moving, out of focus) views."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    g = gray.astype(np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def crop_box(box: Box, width: int, height: int, margin: float = 0.1) -> tuple[int, int, int, int]:
    """Integer crop around ``box`` with ``margin`` (fraction of its size) on each side, clipped."""
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    return (
        max(0, int(x0 - mx)),
        max(0, int(y0 - my)),
        min(width, int(np.ceil(x1 + mx))),
        min(height, int(np.ceil(y1 + my))),
    )


def view_quality(mask: np.ndarray, crop: np.ndarray) -> float:
    """How good a view of a track this frame is: large, unclipped by the frame edge, and sharp."""
    area = float(mask.sum()) / mask.size
    box = mask_box(mask)
    if box is None:
        return 0.0
    h, w = mask.shape
    touches_edge = box[0] <= 0 or box[1] <= 0 or box[2] >= w or box[3] >= h
    gray = crop.mean(axis=2) if crop.ndim == 3 else crop
    s = sharpness(gray)
    return area * (0.5 if touches_edge else 1.0) * (s / (s + 50.0) if s > 0 else 0.01)
