"""`--rate` is an EDL's (it states none): refused where the timeline has its own and differs; an EDL
that RIVER wrote names its media by URL (`* FROM CLIP: file://…`), where the rate is looked up."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from host_plugins.otio.read import TimelineError, read_timeline

NTSC = Fraction(30000, 1001)


def test_a_rate_that_is_not_the_timelines_own_is_refused_outside_an_edl(cut: Path) -> None:
    with pytest.raises(TimelineError, match=r"--rate 30 is for an EDL.*30000/1001 fps: leave --rate out"):
        read_timeline(cut, rate=Fraction(30))
    assert read_timeline(cut, rate=NTSC).rate == NTSC  # its own rate, said again: fine
    assert read_timeline(cut).rate == NTSC


def test_an_edl_naming_its_media_by_url_takes_the_rate_from_it(cut: Path, tmp_path: Path) -> None:
    media = (tmp_path / "footage" / "dog.mp4").resolve()
    edl = tmp_path / "ours.edl"
    edl.write_text(
        "TITLE: ours\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:00:20 00:00:01:07 01:00:00:00 01:00:00:17\n"
        f"* FROM CLIP: {media.as_uri()}\n"
    )
    loaded = read_timeline(edl)
    assert loaded.rate == NTSC and any("taken from its first media" in n for n in loaded.notes)


def test_an_edls_rate_is_looked_up_in_the_search_paths_too(cut: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "edls"
    elsewhere.mkdir()
    edl = elsewhere / "cut.edl"
    edl.write_text(
        "TITLE: cut\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:00:20 00:00:01:07 01:00:00:00 01:00:00:17\n"
        "* FROM CLIP NAME: dog.mp4\n"
    )
    with pytest.raises(TimelineError, match=r"none of its media was found: dog\.mp4"):
        read_timeline(edl)
    assert read_timeline(edl, search_paths=[tmp_path / "footage"]).rate == NTSC
