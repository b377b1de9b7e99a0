"""`python -m host_plugins.resolve mark|edit|free|info` and `river resolve doctor` against the fake
Resolve and a fast real server (ground-truth twin of a synthetic scene, replayed reasoning: "object 1,
the circle, becomes bronze"; the circle is in every frame)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import opentimelineio as otio

from host_plugins.resolve.cli import main as plugin
from host_plugins.resolve.install import install
from river_core.cli import main as river
from tests.host_plugins.otio.timelines import Shot, media_timeline
from tests.host_plugins.resolve.scenes import dog_cut

NTSC_TEXT = "29.97"


def scene_cut(fake_world, clip: Path):
    """V1: scene frames 5:15 at record +10; V2: frames 16:25 at +35 (and a title, a compound)."""
    world = fake_world.World()
    project = world.add_project("Demo")
    media = project.add_media(str(clip), fps="29.97", frames=30)
    tl = project.add_timeline("Cut", rate=NTSC_TEXT, video_tracks=2)
    s = tl.start_frame
    a = tl.place(media, track=1, record=s + 10, source_start=5, source_end=15)
    b = tl.place(media, track=2, record=s + 35, source_start=16, source_end=25)
    tl.add_title(track=1, record=s + 50, duration=10)
    fake_world.install(world)
    return world, tl, (a, b)


def test_mark_puts_timeline_markers_at_the_plans_spans(fake_world, scene_server: Path, capsys) -> None:
    _world, tl, (a, b) = scene_cut(fake_world, scene_server)
    tl.select([a, b])
    capsys.readouterr()
    code = plugin(["mark", "where is the circle", "--no-start", "-q", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    spans = json.loads(out)["spans"]
    # the circle is in every frame: each clip's whole record range, in frames from the timeline start
    assert [(s["record_frames"], s["marker_frame"]) for s in spans] == [([10, 20], 10), ([35, 44], 35)]
    markers = tl.snapshot()["markers"]
    assert sorted(float(k) for k in markers) == [10.0, 35.0]
    m = markers[next(k for k in markers if float(k) == 10.0)]
    assert m["name"] == "where is the circle" and float(m["duration"]) == 10 and "circle #1" in m["note"]
    assert m["customData"].startswith("RIVER job ")
    assert len(tl.snapshot()["tracks"]["video"]) == 2 and tl.items(1)[0]["start"] == tl.start_frame + 10


def test_edit_with_a_query_places_the_render_and_reports_json(fake_world, scene_server: Path, capsys) -> None:
    _world, tl, (_a, b) = scene_cut(fake_world, scene_server)
    tl.set_current(b)
    before = [tl.items(t) for t in (1, 2)]
    capsys.readouterr()
    code = plugin(
        [
            "edit",
            "make the circle bronze",
            "--selection",
            "current",
            "--format",
            "ffv1",
            "--deliver",
            "media",
            "--no-start",
            "-q",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    placed = json.loads(out)["placed"]
    assert [(p["track"], p["record_frames"]) for p in placed] == [
        (3, [tl.start_frame + 35, tl.start_frame + 44])
    ]
    assert [tl.items(t) for t in (1, 2)] == before
    assert [(i["start"], i["end"]) for i in tl.items(3)] == [(tl.start_frame + 35, tl.start_frame + 44)]
    assert "make the circle bronze" in tl.snapshot()["markers"][next(iter(tl.snapshot()["markers"]))]["name"]


def test_dry_run_reports_the_selection_with_the_resolve_side(fake_world, scene_server: Path, capsys) -> None:
    world, tl, (_a, _b) = scene_cut(fake_world, scene_server)
    tl.set_marks(12, 40)
    capsys.readouterr()
    code = plugin(["edit", "--targets", "1", "--op", "blur", "--selection", "inout", "--dry-run", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)["selection"]
    assert report["selection"] == "inout" and report["start_frame"] == tl.start_frame
    chosen = [
        (c["record"]["start"], c["record"]["end"], c["source"]["start"], c["source"]["end"])
        for c in report["chosen"]
    ]
    assert chosen == [(12, 20, 7, 15), (35, 41, 16, 22)]  # cut to the marks (out inclusive)
    assert report["chosen"][0]["resolve"]["record_start"] == tl.start_frame + 10
    assert not world.calls_to("AppendToTimeline")


def test_edit_without_resolve_names_the_free_edition_path_in_one_line(fake_world, capsys) -> None:
    code = plugin(["edit", "--targets", "1", "--op", "blur", "--no-start", "-q"])  # no world: not running
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "host_plugins.resolve free" in lines[0] and "Traceback" not in err


def test_free_edition_round_trip_prints_the_menu_steps(scene_server: Path, tmp_path: Path, capsys) -> None:
    export = scene_server.parent / "Cut.xml"
    cut = media_timeline(
        scene_server,
        [Shot("one", start=6, length=10, gap=4)],
        rate=__import__("fractions").Fraction(30000, 1001),
        media_frames=30,
    )
    otio.adapters.write_to_file(cut, str(export))
    before = export.read_bytes()
    capsys.readouterr()
    code = plugin(
        [
            "free",
            str(export),
            "--targets",
            "1",
            "--op",
            "blur",
            "--format",
            "ffv1",
            "--deliver",
            "media",
            "--no-start",
            "-q",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    result = scene_server.parent / "Cut_river.xml"
    assert result.is_file() and export.read_bytes() == before
    assert "File → Import → Timeline…" in out and str(result.resolve()) in out
    tracks = otio.adapters.read_from_file(str(result)).video_tracks()
    assert [t.name for t in tracks][-1] == "RIVER"
    code = plugin(["free", str(tmp_path / "missing.xml"), "--targets", "1", "--op", "blur"])
    assert code == 2 and "File → Export → Timeline…" in capsys.readouterr().err


def test_info_lists_items_with_their_resolve_frames(
    fake_world, tmp_path: Path, sample_clip: Path, capsys
) -> None:
    media = tmp_path / "dog.mp4"
    shutil.copy2(sample_clip, media)
    cut = dog_cut(fake_world, media)
    capsys.readouterr()
    assert plugin(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resolve"]["version"].startswith("21.0.4")
    items = {(i["track"], i["record_start"]) for i in report["resolve_items"]}
    assert (1, cut.start + 10) in items and (2, cut.start + 35) in items


def test_doctor_checks_each_part_and_says_the_fix(
    fake_world, tmp_path: Path, sample_clip: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("sys.platform", "linux")
    fake_world.install(fake_world.World(version=(21, 0, 3, 5, "")))
    capsys.readouterr()
    assert river(["resolve", "doctor", "--json"]) == 1  # not installed
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["launcher"]["status"] == "fail" and "river resolve install" in checks["launcher"]["fix"]
    assert checks["RESOLVE_SCRIPT_API"]["status"] == "ok"
    assert (
        checks["scripting connection"]["status"] == "ok"
        and "21.0.3" in checks["scripting connection"]["detail"]
    )
    assert checks["server"]["status"] == "warn"
    install("user")
    media = tmp_path / "dog.mp4"
    shutil.copy2(sample_clip, media)
    dog_cut(fake_world, media, version=(21, 0, 3, 5, ""))
    assert river(["resolve", "doctor", "--json"]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["launcher"]["status"] == "ok"
    assert (
        checks["selection"]["status"] == "warn"
        and "21.0.4" in checks["selection"]["detail"] + checks["selection"]["fix"]
    )
    fake_world.install(None)  # Resolve not running: the connection fails with the fix
    assert river(["resolve", "doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL scripting connection" in out and "External scripting using: Local" in out


def test_the_module_run_as_a_process_edits_the_resolve_it_finds(
    fake_world, scene_server: Path, tmp_path: Path
) -> None:
    """`python -m host_plugins.resolve edit` in its own process: the fake Resolve's project in a file
    (RESOLVE_SCRIPT_API finds the module), the server through its discovery file."""
    from tests.host_plugins.resolve.test_resolve_e2e import run_plugin

    world, tl, (a, b) = scene_cut(fake_world, scene_server)
    tl.select([a, b])
    fake_world.install(None)
    state = tmp_path / "state.json"
    world.save(state)
    code, out, err = run_plugin(
        state,
        "edit",
        "--targets",
        "1",
        "--op",
        "blur",
        "--format",
        "ffv1",
        "--deliver",
        "media",
        "--no-start",
        "-q",
    )
    assert code == 0, err
    assert out.count("placed ") == 2 and "on V3" in out
    after = fake_world.World.load(state).current_project.current_timeline
    s = after.start_frame
    assert [(i["start"], i["end"]) for i in after.items(3)] == [(s + 10, s + 20), (s + 35, s + 44)]
    assert [after.items(t) for t in (1, 2)] == [tl.items(t) for t in (1, 2)]
