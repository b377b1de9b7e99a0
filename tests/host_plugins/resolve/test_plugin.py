"""The Resolve plugin against the fake Resolve: reading the timeline through issue 8's time mapping, the
three selections, placing on a track and as a take, markers, bin and metadata — one test per known
failure mode of Resolve's scripting API, each failing if the plugin ignored the rule."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from host_plugins.otio.select import SelectionError
from host_plugins.resolve import place as place_module
from host_plugins.resolve.api import ResolveError
from host_plugins.resolve.connect import find_resolve
from host_plugins.resolve.place import Placer, Render
from host_plugins.resolve.timeline import read_timeline, selection
from tests.host_plugins.resolve.scenes import dog_cut, originals


@pytest.fixture
def media(tmp_path: Path, sample_clip: Path) -> Path:
    path = tmp_path / "media" / "dog.mp4"
    path.parent.mkdir()
    shutil.copy2(sample_clip, path)
    return path


def movie(tmp_path: Path, sample_clip: Path, job: str) -> Path:
    """Stands in for a finished job's movie: frame 0 is media frame 0 (rendered 0:90)."""
    path = tmp_path / "renders" / job / "edited.mp4"
    path.parent.mkdir(parents=True)
    shutil.copy2(sample_clip, path)
    return path


@pytest.fixture
def render_movie(tmp_path: Path, sample_clip: Path) -> Path:
    return movie(tmp_path, sample_clip, "job1")


def live(resolve: Any) -> tuple[Any, Any, Any]:
    project = resolve.GetProjectManager().GetCurrentProject()
    return project, project.GetCurrentTimeline(), project.GetMediaPool()


def render_for(tl: Any, entry: Any, movie: Path, job: str = "job1") -> Render:
    return Render(
        item=tl.item_of(entry),
        clip=entry.name,
        media=movie,
        rendered=(0, 90),
        source=entry.source,
        record=entry.record,
        job_id=job,
        label="blur dog",
        provenance_path=str(movie.parent / "provenance.json"),
        host={"product": "DaVinci Resolve Studio", "version": "21.0.4.7"},
    )


# -- reading and selecting ----------------------------------------------------------------------


def test_read_maps_record_and_source_frames_and_skips_items_without_a_file(fake_world, media: Path) -> None:
    cut = dog_cut(fake_world, media)
    resolve = find_resolve()
    tl = read_timeline(resolve)
    assert tl.start_frame == 108000 and str(tl.rate) == "30000/1001"
    editable = sorted((e.record, e.source, e.video_number) for e in tl.clip_map.entries if e.editable)
    # record frames from the timeline's start (GetStart is absolute), source = file frames (offset kept)
    assert editable == [((10, 30), (20, 40), 1), ((35, 44), (61, 70), 2)]
    skipped = {e.video_number: e.skip for e in tl.clip_map.entries if not e.editable}
    assert "generator" in skipped[1] or "no media" in skipped[1]
    assert "compound" in skipped[2]
    assert cut.ids  # the scene built


def test_selected_clips_are_chosen_and_titles_skipped_with_a_reason(fake_world, media: Path) -> None:
    cut = dog_cut(fake_world, media)
    cut.timeline.select([cut.ids["a"], cut.ids["b"], cut.ids["title"]])
    resolve = find_resolve()
    tl = read_timeline(resolve)
    sel, how = selection(resolve, tl, "auto")
    assert how == "selected"
    assert [e.record for e in sel.chosen] == [(10, 30), (35, 44)]
    assert len(sel.skipped) == 1 and sel.skipped[0].skip


def test_before_21_0_4_no_get_selected_clips_is_called_and_the_current_item_is_used(
    fake_world, media: Path
) -> None:
    """hasattr says yes to anything on Resolve's objects; dir() tells the truth."""
    cut = dog_cut(fake_world, media, version=(21, 0, 3, 5, ""))
    cut.timeline.select([cut.ids["a"]])
    cut.timeline.set_current(cut.ids["b"])
    resolve = find_resolve()
    tl = read_timeline(resolve)
    sel, how = selection(resolve, tl, "auto")
    assert how == "current" and [e.record for e in sel.chosen] == [(35, 44)]
    assert not [c for c in cut.world.calls if c[1] == "GetSelectedClips"]
    with pytest.raises(SelectionError, match=r"21\.0\.4"):
        selection(resolve, tl, "selected")


