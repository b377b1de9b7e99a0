"""Plan → output frames: conditioning per window, VACE render, color match, blend, composite.

The editor works on a frame range of one source. For every source frame it knows the edit region
(the union of the operations' shaped target masks, from the twin, at source resolution) and the
compositing alpha (:func:`~river_core.editing.masks.edit_alpha`: zero outside the region, so every
pixel there keeps the source's bytes).

Each operation of the plan says how: *instant* operations (blur, pixelate, mask_out, recolor,
highlight, matte) transform each frame inside their own region; the *generative* ones (appearance,
replace, remove, add, move) render with Wan2.1-VACE. A plan may mix them: the generated region is
composited first, then each instant operation is applied inside its own alpha.

Generation:

1. the range is cut into windows of 4k+1 frames that overlap (:mod:`river_core.editing.windows`);
   a window with no edit region anywhere is not rendered at all (its frames are the source);
2. each window's frames are letterboxed to the model size (upright, for rotated sources); the
   region, brought to the model size with any coverage counting, is the VACE mask (white =
   regenerate); removal regions are blanked grey in the conditioning video (VACE needs that);
3. the overlap frames are conditioned on the previous window's output (video = that output,
   mask = keep), so the new window continues what is already there;
4. the generated window is color-matched to the source in a ring just outside the region (one
   correction per window, pooled over its frames, so the match itself cannot flicker);
5. across the overlap the new window is blended in with rising weights;
6. each finished model frame is brought back to source pixels (the exact inverse of the
   letterbox) and composited inside the alpha.

Frames come out strictly in order, one per source frame of the range: none dropped or duplicated.
Only the frames of the current window (and the previous window's overlap) are held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy import ndimage

from river_core.editing import instant
from river_core.editing.composite import composite, match_color, round_to_uint8
from river_core.editing.masks import MaskShape, blank_for_removal, edit_alpha, operation_masks
from river_core.editing.windows import Window, blend_weights, pad_to_length, plan_windows
from river_core.errors import RiverError
from river_core.media import FrameRange, MediaInfo, Placement, VideoReader
from river_core.progress import CancelToken, ProgressCallback, ProgressEvent, check, report
from river_core.reasoning.plan import Operation
from river_core.twin.schema import TwinDocument

if TYPE_CHECKING:
    from river_core.editing.vace import RenderSettings

_RING_PX = 6  # width of the color-matching band outside the region, in model pixels
_MAX_GAIN = 2.0  # color matching never scales a channel by more than this (or less than its inverse)
_BLANK = 127  # grey that removal regions are blanked to in the conditioning video


class EditRequestError(RiverError, ValueError):
    """An edit that cannot be rendered as given."""


class Editor(Protocol):
    """What renders a window of frames from a conditioning video, a mask and a prompt (Wan2.1-VACE:
    :class:`~river_core.editing.vace.VaceEditor`; tests may pass any object that does this)."""

    @property
    def info(self) -> Any:
        """What to record in provenance (``to_json()``)."""
        ...

    def render(
        self,
        video: np.ndarray,
        mask: np.ndarray,
        prompt: str,
        settings: RenderSettings,
        *,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: CancelToken | None = None,
        seed_offset: int = 0,
    ) -> np.ndarray:
        """``[F, H, W, 3]`` uint8 frames for an ``[F, H, W, 3]`` video and an ``[F, H, W]`` mask
        (True = regenerate), F = 4k+1."""
        ...


@dataclass(frozen=True)
class RenderRequest:
    """What to render: the plan's operations (each generative or instant by its kind) and how.

    ``shape`` overrides the per-kind mask shaping (:meth:`MaskShape.for_kind`); ``strength`` sets
    blur's ``radius_px`` and pixelate's ``block_px`` (0 or absent: the defaults).
    """

    operations: tuple[Operation, ...]
    shape: MaskShape | None = None
    strength: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.operations:
            raise EditRequestError(
                "the edit has no operations: nothing to change; check the plan or --targets"
            )
        for op in self.operations:
            if op.kind == "recolor" and not op.color:
                raise EditRequestError(f"{op.id}: recolor needs a color (a CSS color name or #RRGGBB)")
            if op.color and op.instant:
                instant.parse_color(op.color, name=f"{op.id}.color")

    @property
    def generative(self) -> bool:
        """Whether any operation needs the video model."""
        return any(not op.instant for op in self.operations)

    @property
    def kinds(self) -> list[str]:
        return sorted({op.kind for op in self.operations})


@dataclass(frozen=True)
class FrameRegions:
    """One source frame's regions: the generated region (bool; the VACE mask), its removal part
    (bool, ⊆ region) and compositing alpha (float32), and each instant operation's alpha."""

    region: np.ndarray
    removal: np.ndarray
    alpha: np.ndarray
    instant: tuple[tuple[Operation, np.ndarray], ...] = ()

    @property
    def matte(self) -> np.ndarray:
        """Where the output may differ from the source: the union (max) of every alpha."""
        if not self.instant:
            return self.alpha
        out = self.alpha.copy()
        for _, alpha in self.instant:
            np.maximum(out, alpha, out=out)
        return out


