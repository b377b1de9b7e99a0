"""The twin builder's stages as small Protocols (paper §3.1, "Digital Twin Representation").

Each stage has a real backend (transformers classes, paper checkpoints loaded by id with
``from_pretrained``) and a tiny instance of the same class built from a config in code with a
fixed seed (``river_core.twin.backends``). Test doubles implement the same Protocols by reading a
synthetic scene's ground truth: they stand in for a model's judgement, never for our logic.

Conventions every stage follows:

- Images are ``H×W×3`` uint8 RGB numpy arrays, already at the size the builder chose for models.
- Boxes are ``(x0, y0, x1, y1)`` floats in the pixel coordinates of the image they belong to, with
  pixel edges on integers (pixel ``(i, j)`` covers ``[i, i+1) × [j, j+1)``).
- Masks are ``H×W`` bool arrays at the size of the image they were computed on.
- Depth maps are ``H×W`` float32 *relative inverse depth* (larger = nearer), at the image's size.
- ``close()`` frees the weights (idempotent); a closed stage is not used again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

Box = tuple[float, float, float, float]
Role = Literal["detector", "tracker", "depth", "describer"]
ROLES: tuple[Role, ...] = ("detector", "tracker", "depth", "describer")


@dataclass(frozen=True)
class ModelInfo:
    """What a stage runs, for provenance: the checkpoint id (or ``tiny:<Class>``) and its revision."""

    role: Role
    model_id: str
    revision: str | None = None


@dataclass(frozen=True)
class Detection:
    """One open-vocabulary detection: a box, its score in [0, 1] and the text query it matched."""

    box: Box
    score: float
    label: str


@runtime_checkable
class Stage(Protocol):
    info: ModelInfo

    def close(self) -> None:
        """Free the weights (idempotent)."""
        ...


@runtime_checkable
class Detector(Stage, Protocol):
    """Open-vocabulary detection (OWLv2)."""

    def detect(
        self,
        images: Sequence[np.ndarray],
        queries: Sequence[str],
        *,
        threshold: float,
        max_detections: int,
    ) -> list[list[Detection]]:
        """One list per image, best first, after non-maximum suppression, at most ``max_detections``
        per image, scores ≥ ``threshold``; ``label`` is one of ``queries``."""
        ...


@runtime_checkable
class DepthEstimator(Stage, Protocol):
    """Monocular relative depth (Depth Anything V2)."""

    def estimate(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Relative inverse depth per image (float32 H×W at the image's size; larger = nearer)."""
        ...


@runtime_checkable
class Describer(Stage, Protocol):
    """A vision-language model that names and describes (Qwen2.5-VL)."""

    def describe(self, crop: np.ndarray, category: str) -> str:
        """A short phrase of the visible attributes of the ``category`` object filling ``crop``
        (colour, material, texture, pose), e.g. "brown short-haired dog with a red collar"."""
        ...

    def list_objects(self, image: np.ndarray) -> list[str]:
        """Short noun phrases (lower case, singular where natural) naming the objects in ``image``."""
        ...


@runtime_checkable
class TrackerSession(Protocol):
    """One video being tracked; frames arrive in increasing order."""

    def track(
        self, frame_idx: int, image: np.ndarray, new_objects: Mapping[int, Box] | None = None
    ) -> dict[int, np.ndarray]:
        """Masks of the tracked objects in frame ``frame_idx``.

        Without ``new_objects``: propagate every known object into this frame (the frame must come
        after the previous one) and return ``{object_id: mask}``; an object the tracker believes
        absent gets an all-False mask. With ``new_objects`` (ids never used before, boxes on
        *this* frame): start those objects here and return the masks of all objects in this frame.
        Calling it twice for the same frame (first without, then with new objects) is allowed and
        is how the builder starts tracks only for detections no existing track explains.
        """
        ...

    def close(self) -> None:
        """Drop the session's state (frames, memories)."""
        ...


@runtime_checkable
class Tracker(Stage, Protocol):
    """Promptable video segmentation and tracking (SAM 2.1)."""

    def start(self, width: int, height: int) -> TrackerSession:
        """A new session for frames of ``width × height``."""
        ...


@dataclass(frozen=True)
class ModelSpec:
    """A checkpoint to load for a role: a Hugging Face id or a local directory, and a revision."""

    model_id: str
    revision: str | None = None
    license: str = ""


def boxes_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mask_box(mask: np.ndarray) -> Box | None:
    """The pixel-edge bounding box of a bool mask, or None when it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
