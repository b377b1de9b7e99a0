from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from river_core.errors import RiverError
from river_core.media.geometry import Placement, resize
from tests.helpers import psnr


@pytest.mark.parametrize(
    ("src", "dst", "content", "offset"),
    [
        ((1280, 720), (832, 480), (832, 468), (0, 6)),  # 16:9 into Wan's 480p: thin bars top and bottom
        ((720, 1280), (480, 832), (468, 832), (6, 0)),  # portrait into portrait
        ((720, 1280), (832, 480), (270, 480), (281, 0)),  # portrait into landscape: pillarbox
        ((3840, 2160), (832, 480), (832, 468), (0, 6)),  # 4K
        ((960, 540), (960, 540), (960, 540), (0, 0)),  # identity
    ],
)
def test_letterbox_layout(src, dst, content, offset) -> None:
    p = Placement.fit(src, dst)
    assert (p.content_w, p.content_h) == content
    assert (p.left, p.top) == offset
    # the source's corners land on the content box's corners
    assert p.to_model_point(0, 0) == (p.left, p.top)
    assert p.to_model_point(*src) == (p.left + p.content_w, p.top + p.content_h)


@given(
    st.tuples(st.integers(16, 4096), st.integers(16, 4096)),
    st.tuples(st.integers(16, 1024), st.integers(16, 1024)),
    st.fractions(0, 1),
    st.fractions(0, 1),
    st.sampled_from(["letterbox", "stretch"]),
)
def test_point_mapping_inverts_exactly(src, dst, fx, fy, mode) -> None:
    p = Placement.fit(src, dst, mode)
    x, y = fx * src[0], fy * src[1]
    mx, my = p.to_model_point(x, y)
    assert p.to_source_point(mx, my) == (x, y)
    # model-space points stay inside the content box
    x0, y0, x1, y1 = p.content_box
    assert x0 <= mx <= x1 and y0 <= my <= y1


def _smooth_image(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack(
        [128 + 100 * np.sin(xx / 37.0), 128 + 100 * np.cos(yy / 23.0), (xx + yy) % 256], axis=-1
    ).astype(np.uint8)


def test_image_round_trip_through_model_space() -> None:
    src = _smooth_image(1280, 720)
    p = Placement.fit((1280, 720), (832, 480))
    model = p.to_model(src, pad_value=0)
    assert model.shape == (480, 832, 3)
    assert not model[:6].any() and not model[-6:].any()  # the bars are padding
    back = p.to_source(model)
    assert back.shape == src.shape
    assert psnr(back, src) > 30


def test_to_source_ignores_the_padding() -> None:
    p = Placement.fit((1280, 720), (832, 480))
    model = p.to_model(_smooth_image(1280, 720))
    garbage = model.copy()
    garbage[:6] = 255
    garbage[-6:] = 17
    np.testing.assert_array_equal(p.to_source(garbage), p.to_source(model))


def test_mask_round_trip_keeps_the_shape() -> None:
    yy, xx = np.mgrid[0:720, 0:1280]
    mask = (xx - 600) ** 2 / 200**2 + (yy - 300) ** 2 / 120**2 <= 1
    p = Placement.fit((1280, 720), (832, 480))
    model_mask = p.to_model(mask.astype(np.uint8), interpolation="mask").astype(bool)
    back = p.to_source(model_mask, interpolation="mask")
    assert back.dtype == bool and back.shape == mask.shape
    iou = (back & mask).sum() / (back | mask).sum()
    assert iou > 0.98
    # area is preserved through the round trip to within a percent
    assert abs(int(back.sum()) - int(mask.sum())) / mask.sum() < 0.01


def test_stretch_fills_the_canvas_and_inverts() -> None:
    p = Placement.fit((1280, 720), (832, 480), "stretch")
    assert p.content_box == (0, 0, 832, 480)
    assert p.scale_x == Fraction(13, 20) and p.scale_y == Fraction(2, 3)
    back = p.to_source(p.to_model(_smooth_image(1280, 720)))
    assert psnr(back, _smooth_image(1280, 720)) > 30


def test_float_maps_and_errors() -> None:
    depth = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    out = resize(depth, (32, 24), "bilinear")
    assert out.dtype == np.float32 and out.shape == (24, 32)
    assert out.min() >= 0 and out.max() <= 1
    p = Placement.fit((64, 48), (32, 32))
    with pytest.raises(RiverError, match="expects 64×48"):
        p.to_model(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(RiverError, match="fit mode"):
        Placement.fit((64, 48), (32, 32), "crop")  # type: ignore[arg-type]
    with pytest.raises(RiverError, match="must be positive"):
        Placement.fit((0, 48), (32, 32))