def frame_regions(
    request: RenderRequest, twin: TwinDocument, frames: Sequence[int]
) -> dict[int, FrameRegions]:
    """The regions of ``frames`` (source frame numbers) for ``request``, at the twin's resolution."""
    size = (twin.video.height, twin.video.width)
    region = {f: np.zeros(size, dtype=bool) for f in frames}
    removal = {f: np.zeros(size, dtype=bool) for f in frames}
    instant_alphas: dict[int, list[tuple[Operation, np.ndarray]]] = {f: [] for f in frames}
    feather_px = 0.0
    for op in request.operations:
        shape = request.shape or MaskShape.for_kind(op.kind)
        spans = op.frames
        wanted = [f for f in frames if any(f in s for s in spans)]
        if not wanted:
            continue
        if op.instant:
            for f, mask in operation_masks(op, twin, wanted, shape):
                if mask.any():
                    instant_alphas[f].append((op, edit_alpha(mask, shape.feather_px)))
            continue
        feather_px = max(feather_px, shape.feather_px)
        for f, mask in operation_masks(op, twin, wanted, shape):
            region[f] |= mask
            if op.kind == "remove":
                removal[f] |= mask
    return {
        f: FrameRegions(region[f], removal[f], edit_alpha(region[f], feather_px), tuple(instant_alphas[f]))
        for f in frames
    }


@dataclass(frozen=True)
class RenderedFrame:
    """One rendered frame before compositing: its source frame number, the decoded source, the
    generated picture over the whole frame at source resolution (the source where nothing is
    generated) and its alpha, and the instant operations with their alphas."""

    index: int
    source: np.ndarray
    edited: np.ndarray
    alpha: np.ndarray
    instant: tuple[tuple[Operation, np.ndarray], ...] = ()
    strength: dict[str, float] = field(default_factory=dict)

    @property
    def matte(self) -> np.ndarray:
        """The output's alpha over the source: where any operation reaches."""
        return FrameRegions(self.alpha, self.alpha > 0, self.alpha, self.instant).matte

    def composite(self) -> np.ndarray:
        """The output frame: the generated edit inside its alpha, then each instant operation inside
        its own; the source's bytes wherever every alpha is 0."""
        out = composite(self.source, self.edited, self.alpha) if self.alpha.any() else self.source
        for op, alpha in self.instant:
            out = instant.apply(
                op.kind,
                out,
                alpha,
                color=op.color,
                radius_px=float(self.strength.get("radius_px", 0.0)),
                block_px=int(self.strength.get("block_px", 0)),
            )
        return out


def _upright(image: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _stored(image: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, -turns)) if turns else image


def check_request(
    request: RenderRequest, twin: TwinDocument, info: MediaInfo, frame_range: FrameRange
) -> None:
    """Refuse a request whose targets or frames the twin cannot supply, before any work is done."""
    video = twin.video
    if (video.width, video.height) != (info.width, info.height):
        raise EditRequestError(
            f"the twin was built on {video.width}×{video.height} frames but the media is "
            f"{info.width}×{info.height}; rebuild the twin for this media"
        )
    covered = video.frame_range
    if frame_range.start < covered.start or frame_range.end > covered.end:
        raise EditRequestError(
            f"frames {frame_range} are not all in the twin (it covers {covered.start}:{covered.end}); "
            "rebuild the twin for this range or pick a range inside it"
        )
    known = set(twin.object_ids())
    for op in request.operations:
        for target in op.targets:
            wanted = target.mask_from if op.kind == "add" and target.mask_from is not None else target.id
            if wanted not in known:
                raise EditRequestError(
                    f"operation {op.id} targets object {wanted}, which is not in the twin "
                    f"(its objects: {', '.join(map(str, sorted(known))) or 'none'}); "
                    "fix the plan or --targets"
                )


