"""Rational time: frame rates as exact fractions, half-open frame ranges, SMPTE timecode.

Time in RIVER is frames + rate, never float seconds. 29.97 is ``Fraction(30000, 1001)``.

>>> rate = parse_rate("29.97")
>>> rate
Fraction(30000, 1001)
>>> str(Timecode.parse("00:00:59;29", rate) + 1)
'00:01:00;02'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from river_core.errors import OutOfRangeError, RangeError, RiverError

# Decimal spellings editors type for the NTSC family; any other decimal is taken literally.
_NTSC_ALIASES: dict[str, Fraction] = {
    "23.976": Fraction(24000, 1001),
    "23.98": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "47.952": Fraction(48000, 1001),
    "47.95": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}

# Rates a container's rounded timestamps are snapped to when they are within 1e-4 of one.
STANDARD_RATES: tuple[Fraction, ...] = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48000, 1001),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
    Fraction(100),
    Fraction(120000, 1001),
    Fraction(120),
)


def parse_rate(value: str | int | Fraction) -> Fraction:
    """Parse a frame rate: ``"30000/1001"``, ``"25"``, ``"29.97"`` (an NTSC alias) or a Fraction.

    Raises ``RiverError`` naming the value when it is not a positive rate.
    """
    if isinstance(value, Fraction | int):
        rate = Fraction(value)
    else:
        text = value.strip()
        if text in _NTSC_ALIASES:
            return _NTSC_ALIASES[text]
        if re.fullmatch(r"\d+(\.\d+)?", text) and text.rstrip("0").rstrip(".") in _NTSC_ALIASES:
            return _NTSC_ALIASES[text.rstrip("0").rstrip(".")]
        try:
            rate = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise RiverError(
                f"frame rate {value!r} is not a number; write it as 30000/1001, 25 or 29.97"
            ) from None
    if rate <= 0:
        raise RiverError(f"frame rate {value!r} must be positive")
    return rate


def format_rate(rate: Fraction) -> str:
    """Always ``num/den`` (``"30/1"``, ``"30000/1001"``), the form ffprobe and our JSON use."""
    return f"{rate.numerator}/{rate.denominator}"


def snap_rate(rate: Fraction, tolerance: Fraction = Fraction(1, 10000)) -> Fraction:
    """Snap a rate measured from rounded timestamps to the standard rate it is within ``tolerance`` of."""
    for std in STANDARD_RATES:
        if abs(rate - std) / std <= tolerance:
            return std
    return rate


def frames_to_seconds(frames: int, rate: Fraction) -> Fraction:
    """The exact duration of ``frames`` frames at ``rate``."""
    return Fraction(frames) / rate


def round_half_up(value: Fraction) -> int:
    """Round a fraction to the nearest integer, halves away from minus infinity (deterministic)."""
    return int((value + Fraction(1, 2)).__floor__())


def frames_to_samples(frames: int, rate: Fraction, sample_rate: int) -> int:
    """The number of audio samples covering ``frames`` frames (rounded to the nearest sample).

    >>> frames_to_samples(90, Fraction(30000, 1001), 48000)
    144144
    """
    return round_half_up(Fraction(frames) * sample_rate / rate)


@dataclass(frozen=True, order=True)
class FrameRange:
    """Source frames ``[start, end)``: ``FrameRange(30, 120)`` holds 90 frames, 30 through 119.

    The one frame-range type of the engine: media ranges, twin ranges, plan spans. It reads and
    writes as ``"30:120"`` for people and ``{"start": 30, "end": 120}`` in JSON (a pydantic field
    type too).
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0:
            raise RangeError(f"range start {self.start} is negative; frame numbers start at 0")
        if self.end <= self.start:
            raise RangeError(f"range {self.start}:{self.end} is empty; END must be greater than START")

    def __len__(self) -> int:
        return self.end - self.start

    def __contains__(self, frame: object) -> bool:
        return isinstance(frame, int) and self.start <= frame < self.end

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.end))

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"

    @classmethod
    def parse(
        cls, text: str, total: int | None = None, *, start_timecode: Timecode | None = None
    ) -> FrameRange:
        """Parse a range as an editor types it.

        - ``START:END``: half-open source frame numbers; either side may be omitted (``275:``,
          ``:17``); an omitted END needs ``total``, the clip's frame count;
        - ``TC-TC``: timecodes of the clip (``01:00:01:00-01:00:02:10``, ``;`` before the frames
          for drop-frame), half-open like frames: the out point is the first frame *not* taken.
          They count from the clip's ``start_timecode`` (00:00:00:00 at the clip's rate when it has
          none); ``:`` separators read in the clip's own drop-frame mode. Either side may be omitted.

        With ``total`` the range is checked against the clip.
        """
        frames = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", text)
        timecodes = re.fullmatch(rf"\s*({_TC})?\s*-\s*({_TC})?\s*", text)
        if frames:
            start = int(frames.group(1)) if frames.group(1) else 0
            end = int(frames.group(2)) if frames.group(2) else None
        elif timecodes and (timecodes.group(1) or timecodes.group(2)):
            if start_timecode is None:
                raise RangeError(
                    f"range {text!r} is in timecode but the clip's rate is unknown here; "
                    "give frames START:END"
                )
            start = _tc_frame(timecodes.group(1), start_timecode, text) if timecodes.group(1) else 0
            end = _tc_frame(timecodes.group(2), start_timecode, text) if timecodes.group(2) else None
        else:
            raise RangeError(
                f"range {text!r} is neither START:END in frames (30:120, 275:, :17) nor a timecode "
                "range HH:MM:SS:FF-HH:MM:SS:FF (01:00:01:00-01:00:02:10; ';' for drop-frame)"
            )
        if total is not None and start >= total:
            raise OutOfRangeError(
                f"range {text!r} starts at frame {start}, after the clip's last frame: it has {total} frames "
                f"(0:{total})"
            )
        if end is None:
            if total is None:
                raise RangeError(f"range {text!r} has no END and the clip length is unknown; give START:END")
            end = total
        if end <= start:
            raise RangeError(
                f"range {text!r} is empty (frames {start}:{end}); its end must come after its start"
            )
        result = cls(start, end)
        if total is not None:
            result.check_within(total)
        return result

    def check_within(self, total: int) -> None:
        """Raise ``RangeError`` if the range does not fit a clip of ``total`` frames."""
        if self.start >= total:
            raise OutOfRangeError(
                f"range {self} starts after the clip's last frame: it has {total} frames (0:{total})"
            )
        if self.end > total:
            raise OutOfRangeError(
                f"range {self} is outside the clip: it has {total} frames, so END can be at most {total}"
            )

    def require_inside(self, outer: FrameRange, what: str) -> None:
        """Raise ``RangeError`` unless the range lies inside ``outer``, saying how it does not:
        ``0:17 does not overlap the twin's 30:47``."""
        if self.end <= outer.start or self.start >= outer.end:
            raise OutOfRangeError(f"{self} does not overlap {what} {outer}; pick frames inside {outer}")
        if self.start < outer.start or self.end > outer.end:
            raise OutOfRangeError(f"{self} reaches outside {what} {outer}; pick frames inside {outer}")

    def widened(self, handles: int, total: int) -> FrameRange:
        """The range with ``handles`` extra frames each side, clamped to a clip of ``total`` frames."""
        return FrameRange(max(0, self.start - handles), min(total, self.end + handles))

    def minus(self, inner: FrameRange) -> list[FrameRange]:
        """The parts of this range outside ``inner`` (before it, after it): the handles around a range.

        >>> FrameRange(10, 40).minus(FrameRange(15, 30))
        [FrameRange(start=10, end=15), FrameRange(start=30, end=40)]
        """
        parts = [(self.start, min(self.end, inner.start)), (max(self.start, inner.end), self.end)]
        return [FrameRange(a, b) for a, b in parts if b > a]

    def to_json(self) -> dict[str, int]:
        return {"start": self.start, "end": self.end}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # A pydantic field type without importing pydantic here: strict ints, no other keys, the
        # range's own checks (a RangeError becomes a validation error naming the field).
        from pydantic_core import core_schema as cs

        fields = {
            "start": cs.typed_dict_field(cs.int_schema(strict=True, ge=0)),
            "end": cs.typed_dict_field(cs.int_schema(strict=True, ge=0)),
        }
        as_dict = cs.typed_dict_schema(fields, extra_behavior="forbid", ref="FrameRange")
        from_dict = cs.no_info_after_validator_function(lambda d: cls(d["start"], d["end"]), as_dict)
        return cs.no_info_before_validator_function(
            lambda v: v.to_json() if isinstance(v, cls) else v,
            from_dict,
            serialization=cs.plain_serializer_function_ser_schema(lambda r: r.to_json()),
        )


