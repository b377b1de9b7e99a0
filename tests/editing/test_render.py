"""The frame renderer: windows, overlap conditioning, removal blanking, skipping, compositing, alignment.

A fake editor with VaceEditor's interface stands in for the diffusion model so that what reaches the
model, and where its output lands, can be checked exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from river_core.editing import instant
from river_core.editing.composite import composite
from river_core.editing.render import EditRequestError, FrameRenderer, RenderRequest, window_prompt
from river_core.editing.vace import RenderSettings
from river_core.editing.windows import plan_windows
from river_core.errors import Cancelled
from river_core.media import FrameRange, probe, read_frames
from river_core.media.rational import Timecode
from river_core.progress import CancelToken
from river_core.reasoning.plan import Operation, Target
from river_core.twin.schema import TwinDocument
from river_core.twin.synthetic import SceneObject, SyntheticScene

N = 90
SIZE = (64, 48)  # model size for the fake editor (multiples of 16)


@dataclass
class Call:
    video: np.ndarray
    mask: np.ndarray
    prompt: str
    seed_offset: int


class FakeEditor:
    """Returns the conditioning video, with the masked pixels painted ``paint`` (or left as they are)."""

    def __init__(
        self, paint: tuple[int, int, int] | None = None, cancel_after: CancelToken | None = None
    ) -> None:
        self.calls: list[Call] = []
        self.paint = paint
        self._cancel_after = cancel_after
        self.info = type("Info", (), {"to_json": lambda self: {"model_id": "fake"}})()

    def render(
        self, video: np.ndarray, mask: np.ndarray, prompt: str, settings: Any, **kw: Any
    ) -> np.ndarray:
        assert video.dtype == np.uint8 and video.shape[0] % 4 == 1 and mask.shape == video.shape[:3]
        self.calls.append(Call(video.copy(), mask.copy(), prompt, kw.get("seed_offset", 0)))
        out = video.copy()
        if self.paint is not None:
            out[mask.astype(bool)] = self.paint
        if self._cancel_after is not None:
            self._cancel_after.cancel("test")
        return out


@pytest.fixture(scope="module")
def scene() -> SyntheticScene:
    objects = (
        # moves right 1 px/frame for the whole clip
        SceneObject(
            1, "square", "red", 8, 0.3, (20, 24), (1.0, 0.0), category="person", attributes="a woman"
        ),
        # present only in frames 0..19
        SceneObject(2, "circle", "blue", 6, 0.6, (100, 30), (0.0, 0.2), disappear=20, category="ball"),
    )
    return SyntheticScene(width=128, height=72, num_frames=N, objects=objects, seed=5)


@pytest.fixture(scope="module")
def clip(scene: SyntheticScene, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TwinDocument]:
    path = scene.write_clip(tmp_path_factory.mktemp("render") / "scene.mkv")
    from river_core.media import content_hash

    twin = scene.ground_truth(
        path=str(path), content_hash=content_hash(path), timecode=Timecode(0, scene.rate)
    )
    return path, twin


def op_for(
    twin: TwinDocument,
    object_id: int,
    kind: str = "appearance",
    prompt: str = "bronze",
    color: str | None = None,
) -> Operation:
    frames = [e.index for e in twin.frames if any(o.id == object_id for o in e.objects)]
    spans = [FrameRange(frames[0], frames[-1] + 1)]
    assert len(frames) == frames[-1] + 1 - frames[0]
    category = next(o.category for e in twin.frames for o in e.objects if o.id == object_id)
    changes = kind in ("appearance", "replace")
    return Operation(
        id=f"op{object_id}",
        kind=kind,
        targets=[Target(id=object_id, category=category, attributes="", frames=spans)],
        category=category if changes else None,
        attributes=prompt if changes else None,
        color=color,
        prompt=f"In frame {spans[0].start}, object {object_id} with category {category} "
        f"has attributes {prompt}.",
    )


def settings(window: int = 33, overlap: int = 8) -> RenderSettings:
    return replace(RenderSettings.for_profile("tiny"), window=window, overlap=overlap)


def renderer(
    clip: tuple[Path, TwinDocument], request: RenderRequest, editor: Any, **kw: Any
) -> FrameRenderer:
    path, twin = clip
    info = probe(path)
    frame_range = kw.pop("frame_range", FrameRange(0, N))
    return FrameRenderer(
        path, info, frame_range, twin, request, editor=editor, settings=kw.pop("settings", settings()),
        model_size=SIZE, **kw,
    )  # fmt: skip


def test_every_frame_once_in_order_and_source_bytes_outside_the_alpha(clip) -> None:
    path, twin = clip
    editor = FakeEditor(paint=(0, 255, 0))
    r = renderer(clip, RenderRequest((op_for(twin, 1),)), editor)
    frames = list(r.frames())
    assert [f.index for f in frames] == list(range(N))
    assert len(r.windows) >= 3 and r.rendered_windows == len(editor.calls) == len(r.windows)
    source = read_frames(path, FrameRange(0, N))
    for f in frames:
        out = f.composite()
        outside = f.alpha == 0
        assert np.array_equal(f.source, source[f.index])
        assert np.array_equal(out[outside], source[f.index][outside])
        inside = f.alpha == 1
        assert inside.any()
        # the painted green reached the right frame's region (color matching may shift it a little)
        assert out[inside][:, 1].mean() > 150 and out[inside][:, 0].mean() < 120


def test_output_frame_k_aligns_with_source_frame_k_inside_the_region_too(clip) -> None:
    """An identity editor: inside the region the output is source frame k seen through the model size,
    much closer to frame k than to k-1 or k+1 (the object moves 1 px/frame), in every window."""
    path, twin = clip
    r = renderer(clip, RenderRequest((op_for(twin, 1),)), FakeEditor(paint=None))
    source = read_frames(path, FrameRange(0, N)).astype(np.float64)
    for f in r.frames():
        k = f.index
        inside = f.alpha > 0
        out = f.composite().astype(np.float64)

        def err(j: int, out: np.ndarray = out, inside: np.ndarray = inside) -> float:
            return float(np.abs(out[inside] - source[j][inside]).mean())

        neighbours = [err(j) for j in (k - 1, k + 1) if 0 <= j < N]
        assert err(k) < min(neighbours), f"frame {k} is not aligned"


def test_overlap_frames_are_conditioned_on_the_previous_window_and_kept(clip) -> None:
    _, twin = clip
    editor = FakeEditor(paint=(0, 255, 0))
    r = renderer(clip, RenderRequest((op_for(twin, 1),)), editor, settings=settings(33, 8))
    list(r.frames())
    first, second = r.windows[0], r.windows[1]
    overlap = first.end - second.start
    assert overlap >= 8
    call = editor.calls[1]
    # keep-mask over the overlap, regenerate-mask after it
    assert not call.mask[:overlap].any()
    assert call.mask[overlap : second.end - second.start].any()
    # the overlap's video is the previous window's output: the green region is in it
    green = (call.video[:overlap, :, :, 1] > 200) & (call.video[:overlap, :, :, 0] < 60)
    assert green.any(axis=(1, 2)).all()
    # and windows are given distinct seeds
    assert [c.seed_offset for c in editor.calls] == list(range(len(editor.calls)))


def test_windows_without_targets_are_not_rendered(clip) -> None:
    path, twin = clip
    editor = FakeEditor(paint=(0, 255, 0))
    r = renderer(clip, RenderRequest((op_for(twin, 2),)), editor)  # object 2 is gone after frame 19
    frames = list(r.frames())
    assert r.skipped_windows >= 1 and len(editor.calls) == r.rendered_windows < len(r.windows)
    source = read_frames(path, FrameRange(20, N))
    for f in frames[20:]:
        assert not f.alpha.any()
        assert np.array_equal(f.composite(), source[f.index - 20])


def test_removal_blanks_the_region_in_the_conditioning_video(clip) -> None:
    _, twin = clip
    editor = FakeEditor(paint=None)
    r = renderer(
        clip, RenderRequest((op_for(twin, 1, kind="remove"),)), editor, frame_range=FrameRange(0, 33)
    )
    list(r.frames())
    call = editor.calls[0]
    masked = call.mask.astype(bool)
    assert masked.any()
    assert (call.video[masked] == 127).all()
    # the removal region is the hull grown wider than the appearance region
    appearance = FakeEditor()
    list(
        renderer(clip, RenderRequest((op_for(twin, 1),)), appearance, frame_range=FrameRange(0, 33)).frames()
    )
    assert masked.sum() > appearance.calls[0].mask.astype(bool).sum()


def test_a_short_range_is_padded_to_4k_plus_1_and_the_padding_dropped(clip) -> None:
    _, twin = clip
    editor = FakeEditor(paint=(0, 255, 0))
    r = renderer(clip, RenderRequest((op_for(twin, 1),)), editor, frame_range=FrameRange(10, 20))
    frames = list(r.frames())
    assert [f.index for f in frames] == list(range(10, 20))
    assert editor.calls[0].video.shape[0] == 13  # 10 frames → the next 4k+1


def test_window_prompt_has_the_operation_and_the_scene_context(clip) -> None:
    _, twin = clip
    op = op_for(twin, 1, prompt="cast in bronze")
    windows = plan_windows(N, 33, 8)
    text = window_prompt([op], twin, 0, windows[0])
    assert op.prompt in text and "ball" in text
    late = window_prompt([op], twin, 0, windows[-1])
    assert "ball" not in late  # object 2 left at frame 20


def test_instant_blur_changes_only_the_region(clip) -> None:
    _, twin = clip
    r = renderer(clip, RenderRequest((op_for(twin, 1, "blur"),)), None, frame_range=FrameRange(0, 5))
    for f in r.frames():
        out = f.composite()
        assert not f.alpha.any() and f.matte.any()  # nothing generated: the blur's own alpha
        assert np.array_equal(out[f.matte == 0], f.source[f.matte == 0])
        assert not np.array_equal(out[f.matte == 1], f.source[f.matte == 1])


def test_unknown_target_and_range_outside_the_twin_are_refused(clip) -> None:
    path, twin = clip
    op = op_for(twin, 1)
    bad = op.model_copy(update={"targets": [op.targets[0].model_copy(update={"id": 9})]})
    with pytest.raises(EditRequestError, match="object 9, which is not in the twin"):
        renderer(clip, RenderRequest((bad,)), None)
    fr = FrameRange(twin.video.frame_range.start, 40)
    short = twin.model_copy(update={"video": twin.video.model_copy(update={"frame_range": fr})})
    with pytest.raises(EditRequestError, match="not all in the twin"):
        renderer((path, short), RenderRequest((op_for(twin, 1, "blur"),)), None)
    with pytest.raises(EditRequestError, match="recolor needs a color"):
        RenderRequest((op_for(twin, 1, "recolor"),))


def test_cancel_between_windows(clip) -> None:
    _, twin = clip
    token = CancelToken()
    r = renderer(clip, RenderRequest((op_for(twin, 1),)), FakeEditor(cancel_after=token), cancel=token)
    with pytest.raises(Cancelled):
        list(r.frames())


@pytest.mark.parametrize(
    ("action", "color", "strength", "full"),
    [
        ("blur", None, {}, lambda f, a: instant.blur(f, a)),
        ("blur", None, {"radius_px": 2.0}, lambda f, a: instant.blur(f, a, radius_px=2.0)),
        ("pixelate", None, {}, lambda f, a: instant.pixelate(f, a)),
        ("pixelate", None, {"block_px": 5}, lambda f, a: instant.pixelate(f, a, block_px=5)),
        ("recolor", "teal", {}, lambda f, a: instant.recolor(f, a, color="teal")),
    ],
)
def test_instant_actions_on_the_region_box_equal_the_whole_frame_action(
    clip, action, color, strength, full
) -> None:
    """The renderer processes only the region's box (+ the filter's reach); the result must be the
    bytes of the action applied to the whole frame."""
    _, twin = clip
    request = RenderRequest((op_for(twin, 1, action, color=color),), strength=strength)
    r = renderer(clip, request, None, frame_range=FrameRange(40, 44))
    for f in r.frames():
        ((_, alpha),) = f.instant
        assert alpha.any() and np.array_equal(f.matte, alpha)
        assert np.array_equal(f.composite(), full(f.source, alpha))


def test_a_plan_mixing_generation_and_an_instant_operation(clip) -> None:
    """Object 1 is generated, object 2 blurred, in one pass: the generated region is composited first,
    the blur inside its own alpha; outside both the source's bytes; the matte is their union."""
    _, twin = clip
    editor = FakeEditor()
    request = RenderRequest((op_for(twin, 1), op_for(twin, 2, "blur")))
    r = renderer(clip, request, editor, frame_range=FrameRange(0, 17), settings=settings(17, 4))
    seen_blur = False
    for f in r.frames():
        out = f.composite()
        assert np.array_equal(out[f.matte == 0], f.source[f.matte == 0])
        generated_only = composite(f.source, f.edited, f.alpha)
        for _, alpha in f.instant:
            seen_blur = True
            assert np.array_equal(out, instant.blur(generated_only, alpha))
            assert np.array_equal(f.matte, np.maximum(f.alpha, alpha))
    assert seen_blur and editor.calls
