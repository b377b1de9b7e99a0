"""Edit regions per operation, checked against geometry known from construction."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from scipy import ndimage

from river_core.editing.masks import (
    EditMaskError,
    MaskShape,
    TargetNotFoundError,
    blank_for_removal,
    edit_alpha,
    feather,
    operation_masks,
    shape_mask,
    target_mask,
)
from river_core.errors import RiverError
from river_core.reasoning.edits import plan_from_edit
from river_core.twin.schema import FrameEntry, TwinDocument
from river_core.twin.synthetic import SceneObject, SyntheticScene

W, H, N = 96, 64, 10


@pytest.fixture(scope="module")
def twin() -> TwinDocument:
    """A static square (id 1) everywhere and a static circle (id 2) from frame 4 on."""
    scene = SyntheticScene(
        width=W,
        height=H,
        num_frames=N,
        objects=(
            SceneObject(id=1, shape="square", color="red", radius=6, depth=0.3, start=(24, 32)),
            SceneObject(id=2, shape="circle", color="blue", radius=7, depth=0.6, start=(70, 32), appear=4),
        ),
    )
    return scene.ground_truth(created="2026-01-01T00:00:00+00:00")


def dot(h: int = 41, w: int = 41) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[h // 2, w // 2] = True
    return m


def test_for_kind_defaults_and_bad_kind() -> None:
    assert MaskShape.for_kind("appearance") == MaskShape(dilate_px=8, mode="mask", feather_px=4.0)
    assert MaskShape.for_kind("replace") == MaskShape.for_kind("appearance")
    for kind in ("blur", "pixelate", "mask_out"):
        assert MaskShape.for_kind(kind) == MaskShape.for_kind("appearance")
    assert MaskShape.for_kind("recolor") == MaskShape(dilate_px=2, mode="mask", feather_px=2.0)
    assert MaskShape.for_kind("highlight") == MaskShape(dilate_px=0, mode="mask", feather_px=0.0)
    assert MaskShape.for_kind("matte") == MaskShape(dilate_px=0, mode="mask", feather_px=2.0)
    remove = MaskShape.for_kind("remove")
    assert remove.mode == "hull" and remove.feather_px == 6.0 and remove.radius(480, 832) == 8 + 12
    assert MaskShape.for_kind("add").mode == "box"
    assert MaskShape.for_kind("move").mode == "hull"
    with pytest.raises(EditMaskError, match=r"`kind` must be one of .*'explode'"):
        MaskShape.for_kind("explode")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dilate_px": -1}, "`dilate_px` must be a non-negative int, got -1"),
        ({"dilate_px": 2.5}, "`dilate_px` must be a non-negative int"),
        ({"mode": "blob"}, "`mode` must be one of"),
        ({"feather_px": -2.0}, "`feather_px` must be a finite number >= 0, got -2.0"),
        ({"feather_px": math.nan}, "`feather_px` must be a finite number"),
        ({"dilate_frac": 2.0}, "`dilate_frac` is a fraction"),
    ],
)
def test_mask_shape_rejects_bad_fields(kwargs: dict, message: str) -> None:
    with pytest.raises(EditMaskError, match=message):
        MaskShape(**kwargs)


@pytest.mark.parametrize("r", [1, 3, 8, 12])
def test_dilating_a_pixel_gives_a_disk(r: int) -> None:
    region = shape_mask(dot(), MaskShape(dilate_px=r, feather_px=0))
    assert abs(int(region.sum()) - math.pi * r * r) <= 4 * r + 1  # Gauss circle error bound
    yy, xx = np.nonzero(region)
    assert ((yy - 20) ** 2 + (xx - 20) ** 2).max() <= r * r
    # Symmetric and exactly reaching r along the axes.
    assert region[20, 20 + r] and region[20 - r, 20] and not region[20, 20 + r + 1]
    assert np.array_equal(region, region[::-1, :]) and np.array_equal(region, region.T)


def test_dilation_never_shrinks_and_zero_is_identity() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((30, 40)) > 0.9
    for r in (0, 1, 4):
        region = shape_mask(mask, MaskShape(dilate_px=r))
        assert not (mask & ~region).any()
    assert np.array_equal(shape_mask(mask, MaskShape(dilate_px=0)), mask)
    empty = np.zeros((5, 5), dtype=bool)
    assert not shape_mask(empty, MaskShape(dilate_px=3, mode="hull")).any()


def test_box_mode_is_the_bounding_box() -> None:
    mask = np.zeros((20, 30), dtype=bool)
    mask[3, 5] = mask[10, 20] = mask[7, 12] = True
    expected = np.zeros_like(mask)
    expected[3:11, 5:21] = True
    assert np.array_equal(shape_mask(mask, MaskShape(dilate_px=0, mode="box")), expected)


def test_hull_of_an_l_fills_the_notch() -> None:
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:12, 2:5] = True  # vertical bar
    mask[9:12, 2:14] = True  # foot
    hull = shape_mask(mask, MaskShape(dilate_px=0, mode="hull"))
    assert not (mask & ~hull).any()
    assert hull[8, 6] and not mask[8, 6]  # inside the notch, under the diagonal
    assert not hull[3, 12]  # above the diagonal from the bar's top to the foot's end
    assert not hull[:2].any() and not hull[12:].any() and not hull[:, 14:].any()
    assert hull.sum() < 10 * 12  # less than the box


@pytest.mark.parametrize("cells", [[(5, 5)], [(5, 2), (5, 3), (5, 4), (5, 5)], [(1, 1), (2, 2), (3, 3)]])
def test_hull_degenerate_shapes(cells: list[tuple[int, int]]) -> None:
    mask = np.zeros((10, 10), dtype=bool)
    for r, c in cells:
        mask[r, c] = True
    hull = shape_mask(mask, MaskShape(dilate_px=0, mode="hull"))
    assert not (mask & ~hull).any()
    if len(cells) < 3 or cells[0][0] == cells[-1][0]:  # a pixel or a row: nothing to fill
        assert np.array_equal(hull, mask)


def test_feather_is_exact_inside_and_beyond() -> None:
    region = np.zeros((40, 40), dtype=bool)
    region[15:25, 15:25] = True
    alpha = feather(region, 6.0)
    assert alpha.dtype == np.float32
    assert (alpha[region] == 1.0).all()
    ys, xs = np.mgrid[:40, :40]
    dy = np.maximum(np.maximum(15 - ys, ys - 24), 0)
    dx = np.maximum(np.maximum(15 - xs, xs - 24), 0)
    distance = np.hypot(dx, dy)
    assert (alpha[distance >= 6.0] == 0.0).all()
    between = (distance > 0) & (distance < 6.0)
    assert ((alpha[between] > 0) & (alpha[between] < 1)).all()
    row = alpha[20, 24:32]
    assert (np.diff(row) <= 0).all() and row[0] == 1.0 and row[-1] == 0.0
    assert np.array_equal(feather(region, 0), region.astype(np.float32))
    assert not feather(np.zeros((4, 4), dtype=bool), 3.0).any()


def test_target_mask_reads_the_twin(twin: TwinDocument) -> None:
    mask = target_mask(twin, 1, 0)
    assert mask.shape == (H, W) and mask.dtype == bool and mask.sum() == 12 * 12
    with pytest.raises(TargetNotFoundError, match="object 2 is not in frame 1 of the twin") as info:
        target_mask(twin, 2, 1)
    assert isinstance(info.value, RiverError) and isinstance(info.value, LookupError)
    with pytest.raises(TargetNotFoundError, match=r"frame 40 is not in the twin \(it covers frames 0–9\)"):
        target_mask(twin, 1, 40)
    with pytest.raises(EditMaskError, match="`frame` must be a non-negative int, got -1"):
        target_mask(twin, 1, -1)


def test_operation_masks_per_frame(twin: TwinDocument) -> None:
    edit = '{"objects": [{"id": 1, "category": "square", "attributes": "a gold square"}]}'
    op = plan_from_edit(edit, twin, query="q").operations[0]
    assert op.kind == "appearance"
    shape = MaskShape.for_kind("appearance")
    out = list(operation_masks(op, twin))
    assert [f for f, _ in out] == list(range(N))
    expected = shape_mask(target_mask(twin, 1, 0), shape)
    for f, region in out:
        assert region.shape == (H, W) and region.dtype == bool
        assert np.array_equal(region, expected), f
    assert [f for f, _ in operation_masks(op, twin, frames=[7, 2, 2, 5])] == [2, 5, 7]


def test_operation_masks_union_and_absent_frames(twin: TwinDocument) -> None:
    edit = (
        '{"objects": [{"id": 1, "category": "blob", "attributes": "soft"},'
        ' {"id": 2, "category": "blob", "attributes": "soft"}]}'
    )
    op = plan_from_edit(edit, twin, query="q").operations[0]
    assert op.kind == "replace" and [t.id for t in op.targets] == [1, 2]
    shape = MaskShape(dilate_px=2, feather_px=0)
    masks = dict(operation_masks(op, twin, shape=shape))
    assert sorted(masks) == list(range(N))
    one = shape_mask(target_mask(twin, 1, 6), shape)
    two = shape_mask(target_mask(twin, 2, 6), shape)
    assert np.array_equal(masks[6], one | two) and not (one & two).any()
    assert np.array_equal(masks[1], one)  # the circle is not there yet

    only_two = plan_from_edit(
        '{"objects": [{"id": 2, "category": "circle", "attributes": "striped"}]}', twin, query="q"
    ).operations[0]
    assert [(s.start, s.end) for s in only_two.frames] == [(4, N)]
    got = list(operation_masks(only_two, twin, frames=[0, 3, 4]))
    assert [f for f, _ in got] == [0, 3, 4]
    assert not got[0][1].any() and not got[1][1].any() and got[2][1].any()


def test_removal_region_is_larger_than_appearance(twin: TwinDocument) -> None:
    op = plan_from_edit(
        '{"objects": [{"id": 2, "category": "circle", "attributes": "solid blue circle, small", '
        '"frames": [[4, 6]]}]}',
        twin,
        query="q",
    ).operations[0]
    assert op.kind == "remove"
    masks = dict(operation_masks(op, twin))
    assert sorted(masks) == [7, 8, 9]
    appearance = shape_mask(target_mask(twin, 2, 8), MaskShape.for_kind("appearance"))
    assert not (appearance & ~masks[8]).any() and masks[8].sum() > appearance.sum()


def test_operation_masks_rejects_bad_inputs(twin: TwinDocument) -> None:
    op = plan_from_edit(
        '{"objects": [{"id": 1, "category": "square", "attributes": "x"}]}', twin, query="q"
    ).operations[0]
    with pytest.raises(TargetNotFoundError, match="frame 12 is not in the twin"):
        list(operation_masks(op, twin, frames=[12]))
    with pytest.raises(EditMaskError, match="`plan_op` must be a plan Operation, got dict"):
        list(operation_masks({}, twin))  # type: ignore[arg-type]
    with pytest.raises(EditMaskError, match="`twin` must be a TwinDocument"):
        list(operation_masks(op, None))  # type: ignore[arg-type]
    with pytest.raises(EditMaskError, match="`shape` must be a MaskShape or None"):
        list(operation_masks(op, twin, shape="box"))  # type: ignore[arg-type]
    with pytest.raises(EditMaskError, match=r"`frames\[i\]` must be a non-negative int, got -3"):
        list(operation_masks(op, twin, frames=[-3]))


def test_shape_and_feather_reject_bad_masks() -> None:
    with pytest.raises(EditMaskError, match="`mask` must be a bool array, got dtype uint8; threshold it"):
        shape_mask(np.zeros((4, 4), dtype=np.uint8), MaskShape())
    with pytest.raises(EditMaskError, match=r"`mask` must be a non-empty 2-D H×W array, got shape \(4, 4, 3"):
        shape_mask(np.zeros((4, 4, 3), dtype=bool), MaskShape())
    with pytest.raises(EditMaskError, match="`shape` must be a MaskShape"):
        shape_mask(dot(), "hull")  # type: ignore[arg-type]
    with pytest.raises(EditMaskError, match="`feather_px` must be a finite number >= 0, got -1"):
        feather(dot(), -1)
    with pytest.raises(EditMaskError, match="`region` must be a numpy array, got list"):
        feather([[True]], 1.0)  # type: ignore[arg-type]


def test_blank_for_removal() -> None:
    image = np.full((6, 8, 3), 200, dtype=np.uint8)
    region = np.zeros((6, 8), dtype=bool)
    region[1:3, 2:5] = True
    out = blank_for_removal(image, region)
    assert (out[region] == 127).all() and (out[~region] == 200).all()
    assert (image == 200).all()  # a copy
    assert (blank_for_removal(image, region, value=0)[region] == 0).all()
    with pytest.raises(EditMaskError, match="`image` must be an H×W×3 uint8 RGB array"):
        blank_for_removal(image.astype(np.float32), region)
    with pytest.raises(EditMaskError, match=r"`region` shape \(6, 7\) does not match `image` \(6, 8\)"):
        blank_for_removal(image, region[:, :7])
    with pytest.raises(EditMaskError, match=r"`value` must be an int in 0\.\.255, got 300"):
        blank_for_removal(image, region, value=300)


def test_edit_alpha_is_feathered_inward_and_its_support_is_the_region() -> None:
    region = np.zeros((20, 30), bool)
    region[4:16, 6:24] = True
    alpha = edit_alpha(region, 3.0)
    assert alpha.dtype == np.float32
    assert np.array_equal(alpha > 0, region)  # nothing outside the region is touched
    assert alpha[10, 15] == 1.0 and 0 < alpha[4, 15] < 1  # hard inside, soft at the edge
    assert (alpha[4:16, 6] <= alpha[4:16, 7]).all()  # rises inward
    # a region cut by the frame border stays fully edited up to the border
    edge = np.zeros((20, 30), bool)
    edge[:, :10] = True
    assert (edit_alpha(edge, 3.0)[5:15, 0] == 1.0).all()
    assert np.array_equal(edit_alpha(region, 0.0), region.astype(np.float32))
    assert not edit_alpha(np.zeros((4, 4), bool), 2.0).any()


# --- against straightforward whole-frame references --------------------------------------------


def random_masks() -> list[np.ndarray]:
    """Speckle, blobs, blobs cut by each frame border or one pixel short of it, a full frame, a
    pixel, an empty mask."""
    rng = np.random.default_rng(7)
    masks = []
    for h, w in [(23, 31), (40, 57), (64, 48)]:
        masks.append(rng.random((h, w)) > 0.93)
        blobs = ndimage.gaussian_filter(rng.random((h, w)), 2.5) > 0.52
        masks.append(blobs)
        for side in range(4):
            cut = np.rot90(blobs.copy(), side)
            cut[:, :3] = True
            masks.append(np.ascontiguousarray(np.rot90(cut, -side)))
            cut[:, 0] = False  # one pixel short of the border: an edge again
            masks.append(np.ascontiguousarray(np.rot90(cut, -side)))
    masks += [np.ones((9, 14), bool), dot(15, 17), np.zeros((6, 6), bool)]
    return masks


@pytest.mark.parametrize("radius", [1, 2, 3, 5, 8, 13])
def test_dilation_equals_binary_dilation_by_the_lattice_disk(radius: int) -> None:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = yy**2 + xx**2 <= radius**2
    for mask in random_masks():
        for mode in ("mask", "box", "hull"):
            base = shape_mask(mask, MaskShape(dilate_px=0, mode=mode))
            expected = ndimage.binary_dilation(base, structure=disk) if base.any() else base
            assert np.array_equal(shape_mask(mask, MaskShape(dilate_px=radius, mode=mode)), expected)


def reference_edit_alpha(region: np.ndarray, width: float) -> np.ndarray:
    """Distance to the nearest outside pixel over the whole frame, the border replicated (it is not
    an edge), divided by the feather width."""
    if width == 0:
        return region.astype(np.float32)
    inside = np.pad(region, 1, mode="edge")
    if inside.all():
        distance = np.full(region.shape, np.inf)
    else:
        distance = ndimage.distance_transform_edt(inside)[1:-1, 1:-1]
    return np.where(region, np.clip(distance / width, 0.0, 1.0), 0.0).astype(np.float32)


@pytest.mark.parametrize("width", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 6.0, 9.0, 9.5, 12.5])
def test_edit_alpha_equals_the_whole_frame_distance_transform(width: float) -> None:
    for region in random_masks():
        assert np.array_equal(edit_alpha(region, width), reference_edit_alpha(region, width))


def test_a_region_covering_the_frame_is_fully_edited() -> None:
    """Every side is the frame border, which is not an edge: no soft edge anywhere."""
    for width in (2.0, 4.0, 12.5):
        assert (edit_alpha(np.ones((20, 30), bool), width) == 1.0).all()


class CountingFrames(list[FrameEntry]):
    """A twin's frame list that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Iterator[FrameEntry]:
        self.walks += 1
        return super().__iter__()


def test_operation_masks_indexes_the_twin_once_per_twin(twin: TwinDocument) -> None:
    """The renderer asks for one frame at a time: indexing the twin's frames on every call made a job
    quadratic in its length."""
    counted = twin.model_copy()
    counted.frames = CountingFrames(twin.frames)
    op = plan_from_edit(
        '{"objects": [{"id": 1, "category": "square", "attributes": "x"}]}', twin, query="q"
    ).operations[0]
    for f in range(N):
        [(got, region)] = operation_masks(op, counted, frames=[f])
        assert got == f and region.any()
        target_mask(counted, 1, f)
    assert counted.frames.walks == 1
    # A twin whose frame list is replaced is indexed again.
    counted.frames = CountingFrames(twin.frames[:3])
    with pytest.raises(TargetNotFoundError, match="frame 5 is not in the twin"):
        list(operation_masks(op, counted, frames=[5]))
