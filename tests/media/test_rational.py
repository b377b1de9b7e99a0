from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from river_core.errors import RangeError, RiverError
from river_core.media.rational import (
    FrameRange,
    Timecode,
    format_rate,
    frames_to_samples,
    parse_rate,
    snap_rate,
)

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30000/1001", NTSC),
        ("29.97", NTSC),
        ("29.970", NTSC),
        ("23.976", Fraction(24000, 1001)),
        ("59.94", Fraction(60000, 1001)),
        ("25", Fraction(25)),
        ("12.5", Fraction(25, 2)),
        ("24/1", Fraction(24)),
    ],
)
def test_parse_rate(text: str, expected: Fraction) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["abc", "0", "-25", "30/0", ""])
def test_parse_rate_rejects_nonsense_naming_the_value(text: str) -> None:
    with pytest.raises(RiverError, match="frame rate"):
        parse_rate(text)


def test_format_and_snap_rate() -> None:
    assert format_rate(Fraction(30)) == "30/1"
    assert format_rate(NTSC) == "30000/1001"
    # a rate measured from millisecond timestamps snaps to the NTSC rate, a genuine 29.5 does not
    assert snap_rate(Fraction(29970, 1000)) == NTSC
    assert snap_rate(Fraction(59, 2)) == Fraction(59, 2)


def test_frames_to_samples_is_exact_for_ntsc() -> None:
    assert frames_to_samples(90, NTSC, 48000) == 144144
    assert frames_to_samples(30, NTSC, 48000) == 48048
    # 1601.6 samples per frame: one frame rounds up, five frames are exact
    assert frames_to_samples(1, NTSC, 48000) == 1602
    assert frames_to_samples(5, NTSC, 48000) == 8008
    assert frames_to_samples(30, Fraction(24000, 1001), 44100) == 55180  # 55180.125


@pytest.mark.parametrize(
    ("frames", "rate", "drop", "text"),
    [
        (0, NTSC, True, "00:00:00;00"),
        (1799, NTSC, True, "00:00:59;29"),
        (1800, NTSC, True, "00:01:00;02"),  # ;00 and ;01 do not exist at minute 1
        (17982, NTSC, True, "00:10:00;00"),  # every tenth minute keeps its frames
        (107892, NTSC, True, "01:00:00;00"),  # one hour of 29.97 DF
        (3596, Fraction(60000, 1001), True, "00:00:59;56"),
        (3596 + 1, Fraction(60000, 1001), True, "00:00:59;57"),
        (3600, Fraction(60000, 1001), True, "00:01:00;04"),
        (86400, Fraction(24000, 1001), False, "01:00:00:00"),
        (90000, Fraction(25), False, "01:00:00:00"),
        (24 * 3600 * 25, Fraction(25), False, "00:00:00:00"),  # wraps at 24 h
    ],
)
def test_timecode_known_values(frames: int, rate: Fraction, drop: bool, text: str) -> None:
    assert str(Timecode(frames, rate, drop)) == text
    if frames < 24 * 3600 * 25:
        assert Timecode.parse(text, rate) == Timecode(frames, rate, drop)


@given(st.integers(0, 24 * 107892 - 1), st.sampled_from([NTSC, Fraction(60000, 1001)]))
def test_drop_frame_round_trips(frames: int, rate: Fraction) -> None:
    tc = Timecode(frames, rate, drop_frame=True)
    assert Timecode.parse(str(tc), rate) == tc


@given(
    st.integers(0, 10**6),
    st.sampled_from([Fraction(24), Fraction(25), Fraction(24000, 1001), NTSC, Fraction(50)]),
)
def test_non_drop_round_trips(frames: int, rate: Fraction) -> None:
    tc = Timecode(frames, rate)
    assert Timecode.parse(str(tc), rate) == tc
    assert (tc + 30).frames == frames + 30


@given(st.integers(0, 5 * 107892))
def test_drop_frame_agrees_with_opentimelineio(frames: int) -> None:
    """An independent implementation (OTIO's opentime) must agree with ours label for label."""
    otio = pytest.importorskip("opentimelineio")
    rate = 30000 / 1001
    theirs = otio.opentime.to_timecode(otio.opentime.RationalTime(frames, rate), rate, drop_frame=True)
    assert str(Timecode(frames, NTSC, drop_frame=True)) == theirs


def test_timecode_rejects_labels_that_do_not_exist() -> None:
    with pytest.raises(RiverError, match="does not exist in drop-frame"):
        Timecode.parse("00:01:00;00", NTSC)
    with pytest.raises(RiverError, match="out of range"):
        Timecode.parse("00:00:00:30", Fraction(30))
    with pytest.raises(RiverError, match="HH:MM:SS:FF"):
        Timecode.parse("1:2:3", Fraction(30))
    with pytest.raises(RiverError, match="drop-frame timecode needs"):
        Timecode(0, Fraction(25), drop_frame=True)


def test_semicolon_at_a_non_ntsc_rate_is_read_as_non_drop() -> None:
    assert Timecode.parse("00:00:01;00", Fraction(25)) == Timecode(25, Fraction(25), False)


def test_frame_range_parse_and_errors() -> None:
    assert FrameRange.parse("30:120") == FrameRange(30, 120)
    assert len(FrameRange.parse("30:120")) == 90
    assert FrameRange.parse(":10", total=50) == FrameRange(0, 10)
    assert FrameRange.parse("40:", total=50) == FrameRange(40, 50)
    assert 119 in FrameRange(30, 120) and 120 not in FrameRange(30, 120)
    with pytest.raises(RangeError, match="outside the clip: it has 289 frames"):
        FrameRange.parse("250:300", total=289)
    with pytest.raises(RangeError, match="empty"):
        FrameRange.parse("30:30")
    with pytest.raises(RangeError, match="START:END"):
        FrameRange.parse("30-40")
    with pytest.raises(RangeError, match="no END"):
        FrameRange.parse("30:")
