"""`river timeline edit` end to end: the bundled clip in a timeline, a real server (tiny profile,
explicit targets), the RIVER track decoded and checked against the source frames it covers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from PIL import Image

from bridge.server.app import BridgeServer
from river_core.cli import main
from river_core.media import FrameRange, VideoReader, probe
from tests.host_plugins.otio.timelines import Shot, media_timeline

NTSC = Fraction(30000, 1001)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def river_track(timeline: otio.schema.Timeline) -> otio.schema.Track:
    tracks = [t for t in timeline.tracks if t.name == "RIVER"]
    assert len(tracks) == 1, [t.name for t in timeline.tracks]
    assert timeline.tracks[-1] is tracks[0] or timeline.tracks[-1].name.startswith("RIVER"), "not on top"
    return tracks[0]


def frames_of(rt: otio.opentime.RationalTime, rate: Fraction) -> Fraction:
    return Fraction(rt.value) / Fraction(rt.rate).limit_denominator(1001) * rate


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".fcpxml"])
def test_edit_lays_exact_river_clips_whose_pixels_outside_the_matte_are_the_source(
    make_server: Callable[..., BridgeServer], media_root: Path, tmp_path: Path, suffix: str, capsys
) -> None:
    make_server()  # found through its discovery file, as an NLE plugin finds it
    media = media_root / "clip.mp4"
    shots = [Shot("dog A", start=20, length=17, gap=12), Shot("dog B", start=61, length=9, gap=5)]
    cut = media_timeline(media, shots, rate=NTSC, media_frames=90, global_start=107892)
    source_file = media_root / f"cut{suffix}"
    otio.adapters.write_to_file(cut, str(source_file))
    before = sha256(source_file)
    out = media_root / f"cut_river{suffix}"
    code = main([
        "timeline", "edit", str(source_file), "--targets", "1", "--op", "blur", "--select", "all",
        "--out", str(out), "--format", "ffv1", "--deliver", "media,matte", "--no-start", "-q",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sha256(source_file) == before, "the input timeline was written"
    written = otio.adapters.read_from_file(str(out))
    if not isinstance(written, otio.schema.Timeline):
        written = next(iter(written.find_children(descended_from_type=otio.schema.Timeline)))
    river = river_track(written)
    clips = [c for c in river if isinstance(c, otio.schema.Clip)]
    assert [c.name for c in clips] == ["dog A (RIVER)", "dog B (RIVER)"]
    record_starts = [12, 12 + 17 + 5]
    info = probe(media)
    for clip, shot, record in zip(clips, shots, record_starts, strict=True):
        placed = clip.range_in_parent()
        assert frames_of(placed.start_time, NTSC) == record
        assert frames_of(placed.duration, NTSC) == shot.length
        ref = clip.media_reference
        rendered = Path(otio.url_utils.filepath_from_url(ref.target_url))
        avail = ref.available_range
        first = frames_of(clip.source_range.start_time, NTSC) - frames_of(avail.start_time, NTSC)
        assert first.denominator == 1
        out_info = probe(rendered)
        with VideoReader(rendered, out_info) as r:
            edited = r.read(FrameRange(int(first), int(first) + shot.length))
        with VideoReader(media, info) as r:
            source = r.read(FrameRange(shot.start, shot.start + shot.length))
        mattes = sorted((rendered.parent / "matte").glob("*.png"))
        matte = np.stack([np.asarray(Image.open(p)) for p in mattes[int(first) : int(first) + shot.length]])
        outside = matte == 0
        assert outside.any() and (~outside).any(), "the blur touched nothing or everything"
        assert np.array_equal(edited[outside], source[outside]), "outside the matte is not the source"
        assert not np.array_equal(edited, source), "nothing was edited"
