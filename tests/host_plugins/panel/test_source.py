"""What the panel edits (media file + range, timeline + selection) and the query history: Qt-free."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from bridge.v1 import bridge_pb2
from host_plugins.otio.batch import clip_specs
from host_plugins.panel.history import LIMIT, QueryHistory
from host_plugins.panel.source import SourceError, media_source, parse_range, probe, timeline_source
from tests.host_plugins.otio.timelines import Shot, media_timeline

NTSC = Fraction(30000, 1001)


def test_media_source_header_and_spec(sample_clip: Path) -> None:
    source = media_source(sample_clip, "0:17")
    (clip,) = source.clips
    assert (clip.frames, clip.rate, clip.size) == ((0, 17), NTSC, (1280, 720))
    assert clip.header() == "dog_3s.mp4 · 00:00:00:00–00:00:00:17 (17 frames) · 29.97 fps · 1280×720"
    spec = source.spec(clip, query="blur the dog", settings={"confirm": True, "profile": "tiny"})
    assert spec.kind == bridge_pb2.JOB_KIND_EDIT and spec.query == "blur the dog" and spec.confirm
    assert (spec.media.range.start, spec.media.range.end) == (0, 17)
    assert (spec.media.rate.num, spec.media.rate.den) == (30000, 1001)
    assert spec.media.path == str(sample_clip) and spec.profile == "tiny"
    assert spec.host_context["clip"] == "dog_3s.mp4" and spec.host_context["source_frames"] == "0:17"
    twin = source.spec(clip, settings={"kind": "twin"})
    assert twin.kind == bridge_pb2.JOB_KIND_TWIN and not twin.query


@pytest.mark.parametrize(
    ("text", "frames"),
    [("", (0, 90)), ("0:17", (0, 17)), ("30:", (30, 90)), (":48", (0, 48)), (" 5 : 9 ", (5, 9)),
     ("00:00:01:00-00:00:02:00", (30, 60)), ("00:00:00:10-00:00:00:11", (10, 11))],
)  # fmt: skip
def test_ranges_as_an_editor_types_them(sample_clip: Path, text: str, frames: tuple[int, int]) -> None:
    assert parse_range(text, probe(sample_clip)) == frames


@pytest.mark.parametrize(
    ("text", "why"),
    [("80:100", "not inside dog_3s.mp4's 0:90"), ("17:5", "17:5 are not inside"), ("abc", "give frames"),
     ("00:00:01:00-00:00:09:00", "not inside"), ("00:00:0x:00-00:00:01:00", "not a timecode")],
)  # fmt: skip
def test_bad_ranges_say_what_and_how(sample_clip: Path, text: str, why: str) -> None:
    with pytest.raises(SourceError, match=why) as caught:
        parse_range(text, probe(sample_clip))
    assert "\n" not in str(caught.value)


def test_bad_media_files(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a movie\n")
    with pytest.raises(SourceError, match=r"notes\.mp4: not a video file"):
        media_source(fake)
    with pytest.raises(SourceError, match="no such file"):
        media_source(tmp_path / "missing.mov")


def test_timeline_source_selects_like_river_timeline(sample_clip: Path, tmp_path: Path) -> None:
    shots = [Shot("one", start=6, length=10, gap=4), Shot("two", start=40, length=12)]
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(media_timeline(sample_clip, shots, rate=NTSC, media_frames=90), str(path))
    source = timeline_source(path, ["clip:two"])
    (clip,) = source.clips
    assert (source.kind, clip.name, clip.frames, clip.rate) == ("timeline", "two", (40, 52), NTSC)
    assert clip.entry is not None and clip.entry.record == (14, 26)
    spec = source.spec(clip, query="q", settings={"confirm": True}, folder="f")
    (expected,) = clip_specs([clip.entry], kind="edit", folder="f", settings={"confirm": True}, query="q",
                             host_context=source.host_context)  # fmt: skip
    assert spec == expected.spec  # the same job `river timeline edit` would submit for that clip
    assert len(timeline_source(path).clips) == 2
    with pytest.raises(SourceError, match=r"nothing to edit|no clip"):
        timeline_source(path, ["clip:three"])


def test_query_history_per_project(tmp_path: Path) -> None:
    path = tmp_path / "h" / "history.json"
    a, b = QueryHistory("project A", path), QueryHistory("project B", path)
    a.add("blur the dog")
    a.add("  make the  cup bronze ")
    a.add("blur the dog")  # again: moves to the top, not twice
    b.add("remove the sign")
    assert a.items() == ["blur the dog", "make the cup bronze"]
    assert QueryHistory("project B", path).items() == ["remove the sign"]
    for i in range(LIMIT + 5):
        a.add(f"query {i}")
    assert len(a.items()) == LIMIT and a.items()[0] == f"query {LIMIT + 4}"
    path.write_text("{not json")
    assert a.items() == []  # a damaged file never stops the panel
    a.add("again")
    assert json.loads(path.read_text())["project A"] == ["again"]
