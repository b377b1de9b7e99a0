"""Render QC: did an edit change only what it was meant to, and is the edited region stable in time?

:class:`QCAccumulator` takes each frame's source, output and edit alpha (``uint8 [H, W, 3]`` ×2 and
float ``[H, W]`` in ``[0, 1]``) and measures three things:

- **Outside the region** (``alpha == 0``) the output should be the source. Every frame is checked
  for byte identity and its PSNR over the outside pixels (from their MSE). Frames composited before
  encoding must be identical there (:func:`~river_core.editing.composite.composite` copies those
  bytes); decoded renders of a lossy encode are judged by ``psnr_min_db`` instead (pass
  ``QCThresholds(require_identical_outside=False)``).
- **Structure outside the region**: mean SSIM (scikit-image, 7×7 windows, ``data_range=255``, per
  channel) over the outside pixels whose whole window lies outside the region, so a legitimate
  edit next to the boundary does not lower it. SSIM costs ~140–180 ms per 720p frame (measured on
  a 2-core machine), so it runs on every ``ssim_stride``-th frame (automatic: every 5th frame at 720p,
  every 11th at 1080p — about 35 ms per frame on average); a frame identical outside has SSIM 1
  without computing it. Identity and PSNR are checked on every frame.
- **Temporal flicker**: the output's mean frame-to-frame change inside the region divided by the
  source's over the same pixels (those inside the region in both frames), the source's floored at
  a quarter level so a nearly static source does not inflate the ratio. 1 means as stable as the
  source; a generated region that boils is several times that. Where the source is exactly static
  the ratio is undefined (None) and an output changing by more than a level per frame is flagged.

:meth:`QCAccumulator.result` gives a :class:`QCReport` whose ``flags`` are sentences for the editor;
it passes when there are none.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

from river_core.editing.composite import EditInputError, check_pair

# SSIM window (scikit-image's default) and the frame area SSIM is affordable for on every frame;
# larger frames are sampled every round(area / this)-th frame (5 at 720p).
_SSIM_WIN = 7
_SSIM_FULL_RATE_AREA = 1280 * 720 // 5
# The source's frame-to-frame change is floored at this many levels when dividing by it, so a
# nearly static source does not turn an invisible change of the output into a huge ratio.
_FLICKER_FLOOR = 0.25
# Where the source is exactly static, an output changing by more than this (mean levels per frame)
# inside the region is flagged.
_STATIC_CHANGE_MAX = 1.0


@dataclass(frozen=True)
class QCThresholds:
    """Limits a render must meet; see the module docstring for what each measures."""

    psnr_min_db: float = 48.0  # outside the edit region vs source (pre-encode frames: identical → inf)
    ssim_min: float = 0.99
    flicker_max: float = 2.0  # output's frame-to-frame change in the region / the source's
    require_identical_outside: bool = True  # pre-encode frames; False when checking a decoded render


@dataclass(frozen=True)
class QCReport:
    """The QC of one rendered range. ``frame`` numbers count from 0 at the range's first frame."""

    frames: int
    psnr_outside_db: float | None  # the worst frame's; None when identical (MSE 0) or nothing is outside
    identical_outside: bool
    ssim_outside: float | None  # the worst sampled frame's mean SSIM outside; None if nothing is outside
    temporal_flicker: float | None  # None when the region is empty or the source is static there
    worst_frame: int | None  # the frame with the lowest outside PSNR; None when all are identical
    flags: tuple[str, ...]
    thresholds: QCThresholds = QCThresholds()
    psnr_outside_mean_db: float | None = None  # over every outside pixel of every frame
    frames_differing_outside: int = 0
    max_outside_difference: int = 0  # the largest per-channel difference outside, in levels
    ssim_outside_mean: float | None = None
    ssim_stride: int = 1
    ssim_frames: int = 0  # frames SSIM was measured on
    region_change_output: float | None = None  # mean levels per frame inside the region
    region_change_source: float | None = None

    @property
    def passed(self) -> bool:
        return not self.flags

    def to_json(self) -> dict[str, Any]:
        """JSON-ready; ``psnr_outside_db`` is null when the outside is identical (JSON has no inf)."""
        return {
            "passed": self.passed,
            "frames": self.frames,
            "identical_outside": self.identical_outside,
            "psnr_outside_db": _round(self.psnr_outside_db, 2),
            "psnr_outside_mean_db": _round(self.psnr_outside_mean_db, 2),
            "worst_frame": self.worst_frame,
            "frames_differing_outside": self.frames_differing_outside,
            "max_outside_difference": self.max_outside_difference,
            "ssim_outside": _round(self.ssim_outside, 5),
            "ssim_outside_mean": _round(self.ssim_outside_mean, 5),
            "ssim_stride": self.ssim_stride,
            "ssim_frames": self.ssim_frames,
            "temporal_flicker": _round(self.temporal_flicker, 3),
            "region_change_output": _round(self.region_change_output, 3),
            "region_change_source": _round(self.region_change_source, 3),
            "flags": list(self.flags),
            "thresholds": asdict(self.thresholds),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The smallest slices holding every True of a 2-D mask; None when there is none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _abs_change(now: np.ndarray, before: np.ndarray) -> float:
    return float(np.abs(now.astype(np.int16) - before.astype(np.int16)).sum())


def _psnr(mse: float) -> float:
    return 10.0 * math.log10(255.0**2 / mse)


class QCAccumulator:
    """Feed frames in order with :meth:`add`; :meth:`result` gives the report (any time)."""

    def __init__(self, thresholds: QCThresholds = QCThresholds(), *, ssim_stride: int | None = None) -> None:
        """``ssim_stride``: measure SSIM on every n-th frame (None: from the frame size, see above)."""
        if ssim_stride is not None and (not isinstance(ssim_stride, int) or ssim_stride < 1):
            raise EditInputError(f"`ssim_stride` must be an int ≥ 1, got {ssim_stride!r}")
        self.thresholds = thresholds
        self.ssim_stride = ssim_stride
        self.frames = 0
        self._shape: tuple[int, ...] | None = None
        # outside the region
        self._sq_sum = 0.0  # squared differences over every outside sample
        self._outside_samples = 0
        self._worst: tuple[float, int] | None = None  # (PSNR, frame) of the lowest PSNR
        self._differing = 0
        self._first_differing: int | None = None
        self._max_diff = 0
        self._ssim: list[tuple[float, int]] = []  # (mean SSIM, frame)
        # inside the region, between consecutive frames
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # source, output, region
        self._change_out = 0.0
        self._change_src = 0.0
        self._change_samples = 0

    def add(self, source: np.ndarray, output: np.ndarray, alpha: np.ndarray) -> None:
        """One frame: source and output ``uint8 [H, W, 3]``, alpha float ``[H, W]`` (region = alpha > 0)."""
        check_pair(source, "output", output, alpha, fix="QC compares frames at the same resolution")
        if self._shape is None:
            self._shape = source.shape
        elif source.shape != self._shape:
            raise EditInputError(
                f"frame {self.frames} is {source.shape[1]}×{source.shape[0]} but the first was "
                f"{self._shape[1]}×{self._shape[0]}; QC one clip (one size) at a time"
            )
        k = self.frames
        region = alpha > 0.0  # [H, W]
        outside = ~region
        identical = self._check_outside(k, source, output, outside)
        if self.stride == 1 or k % self.stride == 0:
            self._measure_ssim(k, source, output, outside, identical)
        self._measure_change(source, output, region)
        self.frames += 1

    @property
    def stride(self) -> int:
        """The SSIM frame stride in use (1 until the first frame when automatic)."""
        if self.ssim_stride is not None:
            return self.ssim_stride
        if self._shape is None:
            return 1
        return max(1, round(self._shape[0] * self._shape[1] / _SSIM_FULL_RATE_AREA))

    # -- measurements -------------------------------------------------------------------------

    def _check_outside(self, k: int, source: np.ndarray, output: np.ndarray, outside: np.ndarray) -> bool:
        n_outside = int(np.count_nonzero(outside)) * source.shape[2]
        self._outside_samples += n_outside
        if n_outside == 0 or np.array_equal(source, output):
            return True
        changed = np.any(source != output, axis=2) & outside  # [H, W]
        if not changed.any():
            return True
        # Identical pixels add nothing to the squared error: sum over the changed ones only.
        diff = output[changed].astype(np.int16) - source[changed].astype(np.int16)  # [N, 3]
        sq = float(np.sum(diff.astype(np.float64) ** 2))
        self._sq_sum += sq
        self._differing += 1
        self._max_diff = max(self._max_diff, int(np.abs(diff).max()))
        if self._first_differing is None:
            self._first_differing = k
        psnr = _psnr(sq / n_outside)
        if self._worst is None or psnr < self._worst[0]:
            self._worst = (psnr, k)
        return False

    def _measure_ssim(
        self, k: int, source: np.ndarray, output: np.ndarray, outside: np.ndarray, identical: bool
    ) -> None:
        # Outside pixels whose whole SSIM window is outside, away from the frame's edge strip
        # (scikit-image leaves that strip out of its mean too).
        pad = (_SSIM_WIN - 1) // 2
        inner = ndimage.minimum_filter(outside.view(np.uint8), size=_SSIM_WIN, mode="constant", cval=1) > 0
        inner[:pad], inner[-pad:], inner[:, :pad], inner[:, -pad:] = False, False, False, False
        if not inner.any():
            return
        if identical:
            self._ssim.append((1.0, k))
            return
        _, full = structural_similarity(
            source.astype(np.float32),
            output.astype(np.float32),
            win_size=_SSIM_WIN,
            data_range=255,
            channel_axis=2,
            full=True,
        )
        self._ssim.append((float(np.mean(full[inner], dtype=np.float64)), k))

    def _measure_change(self, source: np.ndarray, output: np.ndarray, region: np.ndarray) -> None:
        if self._prev is not None:
            prev_src, prev_out, prev_region = self._prev
            both = region & prev_region  # [H, W]
            box = _bounding_box(both)
            if box is not None:
                inside = both[box]
                n = int(np.count_nonzero(inside))
                self._change_out += _abs_change(output[box][inside], prev_out[box][inside])
                self._change_src += _abs_change(source[box][inside], prev_src[box][inside])
                self._change_samples += n * source.shape[2]
        self._prev = (source.copy(), output.copy(), region)

    # -- the report ---------------------------------------------------------------------------

    def result(self) -> QCReport:
        t = self.thresholds
        flags: list[str] = []
        identical = self._differing == 0
        worst_psnr, worst_frame = self._worst if self._worst is not None else (None, None)
        mean_psnr = _psnr(self._sq_sum / self._outside_samples) if self._sq_sum > 0 else None
        if worst_psnr is not None and worst_psnr < t.psnr_min_db:
            flags.append(
                f"pixels outside the edit region differ from the source (PSNR {worst_psnr:.1f} dB < "
                f"{t.psnr_min_db:g} dB at frame {worst_frame})"
            )
        elif not identical and t.require_identical_outside:
            flags.append(
                f"pixels outside the edit region differ from the source in {self._differing} of "
                f"{self.frames} frames (first at frame {self._first_differing}, by up to "
                f"{self._max_diff} level{'s' if self._max_diff > 1 else ''}); they must be the source's "
                "bytes: composite the edit with its alpha"
            )

        ssim_worst = min(self._ssim) if self._ssim else None
        ssim_mean = float(np.mean([s for s, _ in self._ssim])) if self._ssim else None
        if ssim_worst is not None and ssim_worst[0] < t.ssim_min:
            flags.append(
                f"the picture outside the edit region changed (SSIM {ssim_worst[0]:.4f} < {t.ssim_min:g} "
                f"at frame {ssim_worst[1]})"
            )

        flicker = change_out = change_src = None
        if self._change_samples:
            change_out = self._change_out / self._change_samples
            change_src = self._change_src / self._change_samples
            if change_src > 0:
                flicker = change_out / max(change_src, _FLICKER_FLOOR)
                if flicker > t.flicker_max:
                    flags.append(
                        f"the edit region flickers: it changes {flicker:.1f}× as much from frame to frame "
                        f"as the source there (at most {t.flicker_max:g}×); render with more temporal "
                        "consistency or a smaller region"
                    )
            elif change_out > _STATIC_CHANGE_MAX:
                flags.append(
                    f"the edit region changes by {change_out:.1f} levels per frame where the source is "
                    "static; it should hold still"
                )

        return QCReport(
            frames=self.frames,
            psnr_outside_db=worst_psnr,
            identical_outside=identical,
            ssim_outside=ssim_worst[0] if ssim_worst is not None else None,
            temporal_flicker=flicker,
            worst_frame=worst_frame,
            flags=tuple(flags),
            thresholds=t,
            psnr_outside_mean_db=mean_psnr,
            frames_differing_outside=self._differing,
            max_outside_difference=self._max_diff,
            ssim_outside_mean=ssim_mean,
            ssim_stride=self.stride,
            ssim_frames=len(self._ssim),
            region_change_output=change_out,
            region_change_source=change_src,
        )