def test_in_out_marks_cut_the_clips_out_inclusive(fake_world, media: Path) -> None:
    cut = dog_cut(fake_world, media)
    cut.timeline.set_marks(15, 24)  # Resolve's out mark is the last frame in
    resolve = find_resolve()
    tl = read_timeline(resolve)
    sel, how = selection(resolve, tl, "inout")
    assert how == "inout"
    assert [(e.record, e.source) for e in sel.chosen] == [((15, 25), (25, 35))]


# -- placing on a track ---------------------------------------------------------------------------


def test_track_placement_is_exact_in_the_river_bin_with_marker_color_and_metadata(
    fake_world, media: Path, render_movie: Path, tmp_path: Path, sample_clip: Path
) -> None:
    cut = dog_cut(fake_world, media)
    resolve = find_resolve()
    tl = read_timeline(resolve)
    before = originals(cut)
    placer = Placer(resolve, tl)
    a, b = (e for e in tl.clip_map.entries if e.editable)
    pa = placer.place(render_for(tl, a, render_movie), "track")
    second = movie(tmp_path, sample_clip, "job2")
    pb = placer.place(render_for(tl, b, second, "job2"), "track")
    # both above their originals, on one new track (they do not overlap): V3, 1-based, named RIVER
    assert (pa.track, pb.track) == (3, 3) and placer.added_tracks == [3]
    _project, timeline, pool = live(resolve)
    assert timeline.GetTrackCount("video") == 3 and timeline.GetTrackName("video", 3) == "RIVER"
    placed = timeline.GetItemListInTrack("video", 3)
    got = [(i.GetStart(), i.GetEnd(), i.GetSourceStartFrame()) for i in placed]
    # recordFrame absolute (108000 + 10), endFrame exclusive (20 frames), source = the clip's frames
    assert got == [(108010, 108030, 20), (108035, 108044, 61)]
    assert all(i.GetClipColor() == place_module.CLIP_COLOR for i in placed)
    # the render in the RIVER bin, with its provenance
    river = next(f for f in pool.GetRootFolder().GetSubFolderList() if f.GetName() == "RIVER")
    clips = river.GetClipList()
    assert sorted(c.GetClipProperty("File Path") for c in clips) == [str(render_movie), str(second)]
    meta = next(
        c for c in clips if c.GetClipProperty("File Path") == str(render_movie)
    ).GetThirdPartyMetadata()
    assert meta["RIVER Job"] == "job1" and meta["RIVER Provenance"].endswith("provenance.json")
    assert any("RIVER job job1" in c.GetMetadata("Comments") for c in clips)
    # markers at frames from the timeline's start, custom data = the provenance path
    markers = timeline.GetMarkers()
    assert sorted(markers) == [10.0, 35.0]
    assert markers[10.0]["customData"] == str(render_movie.parent / "provenance.json")
    assert "job1" in markers[10.0]["note"] and markers[10.0]["duration"] == 20
    assert originals(cut) == before  # nothing of the editor's moved, trimmed, recolored or deleted


def test_a_free_looking_track_with_an_item_in_the_way_is_passed_over(
    fake_world, media: Path, render_movie: Path
) -> None:
    cut = dog_cut(fake_world, media, video_tracks=3)
    s = cut.start
    cut.timeline.place(
        cut.project.add_media(str(media)), track=3, record=s + 25, source_start=0, source_end=10
    )
    _, timeline, _ = live(find_resolve())
    timeline.SetTrackName("video", 3, "RIVER")
    resolve = find_resolve()
    tl = read_timeline(resolve)
    before = originals(cut, (1, 2, 3))
    a = next(e for e in tl.clip_map.entries if e.editable and e.video_number == 1)
    p = Placer(resolve, tl).place(render_for(tl, a, render_movie), "track")
    assert p.track == 4
    _, timeline, _ = live(resolve)
    assert [(i.GetStart(), i.GetEnd()) for i in timeline.GetItemListInTrack("video", 4)] == [(s + 10, s + 30)]
    assert timeline.GetTrackName("video", 4) == "RIVER 2"
    assert originals(cut, (1, 2, 3)) == before