class FrameRenderer:
    """Renders one request over one frame range of one source; iterate :meth:`frames`."""

    def __init__(
        self,
        source: Path,
        info: MediaInfo,
        frame_range: FrameRange,
        twin: TwinDocument,
        request: RenderRequest,
        *,
        editor: Editor | None = None,
        settings: RenderSettings | None = None,
        model_size: tuple[int, int] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        check_request(request, twin, info, frame_range)
        if request.generative and (editor is None or settings is None or model_size is None):
            raise EditRequestError("generate needs a VACE editor, render settings and a model size")
        self.source, self.info, self.frame_range, self.twin = Path(source), info, frame_range, twin
        self.request, self.editor, self.settings = request, editor, settings
        self.progress, self.cancel = progress, cancel
        self.turns = (info.rotation // 90) % 4
        upright = (info.height, info.width) if self.turns % 2 else (info.width, info.height)
        self.placement = Placement.fit(upright, model_size) if model_size else None
        self.windows: list[Window] = []
        self.rendered_windows = 0
        self.skipped_windows = 0

    # -- public -----------------------------------------------------------------------------

    def frames(self) -> Iterator[RenderedFrame]:
        """Every frame of the range, in order."""
        if self.request.generative:
            yield from self._generated()
        else:
            yield from self._instant()

    # -- instant actions --------------------------------------------------------------------

    def _instant(self) -> Iterator[RenderedFrame]:
        n = len(self.frame_range)
        stage = "+".join(self.request.kinds)
        with VideoReader(self.source, self.info) as reader:
            for k, frame in enumerate(reader.frames(self.frame_range, cancel=self.cancel)):
                regions = frame_regions(self.request, self.twin, [frame.index])[frame.index]
                yield self._frame(frame.index, frame.image, frame.image, regions)
                report(self.progress, stage, k + 1, n)

    def _frame(
        self, index: int, image: np.ndarray, edited: np.ndarray, regions: FrameRegions
    ) -> RenderedFrame:
        return RenderedFrame(index, image, edited, regions.alpha, regions.instant, self.request.strength)

    # -- generation -------------------------------------------------------------------------

    def _generated(self) -> Iterator[RenderedFrame]:
        assert self.editor is not None and self.settings is not None and self.placement is not None
        settings = self.settings
        n = len(self.frame_range)
        self.windows = plan_windows(n, settings.window, settings.overlap)
        first = self.frame_range.start
        steps_total = settings.steps * len(self.windows)
        pending: dict[int, tuple[np.ndarray, FrameRegions]] = {}  # k -> (source frame, regions)
        held: np.ndarray | None = None  # previous window's model output for the next window's overlap
        held_start = 0
        with VideoReader(self.source, self.info) as reader:
            decoded = enumerate(reader.frames(self.frame_range, cancel=self.cancel))
            for w_index, window in enumerate(self.windows):
                check(self.cancel)
                for k, frame in decoded:
                    pending[k] = (
                        frame.image,
                        frame_regions(self.request, self.twin, [frame.index])[frame.index],
                    )
                    if k + 1 >= window.end:
                        break
                keep_until = self.windows[w_index + 1].start if w_index + 1 < len(self.windows) else n
                ks = range(window.start, window.end)
                if not any(pending[k][1].region.any() for k in ks):
                    self.skipped_windows += 1
                    held = None
                    out_model = None
                else:
                    out_model = self._render_window(window, pending, held, held_start, w_index, steps_total)
                    self.rendered_windows += 1
                for k in range(window.start, keep_until):
                    image, regions = pending.pop(k)
                    if out_model is None or not regions.region.any():
                        edited = image
                    else:
                        edited = _stored(self.placement.to_source(out_model[k - window.start]), self.turns)
                    yield self._frame(first + k, image, edited, regions)
                if out_model is not None:
                    held, held_start = out_model[keep_until - window.start :], keep_until
                report(self.progress, "render", settings.steps * (w_index + 1), steps_total, unit="step")

    def _model_inputs(
        self, image: np.ndarray, regions: FrameRegions
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(conditioning video frame, VACE mask, unblanked source) at model size, upright."""
        assert self.placement is not None
        picture = _upright(image, self.turns)
        region = _upright(regions.region, self.turns)
        source_model = self.placement.to_model(picture, "area")
        mask_model = self.placement.to_model(region.astype(np.float32), "area") > 0
        video = source_model
        if regions.removal.any():
            removal = (
                self.placement.to_model(_upright(regions.removal, self.turns).astype(np.float32), "area") > 0
            )
            video = blank_for_removal(source_model, removal, _BLANK)
        return video, mask_model, source_model

    def _render_window(
        self,
        window: Window,
        pending: dict[int, tuple[np.ndarray, FrameRegions]],
        held: np.ndarray | None,
        held_start: int,
        w_index: int,
        steps_total: int,
    ) -> np.ndarray:
        """The window's frames at model size (uint8, ``window.end - window.start`` frames)."""
        assert self.editor is not None and self.settings is not None
        videos, masks, sources = [], [], []
        for k in range(window.start, window.end):
            video, mask, source_model = self._model_inputs(*pending[k])
            if held is not None and held_start <= k < held_start + len(held):
                video, mask = held[k - held_start], np.zeros_like(mask)  # continue the previous window
            videos.append(video)
            masks.append(mask)
            sources.append(source_model)
        real = len(videos)
        video_in = pad_to_length(np.stack(videos), window.length)
        mask_in = pad_to_length(np.stack(masks), window.length)
        done_before = self.settings.steps * w_index

        def on_step(event: ProgressEvent) -> None:
            report(self.progress, "render", done_before + event.done, steps_total, unit="step")

        prompt = window_prompt(self.request.operations, self.twin, self.frame_range.start, window)
        out = self.editor.render(
            video_in,
            mask_in,
            prompt,
            self.settings,
            progress=on_step if self.progress else None,
            cancel=self.cancel,
            seed_offset=w_index,
        )[:real]
        out = _match_window_color(out, np.stack(sources), np.stack(masks), self.placement)
        if held is not None:
            overlap = max(0, min(held_start + len(held), window.end) - window.start)
            if overlap:
                weights = blend_weights(overlap)
                prev = held[window.start - held_start : window.start - held_start + overlap].astype(
                    np.float64
                )
                new = out[:overlap].astype(np.float64)
                w = weights[:, None, None, None]
                out[:overlap] = round_to_uint8(prev * (1.0 - w) + new * w)
        return out


def _match_window_color(
    generated: np.ndarray, sources: np.ndarray, masks: np.ndarray, placement: Placement | None
) -> np.ndarray:
    """One per-channel color correction for the whole window, fitted in the ring outside the masks
    (inside the picture: the letterbox bars are not context)."""
    f, h, w, _ = generated.shape
    picture = np.zeros((h, w), dtype=bool)
    if placement is not None:
        x0, y0, x1, y1 = placement.content_box
        picture[y0:y1, x0:x1] = True
    else:
        picture[:] = True
    rings = np.zeros(masks.shape, dtype=bool)
    disk = ndimage.generate_binary_structure(2, 1)
    for i in range(f):
        if masks[i].any():
            grown = ndimage.binary_dilation(masks[i], structure=disk, iterations=_RING_PX)
            rings[i] = grown & ~masks[i] & picture
    if not rings.any():
        return generated
    matched = match_color(
        generated.reshape(f * h, w, 3),
        sources.reshape(f * h, w, 3),
        rings.reshape(f * h, w),
        max_gain=_MAX_GAIN,
    )
    return matched.reshape(generated.shape)


def window_prompt(operations: Sequence[Operation], twin: TwinDocument, first: int, window: Window) -> str:
    """The text conditioning of one window: the operations' template sentences for targets present
    in it, then the unchanged objects visible in it as scene context."""
    lo, hi = first + window.start, first + window.end
    sentences = [op.prompt for op in operations if any(s.start < hi and lo < s.end for s in op.frames)]
    targeted = {t.id for op in operations for t in op.targets}
    context: dict[int, str] = {}
    for entry in twin.frames:
        if lo <= entry.index < hi:
            for obj in entry.objects:
                if obj.id not in targeted and obj.id not in context:
                    context[obj.id] = (
                        obj.category if not obj.attributes else f"{obj.category} ({obj.attributes})"
                    )
    text = " ".join(sentences)
    if context:
        text += " The scene also shows: " + "; ".join(context[i] for i in sorted(context)) + "."
    return text.strip()
