"""Tests of the fake DaVinciResolveScript itself: the README's API shapes and each Resolve failure mode
listed in fake_resolve/Modules/fake_world.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest

FAKE_ROOT = Path(__file__).resolve().parent / "fake_resolve"
MODULES = FAKE_ROOT / "Modules"
if str(MODULES) not in sys.path:
    sys.path.insert(0, str(MODULES))

import DaVinciResolveScript as dvr  # noqa: E402
import fake_world  # noqa: E402

SAMPLE = Path(str(resources.files("river_core") / "data" / "samples" / "dog_3s.mp4"))


@pytest.fixture
def world():
    w = fake_world.World()
    p = w.add_project("Main")
    p.add_media("/media/a.mov", fps="24", frames=240)
    p.add_media("/media/b.mov", fps="24", frames=100, folder="Cams")
    p.add_timeline("Edit", rate="24", video_tracks=2)
    fake_world.install(w)
    yield w
    fake_world.uninstall()


def handles():
    resolve = dvr.scriptapp("Resolve")
    project = resolve.GetProjectManager().GetCurrentProject()
    pool = project.GetMediaPool()
    return resolve, project, pool, project.GetCurrentTimeline()


def clip_named(pool, name):
    def walk(folder):
        yield from folder.GetClipList()
        for sub in folder.GetSubFolderList():
            yield from walk(sub)

    return next(c for c in walk(pool.GetRootFolder()) if c.GetName() == name)


# ------------------------------------------------------------------------------------------ process model
def test_scriptapp_sources_and_editions(tmp_path, monkeypatch):
    monkeypatch.delenv("FAKE_RESOLVE_STATE", raising=False)
    fake_world.uninstall()
    assert dvr.scriptapp("Resolve") is None  # not running
    free = fake_world.World(product="DaVinci Resolve")
    free.add_project("P")
    fake_world.install(free)
    assert dvr.scriptapp("Resolve") is None  # external scripting is Studio-only
    studio = fake_world.World(version=(20, 3, 1, 6, "b"))
    studio.add_project("P")
    fake_world.install(studio)
    try:
        resolve = dvr.scriptapp("Resolve")
        assert resolve.GetProductName() == "DaVinci Resolve Studio"
        assert resolve.GetVersion() == [20, 3, 1, 6, "b"]
        assert resolve.GetVersionString() == "20.3.1b.6"
        assert dvr.scriptapp("Premiere") is None
        assert dvr.scriptapp("Fusion") is not None
        assert isinstance(resolve.EXPORT_OTIO, int) and resolve.EXPORT_NONE != resolve.EXPORT_OTIO
        assert resolve.OpenPage("edit") is True and resolve.OpenPage("nope") is False
        assert resolve.GetCurrentPage() == "edit"
    finally:
        fake_world.uninstall()


def test_state_file_subprocess_roundtrip(tmp_path):
    w = fake_world.World()
    p = w.add_project("Main")
    mid = p.add_media("/media/a.mov", fps="24", frames=240)
    p.add_timeline("Edit")
    state = tmp_path / "state.json"
    w.save(state)
    script = textwrap.dedent(
        """
        import DaVinciResolveScript as dvr
        r = dvr.scriptapp("Resolve")
        pr = r.GetProjectManager().GetCurrentProject()
        pool = pr.GetMediaPool()
        clip = pool.GetRootFolder().GetClipList()[0]
        clip.SetClipColor("Teal")
        pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 48,
                                "trackIndex": 1, "recordFrame": 86400}])
        pr.GetCurrentTimeline().GetName()
        """
    )
    env = {
        **os.environ,
        "FAKE_RESOLVE_STATE": str(state),
        "RESOLVE_SCRIPT_API": str(FAKE_ROOT),
        "PYTHONPATH": str(MODULES),
    }
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    after = fake_world.World.load(state)
    assert after.current_project.media(mid)["clip_color"] == "Teal"
    items = after.current_project.timeline("Edit").items(1)
    assert [(i["start"], i["end"]) for i in items] == [(86400, 86448)]
    assert ("Timeline", "GetName", ()) in after.calls  # read-only calls are flushed at exit
    assert not list(tmp_path.glob("*.tmp"))


# ------------------------------------------------------------------------------------------------ builder
def test_builder_frames_and_snapshot(world):
    p = world.current_project
    t = p.timeline("Edit")
    assert t.start_frame == 86400
    assert p.add_timeline("NTSC", rate="29.97").start_frame == 108000
    assert p.add_timeline("DF", rate="29.97 DF").start_frame == 108000
    a = next(iter(p.folders()["Master"]))
    iid = t.place(a, track=1, record=86400, source_start=10, source_end=58)
    (item,) = t.items(1)
    assert item["id"] == iid and (item["start"], item["end"], item["duration"]) == (86400, 86448, 48)
    assert (item["left_offset"], item["right_offset"]) == (10, 182)
    with pytest.raises(ValueError):
        t.place(a, track=1, record=86440, source_start=0, source_end=10)  # overlap
    p.add_media("/media/n.mov", fps="29.97", frames=100)
    with pytest.raises(ValueError):  # 7 frames at 29.97 is not whole at 24
        t.place(p.folders()["Master"][-1], track=2, record=86400, source_start=0, source_end=7)
    assert p.folders()["Cams"] and p.media(p.folders()["Cams"][0])["folder"] == "Cams"
    assert p.media(a)["properties"]["FPS"] == "24"
    snap = t.snapshot()
    assert json.loads(json.dumps(snap)) == snap


def test_add_media_probes_with_pyav(world):
    pytest.importorskip("av")
    mid = world.current_project.add_media(SAMPLE)
    props = world.current_project.media(mid)["properties"]
    assert props["FPS"] == "29.97" and props["Frames"] == "90" and props["Type"] == "Video + Audio"


# ---------------------------------------------------------------------------------------- API semantics
def test_properties_are_strings_and_metadata_rules(world):
    _, _, pool, _ = handles()
    clip = clip_named(pool, "a.mov")
    assert clip.GetClipProperty("File Path") == "/media/a.mov"
    assert clip.GetClipProperty("Frames") == "240" and clip.GetClipProperty("FPS") == "24"
    assert clip.GetClipProperty("No Such Key") == ""
    assert isinstance(clip.GetClipProperty(), dict)
    assert clip.SetClipProperty("File Path", "/elsewhere.mov") is False
    assert clip.SetMetadata("Comments", "hello") is True
    assert clip.SetMetadata("RiverJob", "x") is False and clip.GetMetadata("RiverJob") == ""
    assert clip.SetMetadata({"Scene": "1", "Bogus": "2"}) is False and clip.GetMetadata("Scene") == ""
    assert clip.SetThirdPartyMetadata("river.job", "42") is True
    assert clip.GetThirdPartyMetadata("river.job") == "42"
    assert clip.SetClipColor("Red") is False and clip.GetClipColor() == ""  # Red is a marker color only
    assert clip.SetClipColor("Apricot") is True and clip.GetClipColor() == "Apricot"
    assert clip.ClearClipColor() is True and clip.GetClipColor() == ""


def test_timeline_markers_are_offsets_and_validated(world):
    p = world.current_project
    t = p.timeline("Edit")
    t.place(p.folders()["Master"][0], track=1, record=86400, source_start=0, source_end=240)
    _, _, _, tl = handles()
    assert tl.AddMarker(10, "Blue", "m", "note", 1, "river:1") is True
    assert tl.AddMarker(10, "Green", "dup", "", 1) is False  # frame taken
    assert tl.AddMarker(11, "Orange", "bad color", "", 1) is False  # a clip color, not a marker color
    assert tl.AddMarker(12, "Red", "short", "", 0) is False
    assert tl.AddMarker(86400 + 12, "Red", "absolute", "", 1) is False  # past the end: offsets, not frames
    assert tl.GetMarkers() == {
        10.0: {"color": "Blue", "duration": 1.0, "note": "note", "name": "m", "customData": "river:1"}
    }
    assert list(tl.GetMarkerByCustomData("river:1")) == [10.0]
    assert tl.DeleteMarkerAtFrame(10) is True and tl.GetMarkers() == {}


# ------------------------------------------------------------------------------------------ failure modes
def test_mode1_dropped_placements_return_ghosts(world):
    p = world.current_project
    t = p.timeline("Edit")
    t.place(p.folders()["Master"][0], track=1, record=86400, source_start=0, source_end=100)
    _, _, pool, tl = handles()
    clip = clip_named(pool, "a.mov")
    overlap = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 1, "recordFrame": 86450}]
    )
    assert len(overlap) == 1 and overlap[0].GetStart() == 86450 and overlap[0].GetDuration() == 24
    assert len(tl.GetItemListInTrack("video", 1)) == 1  # nothing placed
    t.lock_track(2)
    locked = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 2, "recordFrame": 86400}]
    )
    missing = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 7, "recordFrame": 86400}]
    )
    assert len(locked) == 1 and len(missing) == 1 and locked[0].GetTrackTypeAndIndex() == ["video", 2]
    assert tl.GetItemListInTrack("video", 2) == [] and tl.GetItemListInTrack("video", 7) is None
    assert len(t.items(1)) == 1 and t.items(2) == []


def test_mode2_end_frame_is_exclusive(world):
    _, _, pool, _ = handles()
    clip = clip_named(pool, "a.mov")
    (item,) = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 10, "endFrame": 34, "trackIndex": 1, "recordFrame": 86400}]
    )
    assert item.GetDuration() == 24 and item.GetEnd() - item.GetStart() == 24
    assert (item.GetSourceStartFrame(), item.GetSourceEndFrame()) == (10, 34)
    assert (item.GetLeftOffset(), item.GetRightOffset()) == (10, 206)


def test_mode3_indices_are_one_based(world):
    p = world.current_project
    t = p.timeline("Edit")
    t.place(p.folders()["Master"][0], track=1, record=86400, source_start=0, source_end=48)
    _, _, pool, tl = handles()
    clip = clip_named(pool, "a.mov")
    assert tl.GetItemListInTrack("video", 0) is None
    assert tl.GetTrackName("video", 0) is None and tl.SetTrackLock("video", 0, True) is False
    (ghost,) = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 0, "recordFrame": 90000}]
    )
    assert all(len(t.items(n)) == n % 2 for n in (1, 2))  # dropped
    assert ghost.GetStart() == 90000 and ghost.GetTrackTypeAndIndex() == ["video", 0]
    (item,) = tl.GetItemListInTrack("video", 1)
    assert item.AddTake(clip, 0, 48) is True
    assert item.GetTakeByIndex(0) is None and item.SelectTakeByIndex(0) is False
    assert item.DeleteTakeByIndex(0) is False and item.GetTakesCount() == 2


def test_mode4_record_frame_is_absolute(world):
    _, _, pool, tl = handles()
    clip = clip_named(pool, "a.mov")
    (early,) = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 1, "recordFrame": 0}]
    )
    assert early.GetStart() == 0 and early.GetStart() < tl.GetStartFrame() == 86400
    assert [i.GetStart() for i in tl.GetItemListInTrack("video", 1)] == [0]
    # no recordFrame: after the last item of the track (empty track: at the timeline start)
    (nxt,) = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 1}]
    )
    assert nxt.GetStart() == 24
    (first,) = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 2}]
    )
    assert first.GetStart() == 86400


def test_mode5_append_targets_the_current_timeline(world):
    p = world.current_project
    p.add_timeline("Other")
    _, project, pool, current = handles()
    other = project.GetTimelineByIndex(2)
    assert other.GetName() == "Other" and current.GetName() == "Edit"
    clip = clip_named(pool, "a.mov")
    pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 1}])
    assert other.GetItemListInTrack("video", 1) == [] and len(p.timeline("Edit").items(1)) == 1
    assert project.SetCurrentTimeline(other) is True
    pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 1}])
    assert len(p.timeline("Other").items(1)) == 1
    assert project.GetTimelineByIndex(0) is None and project.GetTimelineByIndex(3) is None


def test_mode6_selected_clips_only_from_21_0_4(world):
    p = world.current_project
    t = p.timeline("Edit")
    iid = t.place(p.folders()["Master"][0], track=1, record=86400, source_start=0, source_end=48)
    t.select([iid])
    t.set_current(iid)
    _, _, _, tl = handles()
    assert "GetSelectedClips" in dir(tl)
    assert [i.GetUniqueId() for i in tl.GetSelectedClips()] == [iid]
    old = fake_world.World(version=(21, 0, 3, 2, ""))
    op = old.add_project("Old")
    ot = op.add_timeline("T")
    ot.select(
        [
            ot.place(
                op.add_media("/m.mov", fps=24, frames=48),
                track=1,
                record=86400,
                source_start=0,
                source_end=48,
            )
        ]
    )
    fake_world.install(old)
    _, _, _, otl = handles()
    assert "GetSelectedClips" not in dir(otl)
    assert otl.GetSelectedClips() is None
    assert otl.GetCurrentVideoItem() is None  # nothing under the playhead was set
    fake_world.install(world)
    assert handles()[3].GetCurrentVideoItem().GetUniqueId() == iid


def test_mode7_hasattr_misreports(world):
    resolve, project, pool, tl = handles()
    for obj in (resolve, project, pool, tl, pool.GetRootFolder()):
        assert hasattr(obj, "DefinitelyNotAMethod")
        assert obj.DefinitelyNotAMethod(1, 2) is None
        assert "DefinitelyNotAMethod" not in dir(obj)
    assert "GetItemListInTrack" in dir(tl) and "AppendToTimeline" in dir(pool)
    assert ("Timeline", "DefinitelyNotAMethod", (1, 2)) in world.calls


def test_mode8_handles_go_stale_after_a_project_switch(world):
    world.add_project("Second").add_timeline("S")
    p = world.current_project
    p.timeline("Edit").place(p.folders()["Master"][0], track=1, record=86400, source_start=0, source_end=48)
    resolve, project, pool, tl = handles()
    folder = pool.GetRootFolder()
    clip = clip_named(pool, "a.mov")
    (item,) = tl.GetItemListInTrack("video", 1)
    pm = resolve.GetProjectManager()
    second = pm.LoadProject("Second")
    assert second.GetName() == "Second" and second.GetCurrentTimeline().GetName() == "S"
    for obj, call in (
        (project, "GetName"),
        (pool, "GetRootFolder"),
        (folder, "GetClipList"),
        (clip, "GetName"),
        (tl, "GetName"),
        (item, "GetStart"),
    ):
        assert getattr(obj, call)() is None
    assert pm.LoadProject("Main").GetName() == "Main"
    assert project.GetName() is None and clip.GetClipProperty("File Path") is None  # not revived
    fresh = pm.GetCurrentProject()
    world.switch_project("Second")
    assert fresh.GetName() is None and pm.GetCurrentProject().GetName() == "Second"
    assert resolve.GetProductName() == "DaVinci Resolve Studio"  # app-level objects never go stale


def test_mode9_import_media_into_current_folder_only(world, tmp_path):
    pytest.importorskip("av")
    _, _, pool, _ = handles()
    assert pool.ImportMedia([str(tmp_path / "missing.mov")]) == []
    bin_ = pool.AddSubFolder(pool.GetRootFolder(), "RIVER")
    assert bin_.GetName() == "RIVER"
    assert pool.AddSubFolder(pool.GetRootFolder(), "RIVER").GetName() == "RIVER 2"  # suffixed, never equal
    (first,) = pool.ImportMedia([str(SAMPLE)])  # current folder is still Master
    assert world.current_project.media(first.GetUniqueId())["folder"] == "Master"
    assert pool.ImportMedia([{"FilePath": str(SAMPLE)}]) == []  # already in the media pool
    assert pool.SetCurrentFolder(bin_) is True and pool.GetCurrentFolder().GetName() == "RIVER"
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(SAMPLE.read_bytes())
    (second,) = pool.ImportMedia([{"FilePath": str(copy)}])
    assert [c.GetName() for c in bin_.GetClipList()] == ["copy.mp4"]
    assert second.GetClipProperty("File Path") == str(copy) and second.GetClipProperty("FPS") == "29.97"


def test_mode10_no_trim_setters_and_takes(world):
    p = world.current_project
    t = p.timeline("Edit")
    a = p.folders()["Master"][0]
    t.place(a, track=1, record=86400, source_start=0, source_end=48)
    t.add_title(track=2, record=86400, duration=24)
    before = t.snapshot()
    _, _, pool, tl = handles()
    (item,) = tl.GetItemListInTrack("video", 1)
    (title,) = tl.GetItemListInTrack("video", 2)
    assert item.SetStart(10) is None and item.SetDuration(5) is None and "SetStart" not in dir(item)
    assert t.snapshot() == before
    assert title.GetMediaPoolItem() is None
    other = clip_named(pool, "b.mov")
    assert title.AddTake(other, 0, 48) is False
    assert item.GetTakesCount() == 0 and item.GetSelectedTakeIndex() == 0
    assert item.AddTake(other, 10, 58) is True
    assert item.GetTakesCount() == 2 and item.GetSelectedTakeIndex() == 1
    assert item.GetTakeByIndex(1)["mediaPoolItem"].GetUniqueId() == a
    take2 = item.GetTakeByIndex(2)
    assert (take2["startFrame"], take2["endFrame"]) == (10, 58) and take2[
        "mediaPoolItem"
    ].GetName() == "b.mov"
    assert item.SelectTakeByIndex(2) is True and item.GetSelectedTakeIndex() == 2
    assert item.GetMediaPoolItem().GetName() == "b.mov" and item.GetDuration() == 48
    assert item.AddTake(other, 0, 101) is False  # past the media end (exclusive end 100)
    assert item.FinalizeTake() is True and item.GetTakesCount() == 0


def test_mode11_mixed_rates_round_a_frame(world):
    p = world.current_project
    p.add_media("/media/ntsc.mov", fps="29.97", frames=300)
    _, _, pool, tl = handles()
    clip = clip_named(pool, "ntsc.mov")
    assert clip.GetClipProperty("FPS") == "29.97"
    (item,) = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 10, "trackIndex": 1, "recordFrame": 86400}]
    )
    # 10 frames at 30000/1001 on a 24 fps timeline = 8.008 -> 8
    assert item.GetDuration() == 8 and tl.GetSetting("timelineFrameRate") == "24"
    assert fake_world.timeline_frames(25, fake_world.parse_rate("29.97"), fake_world.parse_rate("24")) == 20
    assert fake_world.timeline_frames(3, fake_world.parse_rate("24"), fake_world.parse_rate("50")) == 6
    assert fake_world.timeline_frames(5, fake_world.parse_rate(25), fake_world.parse_rate("23.976")) == 5


def test_video_and_audio_clip_places_two_items(world):
    p = world.current_project
    p.add_media("/media/av.mov", fps="24", frames=48, kind="Video + Audio")
    _, _, pool, tl = handles()
    clip = clip_named(pool, "av.mov")
    both = pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 1}])
    assert [i.GetTrackTypeAndIndex() for i in both] == [["video", 1], ["audio", 1]]
    video_only = pool.AppendToTimeline(
        [{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "mediaType": 1, "trackIndex": 2}]
    )
    assert [i.GetTrackTypeAndIndex() for i in video_only] == [["video", 2]]
    assert len(tl.GetItemListInTrack("audio", 1)) == 1


def test_export_and_import_timeline_are_recorded(world, tmp_path):
    resolve, project, pool, tl = handles()
    out = tmp_path / "edit.otio"
    assert tl.Export(str(out), resolve.EXPORT_OTIO, resolve.EXPORT_NONE) is True
    assert json.loads(out.read_text())["OTIO_SCHEMA"] == "Timeline.1"
    assert tl.Export(str(tmp_path / "x.edl"), resolve.EXPORT_EDL) is False  # subtype required for EDL
    assert (
        tl.Export(str(tmp_path / "nodir" / "x.xml"), resolve.EXPORT_FCP_7_XML, resolve.EXPORT_NONE) is False
    )
    imported = pool.ImportTimelineFromFile(str(out), {"timelineName": "Back"})
    assert imported.GetName() == "Back" and project.GetCurrentTimeline().GetName() == "Back"
    assert pool.ImportTimelineFromFile(str(tmp_path / "missing.otio"), {}) is None
    assert [c[1] for c in world.calls_to("ImportTimelineFromFile")] == ["ImportTimelineFromFile"] * 2
    assert pool.CreateEmptyTimeline("Back") is None
    new = pool.CreateEmptyTimeline("Fresh")
    assert new.GetName() == "Fresh" and project.GetCurrentTimeline().GetName() == "Fresh"
    assert (
        new.GetTrackCount("video") == 1 and new.AddTrack("video") is True and new.GetTrackCount("video") == 2
    )