def test_a_silently_dropped_placement_is_caught_by_reading_the_track_back(
    fake_world, media: Path, render_movie: Path, monkeypatch
) -> None:
    """AppendToTimeline's answer does not prove placement: a plugin that trusted it would report V2."""
    cut = dog_cut(fake_world, media)
    resolve = find_resolve()
    tl = read_timeline(resolve)
    a = next(e for e in tl.clip_map.entries if e.editable and e.video_number == 1)
    real = Placer.free_track
    asked = []

    def first_an_occupied_track(self, timeline, above, start, end, *, force_new=False):
        asked.append(force_new)
        return 2 if not force_new else real(self, timeline, above, start, end, force_new=True)

    monkeypatch.setattr(Placer, "free_track", first_an_occupied_track)
    cut.timeline.place(
        cut.project.add_media(str(media)), track=2, record=cut.start + 12, source_start=0, source_end=5
    )
    p = Placer(resolve, tl).place(render_for(tl, a, render_movie), "track")
    assert asked == [False, True] and p.track == 3
    _, timeline, _ = live(resolve)
    assert [(i.GetStart(), i.GetEnd()) for i in timeline.GetItemListInTrack("video", 3)] == [
        (cut.start + 10, cut.start + 30)
    ]


def test_a_placement_dropped_twice_fails_loudly_and_keeps_the_render_in_the_bin(
    fake_world, media: Path, render_movie: Path, monkeypatch
) -> None:
    cut = dog_cut(fake_world, media)
    resolve = find_resolve()
    tl = read_timeline(resolve)
    a = next(e for e in tl.clip_map.entries if e.editable and e.video_number == 1)
    monkeypatch.setattr(Placer, "free_track", lambda self, *a, **k: 1)  # always the original's own track
    with pytest.raises(ResolveError, match="dropped"):
        Placer(resolve, tl).place(render_for(tl, a, render_movie), "track")
    assert cut.timeline.items(1) and len(cut.timeline.items(1)) == 2  # the originals only


def test_import_goes_into_the_river_bin_and_the_editors_folder_stays_current(
    fake_world, media: Path, render_movie: Path
) -> None:
    cut = dog_cut(fake_world, media)
    resolve = find_resolve()
    _, _, pool = live(resolve)
    footage = next(f for f in pool.GetRootFolder().GetSubFolderList() if f.GetName() == "Footage")
    assert pool.SetCurrentFolder(footage)
    tl = read_timeline(resolve)
    a = next(e for e in tl.clip_map.entries if e.editable)
    Placer(resolve, tl).place(render_for(tl, a, render_movie), "track")
    _, _, pool = live(resolve)
    assert pool.GetCurrentFolder().GetName() == "Footage"
    footage = next(f for f in pool.GetRootFolder().GetSubFolderList() if f.GetName() == "Footage")
    assert str(render_movie) not in {c.GetClipProperty("File Path") for c in footage.GetClipList()}
    assert cut.project.folders()["RIVER"]


def test_a_marker_already_at_the_clip_start_moves_ours_to_the_next_frame(
    fake_world, media: Path, render_movie: Path
) -> None:
    dog_cut(fake_world, media)
    resolve = find_resolve()
    _, timeline, _ = live(resolve)
    assert timeline.AddMarker(10, "Blue", "editor's", "", 1, "")
    tl = read_timeline(resolve)
    a = next(e for e in tl.clip_map.entries if e.editable and e.video_number == 1)
    p = Placer(resolve, tl).place(render_for(tl, a, render_movie), "track")
    assert p.marker_frame == 11
    _, timeline, _ = live(resolve)
    markers = timeline.GetMarkers()
    assert markers[10.0]["name"] == "editor's" and markers[11.0]["duration"] == 19


