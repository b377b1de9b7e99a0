"""Synthetic scenes with an exact ground-truth twin: moving, occluding flat shapes on a textured background.

Tests of the twin builder, the reasoner's twin API and compositing need footage whose twin is known
to the pixel. A :class:`SyntheticScene` renders hard-edged shapes (no anti-aliasing) far to near
(painter's algorithm), so every pixel belongs to exactly one object or the background, and
:meth:`SyntheticScene.ground_truth` returns the twin of what is *visible* after occlusion.

Every object has its own saturated color, and the background is a low-saturation gradient with a
little seeded noise that never takes an object's color: the pixels of an object are exactly the
pixels of its color.

>>> scene = random_scene(3)
>>> rgb, masks = scene.render_frame(0)
>>> rgb.shape, sorted(masks) == [o.id for o in scene.objects]
((192, 320, 3), True)
>>> twin = scene.ground_truth()                                   # a TwinDocument
>>> scene.write_clip(Path("scene.mkv"))                           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from river_core import __version__
from river_core.media.rational import FrameRange, Timecode, format_rate
from river_core.twin.masks import encode_mask, spatial_from_mask
from river_core.twin.schema import (
    RLE,
    FrameEntry,
    MaskRef,
    Provenance,
    TwinDocument,
    TwinObject,
    VideoInfo,
    summarize_tracks,
)

Shape = Literal["circle", "square", "triangle", "diamond"]
Motion = Literal["bounce", "pass"]
SHAPES: tuple[Shape, ...] = ("circle", "square", "triangle", "diamond")

# Saturated named colors: each is far from the grey background in at least one channel.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 20, 20),
    "green": (20, 200, 40),
    "blue": (30, 60, 230),
    "yellow": (250, 220, 10),
    "magenta": (220, 20, 200),
    "cyan": (10, 220, 230),
    "orange": (250, 130, 10),
    "purple": (120, 30, 200),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}

# Background: base tint ± gradient ± noise stays inside [base - 45, base + 45] per channel.
_GRADIENT_X, _GRADIENT_Y, _NOISE = 24, 16, 3
# Every object color differs from every background pixel by this much in some channel, so the
# pixels of an object are exactly those of its color, and stay separable after lossy codecs.
COLOR_MARGIN = 24
_CHANNEL_TILT = np.array([1.0, 0.8, 0.6])  # a slight hue drift, so the gradient is not pure grey


@dataclass(frozen=True)
class SceneObject:
    """One flat shape moving in a straight line, drawn with hard edges.

    ``radius`` is the circle radius or the half-size of the other shapes, in pixels. ``depth`` is
    the object's relative depth in (0, 1), 0 = nearest; it decides occlusion and becomes the twin's
    ``spatial.depth`` unchanged. ``start`` and ``velocity`` are the centre at frame 0 and its motion
    in px/frame; ``"bounce"`` reflects at the frame edges (the shape stays inside), ``"pass"`` moves
    on and leaves the frame. The object is drawn in frames ``[appear, disappear)``.
    """

    id: int
    shape: Shape
    color: str
    radius: float
    depth: float
    start: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    motion: Motion = "bounce"
    appear: int = 0
    disappear: int | None = None
    category: str = ""
    attributes: str = ""
    rgb: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"object {self.id}: `shape` {self.shape!r} is not one of {SHAPES}")
        if self.rgb is None:
            if self.color not in COLORS:
                raise ValueError(
                    f"object {self.id}: `color` {self.color!r} is not one of {sorted(COLORS)}; or pass rgb"
                )
            object.__setattr__(self, "rgb", COLORS[self.color])
        if not 0.0 < self.depth < 1.0:
            raise ValueError(
                f"object {self.id}: `depth` must be in (0, 1) with 0 = nearest, got {self.depth}"
            )
        if self.radius < 1:
            raise ValueError(f"object {self.id}: `radius` must be at least 1 px, got {self.radius}")
        if self.motion not in ("bounce", "pass"):
            raise ValueError(f"object {self.id}: `motion` must be 'bounce' or 'pass', got {self.motion!r}")
        if self.disappear is not None and self.disappear <= self.appear:
            raise ValueError(f"object {self.id}: visible window [{self.appear}, {self.disappear}) is empty")
        if not self.category:
            object.__setattr__(self, "category", self.shape)
        if not self.attributes:
            size = "large" if self.radius >= 24 else "small" if self.radius < 12 else "medium"
            object.__setattr__(self, "attributes", f"solid {self.color} {self.shape}, {size}")

    def visible_at(self, t: int) -> bool:
        return self.appear <= t and (self.disappear is None or t < self.disappear)

    def center(self, t: int, width: int, height: int) -> tuple[float, float]:
        """The centre (x, y) in pixels at frame ``t`` (bouncing is a closed-form triangle wave)."""
        x = self.start[0] + self.velocity[0] * t
        y = self.start[1] + self.velocity[1] * t
        if self.motion == "bounce":
            x = _reflect(x, self.radius, width - self.radius)
            y = _reflect(y, self.radius, height - self.radius)
        return x, y

    def shape_mask(self, t: int, width: int, height: int) -> np.ndarray:
        """The full (unoccluded) H×W shape at frame ``t``; empty outside the visible window."""
        if not self.visible_at(t):
            return np.zeros((height, width), dtype=bool)
        cx, cy = self.center(t, width, height)
        # Pixel centres, so membership is exact and independent of anti-aliasing choices.
        dx = np.arange(width)[None, :] + 0.5 - cx
        dy = np.arange(height)[:, None] + 0.5 - cy
        r = self.radius
        if self.shape == "circle":
            return dx * dx + dy * dy <= r * r
        if self.shape == "square":
            return (np.abs(dx) < r) & (np.abs(dy) < r)
        if self.shape == "diamond":
            return np.abs(dx) + np.abs(dy) <= r
        # Triangle, apex up: half-width grows from 0 at the top to r at the base.
        return (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "shape": self.shape,
            "color": self.color,
            "rgb": list(self.rgb or ()),
            "radius": self.radius,
            "depth": self.depth,
            "start": list(self.start),
            "velocity": list(self.velocity),
            "motion": self.motion,
            "appear": self.appear,
            "disappear": self.disappear,
            "category": self.category,
            "attributes": self.attributes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SceneObject:
        """The object :meth:`to_json` wrote (the ``objects`` of a synthetic twin's provenance settings)."""
        fields = dict(data)
        for key in ("start", "velocity", "rgb"):
            if fields.get(key) is not None:
                fields[key] = tuple(fields[key])
        return cls(**fields)


def _reflect(p: float, lo: float, hi: float) -> float:
    span = hi - lo
    if span <= 0:
        return (lo + hi) / 2
    u = (p - lo) % (2 * span)
    return lo + (2 * span - u if u > span else u)


@dataclass(frozen=True)
class SyntheticScene:
    """A clip of ``num_frames`` frames at ``rate`` with ``objects`` over a seeded background.

    ``background`` is the base tint of the gradient; keep it low-saturated and mid-grey so it never
    matches an object color (checked).
    """

    width: int
    height: int
    num_frames: int
    rate: Fraction = Fraction(30000, 1001)
    objects: tuple[SceneObject, ...] = ()
    seed: int = 0
    background: tuple[int, int, int] = (118, 124, 130)

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", tuple(self.objects))
        object.__setattr__(self, "rate", Fraction(self.rate))
        if self.width < 1 or self.height < 1 or self.num_frames < 1:
            raise ValueError(
                f"scene size {self.width}×{self.height} × {self.num_frames} frames must be positive"
            )
        ids = [o.id for o in self.objects]
        if len(set(ids)) != len(ids):
            raise ValueError(f"object ids {ids} must be unique")
        depths = [o.depth for o in self.objects]
        if len(set(depths)) != len(depths):
            raise ValueError(f"object depths {depths} must be distinct so occlusion is well defined")
        background = self.background_image.astype(np.int16)
        for obj in self.objects:
            distance = int(np.abs(background - np.array(obj.rgb, dtype=np.int16)).max(axis=-1).min())
            if distance < COLOR_MARGIN:
                raise ValueError(
                    f"object {obj.id}'s color {obj.rgb} comes within {distance} levels of the background "
                    f"(tint {self.background}; at least {COLOR_MARGIN} needed); pick a more saturated color "
                    "or a greyer background"
                )

    @cached_property
    def background_image(self) -> np.ndarray:
        """The static background, H×W×3 uint8: a smooth gradient plus seeded noise (texture for codecs)."""
        rng = np.random.default_rng([self.seed, 0x5EED])
        gx = np.linspace(-_GRADIENT_X, _GRADIENT_X, self.width)[None, :, None]
        gy = np.linspace(-_GRADIENT_Y, _GRADIENT_Y, self.height)[:, None, None]
        noise = rng.integers(-_NOISE, _NOISE + 1, size=(self.height, self.width, 3))
        base = np.array(self.background, dtype=np.float64)
        image = base + (gx + gy) * _CHANNEL_TILT + noise
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)

    def owner_map(self, t: int) -> np.ndarray:
        """H×W int array: the id of the object seen at each pixel of frame ``t``, -1 for background."""
        owner = np.full((self.height, self.width), -1, dtype=np.int64)
        for obj in sorted(self.objects, key=lambda o: -o.depth):  # far to near: nearer ones paint over
            owner[obj.shape_mask(t, self.width, self.height)] = obj.id
        return owner

    def render_frame(self, t: int) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Frame ``t`` as H×W×3 uint8 RGB, and each object's visible H×W bool mask (maybe empty)."""
        if not 0 <= t < self.num_frames:
            raise ValueError(f"frame {t} is outside the scene's {self.num_frames} frames")
        owner = self.owner_map(t)
        rgb = self.background_image.copy()
        masks = {}
        for obj in self.objects:
            masks[obj.id] = owner == obj.id
            rgb[masks[obj.id]] = obj.rgb
        return rgb, masks

    def frames(self, frame_range: FrameRange | None = None) -> Iterator[np.ndarray]:
        """Yield the RGB frames of ``frame_range`` (default: all)."""
        frame_range = frame_range or FrameRange(0, self.num_frames)
        for t in range(frame_range.start, frame_range.end):
            yield self.render_frame(t)[0]

    def content_hash(self) -> str:
        """``sha256:`` of the rendered pixels of every frame (a stand-in for a file hash)."""
        digest = hashlib.sha256(f"{self.width}x{self.height}@{format_rate(self.rate)}".encode())
        for rgb in self.frames():
            digest.update(rgb.tobytes())
        return "sha256:" + digest.hexdigest()

    def ground_truth(
        self,
        path: str | None = None,
        content_hash: str | None = None,
        frame_range: FrameRange | None = None,
        timecode: Timecode | None = None,
        created: str | None = None,
    ) -> TwinDocument:
        """The exact twin of ``frame_range`` (default: all frames).

        Masks are the visible pixels after occlusion, at the scene's resolution; ``spatial`` comes
        from the visible mask, and ``depth`` is the object's constant ``depth`` (already a relative
        depth in [0, 1]). Objects with no visible pixel in a frame are absent from it; every frame of
        the range is listed. ``timecode`` is the timecode of frame 0 (as in :meth:`write_clip`); the
        twin's ``start_timecode`` is that plus ``frame_range.start``. ``content_hash`` defaults to
        :meth:`content_hash`, ``created`` to now.
        """
        frame_range = frame_range or FrameRange(0, self.num_frames)
        frame_range.check_within(self.num_frames)
        timecode = timecode or Timecode(0, self.rate)
        by_id = {o.id: o for o in self.objects}
        frames = []
        for t in range(frame_range.start, frame_range.end):
            _, masks = self.render_frame(t)
            objects = [
                TwinObject(
                    id=object_id,
                    category=by_id[object_id].category,
                    attributes=by_id[object_id].attributes,
                    mask=MaskRef(rle=RLE.model_validate(encode_mask(mask))),
                    spatial=spatial_from_mask(mask, by_id[object_id].depth),
                )
                for object_id, mask in sorted(masks.items())
                if mask.any()
            ]
            frames.append(FrameEntry(index=t, objects=objects))
        start_tc = timecode + frame_range.start
        provenance = Provenance(
            builder="synthetic",
            builder_version=__version__,
            settings={
                "seed": self.seed,
                "background": list(self.background),
                "objects": [o.to_json() for o in self.objects],
            },
            **({"created": created} if created else {}),
        )
        return TwinDocument(
            video=VideoInfo(
                path=path or f"synthetic://scene-{self.seed}",
                content_hash=content_hash or self.content_hash(),
                width=self.width,
                height=self.height,
                rate=format_rate(self.rate),
                frame_count=self.num_frames,
                frame_range=FrameRange(frame_range.start, frame_range.end),
                start_timecode=str(start_tc),
                drop_frame=start_tc.drop_frame,
            ),
            frames=frames,
            tracks=summarize_tracks(frames),
            provenance=provenance,
        )

    def write_clip(
        self,
        path: Path | str,
        fmt: str = "ffv1",
        *,
        timecode: Timecode | None = None,
        audio: np.ndarray | None = None,
        sample_rate: int = 48000,
        overwrite: bool = False,
    ) -> Path:
        """Encode the scene to ``path`` with :class:`~river_core.media.encode.MediaWriter`; return the path.

        ``audio`` (float32 ``[channels, n]``, mono or stereo) is interleaved per frame, trimmed or
        padded with silence to the video's duration. With ``fmt="ffv1"`` decoding gives back the
        rendered pixels exactly.
        """
        from river_core.media.encode import AudioTrackSpec, MediaWriter  # PyAV only when writing

        specs = []
        if audio is not None:
            audio = np.asarray(audio, dtype=np.float32)
            layouts = {1: "mono", 2: "stereo"}
            if audio.ndim != 2 or audio.shape[0] not in layouts:
                raise ValueError(
                    f"`audio` must be float32 [channels (1 or 2), samples], got shape {audio.shape}"
                )
            specs.append(AudioTrackSpec(sample_rate, layouts[audio.shape[0]], audio.shape[0]))
        with MediaWriter(
            path,
            fmt,
            width=self.width,
            height=self.height,
            rate=self.rate,
            timecode=timecode or Timecode(0, self.rate),
            audio=specs,
            overwrite=overwrite,
            metadata={"comment": f"RIVER synthetic scene, seed {self.seed}"},
        ) as writer:
            for rgb in self.frames():
                writer.write_video(rgb)
                if audio is not None:
                    done, target = writer.samples_written[0], writer.audio_target(0)
                    chunk = audio[:, done:target]
                    if chunk.shape[1] < target - done:  # audio shorter than video: pad with silence
                        pad = np.zeros((audio.shape[0], target - done - chunk.shape[1]), dtype=np.float32)
                        chunk = np.concatenate([chunk, pad], axis=1)
                    writer.write_audio(0, chunk)
        return Path(path)