def ranges_text(ranges: Iterable[FrameRange]) -> str:
    """``"3:5, 9:12"``: ranges as people read them, in one form everywhere."""
    return ", ".join(str(r) for r in ranges)


def frames_to_ranges(frames: Iterable[int]) -> list[FrameRange]:
    """Frame numbers (sorted, unique) as the fewest half-open ranges: ``[3, 4, 9]`` → ``3:5, 9:10``."""
    out: list[FrameRange] = []
    for f in frames:
        if out and out[-1].end == f:
            out[-1] = FrameRange(out[-1].start, f + 1)
        else:
            out.append(FrameRange(f, f + 1))
    return out


def _tc_frame(text: str, start: Timecode, whole: str) -> int:
    drop = True if ";" in text else start.drop_frame
    try:
        tc = Timecode.parse(text, start.rate, drop_frame=drop)
    except RiverError as exc:
        raise RangeError(f"range {whole!r}: {exc}") from None
    frame = tc.frames - start.frames
    if frame < 0:
        raise OutOfRangeError(
            f"range {whole!r}: {text} is before the clip's first frame, which is {start}; "
            "timecodes count from the clip's start"
        )
    return frame


_TC = r"\d{1,2}[:;.,]\d{2}[:;.,]\d{2}[:;.,]\d{2,3}"
_TC_RE = re.compile(r"^(\d{1,2})[:;.,](\d{2})[:;.,](\d{2})([:;.,])(\d{2,3})$")


