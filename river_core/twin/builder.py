"""Build the digital twin of a clip range (paper §3.1) without wasting model calls.

``TwinBuilder.build`` reads top to bottom as numbered steps, each a public method:

1. check inputs — probe, range, the model-size placement (and rotation) of the frames;
2. scene cuts and keyframes — a cheap low-resolution pass; detection runs on every
   ``keyframe_stride``-th frame, the last frame and every cut;
3. vocabulary — the query's noun phrases, the objects the describer lists on the first keyframes,
   and the default list;
4. detect — open-vocabulary detection on the keyframes only;
5. track — the tracker propagates every track through every frame; on a keyframe, a detection
   that no existing track explains starts a new track (ids are never reused, so they stay stable
   through occlusion as far as the tracker keeps the object); tracks that follow the same object
   for several frames are merged into the older one;
6. depth — on every ``depth_stride``-th frame (plus one frame for a track never visible on those),
   normalized over the whole range, sampled per object as the median over its mask, and
   interpolated between depth frames;
7. attributes — once per track, on its best view (large, unclipped, sharp);
8. assemble — masks at source resolution (COCO RLE), spatial properties, provenance.

Stages load one after another and are freed after their step (``keep_warm`` keeps them for a
server). Frames are decoded in passes (never the whole range in memory at full size). Progress is
reported per stage with frame counts; a cancel token is honoured between frames.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from river_core import __version__
from river_core.errors import RiverError
from river_core.media import FrameRange, MediaInfo, Placement, VideoReader, format_rate, probe
from river_core.media.geometry import resize
from river_core.progress import CancelToken, ProgressCallback, check, report
from river_core.twin.masks import decode_mask, encode_mask, spatial_from_mask
from river_core.twin.planning import (
    MergeTracker,
    crop_box,
    explained,
    find_scene_cuts,
    frame_signature,
    interpolate,
    plan_depth_frames,
    plan_keyframes,
    view_quality,
)
from river_core.twin.schema import (
    RLE,
    FrameEntry,
    MaskRef,
    ModelRef,
    Provenance,
    Spatial,
    TwinDocument,
    TwinObject,
    VideoInfo,
    summarize_tracks,
)
from river_core.twin.stages import (
    Box,
    DepthEstimator,
    Describer,
    Detection,
    Detector,
    Role,
    Stage,
    Tracker,
    mask_box,
)
from river_core.twin.vocabulary import DEFAULT_VOCABULARY, build_vocabulary

StageLoader = Callable[[Role], Stage]
_SCAN_WIDTH = 64  # the scene-cut pass looks at 64-pixel-wide thumbnails
_DEPTH_BATCH = 4


@dataclass(frozen=True)
class BuildSettings:
    """How the builder spends model calls. Every field is part of the cache key."""

    keyframe_stride: int = 16
    depth_stride: int = 16
    scene_cut_threshold: float = 0.4
    detection_threshold: float = 0.2
    max_detections: int = 8
    max_tracks: int = 24
    birth_iou: float = 0.4
    merge_iou: float = 0.8
    merge_frames: int = 3
    min_mask_fraction: float = 0.0002
    model_long_side: int = 1024
    vlm_vocabulary_frames: int = 1
    vocabulary_limit: int = 24
    default_vocabulary: tuple[str, ...] = DEFAULT_VOCABULARY

    def __post_init__(self) -> None:
        for name in ("keyframe_stride", "depth_stride", "max_detections", "max_tracks", "merge_frames"):
            if getattr(self, name) < 1:
                raise RiverError(f"build setting `{name}` must be at least 1, got {getattr(self, name)}")
        if self.model_long_side < 32:
            raise RiverError(
                f"build setting `model_long_side` must be at least 32, got {self.model_long_side}"
            )
        for name in (
            "scene_cut_threshold",
            "detection_threshold",
            "birth_iou",
            "merge_iou",
            "min_mask_fraction",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise RiverError(f"build setting `{name}` must be in [0, 1], got {getattr(self, name)}")

    @classmethod
    def for_profile(cls, profile: str) -> BuildSettings:
        """Defaults per model profile. ``tiny`` models have random weights: every detection scores
        about the same, so the threshold is 0 and a few boxes are kept to exercise every path."""
        if profile == "tiny":
            return cls(detection_threshold=0.0, max_detections=3, max_tracks=6, model_long_side=256)
        return cls()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["default_vocabulary"] = list(self.default_vocabulary)
        return data


@dataclass(frozen=True)
class ClipPlan:
    """Where the built range lives and how model frames map back to source pixels."""

    path: Path
    info: MediaInfo
    frame_range: FrameRange
    placement: Placement  # stored source size → stored model size
    turns: int  # np.rot90 turns that make a stored frame upright for the models
    content_hash: str

    @property
    def n(self) -> int:
        return len(self.frame_range)

    @property
    def model_size(self) -> tuple[int, int]:
        """Width × height of the upright frames the models see."""
        w, h = self.placement.dst_w, self.placement.dst_h
        return (h, w) if self.turns % 2 else (w, h)

    def to_source_mask(self, mask: np.ndarray) -> np.ndarray:
        stored = np.rot90(mask, -self.turns) if self.turns else mask
        return self.placement.to_source(np.ascontiguousarray(stored), interpolation="mask")

    def to_model_mask(self, mask: np.ndarray) -> np.ndarray:
        """A source mask at model size, upright. An object too small to cover half a model pixel
        keeps the pixels it touches, so it still has somewhere to sample depth."""
        coverage = self.placement.to_model(mask.astype(np.float32), interpolation="area")
        small = coverage >= 0.5 if (coverage >= 0.5).any() else coverage > 0
        return np.ascontiguousarray(np.rot90(small, self.turns)) if self.turns else small


@dataclass
class Track:
    """One tracked object: its category (the query that detected it) and its best view so far."""

    id: int
    category: str
    born: int
    score: float
    best_quality: float = -1.0
    best_crop: np.ndarray | None = None


@dataclass
class TrackStore:
    """What tracking produced: tracks, per-frame samples at source resolution, merges."""

    tracks: dict[int, Track] = field(default_factory=dict)
    samples: dict[int, dict[int, tuple[dict[str, Any], Spatial]]] = field(default_factory=dict)
    merges: MergeTracker | None = None

    def canonical(self, track_id: int) -> int:
        return self.merges.canonical(track_id) if self.merges else track_id

    def frame_objects(self, t: int) -> dict[int, tuple[dict[str, Any], Spatial]]:
        """Samples of frame ``t`` by final id; of two merged tracks the older one's mask wins."""
        out: dict[int, tuple[dict[str, Any], Spatial]] = {}
        for raw_id in sorted(self.samples.get(t, {})):
            out.setdefault(self.canonical(raw_id), self.samples[t][raw_id])
        return out

    def final_ids(self) -> list[int]:
        return sorted({self.canonical(i) for frame in self.samples.values() for i in frame})

    def visible_frames(self) -> dict[int, list[int]]:
        frames: dict[int, list[int]] = {}
        for t in sorted(self.samples):
            for track_id in self.frame_objects(t):
                frames.setdefault(track_id, []).append(t)
        return frames


