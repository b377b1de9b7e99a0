"""The issue's must-show on the real footage: `scripts/demo_timeline.py` cuts ../shared/media clips (with
source offsets and start timecodes) into .otio, FCP7 XML and FCPXML; `river timeline edit` through a
real server (tiny profile) writes timelines whose RIVER clips sit at the original record frames, and
the inputs are untouched. Slow (720p twins with the tiny models): `scripts/test.sh -m slow`."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

import opentimelineio as otio
import pytest

from bridge.server.app import BridgeServer
from host_plugins.otio.rational import frames_at
from host_plugins.otio.read import read_timeline
from river_core.cli import main

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.slow, pytest.mark.shared_media, pytest.mark.timeout(1800)]


def placed(track: otio.schema.Track, rate) -> list[tuple[str, int, int]]:
    ranges = track.range_of_all_children()
    return [
        (c.name.removesuffix(" (RIVER)"), int(frames_at(ranges[c].start_time, rate)),
         int(frames_at(ranges[c].end_time_exclusive(), rate)))
        for c in track if isinstance(c, otio.schema.Clip)
    ]  # fmt: skip


def test_demo_cut_of_the_footage_in_three_formats(
    make_server: Callable[..., BridgeServer], tmp_path: Path, shared_media, capsys
) -> None:
    footage = shared_media("01_dog.mp4").parent
    spec = importlib.util.spec_from_file_location("demo_timeline", ROOT / "scripts" / "demo_timeline.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    out = tmp_path / "demo"
    assert demo.main([str(out), "--media", str(footage)]) == 0
    make_server(media_roots=[out])
    for suffix in (".otio", ".xml", ".fcpxml"):
        source = out / f"cut{suffix}"
        before = hashlib.sha256(source.read_bytes()).hexdigest()
        target = out / f"cut_river{suffix}"
        code = main(["timeline", "edit", str(source), "--targets", "1", "--op", "blur", "--select", "all",
                     "--out", str(target), "--format", "h264", "--no-start", "-q"])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        assert hashlib.sha256(source.read_bytes()).hexdigest() == before
        original, written = read_timeline(source), read_timeline(target)
        n = len(original.timeline.video_tracks())
        want = sorted(x for t in original.timeline.video_tracks() for x in placed(t, original.rate))
        tracks = written.timeline.video_tracks()
        got = sorted(x for t in tracks[n:] for x in placed(t, written.rate))
        assert len(want) == 4 and got == want, suffix
