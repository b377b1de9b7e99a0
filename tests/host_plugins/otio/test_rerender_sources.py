"""`river timeline rerender` of what formats without metadata keep (FCP7 XML: the marker's path to the
job's provenance.json), and a selection that picks the RIVER clips made from the selected clips only —
through the real server of test_timeline_jobs (ground-truth twin, replayed reasoning)."""

from __future__ import annotations

import copy
from pathlib import Path

import opentimelineio as otio
import pytest

from host_plugins.otio.layback import river_clips
from tests.host_plugins.otio.test_timeline_jobs import NTSC, record, river, scene_server  # noqa: F401
from tests.host_plugins.otio.timelines import Shot, media_timeline
from tests.host_plugins.otio.timelines import tr as time_range


def two_tracks(clip: Path, path: Path) -> Path:
    """V1: "one" at 4:14 and "two" at 17:26; V2: "top" at 6:12, over "one"."""
    timeline = media_timeline(clip, [Shot("one", 6, 10, gap=4), Shot("two", 18, 9, gap=3)], rate=NTSC,
                              media_frames=30)  # fmt: skip
    top = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    top.append(otio.schema.Gap(source_range=time_range(0, 6, NTSC)))
    first = timeline.tracks[0][1]
    top.append(otio.schema.Clip(name="top", media_reference=copy.deepcopy(first.media_reference),
                                source_range=time_range(20, 6, NTSC)))  # fmt: skip
    timeline.tracks.append(top)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_an_fcp7_xml_edit_rerenders_from_the_provenance_its_markers_name(
    scene_server: Path,  # noqa: F811 — the fixture, imported from test_timeline_jobs
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = scene_server.parent
    source = two_tracks(scene_server, folder / "cut.xml")
    edited = folder / "river.xml"
    code, _, err = river(capsys, "timeline", "edit", str(source), "--targets", "1", "--op", "blur",
                         "--select", "all", "--out", str(edited), "--format", "ffv1")  # fmt: skip
    assert code == 0, err
    assert not Path(f"{edited}.otio").exists(), "FCP7 XML keeps the markers: no .otio beside it"

    # Only the RIVER clip made from "one", not "top" (on V2) whose record frames overlap it.
    code, out, err = river(capsys, "timeline", "rerender", str(edited), "--out", str(folder / "x.xml"),
                           "--select", "clip:one", "--dry-run")  # fmt: skip
    assert code == 0, err
    assert out.count("would re-render") == 1 and "'one'" in out and "frames 6:16" in out, out

    # Every RIVER clip from the provenance.json its marker names (FCP7 XML keeps no metadata).
    code, _, err = river(capsys, "timeline", "rerender", str(edited), "--out", str(folder / "again.xml"),
                         "--seed", "3")  # fmt: skip
    assert code == 0, err
    first = otio.adapters.read_from_file(str(edited))  # held: its clips need a parent
    before = {rc.clip.name: rc for rc in river_clips(first)}
    back = otio.adapters.read_from_file(str(folder / "again.xml"))
    again = river_clips(back)
    assert sorted(rc.clip.name for rc in again) == ["one (RIVER)", "top (RIVER)", "two (RIVER)"]
    for rc in again:
        old = before[rc.clip.name]
        assert record(rc.clip) == record(old.clip)
        assert rc.clip.media_reference.target_url != old.clip.media_reference.target_url
        assert rc.provenance is not None and rc.provenance["seed"] == 3, rc.provenance
        assert rc.provenance["source"]["media"] == str(scene_server)


def test_a_dry_run_checks_the_settings_with_a_running_server(scene_server: Path, capsys) -> None:  # noqa: F811
    source = two_tracks(scene_server, scene_server.parent / "cut.otio")
    args = ["timeline", "edit", str(source), "--targets", "1", "--select", "all", "--out",
            str(scene_server.parent / "x.otio"), "--dry-run"]  # fmt: skip
    code, _, err = river(capsys, *args, "--op", "explode")
    assert code == 2 and "--op 'explode' is not one of this server's" in err, err
    code, out, err = river(capsys, *args, "--op", "blur")
    assert code == 0 and "settings checked against the running server" in out, err
