import json
import subprocess
import sys
from pathlib import Path

import pytest

from river_core import __version__
from tests.helpers import listing, sha256


def test_version(run_cli) -> None:
    code, out, _ = run_cli("--version")
    assert code == 0 and out.strip() == f"river-nle {__version__}"


def test_installed_entry_point_runs() -> None:
    river = Path(sys.executable).with_name("river")
    if not river.exists():
        pytest.skip("the console script is not installed in this environment")
    done = subprocess.run([str(river), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"river-nle {__version__}"


def test_probe_json(run_cli, sample_clip: Path) -> None:
    code, out, err = run_cli("media", "probe", sample_clip, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["rate"], data["frame_count"], data["width"], data["height"]) == ("30000/1001", 90, 1280, 720)
    assert [a["codec"] for a in data["audio"]] == ["aac"]
    assert data["start_timecode"] == "00:00:00:00" and data["drop_frame"] is False


@pytest.mark.shared_media
def test_probe_must_show(run_cli, shared_media) -> None:
    dog = json.loads(run_cli("media", "probe", shared_media("01_dog.mp4"), "--json")[1])
    assert (dog["rate"], dog["frame_count"], dog["width"], dog["height"]) == ("30000/1001", 289, 1280, 720)
    assert [a["codec"] for a in dog["audio"]] == ["aac"]
    bedroom = json.loads(run_cli("media", "probe", shared_media("bedroom.mp4"), "--json")[1])
    assert (bedroom["rate"], bedroom["frame_count"], bedroom["audio"]) == ("30/1", 200, [])


def test_probe_human(run_cli, sample_clip: Path) -> None:
    code, out, _ = run_cli("media", "probe", sample_clip)
    assert code == 0
    assert "30000/1001" in out and "90" in out and "1280×720" in out and "aac" in out
    assert "00:00:00:00" in out


def test_extract_json(run_cli, sample_clip: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "x.mkv"
    code, out, err = run_cli(
        "media",
        "extract",
        sample_clip,
        "--range",
        "30:63",
        "--format",
        "ffv1",
        "--out",
        out_path,
        "--json",
        "-q",
    )
    assert code == 0, err
    result = json.loads(out)
    # frame 30 at 29.97 non-drop is 00:00:01:00 (timecode counts 30 frames per second)
    assert (result["frame_count"], result["timecode"], result["rate"]) == (33, "00:00:01:00", "30000/1001")
    assert result["audio_samples"] == [52853]
    assert listing(tmp_path) == ["x.mkv"]


@pytest.mark.parametrize(
    ("clip", "span", "frames", "first"),
    [
        # 25 fps, non-drop, starting at 01:00:00:00: one second in is frame 25
        (("25", "01:00:00:00"), "01:00:01:00-01:00:01:10", (25, 35), "01:00:01:00"),
        (("25", "01:00:00:00"), "01:00:01:20-", (45, 60), "01:00:01:20"),
        # 29.97 drop-frame, starting 2 frames before a minute: 01:00;00 and ;01 do not exist
        (("30000/1001", "00:00:59;28"), "00:00:59;29-00:01:00;04", (1, 4), "00:00:59;29"),
        (("30000/1001", "00:00:59;28"), "-00:01:00;02", (0, 2), "00:00:59;28"),
    ],
)
def test_extract_takes_a_timecode_range(
    run_cli, make_clip, tmp_path: Path, clip: tuple[str, str], span: str, frames: tuple[int, int], first: str
) -> None:
    rate, timecode = clip
    media = make_clip("tc.mp4", rate=rate, frames=60, size=(64, 48), timecode=timecode)
    out = tmp_path / "x.mkv"
    # argparse takes a value that starts with '-' for an option: such a range needs --range=VALUE
    given = [f"--range={span}"] if span.startswith("-") else ["--range", span]
    code, text, err = run_cli(
        "media", "extract", media, *given, "--format", "ffv1", "--out", out, "--json", "-q"
    )
    assert code == 0, err
    result = json.loads(text)
    assert result["frame_count"] == frames[1] - frames[0]
    assert result["timecode"] == first


def test_extract_checks_the_flags_first(run_cli, make_clip, tmp_path: Path) -> None:
    media = make_clip("tc.mp4", rate="25", frames=60, size=(64, 48), timecode="01:00:00:00")
    for span, message in [
        ("00:59:59:00-01:00:01:00", "is before the clip's first frame, which is 01:00:00:00"),
        ("01:00:01:00-01:00:00:10", "is empty (frames 25:10)"),
    ]:
        code, _, err = run_cli(
            "media", "extract", media, "--range", span, "--format", "ffv1", "--out", tmp_path / "x.mkv"
        )
        assert code == 2 and message in err and err.startswith("river: error: --range"), err
    code, _, err = run_cli(
        "media", "extract", media, "--range", "0:5", "--format", "prores", "--out", tmp_path / "x.mp4"
    )
    assert code == 2 and "--format prores writes .mov files" in err
    assert listing(tmp_path) == []


def test_global_flags_work_after_the_command(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("media", "probe", tmp_path / "nope.mp4", "--quiet")
    assert code == 1 and err.startswith("river: error:")
    for args in (["--debug", "media", "probe"], ["media", "--debug", "probe"], ["media", "probe", "--debug"]):
        with pytest.raises(FileNotFoundError, match="does not exist"):  # --debug re-raises
            run_cli(*args, tmp_path / "nope.mp4")


def test_twin_schema_is_a_json_schema(run_cli) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    code, out, _ = run_cli("twin", "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"schema_version", "video", "frames"} <= set(schema["properties"])


# -- bad input: one clear line, non-zero exit, nothing written --------------------------------


def _make_bad_inputs(tmp: Path, ffmpeg_exe: str, sample_clip: Path) -> dict[str, tuple[Path, str]]:
    tmp.mkdir()
    empty = tmp / "empty.mp4"
    empty.touch()
    text = tmp / "notes.mov"
    text.write_text("not a video at all\n" * 40)
    truncated = tmp / "truncated.mp4"
    truncated.write_bytes(sample_clip.read_bytes()[:200_000])
    audio_only = tmp / "voice.m4a"
    subprocess.run(
        [ffmpeg_exe, "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1", str(audio_only)], check=True
    )
    return {
        "missing": (tmp / "missing.mp4", "does not exist"),
        "zero-byte": (empty, "is empty (0 bytes)"),
        "non-video": (text, "not a"),
        "truncated": (truncated, "truncated"),
        "audio-only": (audio_only, "no video stream"),
    }


@pytest.mark.parametrize("case", ["missing", "zero-byte", "non-video", "truncated", "audio-only"])
@pytest.mark.parametrize("command", ["probe", "extract"])
def test_bad_input_is_one_clear_line(run_cli, ffmpeg_exe, sample_clip, tmp_path, case, command) -> None:
    inputs = _make_bad_inputs(tmp_path / "in", ffmpeg_exe, sample_clip)
    path, message = inputs[case]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = listing(tmp_path)
    args = (
        ["media", "probe", path]
        if command == "probe"
        else ["media", "extract", path, "--range", "0:5", "--format", "ffv1", "--out", out_dir / "x.mkv"]
    )
    code, out, err = run_cli(*args)
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("river: error:") and message in lines[0], err
    assert "Traceback" not in err
    assert listing(tmp_path) == before


def test_range_outside_the_clip(run_cli, sample_clip: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(
        "media", "extract", sample_clip, "--range", "80:200", "--format", "ffv1", "--out", tmp_path / "x.mkv"
    )
    # a bad flag value is a usage error (exit 2) naming the flag
    assert code == 2 and "--range 80:200 is outside the clip: it has 90 frames" in err
    assert len(err.strip().splitlines()) == 1
    assert listing(tmp_path) == []


def test_output_equal_to_input(run_cli, copy_of, sample_clip: Path) -> None:
    src = copy_of(sample_clip)
    digest = sha256(src)
    code, _, err = run_cli(
        "media", "extract", src, "--range", "0:5", "--format", "h264", "--out", src, "--overwrite"
    )
    assert code == 1 and "is the source media" in err and len(err.strip().splitlines()) == 1
    assert sha256(src) == digest
    assert listing(src.parent) == [src.name]


def test_usage_errors_exit_2(run_cli, sample_clip: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(
        "media", "extract", sample_clip, "--range", "0:5", "--format", "gif", "--out", tmp_path / "x"
    )
    assert code == 2 and "invalid choice" in err
    code, _, err = run_cli(
        "media", "extract", sample_clip, "--range", "five", "--format", "ffv1", "--out", tmp_path / "x.mkv"
    )
    assert code == 2 and "--range 'five'" in err and "START:END" in err


def test_sigterm_mid_extract_leaves_nothing(sample_clip: Path, tmp_path: Path) -> None:
    """A job killed politely (SIGTERM) removes its temporary output on the way out."""
    import signal
    import time

    out = tmp_path / "x.mov"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "river_core.cli",
            "-q",
            "media",
            "extract",
            str(sample_clip),
            "--range",
            "0:90",
            "--format",
            "prores",
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the temporary output exists
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "cancelled" in err
    assert listing(tmp_path) == []


def test_twin_validate(run_cli, tmp_path: Path) -> None:
    from river_core.twin.schema import save_twin
    from river_core.twin.synthetic import random_scene

    path = save_twin(
        random_scene(3, width=64, height=48, num_frames=5, n_objects=2).ground_truth(), tmp_path / "t.json"
    )
    code, out, err = run_cli("twin", "validate", path, "--json")
    assert code == 0, err
    assert json.loads(out)["frames"] == 5
    data = json.loads(path.read_text())
    data["frames"][1]["objects"][0]["mask"]["rle"]["size"] = [10, 10]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    code, out, err = run_cli("twin", "validate", bad)
    assert code == 1 and out == ""
    assert "frames[1].objects[0].mask.rle.size" in err and len(err.strip().splitlines()) == 1


def test_progress_bars_restart_when_a_stage_runs_again(monkeypatch) -> None:
    """The demo extracts twice with the same stage name: each run gets its own bar."""
    import argparse

    import tqdm

    from river_core.cli.common import progress_bar
    from river_core.progress import ProgressEvent

    bars = []

    class FakeBar:
        def __init__(self, **kwargs):
            self.n, self.kwargs, self.closed = 0, kwargs, False
            bars.append(self)

        def update(self, k):
            assert k >= 0, "a progress bar was moved backwards"
            self.n += k

        def close(self):
            self.closed = True

    monkeypatch.setattr(tqdm, "tqdm", FakeBar)
    with progress_bar(argparse.Namespace(quiet=False)) as progress:
        for _ in range(2):
            for i in range(1, 11):
                progress(ProgressEvent("extract", i, 10))
        progress(ProgressEvent("twin", 1, 3))
    assert [(b.kwargs["desc"], b.n, b.closed) for b in bars] == [
        ("extract", 10, True),
        ("extract", 10, True),
        ("twin", 1, True),
    ]
