"""Real sample timelines through every writable format with a RIVER track added: written, read back, the
RIVER clips exactly where their clips are and everything else as it was; and what each format keeps
(the table in host_plugins/otio/write.py).

The samples are upstream OTIO/adapter test files in ../shared/reference/timelines (Apache-2.0); three
small ones are bundled in data/ so that the core of this runs in a fresh clone. Their media are empty
files made in a temporary folder and relinked by name (MediaFinder(probe=False): nothing is decoded).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest

from host_plugins.otio.layback import (
    RenderedClip,
    SpanMarker,
    add_markers,
    is_river_track,
    lay_back,
    replace_clip_media,
    river_clips,
)
from host_plugins.otio.rational import frames_at, time_range
from host_plugins.otio.read import FORMATS, LoadedTimeline, TimelineError, read_timeline
from host_plugins.otio.write import CARRIES, Carries, check_output, write_timeline
from tests.helpers import listing
from tests.host_plugins.otio.synthetic import Clip, Gap, Spec, build, mapped, results_for

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = Path(
    os.environ.get("RIVER_REFERENCE_TIMELINES", ROOT.parent / "shared" / "reference" / "timelines")
)
DATA = Path(__file__).parent / "data"
SUFFIXES = {".otio", ".xml", ".fcpxml", ".edl", ".aaf"}
EDL_25 = {"25fps.edl", "timecode_mismatch.edl"}
ABSENT = (
    f"{REFERENCE} is absent: the reference timelines live beside the project in ../shared "
    "(a fresh clone has none; set RIVER_REFERENCE_TIMELINES to point elsewhere)"
)


def edl_rate(path: Path) -> Fraction | None:
    if path.suffix.lower() != ".edl":
        return None
    return Fraction(25) if path.name in EDL_25 else Fraction(24)


def reference(relative: str) -> Path:
    path = REFERENCE / relative
    if not path.is_file():
        pytest.skip(ABSENT if not REFERENCE.is_dir() else f"{path} is missing")
    return path


def reference_samples() -> list[Any]:
    if not REFERENCE.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT), id="no-reference-folder")]
    paths = sorted(p for p in REFERENCE.rglob("*") if p.suffix.lower() in SUFFIXES)
    return [pytest.param(p, id=str(p.relative_to(REFERENCE))) for p in paths]


def frames(r: otio.opentime.TimeRange, rate: Fraction) -> tuple[Fraction, Fraction]:
    a = frames_at(r.start_time, rate)
    return a, a + frames_at(r.duration, rate)


# --- every sample reads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", reference_samples())
def test_every_reference_sample_reads(path: Path) -> None:
    loaded = read_timeline(path, rate=edl_rate(path))
    assert len(loaded.timeline.tracks) > 0
    if path.suffix == ".edl":
        assert loaded.rate == edl_rate(path)
    assert loaded.rate > 0


@pytest.mark.parametrize("name", ["simple_cut.otio", "hiero_xml_export.xml", "avid_example.edl"])
def test_the_bundled_samples_read(name: str) -> None:
    loaded = read_timeline(DATA / name, rate=edl_rate(DATA / name))
    assert loaded.timeline.video_tracks()
    assert (DATA / "LICENSE").is_file()


# --- round trips -------------------------------------------------------------------------------------------


class Trip:
    """A sample laid back with a RIVER render for each editable clip, written as ``suffix`` and read back;
    also written once without RIVER (``baseline``) for adapters that are not idempotent."""

    def __init__(self, source: Path, suffix: str, folder: Path) -> None:
        self.loaded, clip_map = mapped(source, folder, rate=edl_rate(source))
        self.entries = clip_map.editable
        assert self.entries, f"{source.name}: no editable clip to lay back"
        self.done: list[RenderedClip] = results_for(self.entries, folder)
        self.laid = lay_back(self.loaded, self.done)
        rate = self.loaded.rate if suffix == ".edl" else None
        base = write_timeline(self.loaded.timeline, folder / f"baseline{suffix}", source=self.loaded)
        self.baseline = read_timeline(base.path, rate=rate)
        self.written = write_timeline(self.laid, folder / f"river{suffix}", source=self.loaded)
        self.back = read_timeline(self.written.path, rate=rate)

    def river_by_name(self) -> dict[str, list[otio.schema.Clip]]:
        """The RIVER clips read back, by name (for formats that lose the track names)."""
        found: dict[str, list[otio.schema.Clip]] = {}
        for clip in self.back.timeline.find_clips():
            if clip.name.endswith(" (RIVER)"):
                found.setdefault(clip.name, []).append(clip)
        return found

    def assert_placed(self, clips: list[otio.schema.Clip]) -> None:
        """Each RIVER clip read back sits exactly on its entry's record frames and shows its frames."""
        expected = sorted((r.entry.record, f"{r.entry.name} (RIVER)") for r in self.done)
        got = sorted((tuple(frames(c.range_in_parent(), self.back.rate)), c.name) for c in clips)
        assert got == expected


