"""Exact time at the OTIO boundary: OTIO stores times and rates as doubles; we compute in Fractions.

A rate of 29.97 (as an AAF or an old EDL writes it) or 29.97002997… (30000/1001 as a double) is the
NTSC rate 30000/1001: NLEs mean that, never 2997/100. Frame positions are whole numbers at a rate;
a time that falls between two frames of a rate is refused by the caller with the reason, never rounded.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

import opentimelineio as otio

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

# Nominal rates that NLEs write rounded (23.976, 29.97, 59.94) or as a double of n*1000/1001.
_NTSC = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))
_TOLERANCE = 0.005  # 29.97, 23.976 and 23.98 (as NLEs round them) are the NTSC rates; 30 is 0.03 away


_TIMECODE = re.compile(r"^\d{1,2}:\d{2}:\d{2}[:;.]\d{2,3}$")


def exact_rate(rate: float | Fraction | int) -> Fraction:
    """The exact rate an NLE means by ``rate``: ``29.97`` → 30000/1001, ``25.0`` → 25."""
    if isinstance(rate, Fraction):
        return rate
    return _exact_rate(rate)


@functools.lru_cache(maxsize=64)  # a timeline has a handful of rates and asks for them per clip
def _exact_rate(rate: float) -> Fraction:
    if rate <= 0:
        raise ValueError(f"rate {rate!r} is not a frame rate (it must be positive)")
    for ntsc in _NTSC:
        if abs(float(ntsc) - rate) < _TOLERANCE:
            return ntsc
    if abs(rate - round(rate)) < 1e-9:
        return Fraction(round(rate))
    return Fraction(rate).limit_denominator(1001)


def rate_text(rate: Fraction) -> str:
    """``30000/1001`` or ``25``: how the rest of RIVER spells a rate."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def seconds(rt: otio.opentime.RationalTime) -> Fraction:
    """The exact time of an OTIO RationalTime (its double value is taken exactly)."""
    value = rt.value
    whole_value = int(value)
    exact = Fraction(whole_value) if whole_value == value else Fraction(value)  # the common case, fast
    return exact / exact_rate(rt.rate)


# OTIO keeps times as doubles, and an adapter converting between rates (FCP7 XML: a 59.94 clip in a 23.976
# sequence) lands a whole frame count an ulp away (24.999999999999996). No NLE places a time a millionth of
# a frame from a frame: such a count is the whole frame it stands for. Anything further off stays fractional
# and is refused by the caller.
_SNAP = Fraction(1, 1_000_000)


def frames_at(rt: otio.opentime.RationalTime, rate: Fraction) -> Fraction:
    """``rt`` as a (possibly fractional) frame count at ``rate`` (a whole count within a millionth of a
    frame, the double's rounding, is that whole count)."""
    own = exact_rate(rt.rate)
    if own is rate or own == rate:  # the common case, fast: its own value, taken exactly
        value = rt.value
        whole_value = int(value)
        if whole_value == value:
            return Fraction(whole_value)
        count = Fraction(value)
    else:
        count = seconds(rt) * rate
        if count.denominator == 1:
            return count
    nearest = round(count)
    return Fraction(nearest) if abs(count - nearest) < _SNAP else count


def frame_span(text: object) -> tuple[int, int] | None:
    """``"7:25"`` (how the server's summaries and provenance write a frame range) → (7, 25); None when
    ``text`` is not one."""
    if not isinstance(text, str) or ":" not in text:
        return None
    a, _, b = text.partition(":")
    try:
        return int(a), int(b)
    except ValueError:
        return None


def whole(value: Fraction) -> int | None:
    """``value`` as an int when it is whole, else None."""
    return value.numerator if value.denominator == 1 else None


def rt(frames: int | Fraction, rate: Fraction) -> otio.opentime.RationalTime:
    """A RationalTime of ``frames`` at ``rate`` (the double nearest the exact rate)."""
    return otio.opentime.RationalTime(float(frames), float(rate))


def time_range(start: int, duration: int, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start, rate), rt(duration, rate))


def timecode(frame: int, rate: Fraction, *, drop_frame: bool = False) -> str:
    """Frame number ``frame`` (counted from 00:00:00:00) at ``rate`` as SMPTE timecode."""
    return str(otio.opentime.to_timecode(rt(frame, rate), float(rate), drop_frame))


def parse_timecode(text: str, rate: Fraction) -> int:
    """``01:00:00:00`` (``;`` before the frames: drop frame) → a frame count at ``rate``; ValueError."""
    text = text.strip()
    if not _TIMECODE.match(text):  # OTIO reads "00:00:0x:00" as 0: check the shape first
        raise ValueError(f"{text!r} is not a timecode (HH:MM:SS:FF, ';' before FF for drop frame)")
    try:
        value = otio.opentime.from_timecode(text, float(rate)).value
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ValueError(f"{text!r} is not a timecode at {rate_text(rate)} fps ({exc})") from None
    return round(value)