def random_scene(
    seed: int,
    *,
    width: int = 320,
    height: int = 192,
    num_frames: int = 33,
    n_objects: int = 4,
    rate: Fraction = Fraction(30000, 1001),
) -> SyntheticScene:
    """A deterministic scene of ``n_objects`` distinct-colored moving shapes with at least one occlusion.

    Every object moves and is visible in some frame; the same seed gives the same scene.
    """
    if not 1 <= n_objects <= len(COLORS):
        raise ValueError(f"`n_objects` must be in 1..{len(COLORS)} (one color each), got {n_objects}")
    rng = np.random.default_rng(seed)
    short = min(width, height)
    for _attempt in range(200):
        colors = rng.choice(sorted(COLORS), size=n_objects, replace=False)
        depths = np.round(rng.uniform(0.05, 0.95, size=n_objects), 3)
        objects = []
        for k in range(n_objects):
            radius = float(np.round(rng.uniform(0.1, 0.22) * short, 1))
            speed = rng.uniform(1.0, 4.0)
            angle = rng.uniform(0, 2 * np.pi)
            objects.append(
                SceneObject(
                    id=k + 1,
                    shape=SHAPES[int(rng.integers(len(SHAPES)))],
                    color=str(colors[k]),
                    radius=radius,
                    depth=float(depths[k]),
                    start=(
                        float(rng.uniform(radius, width - radius)),
                        float(rng.uniform(radius, height - radius)),
                    ),
                    velocity=(float(speed * np.cos(angle)), float(speed * np.sin(angle))),
                )
            )
        try:
            scene = SyntheticScene(width, height, num_frames, rate, tuple(objects), seed)
        except ValueError:  # e.g. two equal depths: draw again
            continue
        if _has_occlusion_and_all_visible(scene):
            return scene
    raise ValueError(
        f"no scene with an occlusion found for seed {seed} at {width}×{height}; use a larger frame"
    )


def _has_occlusion_and_all_visible(scene: SyntheticScene) -> bool:
    occluded = False
    seen: set[int] = set()
    for t in range(scene.num_frames):
        shapes = {o.id: o.shape_mask(t, scene.width, scene.height) for o in scene.objects}
        _, visible = scene.render_frame(t)
        seen.update(i for i, m in visible.items() if m.any())
        occluded = occluded or any((shapes[i] & ~visible[i]).any() for i in shapes)
    return occluded and seen == {o.id for o in scene.objects}
