"""`river timeline edit` end to end: the bundled clip in a timeline, a real server (tiny profile,
explicit targets), the RIVER track decoded and checked against the source frames it covers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
from PIL import Image

from bridge.server.app import BridgeServer
from host_plugins.otio.fcpx import make_exact
from river_core.cli import main
from river_core.media import FrameRange, VideoReader, probe
from tests.host_plugins.otio.timelines import Shot, host_only, media_timeline

NTSC = Fraction(30000, 1001)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frames_of(rt: otio.opentime.RationalTime, rate: Fraction) -> Fraction:
    return Fraction(rt.value) / Fraction(rt.rate).limit_denominator(1001) * rate


# The three writable formats an editor's NLE most often hands over. One server for all three: the twin
# of each shot is built once (the cache), so the three round trips cost little more than one.
FORMATS = (".otio", ".xml", ".fcpxml")


def test_edit_lays_exact_river_clips_whose_pixels_outside_the_matte_are_the_source(
    make_server: Callable[..., BridgeServer], media_root: Path, capsys
) -> None:
    """For .otio and FCP7 XML in process, and FCPXML from a client with no torch, numpy or engine (a
    host-only install): the input is untouched, every RIVER clip sits at its source clip's record frames
    and, decoded, equals the source frames it covers outside the matte."""
    make_server()  # found through its discovery file, as an NLE plugin finds it
    media = media_root / "clip.mp4"
    shots = [Shot("dog A", start=20, length=17, gap=12), Shot("dog B", start=61, length=9, gap=5)]
    cut = media_timeline(media, shots, rate=NTSC, media_frames=90, media_start=108000, global_start=108000)
    make_exact()  # the FCPXML adapter writes exact 29.97 only with it (host_plugins/otio/fcpx.py)
    for suffix in FORMATS:
        source_file = media_root / f"cut{suffix}"
        otio.adapters.write_to_file(cut, str(source_file))
        before = sha256(source_file)
        out = media_root / f"cut_river_{suffix[1:]}{suffix}"
        argv = [
            "timeline", "edit", str(source_file), "--targets", "1", "--op", "blur", "--select", "all",
            "--out", str(out), "--format", "ffv1", "--deliver", "media,matte", "--no-start", "-q",
        ]  # fmt: skip
        if suffix == ".fcpxml":
            code, _, err = host_only(*argv)
            assert code == 0, err
        else:
            code = main(argv)
            assert code == 0, capsys.readouterr().err
        assert sha256(source_file) == before, "the input timeline was written"
        check_river_track(out, media, shots, record_starts=[12, 12 + 17 + 5])


def check_river_track(out: Path, media: Path, shots: list[Shot], record_starts: list[int]) -> None:
    written = otio.adapters.read_from_file(str(out))
    if not isinstance(written, otio.schema.Timeline):
        written = next(iter(written.find_children(descended_from_type=otio.schema.Timeline)))
    tracks = [t for t in written.tracks if t.kind == otio.schema.TrackKind.Video]
    river = tracks[-1]  # the top video track (FCPXML keeps no track names: its lanes are numbered)
    clips = [c for c in river if isinstance(c, otio.schema.Clip)]
    assert [c.name.removesuffix(" (RIVER)") for c in clips] == [s.name for s in shots], out
    info = probe(media)
    for clip, shot, record in zip(clips, shots, record_starts, strict=True):
        placed = clip.range_in_parent()
        assert frames_of(placed.start_time, NTSC) == record, out
        assert frames_of(placed.duration, NTSC) == shot.length, out
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
