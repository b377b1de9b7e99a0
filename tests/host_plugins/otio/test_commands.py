"""`river timeline info` and `edit --dry-run`: what an editor reads before anything runs, and bad input
refused in one line with nothing written."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from river_core.cli import main
from tests.host_plugins.otio.timelines import host_only

NTSC = Fraction(30000, 1001)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json_reports_record_timecode_source_frames_and_media(cut: Path, capsys) -> None:
    code, out, err = run(capsys, "timeline", "info", str(cut), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["rate"] == "30000/1001" and report["format"] == "OpenTimelineIO"
    a, b = report["clips"]
    assert (a["name"], a["track"], a["record"]["start"], a["record"]["end"]) == ("dog A", "V1", 12, 29)
    assert a["record"]["timecode"] == "01:00:00:12-01:00:00:29"
    assert a["source"] == {"start": 20, "end": 37} and b["source"] == {"start": 61, "end": 70}
    assert a["media"]["found"] and a["media"]["rate"] == "30000/1001" and a["media"]["frames"] == 90
    assert b["record"]["start"] == 12 + 17 + 5 and a["editable"] and b["editable"]


def test_info_runs_without_torch_numpy_or_the_engine_libraries(cut: Path) -> None:
    """A host-only install (`river-nle[host]`): OTIO, the bridge client and PyAV for relinking."""
    code, out, err = host_only("timeline", "info", str(cut), "--json")
    assert code == 0, err
    clips = json.loads(out)["clips"]
    assert [c["source"] for c in clips] == [{"start": 20, "end": 37}, {"start": 61, "end": 70}]
    assert clips[0]["media"]["verified"], "PyAV (in the host extra) checks the relinked file"


def test_dry_run_prints_what_would_be_submitted_and_submits_nothing(cut: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RIVER_RUNTIME_DIR", str(cut.parent / "no-server"))
    code, out, err = run(
        capsys, "timeline", "edit", str(cut), "--targets", "dog", "--op", "blur", "--select", "clip:dog B",
        "--out", str(cut.parent / "new.otio"), "--dry-run", "--json",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(out)
    assert [r["clip"] for r in plan["submit"]] == ["dog B"]
    (row,) = plan["submit"]
    assert row["source_frames"] == [61, 70] and row["record_frames"] == [34, 43]
    assert row["media"].endswith("dog.mp4") and row["rate"] == "30000/1001"
    assert not (cut.parent / "new.otio").exists()


def test_a_range_selection_cuts_the_clip_to_record_timecode(cut: Path, capsys) -> None:
    code, out, err = run(
        capsys, "timeline", "edit", str(cut), "--targets", "1", "--op", "blur",
        "--select", "range:01:00:00:20-01:00:01:06", "--out", str(cut.parent / "n.otio"),
        "--dry-run", "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)["submit"]
    # dog A sits at 12:29 (source 20:37) and dog B at 34:43 (source 61:70): cut to 20:29 and 34:36.
    assert [(r["record_frames"], r["source_frames"]) for r in rows] == [
        ([20, 29], [28, 37]),
        ([34, 36], [61, 63]),
    ]


def test_media_from_another_machine_is_relinked_through_a_search_path(cut: Path, tmp_path, capsys) -> None:
    timeline = otio.adapters.read_from_file(str(cut))
    for clip in timeline.find_clips():
        clip.media_reference.target_url = r"C:\Users\editor\Footage\dog.mp4"
    (tmp_path / "elsewhere").mkdir()
    foreign = tmp_path / "elsewhere" / "foreign.otio"
    otio.adapters.write_to_file(timeline, str(foreign))
    code, out, _ = run(capsys, "timeline", "info", str(foreign), "--json")
    assert code == 0 and not json.loads(out)["clips"][0]["media"]["found"]
    code, out, _ = run(
        capsys, "timeline", "info", str(foreign), "--json", "--search-path", str(tmp_path / "footage")
    )
    clip = json.loads(out)["clips"][0]
    assert clip["media"]["found"] and clip["media"]["path"] == str(
        (tmp_path / "footage" / "dog.mp4").resolve()
    )
    assert clip["editable"], clip["skip"]


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [
        (
            "truncated.xml",
            b'<?xml version="1.0"?>\n<xmeml version="4"><sequence><name>x</name><rate>',
            "not a readable FCP7 XML",
        ),
        ("random.aaf", os.urandom(4096), "not a readable AAF"),
        (
            "norate.edl",
            b"TITLE: x\n\n001  AX V C 01:00:00:00 01:00:01:00 00:00:00:00 00:00:01:00\n",
            "--rate",
        ),
        ("cut.mov", b"not a timeline", "extension '.mov'"),
    ],
)
def test_bad_timelines_get_one_line_and_write_nothing(tmp_path: Path, capsys, name, content, expect) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out.otio"
    code, _, err = run(capsys, "timeline", "edit", str(path), "--targets", "1", "--op", "blur",
                       "--select", "all", "--out", str(out))  # fmt: skip
    assert code == 2
    assert expect in err and err.startswith("river: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and not out.exists()


def test_a_selection_that_matches_nothing_names_what_there_is(cut: Path, capsys) -> None:
    code, _, err = run(capsys, "timeline", "edit", str(cut), "--targets", "1", "--op", "blur",
                       "--select", "clip:nope", "--out", str(cut.parent / "o.otio"))  # fmt: skip
    assert code == 2 and "matches no clip" in err and "'dog A'" in err and err.count("\n") == 1


def test_missing_media_is_skipped_with_the_reason(cut: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "footage" / "dog.mp4").unlink()
    code, _, err = run(capsys, "timeline", "edit", str(cut), "--targets", "1", "--op", "blur",
                       "--select", "all", "--out", str(tmp_path / "o.otio"))  # fmt: skip
    assert code == 2 and "no editable clip" in err and "media not found" in err and "dog.mp4" in err
    assert not (tmp_path / "o.otio").exists()


def test_output_equal_to_the_input_is_refused(cut: Path, capsys, monkeypatch) -> None:
    before = cut.read_bytes()
    monkeypatch.chdir(cut.parent)
    code, _, err = run(capsys, "timeline", "edit", str(cut), "--targets", "1", "--op", "blur",
                       "--select", "all", "--out", "./cut.otio", "--overwrite")  # fmt: skip
    assert code == 2 and "cut.otio" in err and err.count("\n") == 1
    assert cut.read_bytes() == before


def test_with_matte_needs_the_matte(cut: Path, capsys) -> None:
    out = str(cut.parent / "m.otio")
    code, _, err = run(capsys, "timeline", "edit", str(cut), "--targets", "1", "--op", "blur",
                       "--select", "all", "--out", out, "--with-matte", "--deliver", "media")  # fmt: skip
    assert code == 2 and "--with-matte" in err and "--deliver" in err


def test_an_edl_starting_at_one_hour_reads_its_record_timecode(cut: Path, tmp_path: Path, capsys) -> None:
    # OTIO's EDL reader keeps the first record timecode negated (as the track's source_range start).
    edl = tmp_path / "hour.edl"
    edl.write_text(
        "TITLE: hour\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:00:20 00:00:01:07 01:00:00:00 01:00:00:17\n"
        "* FROM CLIP NAME: dog.mp4\n"
        "002  AX       V     C        00:00:02:01 00:00:02:10 01:00:00:22 01:00:01:01\n"
        "* FROM CLIP NAME: dog.mp4\n"
    )
    args = ["--rate", "30000/1001", "--search-path", str(tmp_path / "footage")]
    code, out, err = run(capsys, "timeline", "info", str(edl), "--json", *args)
    assert code == 0, err
    report = json.loads(out)
    assert report["start_timecode"] == "01:00:00:00"
    assert [c["record"]["timecode"] for c in report["clips"]] == [
        "01:00:00:00-01:00:00:17",
        "01:00:00:22-01:00:01:01",
    ]
    assert [c["source"] for c in report["clips"]] == [{"start": 20, "end": 37}, {"start": 61, "end": 70}]
    code, out, err = run(capsys, "timeline", "edit", str(edl), "--targets", "1", "--op", "blur", *args,
                         "--select", "range:01:00:00:10-01:00:00:25", "--out", str(tmp_path / "o.edl"),
                         "--dry-run", "--json")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)["submit"]
    assert [(r["record_frames"], r["source_frames"]) for r in rows] == [
        ([10, 17], [30, 37]),
        ([22, 25], [61, 64]),
    ]


@pytest.mark.parametrize("command", ["edit", "mark"])
def test_the_server_started_on_demand_runs_the_profile_asked_for(
    cut: Path, tmp_path: Path, capsys, monkeypatch, command: str
) -> None:
    """No server runs: the one started for `--profile tiny` must be `… serve --profile tiny`, else it loads
    the paper profile and then refuses the tiny jobs."""
    monkeypatch.setenv("RIVER_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("RIVER_BRIDGE_DISCOVERY", raising=False)
    monkeypatch.setenv("RIVER_SERVER_COMMAND", "'/no such/river' serve")
    what = ["--targets", "1", "--op", "blur"] if command == "edit" else ["where is the dog"]
    code, _, err = run(capsys, "timeline", command, str(cut), *what, "--select", "all",
                       "--out", str(tmp_path / "o.otio"), "--profile", "tiny", "-q")  # fmt: skip
    assert code == 1, err
    assert "cannot run '/no such/river' serve --profile tiny (" in err, err


@pytest.mark.skipif(
    not Path("/proc/self").is_dir(), reason="needs Linux's /proc (no files can be made there)"
)
def test_an_output_folder_that_takes_no_files_is_refused_before_any_job(
    cut: Path, capsys, monkeypatch
) -> None:
    """/proc is a folder, but nothing can be created in it (not even by root, who passes chmod 555)."""
    from host_plugins.otio import commands

    def no_server(*_a, **_k):
        raise AssertionError("a job was about to be submitted")

    monkeypatch.setattr(commands, "connect", no_server)
    code, _, err = run(capsys, "timeline", "edit", str(cut), "--targets", "1", "--op", "blur",
                       "--select", "all", "--out", "/proc/river-x.otio")  # fmt: skip
    assert code == 2, err
    assert (
        err.startswith("river: error: /proc/river-x.otio: cannot create files in /proc (")
        and err.count("\n") == 1
    ), err
    assert "choose a folder you can write to" in err
    assert not list(Path("/proc").glob(".river-x*"))


def test_dry_run_shows_the_frames_handles_add_to_the_render(cut: Path, capsys, monkeypatch) -> None:
    """--handles N widens what the server renders (clamped to the media's 90 frames): the dry run says so."""
    monkeypatch.setenv("RIVER_RUNTIME_DIR", str(cut.parent / "no-server"))
    args = ["timeline", "edit", str(cut), "--targets", "dog", "--op", "blur", "--select", "all",
            "--out", str(cut.parent / "new.otio"), "--dry-run"]  # fmt: skip
    code, out, err = run(capsys, *args, "--handles", "25", "--json")
    assert code == 0, err
    rows = json.loads(out)["submit"]
    # dog A shows 20:37 (25 before it would be frame -5: from 0), dog B 61:70 (95 is past the end: 90)
    assert [(r["source_frames"], r["render_frames"], r["handles"]) for r in rows] == [
        ([20, 37], [0, 62], 25),
        ([61, 70], [36, 90], 25),
    ]
    code, out, err = run(capsys, *args, "--handles", "3")
    assert code == 0, err
    assert "frames 20:37 render 17:40 " in out and "frames 61:70 render 58:73 " in out, out
    code, out, err = run(capsys, *args)
    assert code == 0 and "frames 61:70 at" in out and "render" not in out, out