# -- placing as a take ----------------------------------------------------------------------------


def test_take_placement_keeps_the_original_as_take_one(fake_world, media: Path, render_movie: Path) -> None:
    cut = dog_cut(fake_world, media)
    resolve = find_resolve()
    tl = read_timeline(resolve)
    a = next(e for e in tl.clip_map.entries if e.editable and e.video_number == 1)
    p = Placer(resolve, tl).place(render_for(tl, a, render_movie), "take")
    assert p.take == 2 and p.track is None
    _, timeline, _ = live(resolve)
    assert timeline.GetTrackCount("video") == 2  # no track added
    item = next(i for i in timeline.GetItemListInTrack("video", 1) if i.GetStart() == cut.start + 10)
    assert item.GetTakesCount() == 2 and item.GetSelectedTakeIndex() == 1
    assert item.GetTakeByIndex(1)["mediaPoolItem"].GetClipProperty("File Path") == str(media)
    take = item.GetTakeByIndex(2)
    assert take["mediaPoolItem"].GetClipProperty("File Path") == str(render_movie)
    assert (take["startFrame"], take["endFrame"]) == (20, 40)
    assert (item.GetStart(), item.GetEnd()) == (cut.start + 10, cut.start + 30)


# -- stale handles --------------------------------------------------------------------------------


def test_a_project_switch_while_jobs_ran_stops_the_placement_loudly(
    fake_world, media: Path, render_movie: Path
) -> None:
    cut = dog_cut(fake_world, media)
    cut.world.add_project("Other")
    resolve = find_resolve()
    tl = read_timeline(resolve)
    a = next(e for e in tl.clip_map.entries if e.editable)
    cut.world.switch_project("Other")
    with pytest.raises(ResolveError, match=r"'Other'.*'Demo'"):
        Placer(resolve, tl).place(render_for(tl, a, render_movie), "track")
    assert "RIVER" not in cut.world.current_project.folders()
    # back in Demo, the handles read before the switch are dead; the plugin looks everything up again
    cut.world.switch_project("Demo")
    p = Placer(resolve, tl).place(render_for(tl, a, render_movie), "track")
    assert p.track == 3


def test_a_clip_whose_rate_differs_from_the_timeline_is_skipped_with_the_reason_not_misread(
    fake_world, make_clip, media: Path
) -> None:
    """30 fps media on a 29.97 timeline: Resolve rounds the record length; its frames cannot map 1:1."""
    world = fake_world.World()
    project = world.add_project("Demo")
    m30 = project.add_media(str(make_clip("resolve_30fps.mp4", rate="30", frames=90)), fps="30", frames=90)
    tl = project.add_timeline("Mixed", rate="29.97", video_tracks=1)
    fake_world.install(world)
    _, timeline, pool = live(find_resolve())
    clip = next(
        c for c in pool.GetRootFolder().GetClipList() if c.GetMediaId() == m30 or c.GetUniqueId() == m30
    )
    info = {
        "mediaPoolItem": clip,
        "startFrame": 0,
        "endFrame": 45,
        "trackIndex": 1,
        "recordFrame": tl.start_frame,
    }
    pool.AppendToTimeline([info])
    assert len(timeline.GetItemListInTrack("video", 1)) == 1
    ntsc = project.add_media(str(media))
    tl.place(ntsc, track=1, record=tl.start_frame + 60, source_start=5, source_end=25)
    entries = read_timeline(find_resolve()).clip_map.entries
    assert len(entries) == 2 and not entries[0].editable
    # the clip after it keeps its exact record frames (no drift from the rounded one before it)
    assert entries[1].editable and (entries[1].record, entries[1].source) == ((60, 80), (5, 25))
    assert "30 fps" in entries[0].skip and "whole frames" in entries[0].skip
