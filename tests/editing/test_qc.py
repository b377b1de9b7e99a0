"""Render QC: identity and PSNR outside the region, SSIM outside it, flicker inside it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from river_core.editing.composite import EditInputError, composite
from river_core.editing.qc import QCAccumulator, QCThresholds

H, W, N = 96, 128, 8


def scene(n: int = N, *, static: bool = False) -> list[np.ndarray]:
    """A textured scene panning 1 px per frame (or standing still)."""
    rng = np.random.default_rng(7)
    texture = ndimage.gaussian_filter(rng.uniform(0, 255, (H, W + n, 3)), sigma=(3, 3, 0))
    texture = np.clip((texture - texture.mean()) * 6 + 128, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(texture[:, (0 if static else k) :][:, :W]) for k in range(n)]


def box_alpha(
    top: int = 24, left: int = 32, height: int = 40, width: int = 48, feather: int = 4
) -> np.ndarray:
    """A box: 1 inside, a linear ramp ``feather`` px wide just outside, 0 beyond."""
    inside = np.zeros((H, W), bool)
    inside[top : top + height, left : left + width] = True
    distance = ndimage.distance_transform_edt(~inside)
    return np.clip(1.0 - distance / (feather + 1), 0.0, 1.0).astype(np.float32)


def run(sources, outputs, alphas, thresholds: QCThresholds | None = None, **kwargs):
    qc = QCAccumulator(thresholds or QCThresholds(), **kwargs)
    for s, o, a in zip(sources, outputs, alphas, strict=True):
        qc.add(s, o, a)
    return qc.result()


def test_an_exact_composite_passes() -> None:
    sources, alpha = scene(), box_alpha()
    outputs = [composite(s, 255 - s, alpha) for s in sources]
    report = run(sources, outputs, [alpha] * N, ssim_stride=1)
    assert report.passed and report.flags == ()
    assert report.frames == N and report.identical_outside
    assert report.psnr_outside_db is None and report.worst_frame is None
    assert report.ssim_outside == 1.0 and report.ssim_frames == N
    # an inverted picture changes as much as the source; the feathered edge (a blend) a little less
    assert report.temporal_flicker is not None and 0.7 < report.temporal_flicker <= 1.0
    doc = report.to_json()
    json.dumps(doc, allow_nan=False)  # no inf anywhere
    assert doc["psnr_outside_db"] is None and doc["identical_outside"] is True and doc["passed"] is True


def test_one_pixel_one_level_off_outside_is_flagged() -> None:
    sources, alpha = scene(), box_alpha()
    outputs = [composite(s, 255 - s, alpha) for s in sources]
    outputs[5] = outputs[5].copy()
    outputs[5][90, 3, 1] ^= 1  # far outside the box, one channel, one level
    report = run(sources, outputs, [alpha] * N)
    assert not report.passed and not report.identical_outside
    assert report.worst_frame == 5 and report.frames_differing_outside == 1
    assert report.max_outside_difference == 1
    assert report.psnr_outside_db is not None and report.psnr_outside_db > 48  # far too small for PSNR
    (flag,) = report.flags
    assert "outside the edit region differ from the source in 1 of 8 frames (first at frame 5" in flag


def test_a_decoded_render_is_judged_by_psnr() -> None:
    sources, alpha = scene(), box_alpha()
    outputs = [composite(s, 255 - s, alpha) for s in sources]
    lenient = QCThresholds(require_identical_outside=False)
    rng = np.random.default_rng(1)
    slight = [np.clip(o.astype(int) + rng.integers(-1, 2, o.shape), 0, 255).astype(np.uint8) for o in outputs]
    assert run(sources, slight, [alpha] * N, lenient).passed  # ±1 level: ~50 dB
    heavy = [o.copy() for o in outputs]
    heavy[3] = np.clip(heavy[3].astype(int) + rng.integers(-20, 21, (H, W, 3)), 0, 255).astype(np.uint8)
    report = run(sources, heavy, [alpha] * N, lenient)
    assert report.worst_frame == 3 and report.psnr_outside_db is not None and report.psnr_outside_db < 30
    assert any(
        f.startswith("pixels outside the edit region differ from the source (PSNR ") for f in report.flags
    )
    assert any("dB < 48 dB at frame 3)" in f for f in report.flags)


def test_ssim_sees_a_structural_change_outside() -> None:
    sources, alpha = scene(), box_alpha()
    outputs = [composite(s, 255 - s, alpha) for s in sources]
    outputs[2] = ndimage.uniform_filter(outputs[2], size=(5, 5, 1))  # blurred everywhere
    report = run(sources, outputs, [alpha] * N, QCThresholds(psnr_min_db=0.0), ssim_stride=1)
    assert report.ssim_outside is not None and report.ssim_outside < 0.99
    assert any(
        f.startswith("the picture outside the edit region changed (SSIM") and "frame 2" in f
        for f in report.flags
    )


def test_ssim_ignores_windows_that_reach_into_the_region() -> None:
    """A large inverted region next to an untouched outside: every SSIM window overlapping the
    region would score low; they are left out, so a tiny change far away keeps SSIM ≈ 1."""
    sources, alpha = scene(2), box_alpha(top=8, left=8, height=80, width=80, feather=0)
    outputs = [composite(s, 255 - s, alpha) for s in sources]
    outputs[0] = outputs[0].copy()
    outputs[0][50, 120, 0] ^= 1  # forces a real SSIM computation (not the identical shortcut)
    report = run(sources, outputs, [alpha] * 2, ssim_stride=1)
    assert report.ssim_outside is not None and report.ssim_outside > 0.999


def test_a_flickering_region_is_flagged() -> None:
    sources, alpha = scene(), box_alpha()
    rng = np.random.default_rng(3)
    outputs = [composite(s, rng.integers(0, 256, s.shape, dtype=np.uint8), alpha) for s in sources]
    report = run(sources, outputs, [alpha] * N)
    assert report.identical_outside
    assert report.temporal_flicker is not None and report.temporal_flicker > 5
    (flag,) = report.flags
    assert flag.startswith("the edit region flickers")


def test_static_source_with_a_changing_region() -> None:
    sources, alpha = scene(static=True), box_alpha()
    rng = np.random.default_rng(4)
    noisy = [composite(s, rng.integers(0, 256, s.shape, dtype=np.uint8), alpha) for s in sources]
    report = run(sources, noisy, [alpha] * N)
    assert report.temporal_flicker is None
    assert any("where the source is static" in f for f in report.flags)
    steady = [composite(s, 255 - s, alpha) for s in sources]
    assert run(sources, steady, [alpha] * N).passed


def test_empty_region_everywhere() -> None:
    sources = scene(3)
    alpha = np.zeros((H, W), np.float32)
    report = run(sources, sources, [alpha] * 3)
    assert report.passed and report.temporal_flicker is None and report.identical_outside


def test_everything_inside_the_region() -> None:
    sources = scene(3)
    alpha = np.ones((H, W), np.float32)
    report = run(sources, [255 - s for s in sources], [alpha] * 3)
    assert report.identical_outside and report.psnr_outside_db is None and report.ssim_outside is None
    assert report.passed


def test_ssim_stride_is_automatic_and_reported() -> None:
    qc = QCAccumulator()
    frame = np.zeros((720, 1280, 3), np.uint8)
    alpha = np.zeros((720, 1280), np.float32)
    for _ in range(6):
        qc.add(frame, frame, alpha)
    report = qc.result()
    assert report.ssim_stride == 5 and report.ssim_frames == 2  # frames 0 and 5
    assert report.to_json()["ssim_stride"] == 5
    assert QCAccumulator(ssim_stride=1).stride == 1


def test_malformed_inputs_are_refused() -> None:
    qc = QCAccumulator()
    frame = np.zeros((H, W, 3), np.uint8)
    alpha = np.zeros((H, W), np.float32)
    with pytest.raises(EditInputError, match="same resolution"):
        qc.add(frame, np.zeros((H, W + 2, 3), np.uint8), alpha)
    with pytest.raises(EditInputError, match="alpha"):
        qc.add(frame, frame, np.zeros((H, W), np.uint8))
    qc.add(frame, frame, alpha)
    with pytest.raises(EditInputError, match="one clip"):
        qc.add(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.float32))