class TwinBuilder:
    """Orchestrates the stages; ``load_stage(role)`` provides each stage when its step starts."""

    def __init__(
        self,
        load_stage: StageLoader,
        settings: BuildSettings | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        keep_warm: bool = False,
        build_notes: Mapping[str, Any] | None = None,
    ) -> None:
        self.load_stage = load_stage
        self.settings = settings or BuildSettings()
        self.progress, self.cancel, self.keep_warm = progress, cancel, keep_warm
        self.build_notes = dict(build_notes or {})
        self.calls: Counter[str] = Counter()
        self.timings: dict[str, float] = {}
        self.models: dict[Role, ModelRef] = {}
        self.warnings: list[str] = []
        self._warm: dict[Role, Stage] = {}

    # -- the build ---------------------------------------------------------------------------

    def build(
        self,
        media: Path | str,
        frame_range: FrameRange | None = None,
        query: str | None = None,
        *,
        content_hash: str | None = None,
    ) -> TwinDocument:
        """The twin of ``frame_range`` of ``media`` (default: the whole clip) for ``query``."""
        # 1. Check inputs
        plan = self.timed("check", lambda: self.check_inputs(media, frame_range, content_hash))
        # 2. Scene cuts and keyframes
        cuts = self.timed("scan", lambda: self.scene_cuts(plan))
        keyframes = plan_keyframes(plan.n, self.settings.keyframe_stride, cuts)
        key_images = self.read_frames(plan, keyframes)
        # 3. Vocabulary
        vocabulary = self.timed(
            "vocabulary", lambda: self.vocabulary(query, [key_images[t] for t in keyframes])
        )
        # 4. Detect
        detections = self.timed("detect", lambda: self.detect(key_images, vocabulary))
        # 5. Track
        store = self.timed("track", lambda: self.track(plan, detections, cuts))
        # 6. Depth
        depths = self.timed("depth", lambda: self.depth(plan, store))
        # 7. Attributes
        attributes = self.timed("describe", lambda: self.describe(store))
        # 8. Assemble
        return self.timed(
            "assemble", lambda: self.assemble(plan, store, depths, attributes, vocabulary, cuts)
        )

    def check_inputs(
        self, media: Path | str, frame_range: FrameRange | None, content_hash: str | None
    ) -> ClipPlan:
        path = Path(media)
        info = probe(path)
        frame_range = frame_range or FrameRange(0, info.frame_count)
        frame_range.check_within(info.frame_count)
        warnings = [f"source: {w}" for w in info.warnings]
        self.warnings.extend(warnings)
        long_side = max(info.width, info.height)
        scale = min(1.0, self.settings.model_long_side / long_side)
        size = (max(1, round(info.width * scale)), max(1, round(info.height * scale)))
        if content_hash is None:
            from river_core.media import content_hash as hash_file

            content_hash = hash_file(path)
        return ClipPlan(
            path=path.resolve(),
            info=info,
            frame_range=frame_range,
            placement=Placement.fit((info.width, info.height), size, "stretch"),
            turns=(info.rotation // 90) % 4,
            content_hash=content_hash,
        )

    def scene_cuts(self, plan: ClipPlan) -> list[int]:
        thumb_h = max(1, round(_SCAN_WIDTH * plan.info.height / plan.info.width))
        scan = Placement.fit((plan.info.width, plan.info.height), (_SCAN_WIDTH, thumb_h), "stretch")
        signatures = []
        with VideoReader(plan.path, plan.info) as reader:
            for t, frame in enumerate(reader.frames(plan.frame_range, fit=scan, cancel=self.cancel)):
                signatures.append(frame_signature(frame.image))
                report(self.progress, "scan", t + 1, plan.n)
        return find_scene_cuts(signatures, self.settings.scene_cut_threshold)

    def vocabulary(self, query: str | None, keyframe_images: Sequence[np.ndarray]) -> list[str]:
        described: list[str] = []
        n = min(self.settings.vlm_vocabulary_frames, len(keyframe_images))
        if n:
            describer = self.describer()
            for image in keyframe_images[:n]:
                check(self.cancel)
                described += describer.list_objects(image)
                self.calls["describer"] += 1
            self.release("describer")
        s = self.settings
        return build_vocabulary(query, described, s.default_vocabulary, limit=s.vocabulary_limit)

    def detect(
        self, key_images: Mapping[int, np.ndarray], vocabulary: Sequence[str]
    ) -> dict[int, list[Detection]]:
        detector = self.detector()
        out: dict[int, list[Detection]] = {}
        for k, t in enumerate(sorted(key_images)):
            check(self.cancel)
            (found,) = detector.detect(
                [key_images[t]], list(vocabulary),
                threshold=self.settings.detection_threshold, max_detections=self.settings.max_detections,
            )  # fmt: skip
            self.calls["detector"] += 1
            out[t] = sorted(found, key=lambda d: -d.score)
            report(self.progress, "detect", k + 1, len(key_images))
        self.release("detector")
        return out

    def track(
        self, plan: ClipPlan, detections: Mapping[int, Sequence[Detection]], cuts: Sequence[int] = ()
    ) -> TrackStore:
        s = self.settings
        store = TrackStore(merges=MergeTracker(s.merge_iou, s.merge_frames))
        tracker = self.tracker()
        session = tracker.start(*plan.model_size)
        # Frames since the last keyframe: a track born on a keyframe is tracked back through them.
        recent: deque[tuple[int, np.ndarray]] = deque(maxlen=s.keyframe_stride)
        try:
            for t, image in self.iter_frames(plan):
                masks = session.track(t, image)
                self.calls["tracker"] += 1 if store.tracks else 0  # with no objects the model does not run
                births = self.births(store, t, detections.get(t, ()), masks, image.shape[:2])
                if births:
                    masks = session.track(t, image, new_objects=births)
                    self.calls["tracker"] += 1
                    if recent and t not in cuts:
                        self.backfill(plan, store, tracker, image, births, recent)
                kept = self._kept(plan, masks)
                assert store.merges is not None
                store.merges.observe(kept)
                self._record(plan, store, t, image, kept)
                if t in detections:
                    recent.clear()
                else:
                    recent.append((t, image))
                report(self.progress, "track", t + 1, plan.n)
        finally:
            session.close()
            self.release("tracker")
        return store

    def births(
        self,
        store: TrackStore,
        t: int,
        detections: Sequence[Detection],
        masks: Mapping[int, np.ndarray],
        shape: tuple[int, int],
    ) -> dict[int, Box]:
        """New tracks for the detections of frame ``t`` that no existing track (or earlier birth
        on this frame) explains, best detections first, up to ``max_tracks`` tracks in all."""
        s = self.settings
        births: dict[int, Box] = {}
        for det in detections:
            taken = {**masks, **{i: _box_mask(b, shape) for i, b in births.items()}}
            if explained(det, taken, s.birth_iou):
                continue
            if len(store.tracks) >= s.max_tracks:
                self.warnings.append(
                    f"frame {t}: more objects than max_tracks={s.max_tracks}; "
                    "the least confident were not tracked"
                )
                break
            new_id = max(store.tracks, default=0) + 1
            store.tracks[new_id] = Track(new_id, det.label, t, det.score)
            births[new_id] = det.box
        return births

    def backfill(
        self,
        plan: ClipPlan,
        store: TrackStore,
        tracker: Tracker,
        image: np.ndarray,
        births: Mapping[int, Box],
        recent: Sequence[tuple[int, np.ndarray]],
    ) -> None:
        """Track newborn objects backwards through the frames since the previous keyframe, in a
        session of their own fed the frames in reverse; stops as soon as they are all gone."""
        session = tracker.start(*plan.model_size)
        try:
            session.track(0, image, new_objects=births)
            self.calls["tracker"] += 1
            for step, (t, earlier) in enumerate(reversed(recent), start=1):
                check(self.cancel)
                masks = session.track(step, earlier)
                self.calls["tracker"] += 1
                kept = {i: m for i, m in self._kept(plan, masks).items() if i in births}
                if not kept:
                    break
                self._record(plan, store, t, earlier, kept)
        finally:
            session.close()

    def depth(self, plan: ClipPlan, store: TrackStore) -> dict[int, dict[int, float]]:
        """Per frame, per final track id: relative depth in [0, 1] (0 = nearest)."""
        visible = store.visible_frames()
        if not visible:
            return {}
        frames = set(plan_depth_frames(plan.n, self.settings.depth_stride))
        for seen in visible.values():
            if not frames.intersection(seen):
                frames.add(seen[len(seen) // 2])  # a short track between depth frames gets one of its own
        images = self.read_frames(plan, sorted(frames))
        estimator = self.depth_estimator()
        maps: dict[int, np.ndarray] = {}
        order = sorted(images)
        for i in range(0, len(order), _DEPTH_BATCH):
            check(self.cancel)
            batch = order[i : i + _DEPTH_BATCH]
            for t, depth_map in zip(batch, estimator.estimate([images[t] for t in batch]), strict=True):
                maps[t] = np.asarray(depth_map, dtype=np.float32)
            self.calls["depth"] += len(batch)
            report(self.progress, "depth", min(i + _DEPTH_BATCH, len(order)), len(order))
        self.release("depth")
        near, far = _normalizer(list(maps.values()))
        samples: dict[int, dict[int, float]] = {}
        for t, depth_map in maps.items():
            for track_id, (rle, _) in store.frame_objects(t).items():
                mask = plan.to_model_mask(decode_mask(rle))
                if mask.shape != depth_map.shape:
                    depth_map = resize(depth_map, (mask.shape[1], mask.shape[0]), "bilinear")
                relative = (near - float(np.median(depth_map[mask]))) / (near - far) if near > far else 0.5
                samples.setdefault(track_id, {})[t] = float(np.clip(relative, 0.0, 1.0))
        out: dict[int, dict[int, float]] = {}
        for track_id, seen in visible.items():
            if track_id in samples:
                for t, value in interpolate(samples[track_id], seen).items():
                    out.setdefault(t, {})[track_id] = value
        return out

    def describe(self, store: TrackStore) -> dict[int, str]:
        """Attributes per final track id, from one describer call on its best view."""
        final = store.final_ids()
        if not final:
            return {}
        best: dict[int, Track] = {}
        for track in store.tracks.values():
            cid = store.canonical(track.id)
            if track.best_crop is not None and (
                cid not in best or track.best_quality > best[cid].best_quality
            ):
                best[cid] = track
        describer = self.describer()
        out: dict[int, str] = {}
        for k, track_id in enumerate(final):
            check(self.cancel)
            category = store.tracks[track_id].category
            crop = best[track_id].best_crop
            assert crop is not None
            text = describer.describe(crop, category).strip()
            self.calls["describer"] += 1
            out[track_id] = text or category
            report(self.progress, "describe", k + 1, len(final))
        self.release("describer")
        return out

    def assemble(
        self,
        plan: ClipPlan,
        store: TrackStore,
        depths: Mapping[int, Mapping[int, float]],
        attributes: Mapping[int, str],
        vocabulary: Sequence[str],
        cuts: Sequence[int],
    ) -> TwinDocument:
        start = plan.frame_range.start
        frames = []
        for t in range(plan.n):
            objects = [
                TwinObject(
                    id=track_id,
                    category=store.tracks[track_id].category,
                    attributes=attributes.get(track_id, store.tracks[track_id].category),
                    mask=MaskRef(rle=RLE.model_validate(rle)),
                    spatial=spatial.model_copy(update={"depth": depths.get(t, {}).get(track_id, 0.5)}),
                )
                for track_id, (rle, spatial) in sorted(store.frame_objects(t).items())
            ]
            frames.append(FrameEntry(index=start + t, objects=objects))
        if not store.final_ids():
            self.warnings.append("no objects were found in this range; the twin has frames but no objects")
        timecode = plan.info.timecode_or_zero + start
        settings = {
            **self.settings.to_json(),
            **self.build_notes,
            "model_size": list(plan.model_size),
            "scene_cuts": [start + c for c in cuts],
        }
        return TwinDocument(
            video=VideoInfo(
                path=str(plan.path),
                content_hash=plan.content_hash,
                width=plan.info.width,
                height=plan.info.height,
                rate=format_rate(plan.info.rate),
                frame_count=plan.info.frame_count,
                frame_range=FrameRange(start, plan.frame_range.end),
                start_timecode=str(timecode),
                drop_frame=timecode.drop_frame,
            ),
            frames=frames,
            tracks=summarize_tracks(frames),
            provenance=Provenance(
                builder="river-twin-builder",
                builder_version=__version__,
                models=[self.models[r] for r in sorted(self.models)],
                calls=dict(sorted(self.calls.items())),
                timings_ms={k: round(v, 1) for k, v in self.timings.items()},
                vocabulary=list(vocabulary),
                settings=settings,
                warnings=list(self.warnings),
            ),
        )

    # -- helpers -----------------------------------------------------------------------------

    def stage(self, role: Role) -> Stage:
        """The stage for ``role``: warm, or loaded now (its load time counts towards the step)."""
        if role not in self._warm:
            self._warm[role] = self.load_stage(role)
            info = self._warm[role].info
            self.models[role] = ModelRef(role=role, id=info.model_id, revision=info.revision)
        return self._warm[role]

    def detector(self) -> Detector:
        return cast(Detector, self.stage("detector"))

    def tracker(self) -> Tracker:
        return cast(Tracker, self.stage("tracker"))

    def depth_estimator(self) -> DepthEstimator:
        return cast(DepthEstimator, self.stage("depth"))

    def describer(self) -> Describer:
        return cast(Describer, self.stage("describer"))

    def release(self, role: Role) -> None:
        """Free ``role``'s weights after its step, unless the builder keeps stages warm."""
        if not self.keep_warm and role in self._warm:
            self._warm.pop(role).close()

    def close(self) -> None:
        """Free every warm stage."""
        for stage in self._warm.values():
            stage.close()
        self._warm.clear()

    def timed(self, name: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return step()
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + (time.perf_counter() - started) * 1000

    def iter_frames(self, plan: ClipPlan) -> Iterator[tuple[int, np.ndarray]]:
        """Every frame of the range, upright at model size, one at a time."""
        fit = None if plan.placement.scale_x == 1 and plan.placement.scale_y == 1 else plan.placement
        with VideoReader(plan.path, plan.info) as reader:
            for t, frame in enumerate(reader.frames(plan.frame_range, fit=fit, cancel=self.cancel)):
                image = np.ascontiguousarray(np.rot90(frame.image, plan.turns)) if plan.turns else frame.image
                yield t, image

    def read_frames(self, plan: ClipPlan, frames: Sequence[int]) -> dict[int, np.ndarray]:
        """The model-size frames at local indices ``frames`` (one decoding pass over their span)."""
        wanted = set(frames)
        out: dict[int, np.ndarray] = {}
        for t, image in self.iter_frames(plan):
            if t in wanted:
                out[t] = image
                if len(out) == len(wanted):
                    break
        return out

    def _kept(self, plan: ClipPlan, masks: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The masks large enough to count as the object being visible."""
        w, h = plan.model_size
        min_area = max(1.0, self.settings.min_mask_fraction * w * h)
        return {i: m for i, m in masks.items() if m.sum() >= min_area}

    def _record(
        self, plan: ClipPlan, store: TrackStore, t: int, image: np.ndarray, masks: Mapping[int, np.ndarray]
    ) -> None:
        """Store frame ``t``'s masks at source resolution and keep each track's best view."""
        frame_samples = store.samples.setdefault(t, {})
        h, w = image.shape[:2]
        for track_id, mask in masks.items():
            source_mask = plan.to_source_mask(mask)
            if not source_mask.any():
                continue
            frame_samples[track_id] = (encode_mask(source_mask), spatial_from_mask(source_mask, 0.5))
            box = mask_box(mask)
            if box is None:
                continue
            x0, y0, x1, y1 = crop_box(box, w, h)
            crop = image[y0:y1, x0:x1]
            quality = view_quality(mask, crop)
            track = store.tracks[track_id]
            if quality > track.best_quality:
                track.best_quality, track.best_crop = quality, crop.copy()


def _box_mask(box: Box, shape: tuple[int, int]) -> np.ndarray:
    """A filled-box mask: lets `explained` compare two detections born on the same frame."""
    mask = np.zeros(shape, dtype=bool)
    x0, y0, x1, y1 = (round(v) for v in box)
    mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    return mask


def _normalizer(maps: Sequence[np.ndarray]) -> tuple[float, float]:
    """The (near, far) inverse-depth values mapped to 0 and 1: the 98th and 2nd percentiles of all
    depth maps of the range, so one twin's depths compare across frames and ignore outliers."""
    sample = np.concatenate(
        [m[:: max(1, m.shape[0] // 64), :: max(1, m.shape[1] // 64)].ravel() for m in maps]
    )
    return float(np.percentile(sample, 98)), float(np.percentile(sample, 2))
