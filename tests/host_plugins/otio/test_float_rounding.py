"""A time an adapter computed in doubles an ulp from a whole frame (FCP7 XML: a 59.94 clip in a 23.976
sequence comes back 24.999999999999996 frames long) is that whole frame; a real fraction is refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from host_plugins.otio.layback import lay_back, river_clips
from host_plugins.otio.rational import frames_at, time_range
from host_plugins.otio.write import write_timeline
from tests.host_plugins.otio.synthetic import mapped, results_for

FILM, HFR = Fraction(24000, 1001), Fraction(60000, 1001)


def mixed_rate_cut(path: Path, duration: float) -> None:
    """23.976 timeline: "lo" (24 frames at 23.976), then "hi" (a 59.94 clip of ``duration`` frames)."""
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, rate, start, length, frames in (("lo", FILM, 12, 24.0, 200), ("hi", HFR, 20, duration, 400)):
        ref = otio.schema.ExternalReference(target_url=f"/media/{name}.mov",
                                            available_range=time_range(0, frames, rate))  # fmt: skip
        source = otio.opentime.TimeRange(otio.opentime.RationalTime(start, float(rate)),
                                         otio.opentime.RationalTime(length, float(rate)))  # fmt: skip
        track.append(otio.schema.Clip(name=name, media_reference=ref, source_range=source))
    timeline = otio.schema.Timeline(name="film", global_start_time=time_range(0, 1, FILM).start_time)
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))


def test_a_count_an_ulp_from_a_whole_frame_is_that_frame_and_a_real_fraction_is_not() -> None:
    assert frames_at(otio.opentime.RationalTime(24.999999999999996, float(HFR)), HFR) == 25
    assert frames_at(otio.opentime.RationalTime(24.999999999999996, float(HFR)), FILM) == 10
    assert frames_at(otio.opentime.RationalTime(24.5, float(HFR)), HFR) == Fraction(49, 2)
    assert frames_at(otio.opentime.RationalTime(25.001, float(HFR)), HFR) != 25


def test_a_mixed_rate_clip_an_ulp_short_is_edited_and_laid_back_on_its_record_frames(tmp_path: Path) -> None:
    mixed_rate_cut(tmp_path / "film.otio", 24.999999999999996)
    loaded, clip_map = mapped(tmp_path / "film.otio", tmp_path)
    lo, hi = clip_map.entries
    assert hi.editable, hi.skip
    assert (hi.record, hi.source) == ((24, 34), (20, 45))
    written = write_timeline(lay_back(loaded, results_for([lo, hi], tmp_path)), tmp_path / "out.otio",
                             source=loaded)  # fmt: skip
    back = otio.adapters.read_from_file(str(written.path))
    placed = {}
    for rc in river_clips(back):
        span = rc.clip.range_in_parent()
        placed[rc.clip.name] = (
            round(frames_at(span.start_time, FILM)),
            round(frames_at(span.duration, FILM)),
        )
    assert placed == {"lo (RIVER)": (0, 24), "hi (RIVER)": (24, 10)}

    mixed_rate_cut(tmp_path / "half.otio", 24.5)  # 10.2 frames of the timeline: refused, with the reason
    _, clip_map = mapped(tmp_path / "half.otio", tmp_path)
    assert not clip_map.entries[1].editable and "frames" in (clip_map.entries[1].skip or "")


def test_a_source_range_between_frames_is_named_with_its_real_start(tmp_path: Path) -> None:
    rate = Fraction(25)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    ref = otio.schema.ExternalReference(target_url="/media/pal.mov",
                                        available_range=time_range(900000, 100, rate))  # fmt: skip
    source = otio.opentime.TimeRange(
        otio.opentime.RationalTime(900005.5, 25), otio.opentime.RationalTime(10, 25)
    )
    track.append(otio.schema.Clip(name="half", media_reference=ref, source_range=source))
    timeline = otio.schema.Timeline(name="pal")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(tmp_path / "pal.otio"))
    _, clip_map = mapped(tmp_path / "pal.otio", tmp_path)
    (entry,) = clip_map.entries
    assert "900005.5+10@25" in entry.skip, entry.skip