def untouched(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    return [t for t in timeline.tracks if not (is_river_track(t.name) or is_river_track(t.name, matte=True))]


def assert_equivalent(a: list[otio.schema.Track], b: list[otio.schema.Track]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.is_equivalent_to(y), f"track {x.name!r} changed"


def test_otio_round_trip_keeps_everything_exactly(tmp_path: Path) -> None:
    trip = Trip(DATA / "simple_cut.otio", ".otio", tmp_path)
    assert trip.written.sidecar is None and trip.written.notes == []
    # otio_json is idempotent: the untouched tracks equal the input itself
    assert_equivalent(untouched(trip.back.timeline), list(trip.loaded.timeline.tracks))
    found = river_clips(trip.back.timeline)
    trip.assert_placed([rc.clip for rc in found])
    assert [rc.provenance for rc in found] == [r.provenance for r in trip.done]
    assert trip.back.timeline.is_equivalent_to(trip.laid)


def test_an_otio_file_is_written_byte_for_byte_as_otios_own_writer_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # We write .otio through a string (OTIO's file writer streams a character at a time): the same
    # bytes, non-ASCII names included, and the downgrade OTIO's writer takes from its environment.
    loaded, clip_map = mapped(DATA / "simple_cut.otio", tmp_path)
    laid = lay_back(loaded, results_for(clip_map.editable, tmp_path))
    laid.tracks[0][0].name = "Fiançailles — 婚約 🎬"
    ours = write_timeline(laid, tmp_path / "ours.otio", source=loaded).path
    otio.adapters.write_to_file(laid, str(tmp_path / "theirs.otio"))
    assert ours.read_bytes() == (tmp_path / "theirs.otio").read_bytes()
    assert "婚約 🎬" in ours.read_text(encoding="utf-8")
    monkeypatch.setenv("OTIO_DEFAULT_TARGET_VERSION_FAMILY_LABEL", "OTIO_CORE:0.14.0")
    old = write_timeline(laid, tmp_path / "old.otio", source=loaded).path
    assert '"OTIO_SCHEMA": "Clip.1"' in old.read_text(encoding="utf-8")
    assert '"OTIO_SCHEMA": "Clip.2"' in ours.read_text(encoding="utf-8")


def test_otio_round_trip_of_a_multitrack_sample(tmp_path: Path) -> None:
    trip = Trip(reference("otio/multitrack.otio"), ".otio", tmp_path)
    assert_equivalent(untouched(trip.back.timeline), list(trip.loaded.timeline.tracks))
    trip.assert_placed([rc.clip for rc in river_clips(trip.back.timeline)])


@pytest.mark.parametrize("suffix", [".otioz", ".otiod"])
def test_bundles_carry_the_river_movies_and_everything_else(tmp_path: Path, suffix: str) -> None:
    spec = Spec(Fraction(25), ((Gap(4), Clip(10, head=2, tail=2), Clip(6, mult=2)), (Gap(8), Clip(5))))
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(build(spec, tmp_path), str(path))
    trip = Trip(path, suffix, tmp_path)
    assert trip.written.sidecar is None and trip.written.notes == []
    # a bundle relinks every reference into itself (media/…): compare with the input bundled once
    assert_equivalent(untouched(trip.back.timeline), untouched(trip.baseline.timeline))
    found = river_clips(trip.back.timeline)
    trip.assert_placed([rc.clip for rc in found])
    assert all(rc.clip.media_reference.target_url.startswith("media/river_") for rc in found)
    assert [rc.provenance for rc in found] == [r.provenance for r in trip.done]


@pytest.mark.parametrize("sample", ["bundled:hiero_xml_export.xml", "fcp7xml/premiere_example.xml"])
def test_fcp7_xml_round_trip_keeps_the_river_track_markers_and_comments(tmp_path: Path, sample: str) -> None:
    source = DATA / sample.split(":")[1] if sample.startswith("bundled:") else reference(sample)
    trip = Trip(source, ".xml", tmp_path)
    # the fcp_xml adapter is not idempotent on a first pass: compare with the input written once
    assert_equivalent(untouched(trip.back.timeline), untouched(trip.baseline.timeline))
    found = river_clips(trip.back.timeline)  # found by the track name FCP7 XML keeps
    trip.assert_placed([rc.clip for rc in found])
    assert trip.written.sidecar is None, "every RIVER marker names its provenance.json: nothing is lost"
    assert any("keeps no OTIO metadata" in n for n in trip.written.notes)
    by_path = {r.provenance_path: r for r in trip.done}
    for rc in found:
        assert "river" not in rc.clip.metadata
        assert rc.provenance_path in by_path, "the marker's comment came back"
        assert rc.provenance == {
            "job_id": by_path[rc.provenance_path].job_id,
            "query": rc.clip.markers[0].name,
        }


def test_fcp7_xml_clip_markers_count_from_the_media_start(tmp_path: Path) -> None:
    trip = Trip(DATA / "hiero_xml_export.xml", ".xml", tmp_path)
    (result,) = trip.done
    entry = result.entry
    tree = ET.parse(trip.written.path)
    (clipitem,) = [c for c in tree.iter("clipitem") if c.findtext("name") == f"{entry.name} (RIVER)"]
    (marker,) = clipitem.findall("marker")
    # FCP7 XML counts a clip marker (like the clipitem's <in>) from the media's first frame
    assert marker.findtext("in") == clipitem.findtext("in") == str(entry.source[0] - result.rendered[0])
    assert marker.findtext("comment") == f"RIVER job {result.job_id} · {result.provenance_path}"


def test_fcpx_round_trip_places_the_clips_and_writes_the_otio_beside_it(tmp_path: Path) -> None:
    trip = Trip(reference("fcpxml/fcpx_project.fcpxml"), ".fcpxml", tmp_path)
    trip.assert_placed([c for clips in trip.river_by_name().values() for c in clips])
    assert river_clips(trip.back.timeline) == [], "FCPXML keeps no track names (its reader numbers lanes)"
    assert trip.written.sidecar == tmp_path / "river.fcpxml.otio"
    assert read_timeline(trip.written.sidecar).timeline.is_equivalent_to(trip.laid)
    notes = " ".join(trip.written.notes)
    assert "no track names" in notes and "marker comments" in notes
    # The RIVER clips are connected clips (lanes above the spine); the fcpx_xml *reader* also gives each
    # spine clip the markers of the clips connected to it. Without those, nothing else changed.
    labels = {r.label for r in trip.done}
    n = len(trip.baseline.timeline.tracks)
    for track in trip.back.timeline.tracks[:n]:
        for clip in track.find_clips():
            for i in reversed(range(len(clip.markers))):
                if clip.markers[i].name in labels:
                    del clip.markers[i]
    assert_equivalent(list(trip.back.timeline.tracks[:n]), list(trip.baseline.timeline.tracks))


def test_edl_gets_the_flattened_picture_and_the_full_timeline_beside_it(tmp_path: Path) -> None:
    source = DATA / "avid_example.edl"
    loaded, clip_map = mapped(source, tmp_path, rate=Fraction(24))
    first = clip_map.editable[0]
    (done,) = results_for([first.narrowed(first.record[0] + 5, first.record[1] - 5, loaded.rate)], tmp_path)
    laid = lay_back(loaded, [done])
    written = write_timeline(laid, tmp_path / "river.edl", source=loaded)
    assert written.sidecar == tmp_path / "river.edl.otio"
    assert read_timeline(written.sidecar).timeline.is_equivalent_to(laid)
    assert any("one video track" in n for n in written.notes)
    text = written.path.read_text()
    assert "00:59:53:16" in text, "the events keep the EDL's record timecode"
    back = read_timeline(written.path, rate=Fraction(24))
    (track,) = back.timeline.tracks
    events = [(c.name, frames(c.range_in_parent(), back.rate)) for c in track.find_clips()]
    a, b = first.record
    names = [e.name for e in clip_map.entries]
    assert events == [
        (names[0], (a, a + 5)),
        (f"{first.name} (RIVER)", (a + 5, b - 5)),
        (names[0], (b - 5, b)),
        (names[1], clip_map.entries[1].record),
    ]
    river = track.find_clips()[1]
    assert river.media_reference.target_url == done.media.as_uri()
    assert frames(river.source_range, Fraction(24)) == (
        first.media_start + first.source[0] + 5,
        first.media_start + first.source[1] - 5,
    )
    # (the cmx_3600 adapter rewrites S:\\path as S:/path on a first pass: compare with the input written once)
    once = write_timeline(loaded.timeline, tmp_path / "once.edl", source=loaded)
    baseline = read_timeline(once.path, rate=Fraction(24))
    original = baseline.timeline.tracks[0][1]
    assert track.find_clips()[3].is_equivalent_to(original), "an event RIVER does not cover is unchanged"


def test_edl_output_flattens_a_dissolve_that_a_river_clip_cuts_through(tmp_path: Path) -> None:
    loaded = read_timeline(reference("edl/dissolve_test.edl"), rate=Fraction(24))
    folder = tmp_path
    timeline = loaded.timeline.deepcopy()
    (folder / "b.mov").touch()
    for clip in timeline.find_clips():  # the sample names no files: point its clips at one
        clip.media_reference = otio.schema.ExternalReference(
            target_url=(folder / "b.mov").as_uri(), available_range=time_range(86400, 400, Fraction(24))
        )
    path = folder / "in.otio"
    otio.adapters.write_to_file(timeline, str(path))
    loaded, clip_map = mapped(path, folder)
    entry = next(e for e in clip_map.editable if e.transitions)
    laid = lay_back(loaded, results_for([entry], folder))
    written = write_timeline(laid, folder / "river.edl", source=loaded)
    back = read_timeline(written.path, rate=Fraction(24))
    placed = [(c.name, frames(c.range_in_parent(), back.rate)) for c in back.timeline.tracks[0].find_clips()]
    assert (f"{entry.name} (RIVER)", entry.record) in placed
    assert any("1 dissolve(s)" in n and "became cuts" in n for n in written.notes)


def test_aaf_writes_a_river_track_into_an_avid_timeline(tmp_path: Path) -> None:
    trip = Trip(reference("aaf/30fps.aaf"), ".aaf", tmp_path)
    found = river_clips(trip.back.timeline)  # AAF keeps track names
    trip.assert_placed([rc.clip for rc in found])
    assert [rc.clip.media_reference.target_url for rc in found] == [r.media.as_uri() for r in trip.done]
    assert all(len(rc.clip.markers) == 0 and rc.provenance is None for rc in found), "AAF drops markers"
    assert trip.written.sidecar == tmp_path / "river.aaf.otio"
    # the AAF writer makes new mob ids and times on every write: compare without metadata["AAF"]
    assert_equivalent(
        [_without_aaf(t) for t in untouched(trip.back.timeline)],
        [_without_aaf(t) for t in untouched(trip.baseline.timeline)],
    )


def _without_aaf(track: otio.schema.Track) -> otio.schema.Track:
    track = track.deepcopy()
    holders: list[Any] = [track]
    for item in track.find_children():
        holders += [item, *item.markers]
        if isinstance(item, otio.schema.Clip):
            holders += list(item.media_references().values())
    for holder in holders:
        if "AAF" in holder.metadata:
            del holder.metadata["AAF"]
    return track


def test_aaf_writes_new_clips_into_a_plain_timeline(tmp_path: Path) -> None:
    spec = Spec(Fraction(25), ((Gap(3), Clip(10, head=1), Clip(7)),), start_hours=1)
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(build(spec, tmp_path), str(path))
    trip = Trip(path, ".aaf", tmp_path)
    trip.assert_placed([rc.clip for rc in river_clips(trip.back.timeline)])


def test_aaf_output_of_a_timeline_its_writer_refuses_is_refused_before_any_job(tmp_path: Path) -> None:
    # 23.976 media in a 29.97 AAF: the AAF writer's validation refuses clips at another rate
    loaded = read_timeline(reference("aaf/2997fps-DFTC.aaf"))
    before = listing(tmp_path)
    with pytest.raises(TimelineError, match=r"AAF writer refuses.*write \.otio") as info:
        check_output(loaded.path, tmp_path / "river.aaf", source=loaded)
    assert "\n" not in str(info.value)
    assert listing(tmp_path) == before


# --- markers, river_clips and replace_clip_media through a write and a read ---------------------------------


@pytest.mark.parametrize("suffix", [".otio", ".xml"])
def test_markers_and_a_rerender_survive_a_write_and_a_read(tmp_path: Path, suffix: str) -> None:
    spec = Spec(
        Fraction(24), ((Gap(5), Clip(12, tc_hours=1, head=2, tail=2), Gap(3), Clip(9)),), start_hours=1
    )
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(build(spec, tmp_path), str(path))
    loaded, clip_map = mapped(path, tmp_path)
    done = results_for(clip_map.editable, tmp_path)
    laid = lay_back(loaded, done)
    with_spans = LoadedTimeline(loaded.path, loaded.format, laid, loaded.rate)
    marked = add_markers(with_spans, [SpanMarker((6, 11), "when does it jump", "the dog leaves the ground")])
    first = write_timeline(marked, tmp_path / f"river{suffix}", source=loaded)
    assert first.sidecar is None, "nothing RIVER-specific is lost (the span carries no metadata)"
    back = read_timeline(first.path)

    (span,) = [m for m in back.timeline.tracks.markers if m.name == "when does it jump"]
    assert frames(span.marked_range, back.rate) == (6, 11), "timeline markers come back in record frames"
    note = span.comment or span.metadata["fcp_xml"]["comment"]
    assert note == "the dog leaves the ground"

    found = river_clips(back.timeline)
    assert [rc.provenance_path for rc in found] == [r.provenance_path for r in done]
    assert [rc.provenance["job_id"] for rc in found] == [r.job_id for r in done]

    # re-render the second clip: a copy of the read timeline, written again
    edited = back.timeline.deepcopy()
    entry = done[1].entry
    new_range = time_range(
        entry.media_start + entry.source[0], entry.source[1] - entry.source[0], Fraction(24)
    )
    movie = tmp_path / "again.mov"
    provenance = tmp_path / "again.json"
    provenance.write_text('{"job_id": "again", "query": "blur more"}')
    replace_clip_media(edited, found[1], movie, new_range, "again", {"job_id": "again"}, str(provenance))
    second = write_timeline(edited, tmp_path / f"river2{suffix}", source=back)
    again = read_timeline(second.path)
    rcs = river_clips(again.timeline)
    assert rcs[1].clip.media_reference.target_url == movie.as_uri()
    assert rcs[1].provenance_path == str(provenance)
    assert rcs[1].provenance["job_id"] == "again"
    assert frames(rcs[1].clip.range_in_parent(), again.rate) == entry.record
    assert rcs[0].provenance_path == done[0].provenance_path, "the other RIVER clip is unchanged"
    assert len(rcs[1].clip.markers) == 1


# --- the table in write.py, claim by claim ------------------------------------------------------------------


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedTimeline, otio.schema.Timeline, Path]:
    """Two tracks at 25 fps from 01:00:00:00, RIVER (two tracks: V2's render overlaps V1's), mattes and a
    "when" marker with metadata: all that RIVER adds."""
    folder = tmp_path_factory.mktemp("everything")
    spec = Spec(Fraction(25), ((Gap(4), Clip(10, head=2, tail=2), Clip(6)), (Gap(8), Clip(5))), start_hours=1)
    path = folder / "in.otio"
    otio.adapters.write_to_file(build(spec, folder), str(path))
    loaded, clip_map = mapped(path, folder)
    laid = lay_back(loaded, results_for(clip_map.editable, folder, matte=True), with_matte=True)
    spans = [SpanMarker((2, 6), "when", "it jumps", {"job_id": "w1"})]
    return loaded, add_markers(LoadedTimeline(loaded.path, loaded.format, laid, loaded.rate), spans), folder


@pytest.mark.parametrize("adapter", sorted(CARRIES))
def test_each_format_carries_what_the_table_says(everything, adapter: str) -> None:
    loaded, timeline, folder = everything
    suffix = next(f.suffixes[0] for f in FORMATS if f.adapter == adapter)
    before = timeline.to_json_string()
    written = write_timeline(timeline, folder / f"table_{adapter}{suffix}", source=loaded)
    assert timeline.to_json_string() == before, "writing changed the timeline it was given"
    back = read_timeline(written.path, rate=loaded.rate if adapter == "cmx_3600" else None)
    tl = back.timeline
    carries = CARRIES[adapter]
    found = river_clips(tl)
    river = [c for c in tl.find_clips() if c.name.endswith(" (RIVER)")]
    mattes = [c for c in tl.find_clips() if c.name.endswith(" (RIVER matte)")]
    spans = [m for m in tl.tracks.markers if m.name == "when"]
    assert bool(found) == carries.track_names
    assert (bool(found) and all(rc.provenance_path for rc in found)) == carries.clip_markers
    assert all(("river" in c.metadata) == carries.metadata for c in river)
    if carries.span_markers:
        (span,) = spans
        assert frames(span.marked_range, back.rate) == (2, 6)
        assert (span.comment or span.metadata["fcp_xml"]["comment"]) == "it jumps"
        assert ("river" in span.metadata) == carries.metadata
    else:
        assert spans == []
    assert len(mattes) == (0 if carries.flattened else 3)
    assert (len(tl.video_tracks()) == 1) == carries.flattened
    if carries.start and not carries.flattened:
        assert frames_at(tl.global_start_time, back.rate) == 90000
    # the sidecar: whenever something RIVER needs is lost (here the span's metadata at least)
    assert (written.sidecar is not None) == (carries != Carries())
    if written.sidecar is not None:
        assert read_timeline(written.sidecar).timeline.is_equivalent_to(timeline)


def test_an_edl_keeps_the_start_timecode_of_a_timeline_that_had_one(everything) -> None:
    loaded, timeline, folder = everything
    written = write_timeline(timeline, folder / "start.edl", source=loaded)
    first_event = next(line for line in written.path.read_text().splitlines() if line[:3].isdigit())
    assert first_event.split()[-2:] == ["01:00:00:04", "01:00:00:08"]


@pytest.mark.parametrize(
    ("change", "sidecar"),
    [("nothing", False), ("a clip without provenance path", True), ("a span with metadata", True)],
)
def test_fcp7_xml_gets_the_sidecar_only_when_river_data_would_be_lost(
    tmp_path: Path, change, sidecar
) -> None:
    spec = Spec(Fraction(24), ((Clip(10), Clip(6)),))
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(build(spec, tmp_path), str(path))
    loaded, clip_map = mapped(path, tmp_path)
    done = results_for(clip_map.editable, tmp_path)
    if change == "a clip without provenance path":
        done[1] = replace(done[1], provenance_path="")
    laid = lay_back(loaded, done)
    meta = {"job_id": "w"} if change == "a span with metadata" else {}
    marked = add_markers(
        LoadedTimeline(path, loaded.format, laid, loaded.rate), [SpanMarker((1, 2), "q", "n", meta)]
    )
    written = write_timeline(marked, tmp_path / "out.xml", source=loaded)
    assert (written.sidecar is not None) == sidecar
    assert (tmp_path / "out.xml.otio").exists() == sidecar


def test_bundle_output_is_refused_before_any_job_when_the_media_are_not_files(tmp_path: Path) -> None:
    loaded = read_timeline(DATA / "simple_cut.otio")  # its media are file:///folder/…: not on this disk
    with pytest.raises(TimelineError, match=r"bundle writer refuses.*NotAFileOnDisk"):
        check_output(loaded.path, tmp_path / "out.otioz", source=loaded)
    assert list(tmp_path.iterdir()) == []


def test_an_edl_is_written_at_the_timelines_rate_whatever_its_first_clip_is(tmp_path: Path) -> None:
    spec = Spec(Fraction(24), ((Clip(10, mult=2, head=1), Clip(5, tc_hours=2)),), start_hours=1)
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(build(spec, tmp_path), str(path))
    trip = Trip(path, ".edl", tmp_path)  # (the first clip's media is 48 fps)
    trip.assert_placed([c for clips in trip.river_by_name().values() for c in clips])
    assert "01:00:00:10" in trip.written.path.read_text(), "record timecode at 24 fps"
