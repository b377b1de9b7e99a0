"""lay_back, add_markers, river_clips, replace_clip_media and the atomic writer, on timelines built in
code (fake media files, nothing decoded)."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import opentimelineio as otio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_plugins.otio import layback
from host_plugins.otio.clips import ClipEntry
from host_plugins.otio.layback import (
    SpanMarker,
    add_markers,
    lay_back,
    replace_clip_media,
    river_clips,
)
from host_plugins.otio.rational import exact_rate, frames_at, time_range
from host_plugins.otio.read import LoadedTimeline, TimelineError, read_timeline
from host_plugins.otio.write import check_output, write_timeline
from tests.helpers import listing
from tests.host_plugins.otio.synthetic import Clip, Dissolve, Gap, Spec, build, mapped, results_for

RATES = (Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(60000, 1001))


def frames(r: otio.opentime.TimeRange, rate: Fraction) -> tuple[Fraction, Fraction]:
    """A range as (first frame, end frame) at ``rate``, exactly."""
    a = frames_at(r.start_time, rate)
    return a, a + frames_at(r.duration, rate)


def placed(clip: otio.schema.Clip, rate: Fraction) -> tuple[Fraction, Fraction]:
    """Where ``clip`` sits on its track in frames at ``rate``: exactly the sum of the durations before it
    (what the file says), and equal to OTIO's range_in_parent().

    range_in_parent() adds durations in doubles, rescaled to the higher rate: on a track that mixes rates
    (a 29.97 clip, then a 59.94 one) it can be 1e-15 off, so there it is compared within 1e-9 frames."""
    track = clip.parent()
    items = [it for it in track if not isinstance(it, otio.schema.Transition)]
    start = sum((frames_at(it.duration(), rate) for it in items[: items.index(clip)]), Fraction(0))
    exact = (start, start + frames_at(clip.duration(), rate))
    otio_says = frames(clip.range_in_parent(), rate)
    if len({it.duration().rate for it in items[: items.index(clip) + 1]}) == 1:
        assert otio_says == exact
    else:
        assert abs(otio_says[0] - exact[0]) < Fraction(1, 10**9) and abs(otio_says[1] - exact[1]) < Fraction(
            1, 10**9
        )
    return exact


def loaded_from(spec: Spec, folder: Path) -> tuple[LoadedTimeline, list[ClipEntry]]:
    path = folder / "in.otio"
    otio.adapters.write_to_file(build(spec, folder), str(path))
    loaded, clip_map = mapped(path, folder)
    return loaded, clip_map.editable


def media_frames(clip: otio.schema.Clip, rate: Fraction, rendered0: int) -> tuple[Fraction, Fraction]:
    """The frames of the *source media file* a RIVER clip shows: its movie starts at rendered[0]."""
    avail = clip.media_reference.available_range
    a, b = frames(clip.source_range, rate)
    shift = frames_at(avail.start_time, rate) - rendered0
    return a - shift, b - shift


ONE_TRACK = Spec(
    rate=Fraction(24),
    start_hours=1,
    tracks=((Gap(5), Clip(10, tc_hours=1, head=3, tail=4), Gap(2), Clip(8, mult=2, tc_hours=10, head=1)),),
)


# --- lay_back --------------------------------------------------------------------------------------


def test_lay_back_puts_each_render_exactly_over_its_clip_and_leaves_the_input_alone(tmp_path: Path) -> None:
    loaded, entries = loaded_from(ONE_TRACK, tmp_path)
    assert [e.record for e in entries] == [(5, 15), (17, 25)]
    before = loaded.timeline.to_json_string()
    done = results_for(entries, tmp_path)

    timeline = lay_back(loaded, done)

    assert loaded.timeline.to_json_string() == before, "lay_back changed the input timeline"
    assert [t.name for t in timeline.tracks] == ["V1", "RIVER"], "the RIVER track goes on top"
    assert timeline.tracks[0].is_equivalent_to(loaded.timeline.tracks[0])
    river = [c for c in timeline.tracks[1] if isinstance(c, otio.schema.Clip)]
    for clip, result in zip(river, done, strict=True):
        entry, original = result.entry, result.entry.item
        assert frames(clip.range_in_parent(), loaded.rate) == entry.record
        assert clip.name == f"{original.name} (RIVER)"
        assert clip.source_range == original.source_range, "an untrimmed clip keeps the NLE's own values"
        ref = clip.media_reference
        assert ref.target_url == result.media.as_uri()
        rate = entry.media_rate
        assert frames(ref.available_range, rate) == (
            entry.media_start + result.rendered[0],
            entry.media_start + result.rendered[1],
        )
        assert exact_rate(ref.available_range.start_time.rate) == rate
        assert media_frames(clip, rate, result.rendered[0]) == entry.source
        assert json.loads(json.dumps(dict(clip.metadata["river"]))) == result.provenance
        (marker,) = clip.markers
        assert marker.name == result.label and marker.color == otio.schema.MarkerColor.PURPLE
        assert marker.comment == f"RIVER job {result.job_id} · {result.provenance_path}"
        assert dict(marker.metadata["river"]) == {
            "job_id": result.job_id,
            "provenance": result.provenance_path,
        }
        assert marker.marked_range.start_time == clip.source_range.start_time
        assert marker.marked_range.duration.value == 0


def test_59_94_media_in_a_29_97_timeline_sits_exactly_even_by_otios_own_arithmetic(tmp_path: Path) -> None:
    ntsc = Fraction(30000, 1001)
    spec = Spec(ntsc, ((Gap(9), Clip(8, mult=2, head=2), Gap(3), Clip(5, mult=2), Clip(7, mult=2, tail=1)),))
    loaded, entries = loaded_from(spec, tmp_path)
    laid = lay_back(loaded, results_for(entries, tmp_path))
    written = write_timeline(laid, tmp_path / "out.otio", source=loaded)
    back = read_timeline(written.path)
    found = river_clips(back.timeline)
    assert len(found) == 3
    for rc, entry in zip(found, entries, strict=True):
        # range_in_parent() itself, not only the exact sum: the gaps are at the clips' 59.94
        assert frames(rc.clip.range_in_parent(), ntsc) == entry.record


def test_a_trimmed_clip_is_laid_over_its_narrowed_record_with_its_own_source_range(tmp_path: Path) -> None:
    loaded, entries = loaded_from(ONE_TRACK, tmp_path)
    second = entries[1].narrowed(19, 23, loaded.rate)  # media at 48 fps: record frames 2..6 of the clip
    assert second.trimmed and second.source == (1 * 2 + 4, 1 * 2 + 12)
    (result,) = results_for([second], tmp_path)
    timeline = lay_back(loaded, [result])
    clip = next(c for c in timeline.tracks[-1] if isinstance(c, otio.schema.Clip))
    assert frames(clip.range_in_parent(), loaded.rate) == (19, 23)
    rate = Fraction(48)
    assert frames(clip.source_range, rate) == (second.media_start + 6, second.media_start + 14)
    assert exact_rate(clip.source_range.start_time.rate) == rate
    assert media_frames(clip, rate, result.rendered[0]) == second.source


def test_non_time_effects_are_copied_and_time_effects_are_not(tmp_path: Path) -> None:
    timeline = build(Spec(Fraction(25), ((Clip(12),),)), tmp_path)
    clip = timeline.tracks[0][0]
    clip.effects.append(
        otio.schema.Effect(name="grade", effect_name="ColorCorrection", metadata={"lift": 0.1})
    )
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=1.0))  # a 100% speed: still editable
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(timeline, str(path))
    loaded, clip_map = mapped(path, tmp_path)
    (entry,) = clip_map.editable
    laid = lay_back(loaded, results_for([entry], tmp_path))
    river = laid.tracks[-1][0]
    assert [e.effect_name for e in river.effects] == ["ColorCorrection"]
    assert river.effects[0].is_equivalent_to(clip.effects[0])


def test_overlapping_results_go_on_more_tracks_in_the_order_of_their_source_tracks(tmp_path: Path) -> None:
    spec = Spec(
        Fraction(30000, 1001),
        (
            (Clip(10), Gap(10), Clip(10)),  # V1: [0,10) [20,30)
            (Gap(5), Clip(10)),  # V2: [5,15) overlaps V1's first
            (Gap(25), Clip(10)),  # V3: [25,35) overlaps V1's second
        ),
    )
    timeline = build(spec, tmp_path)
    timeline.tracks.append(otio.schema.Track(name="RIVER", kind=otio.schema.TrackKind.Video))  # taken
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(timeline, str(path))
    loaded, clip_map = mapped(path, tmp_path)
    done = results_for(clip_map.editable, tmp_path)

    laid = lay_back(loaded, list(reversed(done)))  # the order of results does not matter

    names = [t.name for t in laid.tracks]
    assert names == ["V1", "V2", "V3", "RIVER", "RIVER 2", "RIVER 3"]
    placed = {
        c.name: (name, frames(c.range_in_parent(), loaded.rate))
        for name, t in zip(names, laid.tracks, strict=True)
        if name.startswith("RIVER ")
        for c in t
        if isinstance(c, otio.schema.Clip)
    }
    assert placed == {
        "shot 0.0 (RIVER)": ("RIVER 2", (0, 10)),
        "shot 0.2 (RIVER)": ("RIVER 2", (20, 30)),
        "shot 1.1 (RIVER)": ("RIVER 3", (5, 15)),
        "shot 2.1 (RIVER)": ("RIVER 3", (25, 35)),
    }


def test_with_matte_a_matte_track_sits_above_its_river_track_at_the_same_places(tmp_path: Path) -> None:
    loaded, entries = loaded_from(ONE_TRACK, tmp_path)
    done = results_for(entries, tmp_path, matte=True)
    done[0] = replace(done[0], matte=None)  # a job without a matte leaves a gap there
    laid = lay_back(loaded, done, with_matte=True)
    assert [t.name for t in laid.tracks] == ["V1", "RIVER", "RIVER matte"]
    river, matte = laid.tracks[1], laid.tracks[2]
    (matte_clip,) = [c for c in matte if isinstance(c, otio.schema.Clip)]
    river_clip = [c for c in river if isinstance(c, otio.schema.Clip)][1]
    assert matte_clip.range_in_parent() == river_clip.range_in_parent()
    assert matte_clip.source_range == river_clip.source_range
    assert matte_clip.media_reference.target_url == done[1].matte.as_uri()
    assert matte_clip.media_reference.available_range == river_clip.media_reference.available_range
    assert [rc.clip.name for rc in river_clips(laid)] == [
        c.name for c in river if isinstance(c, otio.schema.Clip)
    ]
    plain = lay_back(loaded, done)  # (hold the timeline: a temporary's tracks die with it)
    assert [t.name for t in plain.tracks] == ["V1", "RIVER"], "no matte track unless asked"


def test_lay_back_refuses_results_that_cannot_replace_their_clip(tmp_path: Path) -> None:
    loaded, entries = loaded_from(ONE_TRACK, tmp_path)
    (good,) = results_for(entries[:1], tmp_path)
    s0, s1 = good.entry.source
    cases = {
        "not editable": replace(good, entry=replace(good.entry, skip="media not found: x.mov")),
        "must cover": replace(good, rendered=(s0 + 1, s1)),
        "JSON-able": replace(good, provenance={"when": object()}),
        "non-empty word": replace(good, job_id="two words"),
    }
    for needle, bad in cases.items():
        with pytest.raises(ValueError, match=needle) as info:
            lay_back(loaded, [good, bad])
        assert "results[1]" in str(info.value)


# --- add_markers, river_clips, replace_clip_media -----------------------------------------------------


def test_add_markers_puts_purple_timeline_markers_at_record_frames(tmp_path: Path) -> None:
    loaded, _ = loaded_from(ONE_TRACK, tmp_path)
    before = loaded.timeline.to_json_string()
    marked = add_markers(loaded, [SpanMarker((3, 9), "when does the dog jump", "the jump", {"job_id": "w1"})])
    assert loaded.timeline.to_json_string() == before
    (marker,) = marked.tracks.markers
    assert frames(marker.marked_range, loaded.rate) == (3, 9)
    assert (marker.name, marker.comment, marker.color) == ("when does the dog jump", "the jump", "PURPLE")
    assert dict(marker.metadata["river"]) == {"job_id": "w1"}
    with pytest.raises(ValueError, match=r"markers\[0\]"):
        add_markers(loaded, [SpanMarker((9, 3), "backwards", "")])


def test_river_clips_finds_provenance_in_metadata_then_in_the_file_its_marker_names(tmp_path: Path) -> None:
    loaded, entries = loaded_from(ONE_TRACK, tmp_path)
    done = results_for(entries, tmp_path)
    laid = lay_back(loaded, done)
    found = river_clips(laid)
    assert [(rc.track_index, rc.item_index) for rc in found] == [(1, 1), (1, 3)]
    assert [rc.provenance for rc in found] == [r.provenance for r in done]
    assert [rc.provenance_path for rc in found] == [r.provenance_path for r in done]

    for rc in found:  # as a format without metadata gives them back: only the marker's comment
        del rc.clip.metadata["river"]
        del rc.clip.markers[0].metadata["river"]
    Path(done[1].provenance_path).unlink()
    again = river_clips(laid)
    assert again[0].provenance == json.loads(Path(done[0].provenance_path).read_text())
    assert again[0].provenance_path == done[0].provenance_path
    assert again[1].provenance is None and again[1].provenance_path == done[1].provenance_path


def test_replace_clip_media_swaps_the_movie_and_the_job_and_keeps_the_place(tmp_path: Path) -> None:
    loaded, entries = loaded_from(ONE_TRACK, tmp_path)
    laid = lay_back(loaded, results_for(entries, tmp_path))
    rc = river_clips(laid)[1]
    place, source = rc.clip.range_in_parent(), rc.clip.source_range
    copy_ = laid.deepcopy()
    entry = entries[1]
    new_range = time_range(
        entry.media_start + entry.source[0] - 1, entry.source[1] - entry.source[0] + 1, Fraction(48)
    )
    movie = tmp_path / "rerender.mov"

    replace_clip_media(copy_, rc, movie, new_range, "job9", {"job_id": "job9"}, "/p/job9.json")

    clip = copy_.tracks[rc.track_index][rc.item_index]
    assert clip.range_in_parent() == place and clip.source_range == source
    assert clip.media_reference.target_url == movie.as_uri()
    assert clip.media_reference.available_range == new_range
    assert dict(clip.metadata["river"]) == {"job_id": "job9"}
    assert clip.markers[0].comment == "RIVER job job9 · /p/job9.json"
    assert river_clips(copy_)[1].provenance_path == "/p/job9.json"
    assert rc.clip.media_reference.target_url != movie.as_uri(), "the timeline it came from is unchanged"

    short = time_range(entry.media_start + entry.source[0] + 1, 2, Fraction(48))
    with pytest.raises(ValueError, match="does not cover"):
        replace_clip_media(copy_, rc, movie, short, "job9", {}, "")
    with pytest.raises(ValueError, match="not in this timeline"):
        replace_clip_media(copy_, replace(rc, item_index=0), movie, new_range, "job9", {}, "")


# --- the property: random timelines ---------------------------------------------------------------------


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    rate = draw(st.sampled_from(RATES))
    mults = [1, 2] if rate.numerator <= 30000 else [1]  # media at the timeline's rate or twice it
    tracks = []
    for _ in range(draw(st.integers(1, 3))):
        pieces: list = []
        for _ in range(draw(st.integers(1, 4))):
            if draw(st.booleans()) and pieces and isinstance(pieces[-1], Clip):
                pieces.append(Gap(draw(st.integers(1, 12))))
            pieces.append(
                Clip(
                    length=draw(st.integers(4, 30)),
                    mult=(m := draw(st.sampled_from(mults))),
                    tc_hours=draw(st.sampled_from([0, 1, 10, 23])),
                    head=draw(st.integers(0, 8)),
                    tail=draw(st.integers(0, 8)),
                    in_timeline_rate=m == 1 or draw(st.booleans()),
                )
            )
        with_dissolves: list = []
        for piece in pieces:
            prev = with_dissolves[-1] if with_dissolves else None
            if isinstance(piece, Clip) and isinstance(prev, Clip) and draw(st.booleans()):
                # handles for either reading of the offsets: each side's spare media covers both
                room = min(prev.tail, piece.head, prev.length, piece.length)
                n = draw(st.integers(0, room))
                if n:
                    with_dissolves.append(Dissolve(n, n))
            with_dissolves.append(piece)
        tracks.append(tuple(with_dissolves))
    return Spec(rate=rate, tracks=tuple(tracks), start_hours=draw(st.sampled_from([0, 1])))


@settings(max_examples=40, deadline=None)
@given(spec=specs(), trims=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=6))
def test_property_river_clips_sit_exactly_over_their_clips_after_a_write_and_a_read(spec, trims) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        loaded, entries = loaded_from(spec, folder)
        chosen = []
        for entry, (a, b) in zip(entries, trims + [(0, 0)] * len(entries), strict=False):
            r0, r1 = entry.record
            lo, hi = sorted((r0 + a % (r1 - r0), r0 + b % (r1 - r0)))
            try:
                chosen.append(entry.narrowed(lo, hi + 1, loaded.rate) if (a, b) != (0, 0) else entry)
            except ValueError:  # a cut between media frames: the selection refuses it, so do we
                chosen.append(entry)
        done = results_for(chosen, folder)
        laid = lay_back(loaded, done)
        written = write_timeline(laid, folder / "out.otio", source=loaded)
        assert written.sidecar is None and written.notes == []
        back = read_timeline(written.path)

        n = len(loaded.timeline.tracks)
        for original, kept in zip(loaded.timeline.tracks, back.timeline.tracks[:n], strict=True):
            assert kept.is_equivalent_to(original)
        by_job = {r.job_id: r for r in done}
        found = river_clips(back.timeline)
        assert sorted(rc.provenance["job_id"] for rc in found) == sorted(by_job)
        level = {}
        for rc in found:
            result = by_job[rc.provenance["job_id"]]
            entry = result.entry
            assert placed(rc.clip, back.rate) == entry.record
            assert media_frames(rc.clip, entry.media_rate, result.rendered[0]) == entry.source
            level[result.job_id] = rc.track_index
        for a in done:  # overlapping renders keep the order of their source tracks
            for b in done:
                overlap = a.entry.record[0] < b.entry.record[1] and b.entry.record[0] < a.entry.record[1]
                if overlap and a.entry.track_index < b.entry.track_index:
                    assert level[a.job_id] < level[b.job_id]


def _layers_by_comparing_all(results: list) -> list[list]:
    """The layering rule spelled out: one above the highest result placed so far that it overlaps."""
    order = sorted(range(len(results)), key=lambda i: (results[i].entry.track_index, results[i].entry.record))
    level: dict[int, int] = {}
    for i in order:
        a0, a1 = results[i].entry.record
        below = [
            level[j] for j in level if a0 < results[j].entry.record[1] and results[j].entry.record[0] < a1
        ]
        level[i] = max(below, default=-1) + 1
    layers: list[list] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for i in order:
        layers[level[i]].append(results[i])
    return layers


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 60), st.integers(0, 20)), max_size=40))
def test_property_layers_follow_the_rule_in_one_bisection_per_layer(spans) -> None:
    results = [SimpleNamespace(entry=SimpleNamespace(track_index=t, record=(a, a + n))) for t, a, n in spans]
    assert layback._layers(results) == _layers_by_comparing_all(results)


# --- check_output and atomic writes -----------------------------------------------------------------------


@pytest.fixture
def cut(tmp_path: Path) -> tuple[LoadedTimeline, otio.schema.Timeline, Path]:
    folder = tmp_path / "edit"
    folder.mkdir()
    loaded, entries = loaded_from(ONE_TRACK, folder)
    return loaded, lay_back(loaded, results_for(entries, folder)), folder


def test_check_output_refuses_and_writes_nothing(cut, tmp_path: Path, monkeypatch) -> None:
    loaded, laid, folder = cut
    (folder / "taken.xml").write_text("<xmeml/>")
    (folder / "taken_side.xml.otio").write_text("{}")
    os.symlink(loaded.path, folder / "link.otio")
    monkeypatch.chdir(folder)
    before = listing(tmp_path)
    cases = {
        Path("in.otio"): "is the input",  # relative
        folder / "link.otio": "is the input",  # a symlink to it
        folder / "sub" / ".." / "in.otio": "is the input",
        folder / "taken.xml": "exists; pass --overwrite",
        folder / "taken_side.xml": "taken_side.xml.otio written beside",
        folder / "out.mov": "extension '.mov' is not one of",
        folder / "missing" / "out.otio": "does not exist",
    }
    for out, needle in cases.items():
        with pytest.raises(TimelineError, match=needle) as info:
            write_timeline(laid, out, source=loaded)
        assert "\n" not in str(info.value)
        with pytest.raises(TimelineError, match=needle):
            check_output(loaded.path, out)
    assert listing(tmp_path) == before
    assert check_output(loaded.path, folder / "taken.xml", overwrite=True).adapter == "fcp_xml"


def test_a_writer_failing_half_way_leaves_nothing_behind(cut, tmp_path: Path, monkeypatch) -> None:
    loaded, laid, folder = cut
    real = otio.adapters.write_to_file

    def half_then_fail(timeline, path, *args, **kwargs):
        real(timeline, path, *args, **kwargs)
        assert Path(path).exists() and Path(path).parent != folder, "not written to a temporary name"
        raise RuntimeError("disk full")

    real_bytes = Path.write_bytes

    def half_then_full(self: Path, data: bytes) -> int:  # .otio is written from OTIO's string at once
        real_bytes(self, data[: len(data) // 2])
        assert self.exists() and self.parent != folder, "not written to a temporary name"
        raise OSError(errno.ENOSPC, "disk full")

    (folder / "old.xml").write_text("<xmeml>old</xmeml>")
    before = listing(tmp_path)
    monkeypatch.setattr(otio.adapters, "write_to_file", half_then_fail)
    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    for out, overwrite in [
        (folder / "out.otio", False),
        (folder / "out.otiod", False),
        (folder / "old.xml", True),
    ]:
        with pytest.raises(TimelineError, match="disk full"):
            write_timeline(laid, out, source=loaded, overwrite=overwrite)
        assert listing(tmp_path) == before, f"{out.name}: something was left behind"
    assert (folder / "old.xml").read_text() == "<xmeml>old</xmeml>"


def test_overwrite_replaces_a_file_and_an_otiod_but_no_other_folder(cut) -> None:
    loaded, laid, folder = cut
    out = folder / "out.otio"
    out.write_text("old")
    write_timeline(laid, out, source=loaded, overwrite=True)
    assert read_timeline(out).timeline.is_equivalent_to(laid)

    bundle = folder / "out.otiod"
    write_timeline(loaded.timeline, bundle, source=loaded)
    write_timeline(laid, bundle, source=loaded, overwrite=True)
    again = read_timeline(bundle)
    assert [t.name for t in again.timeline.tracks] == ["V1", "RIVER"]

    (folder / "plain.otiod").mkdir()
    with pytest.raises(TimelineError, match=r"not an \.otiod folder"):
        write_timeline(laid, folder / "plain.otiod", source=loaded, overwrite=True)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == [], "temporary litter"
