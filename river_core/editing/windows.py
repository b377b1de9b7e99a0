"""Cutting a long range into model windows, and blending where consecutive windows meet.

Wan2.1-VACE renders at most one window of ``4k+1`` frames per call (81 by default). A longer range is
rendered as consecutive windows that share ``overlap`` frames; over the shared frames the caller
cross-fades from the previous window's result to the new one with :func:`blend_weights`.

:func:`plan_windows` lays the windows out left to right. Every window but the last is exactly
``window`` frames long and starts ``window - overlap`` frames after the previous one. The last
window is as short as the frames left allow (the smallest ``4k+1`` that covers them, never under
5 frames) and ends exactly at ``n``: instead of padding it with repeated frames, its start moves
back onto frames the previous window already rendered, so it sees only real frames and its
overlap grows by what it moved (the new part stays the same). Padding (the last real frame
repeated, :func:`pad_to_length`) is left only for a range shorter than one window whose length is
not ``4k+1`` itself: 34 frames render as one 37-frame call whose last 3 frames are dropped.

Each frame is *new* in exactly one window: window ``i`` contributes ``[start + overlap, end)``, so
the new parts tile ``[0, n)`` without a gap or a duplicate.

>>> [(w.start, w.end, w.length, w.overlap) for w in plan_windows(200, 81, 16)]
[(0, 81, 81, 0), (65, 146, 81, 16), (127, 200, 73, 19)]
>>> [(w.start, w.end, w.length, w.overlap) for w in plan_windows(82, 81, 0)]
[(0, 81, 81, 0), (77, 82, 5, 4)]
>>> plan_windows(34, 81, 16)
[Window(start=0, end=34, length=37, overlap=0)]
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from river_core.errors import RiverError

MIN_TAIL = 5  # the shortest last window of a multi-window plan: two latent frames


class WindowError(RiverError, ValueError):
    """An argument to the window planner cannot be used."""


@dataclass(frozen=True)
class Window:
    """One model call over the frames ``[start, end)`` of the range (0-based, half-open).

    ``length`` is what the model is given: ``4k+1 ≥ end - start``; frames past ``end`` are padding
    (the last real frame repeated) and are dropped from the result. The first ``overlap`` frames
    were already rendered by the previous window (0 for the first window); the window's new part
    is ``[start + overlap, end)``.
    """

    start: int
    end: int
    length: int
    overlap: int

    @property
    def frames(self) -> int:
        """Real frames in the window (``end - start``)."""
        return self.end - self.start

    @property
    def padding(self) -> int:
        """Repeated frames appended to reach ``length``."""
        return self.length - (self.end - self.start)

    @property
    def new_start(self) -> int:
        """The first frame this window renders that no earlier window did."""
        return self.start + self.overlap


def is_4k1(frames: int) -> bool:
    """Whether ``frames`` is a length Wan accepts (1, 5, 9, …, 77, 81, 85, …)."""
    return frames >= 1 and frames % 4 == 1


def round_up_4k1(frames: int) -> int:
    """The smallest ``4k+1 ≥ frames`` (frames ≥ 1)."""
    return frames + (1 - frames) % 4


def lengths_near(frames: int) -> str:
    """The window lengths (4k+1, ≥ 5) next to ``frames``, for error messages: ``"77 or 81"``."""
    if frames <= MIN_TAIL:
        return str(MIN_TAIL)
    above = round_up_4k1(frames)
    return str(frames) if above == frames else f"{above - 4} or {above}"


def plan_windows(n: int, window: int, overlap: int) -> list[Window]:
    """Windows of at most ``window`` frames covering ``[0, n)``, consecutive ones sharing ``overlap``.

    ``window`` must be ``4k+1`` and at least 5; ``0 ≤ overlap < window`` (each window adds a new
    frame). The last window of a multi-window plan ends at ``n`` on real frames only; it may share
    more than ``overlap`` frames with the one before (see the module docstring).
    """
    n = _as_int(n, "n")
    window = _as_int(window, "window")
    overlap = _as_int(overlap, "overlap")
    if n < 1:
        raise WindowError(f"a range to render needs at least 1 frame, got n={n}; check the frame range")
    if not (is_4k1(window) and window >= MIN_TAIL):
        raise WindowError(
            f"window must be 4k+1 frames and at least {MIN_TAIL} (…, 77, 81, 85, …), got {window}; "
            f"use {lengths_near(window)}"
        )
    if not 0 <= overlap < window:
        raise WindowError(
            f"overlap must be between 0 and window - 1 = {window - 1} frames, got {overlap}; "
            "a window has to add at least one new frame"
        )
    if n <= window:
        return [Window(0, n, round_up_4k1(n), 0)]
    windows = [Window(0, window, window, 0)]
    while True:
        start = windows[-1].end - overlap
        if n - start > window:
            windows.append(Window(start, start + window, window, overlap))
            continue
        length = round_up_4k1(max(n - start, MIN_TAIL))  # ≤ window: window is 4k+1 and ≥ MIN_TAIL
        start = n - length  # moves back onto rendered frames rather than padding
        windows.append(Window(start, n, length, windows[-1].end - start))
        return windows


def blend_weights(overlap: int) -> np.ndarray:
    """The new window's float64 weights over ``overlap`` shared frames: ``(i + 1) / (overlap + 1)``.

    Strictly increasing inside ``(0, 1)``; the previous window keeps ``1 - w``. Empty for 0.
    """
    overlap = _as_int(overlap, "overlap")
    if overlap < 0:
        raise WindowError(f"overlap must be ≥ 0 frames, got {overlap}")
    return np.arange(1, overlap + 1, dtype=np.float64) / (overlap + 1)


def pad_to_length(frames: np.ndarray, length: int) -> np.ndarray:
    """``frames`` (axis 0 = time) extended to ``length`` by repeating its last frame.

    Returned as is when it already has ``length`` frames; a longer or empty input is refused.
    """
    length = _as_int(length, "length")
    if not isinstance(frames, np.ndarray) or frames.ndim < 1:
        raise WindowError(
            f"frames must be a numpy array with time on axis 0, got {type(frames).__name__}"
            f"{'' if not isinstance(frames, np.ndarray) else ' of shape ' + str(frames.shape)}"
        )
    have = frames.shape[0]
    if have < 1:
        raise WindowError("cannot pad an empty frame array: there is no last frame to repeat")
    if length < have:
        raise WindowError(f"cannot pad {have} frames to {length}: the target is shorter; slice instead")
    if length == have:
        return frames
    tail = np.repeat(frames[-1:], length - have, axis=0)
    return np.concatenate([frames, tail], axis=0)


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise WindowError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise WindowError(f"{name} must be an integer, got {value!r}") from None
