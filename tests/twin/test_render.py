"""Drawing a twin: which frames a contact sheet shows, and the sheet itself on a real clip."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest
from PIL import Image

from river_core.media import FrameRange, Timecode, content_hash
from river_core.twin.render import render_sheet, sheet_frames
from river_core.twin.schema import TwinDocument
from river_core.twin.synthetic import SyntheticScene, random_scene

RATE = Fraction(30000, 1001)


@pytest.mark.parametrize("frames", [1, 2, 3, 17, 90])
@pytest.mark.parametrize("count", [1, 2, 3, 5, 12, 16, 17, 20, 100])
def test_sheet_frames_are_distinct_evenly_spaced_and_span_the_range(frames: int, count: int) -> None:
    frame_range = FrameRange(30, 30 + frames)
    picks = sheet_frames(frame_range, count)
    assert len(picks) == min(count, frames)
    assert picks == sorted(set(picks)) and all(i in frame_range for i in picks)
    assert picks[0] == frame_range.start
    if len(picks) > 1:
        assert picks[-1] == frame_range.end - 1
        gaps = {b - a for a, b in pairwise(picks)}
        assert max(gaps) - min(gaps) <= 1, f"uneven gaps {sorted(gaps)}"


def test_sheet_frames_examples() -> None:
    # --frames 100 on a 17-frame twin: all 17 frames (it used to draw 4).
    assert sheet_frames(FrameRange(0, 17), 100) == list(range(17))
    # --frames 16 on 17 frames reaches the last frame (it used to stop at 15).
    assert sheet_frames(FrameRange(0, 17), 16)[-1] == 16
    assert sheet_frames(FrameRange(0, 17), 5) == [0, 4, 8, 12, 16]
    assert sheet_frames(FrameRange(5, 6), 12) == [5]


@pytest.mark.parametrize("count", [0, -3])
def test_sheet_frames_needs_at_least_one(count: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        sheet_frames(FrameRange(0, 17), count)


@pytest.fixture(scope="module")
def scene() -> SyntheticScene:
    return random_scene(3, width=64, height=48, num_frames=17, n_objects=2)


@pytest.fixture(scope="module")
def clip(scene: SyntheticScene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene.write_clip(tmp_path_factory.mktemp("clip") / "scene.mkv", "ffv1")


def _twin(scene: SyntheticScene, clip: Path, frame_range: FrameRange | None = None) -> TwinDocument:
    return scene.ground_truth(
        path=str(clip), content_hash=content_hash(clip), frame_range=frame_range, timecode=Timecode(0, RATE)
    )


def _shown(sheet: Path) -> tuple[list[int], tuple[int, int]]:
    with Image.open(sheet) as image:
        return [int(i) for i in image.text["river:frames"].split()], image.size


@pytest.mark.parametrize(("count", "grid"), [(100, (4, 5)), (20, (4, 5)), (5, (4, 2)), (1, (1, 1))])
def test_sheet_shows_the_frames_it_picks(
    scene: SyntheticScene, clip: Path, tmp_path: Path, count: int, grid: tuple[int, int]
) -> None:
    twin = _twin(scene, clip)
    out = render_sheet(twin, clip, tmp_path / "sheet.png", count=count, width=128)
    shown, size = _shown(out)
    assert shown == sheet_frames(FrameRange(0, 17), count)
    columns, rows = grid
    assert size == (columns * 128, rows * 96)  # 64×48 tiles drawn 128 wide


def test_sheet_of_a_sub_range_with_a_frame_the_twin_does_not_describe(
    scene: SyntheticScene, clip: Path, tmp_path: Path
) -> None:
    twin = _twin(scene, clip, FrameRange(4, 11))
    twin = twin.model_copy(update={"frames": [f for f in twin.frames if f.index != 10]})
    twin = twin.model_copy(update={"tracks": []})
    out = render_sheet(twin, clip, tmp_path / "sheet.png", count=3, width=64)
    assert _shown(out)[0] == [4, 7, 10]  # the last frame of the range, drawn without masks