def is_drop_frame_rate(rate: Fraction) -> bool:
    """Drop-frame timecode exists for the NTSC multiples of 30000/1001 (29.97, 59.94, 119.88)."""
    return (rate / Fraction(30000, 1001)).denominator == 1


def nominal_fps(rate: Fraction) -> int:
    """The integer frame count per timecode second (30 for 29.97, 24 for 23.976)."""
    return max(1, round_half_up(rate))


@dataclass(frozen=True)
class Timecode:
    """A SMPTE timecode as a frame count at a rate, drop-frame aware.

    ``frames`` counts frames since 00:00:00:00 and wraps at 24 hours when formatted.
    """

    frames: int
    rate: Fraction
    drop_frame: bool = False

    def __post_init__(self) -> None:
        if self.drop_frame and not is_drop_frame_rate(self.rate):
            raise RiverError(
                f"drop-frame timecode needs a 29.97/59.94 rate, not {format_rate(self.rate)}; "
                "use ':' separators"
            )

    @property
    def _drop(self) -> int:
        return nominal_fps(self.rate) // 15 if self.drop_frame else 0

    @classmethod
    def parse(cls, text: str, rate: Fraction, drop_frame: bool | None = None) -> Timecode:
        """Parse ``HH:MM:SS:FF`` (non-drop) or ``HH:MM:SS;FF`` (drop-frame).

        ``drop_frame`` overrides what the separator says.
        """
        match = _TC_RE.match(text.strip())
        if not match:
            raise RiverError(f"timecode {text!r} is not HH:MM:SS:FF (or HH:MM:SS;FF for drop-frame)")
        hh, mm, ss, sep, ff = match.groups()
        h, m, s, f = int(hh), int(mm), int(ss), int(ff)
        if drop_frame is None:
            drop_frame = sep in ";.," and is_drop_frame_rate(rate)
        fps = nominal_fps(rate)
        if m > 59 or s > 59 or f >= fps:
            raise RiverError(f"timecode {text!r} is out of range for {fps} frames per second")
        tc = cls(0, rate, drop_frame)
        drop = tc._drop
        if drop and s == 0 and m % 10 != 0 and f < drop:
            raise RiverError(
                f"timecode {text!r} does not exist in drop-frame (frames 0–{drop - 1} are skipped)"
            )
        total_minutes = 60 * h + m
        frames = (3600 * h + 60 * m + s) * fps + f - drop * (total_minutes - total_minutes // 10)
        return cls(frames, rate, drop_frame)

    def __add__(self, frames: int) -> Timecode:
        return Timecode(self.frames + frames, self.rate, self.drop_frame)

    def __str__(self) -> str:
        fps = nominal_fps(self.rate)
        drop = self._drop
        frames = self.frames
        if drop:
            per_min = fps * 60 - drop
            per_10min = fps * 600 - drop * 9
            day = per_10min * 6 * 24
            frames %= day
            tens, rem = divmod(frames, per_10min)
            frames += drop * 9 * tens
            if rem > drop:
                frames += drop * ((rem - drop) // per_min)
        else:
            frames %= fps * 86400
        ff = frames % fps
        total_seconds = frames // fps
        ss, total_minutes = total_seconds % 60, total_seconds // 60
        mm, hh = total_minutes % 60, total_minutes // 60
        sep = ";" if self.drop_frame else ":"
        return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"
