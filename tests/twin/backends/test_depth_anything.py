"""Depth Anything V2 backend: the real transformers classes at tiny size, on real footage.

Random tiny weights give meaningless depth, so these tests check behaviour (sizes, dtype, order,
padding geometry, determinism, round trips), never quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.media import FrameRange, read_frames, resize
from river_core.samples import bundled_sample
from river_core.twin.backends import depth_anything as da
from river_core.twin.profiles import load_stage
from river_core.twin.stages import DepthEstimator, ModelSpec


@pytest.fixture(scope="module")
def plan() -> DevicePlan:
    return DevicePlan("cpu", "float32")


@pytest.fixture(scope="module")
def estimator(plan: DevicePlan) -> da.DepthAnythingEstimator:
    return da.tiny(seed=0, plan=plan)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Frames of the bundled 1280×720 clip at mixed sizes, two of them equal (batched together)."""
    f = read_frames(bundled_sample(), FrameRange(40, 44))
    return [
        resize(f[0], (128, 72)),
        resize(f[1], (72, 128)),
        resize(f[2], (128, 72)),
        np.ascontiguousarray(f[3][300:337, 600:661]),  # a 61×37 crop at source resolution
    ]


def test_is_a_depth_stage(estimator: da.DepthAnythingEstimator, plan: DevicePlan) -> None:
    assert isinstance(estimator, DepthEstimator)
    assert estimator.info.role == "depth"
    assert estimator.info.model_id == "tiny:DepthAnythingForDepthEstimation"
    assert isinstance(load_stage("depth", ModelSpec("tiny:depth"), plan), da.DepthAnythingEstimator)


def test_each_map_is_float32_at_its_image_size(
    estimator: da.DepthAnythingEstimator, images: list[np.ndarray]
) -> None:
    maps = estimator.estimate(images)
    assert [m.shape for m in maps] == [im.shape[:2] for im in images]
    for m in maps:
        assert m.dtype == np.float32 and np.isfinite(m).all() and (m >= 0).all()  # ReLU head: disparity
    assert estimator.estimate([]) == []


def test_grouping_by_size_keeps_order_and_values(
    estimator: da.DepthAnythingEstimator, images: list[np.ndarray]
) -> None:
    together = estimator.estimate(images)
    alone = [estimator.estimate([image])[0] for image in images]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-12)
    estimator.batch_size = 1
    try:
        one_by_one = estimator.estimate(images)
    finally:
        estimator.batch_size = da.BATCH_SIZE
    for a, b in zip(together, one_by_one, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-12)


def test_padding_is_centered_like_dpt_and_cropped_off_exactly() -> None:
    pixels = torch.arange(2 * 3 * 31 * 45, dtype=torch.float32).reshape(2, 3, 31, 45) + 1
    padded, pad = da.pad_to_multiple(pixels, 14)
    assert padded.shape[-2:] == (42, 56) and pad == (5, 6, 5, 6)
    dpt = da.DPTImageProcessorPil().pad_image(pixels[0].numpy(), size_divisor=14)
    np.testing.assert_array_equal(padded[0].numpy(), dpt)
    assert torch.equal(da.crop_padding(padded, pad), pixels)
    same, none = da.pad_to_multiple(pixels[..., :28, :42], 14)
    assert none == (0, 0, 0, 0) and same.shape[-2:] == (28, 42)


def test_a_processor_that_leaves_odd_sizes_is_padded_and_cropped(
    estimator: da.DepthAnythingEstimator, images: list[np.ndarray]
) -> None:
    """With ``ensure_multiple_of=1`` the resized pictures are not patch multiples (70×124 for
    128×72): the stage pads them to 70×126 itself and crops the prediction back."""
    model = estimator._model
    assert model is not None
    odd = da.DepthAnythingEstimator(model, da.tiny_processor(ensure_multiple_of=1), estimator.info)
    pixels = odd._processor(images=images[:1], return_tensors="pt")["pixel_values"]
    assert pixels.shape[-1] % 14 != 0
    maps = odd.estimate(images)
    assert [m.shape for m in maps] == [im.shape[:2] for im in images]


def test_same_seed_same_maps_and_round_trip_through_save_pretrained(
    estimator: da.DepthAnythingEstimator, plan: DevicePlan, images: list[np.ndarray], tmp_path: Path
) -> None:
    expected = estimator.estimate(images)
    again = da.tiny(seed=0, plan=plan).estimate(images)
    assert all(np.array_equal(a, b) for a, b in zip(expected, again, strict=True))
    other = da.tiny(seed=1, plan=plan).estimate(images)
    assert not all(np.array_equal(a, b) for a, b in zip(expected, other, strict=True))

    estimator.save_pretrained(tmp_path)
    loaded = da.load(ModelSpec(str(tmp_path)), plan)
    assert loaded.info.model_id == str(tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(expected, loaded.estimate(images), strict=True))


def test_load_of_a_missing_checkpoint_says_how_to_get_it(plan: DevicePlan, tmp_path: Path) -> None:
    with pytest.raises(RiverError, match=r"`hf download river-tests/no-such-depth`"):
        da.load(ModelSpec("river-tests/no-such-depth"), plan)
    with pytest.raises(RiverError, match="does not exist"):
        da.load(ModelSpec(str(tmp_path / "missing")), plan)
    with pytest.raises(RiverError, match="does not hold a checkpoint of Depth Anything"):
        da.load(ModelSpec(str(tmp_path)), plan)


def test_bad_images_are_named_and_close_is_final(plan: DevicePlan, images: list[np.ndarray]) -> None:
    stage = da.tiny(plan=plan)
    with pytest.raises(RiverError, match=r"`images\[0\]`"):
        stage.estimate([images[0][..., 0]])
    stage.close()
    stage.close()
    with pytest.raises(RiverError, match="closed"):
        stage.estimate(images)


def test_paper_config_is_depth_anything_v2_small() -> None:
    config = da.paper_config()
    assert config.backbone_config.out_indices == [3, 6, 9, 12]
    assert list(config.neck_hidden_sizes) == [48, 96, 192, 384]
    with torch.device("meta"):
        model = da.DepthAnythingForDepthEstimation(config)
    assert 24e6 < sum(p.numel() for p in model.parameters()) < 25.5e6  # V2-Small: 24.8 M
