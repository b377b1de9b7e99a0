"""``river jobs …`` against the fake bridge server of test_client (a real gRPC server on a socket)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.cli_jobs import add_commands
from bridge.v1 import bridge_pb2 as pb
from tests.bridge.test_client import AWAITING, Served, start_fake
from tests.bridge.test_client import runtime as runtime  # the fixture, re-exported for pytest
from tests.test_import_boundaries import import_with_blocked

River = Callable[..., tuple[int, str, str]]


@pytest.fixture
def bridge(runtime: Path) -> Iterator[Served]:
    served = start_fake(runtime)
    yield served
    served.server.stop(None)


@pytest.fixture
def river(capsys: pytest.CaptureFixture[str]) -> Iterator[River]:
    """``river(*argv)`` → (exit code, stdout, stderr), through a parser built as river's is."""
    parser = argparse.ArgumentParser(prog="river")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS)
    add_commands(parser.add_subparsers(), common)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        args = parser.parse_args(["jobs", *argv])
        code = args.handler(args)
        out, err = capsys.readouterr()
        return code, out, err

    yield run


def test_submit_json_prints_the_job_with_the_spec_asked_for(
    bridge: Served, river: River, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = river(
        "submit", "clip.mov", "--targets", "3, dog", "--op", "generate", "--prompt", "a bronze dog",
        "--range", "30:111", "--rate", "30000/1001", "--timecode", "01:00:00:00", "--handles", "4",
        "--profile", "tiny", "--format", "h264", "--out", "edits/one", "--overwrite", "--confirm",
        "--seed", "0", "--steps", "2", "--no-matte", "--request-id", "rid-1", "--no-start", "--json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    spec = job["spec"]
    assert job["state"] == "JOB_STATE_QUEUED" and job["request_id"] == "rid-1"
    assert spec["kind"] == "JOB_KIND_EDIT" and spec["targets"] == {"items": ["3", "dog"]}
    assert spec["media"] == {
        "path": str(tmp_path / "clip.mov"),
        "range_text": "30:111",  # as typed: the server resolves it against the clip (any form)
        "rate": {"num": "30000", "den": "1001"},  # int64 is a string in protobuf's JSON
        "timecode": "01:00:00:00",
        "handles": "4",
    }
    assert (spec["op"], spec["prompt"], spec["profile"], spec["format"]) == (
        "generate",
        "a bronze dog",
        "tiny",
        "h264",
    )
    # As typed: a name under the server's output root (made absolute here, the server refused it).
    assert spec["output"] == "edits/one" and spec["overwrite"] and spec["confirm"]
    assert spec["render"] == {"seed": "0", "steps": 2, "no_matte": True}
    assert bridge.fake.submits[-1].spec.render.HasField("seed")


def test_submit_a_plan_renders_it(bridge: Served, river: River, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"edits": [{"target": 3}]}')
    code, out, _ = river("submit", "/m/clip.mov", "--plan", str(plan))
    job = next(iter(bridge.fake.jobs.values()))
    assert code == 0 and job.spec.kind == pb.JOB_KIND_RENDER and job.spec.plan_json == plan.read_text()
    assert out.splitlines() == [
        f"submitted job {job.id} (RENDER, QUEUED, 0 ahead)",
        f"  follow it: river jobs watch {job.id}",
    ]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["q", "--rate", "fast"], "--rate 'fast' must be NUM/DEN"),
        (["--plan", "missing.json"], "--plan missing.json: cannot read it (No such file or directory)"),
        (["--plan", "bad.json"], "--plan bad.json is not JSON"),
        (["q", "--targets", "3"], "give either a query or --plan/--targets, not both"),
        (["--targets", ","], "--targets is empty"),
        (
            ["--targets", "1", "--op", "blur", "--timecode", "garbage", "--no-start"],
            "--timecode 'garbage' is not a timecode (HH:MM:SS:FF, ';' before FF for drop frame)",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(
    runtime: Path, river: River, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{nope")
    code, out, err = river("submit", "clip.mov", *argv)  # no server needed: the flags' own syntax
    assert code == 2 and out == ""
    assert err.startswith("river: error: ") and named in err and err.count("\n") == 1


def test_an_unsafe_runtime_dir_is_one_line_not_an_internal_error(
    runtime: Path, river: River, tmp_path: Path
) -> None:
    """A DiscoveryError reached outside the client's own wrapping (the log of a server started on
    demand for an explicit --discovery) is the user's to fix: one line, exit 1."""
    runtime.chmod(0o755)
    code, out, err = river("submit", "/m/clip.mov", "q", "--discovery", str(tmp_path / "none.json"), "-q")
    assert code == 1 and out == ""
    assert err == (
        f"river: error: the runtime directory {runtime} is accessible by others (mode 0755); "
        f"chmod 700 {runtime} or set RIVER_RUNTIME_DIR\n"
    )


def test_the_servers_lists_and_rules_decide(bridge: Served, river: River) -> None:
    """--op/--format/--profile/--deliver are checked against GetCapabilities (exit 2, naming the
    flag and the server's values); an INVALID_ARGUMENT from the server names flags, not spec fields."""
    code, _, err = river("submit", "/m/clip.mov", "--targets", "3", "--op", "pixelate")
    assert code == 2 and err == "river: error: --op 'pixelate' is not one of this server's: generate, blur\n"
    code, _, err = river("submit", "/m/clip.mov", "q", "--deliver", "media,sheet")
    assert code == 2 and "--deliver 'sheet' is not one of this server's: media, matte" in err
    assert not bridge.fake.submits
    from bridge.cli_jobs import as_flags

    message = "spec.color: goes with spec.op recolor, mask_out or highlight, not spec.op pixelate"
    assert as_flags(message) == "--color: goes with --op recolor, mask_out or highlight, not --op pixelate"
    assert as_flags("spec.render.guidance_scale: 60 must be 0–50") == "--guidance: 60 must be 0–50"


def test_plan_prints_the_jobs_plan_as_json(bridge: Served, river: River) -> None:
    job = bridge.fake.add_job()
    code, _, err = river("plan", job.id)
    assert code == 1 and "has no plan yet (QUEUED)" in err
    bridge.fake.finish(job.id, AWAITING)
    code, out, _ = river("plan", job.id)
    assert code == 0 and json.loads(out) == {}


def test_no_server_with_no_start_is_one_line(runtime: Path, river: River) -> None:
    code, out, err = river("submit", "/m/clip.mov", "the dog", "--no-start")
    assert code == 1 and out == ""
    assert err == (
        f"river: error: NO_SERVER: no RIVER NLE server is running (no {runtime / 'bridge.json'}); "
        "start one with `river serve`\n"
    )
    code, _, err = river("list")  # only submit starts a server
    assert code == 1 and "NO_SERVER" in err


@pytest.mark.parametrize(
    ("final", "exit_code"),
    [(pb.JOB_STATE_SUCCEEDED, 0), (pb.JOB_STATE_FAILED, 1), (pb.JOB_STATE_CANCELLED, 130), (AWAITING, 0)],
)
def test_watch_exit_codes(bridge: Served, river: River, final: int, exit_code: int) -> None:
    job = bridge.fake.add_job()
    bridge.fake.finish(job.id, final)
    code, out, err = river("watch", job.id)
    assert code == exit_code
    lines = out.splitlines()
    assert lines[0] == "    1  QUEUED" and lines[1] == "    2  RUNNING"
    assert "    3  twin 1/2 frame (50%)" in lines and "    4  building the twin" in lines
    if final == pb.JOB_STATE_SUCCEEDED:
        assert err == "" and lines[-3:] == [
            "output /out/edit1: 81 frames",
            "  media         /out/edit1/clip.mov",
            "  QC passed",
        ]
    elif final == pb.JOB_STATE_FAILED:
        assert lines[-2:] == ["    5  error (media): the clip is gone", "    6  FAILED"]  # said once
        assert err == f"river: error: job {job.id} failed (media): the clip is gone\n"
    elif final == pb.JOB_STATE_CANCELLED:
        assert lines[-1] == "    5  CANCELLED: stopped by the editor"
        assert err == f"river: error: job {job.id} was cancelled\n"
    else:
        assert (
            "    5  plan: turn the dog (id 3) into bronze" in lines
            and "         target 3 dog frames 30:111" in lines
        )
        assert lines[-1] == f"river jobs confirm {job.id} to render it (--plan EDITED.json for your version)"


def test_watch_json_is_json_lines_and_resumes_after_seq(bridge: Served, river: River) -> None:
    job = bridge.fake.add_job()
    bridge.fake.finish(job.id)
    code, out, _ = river("watch", job.id, "--json", "--after-seq", "2")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [int(e["seq"]) for e in events] == [3, 4, 5, 6]
    assert events[-1]["state"] == {"state": "JOB_STATE_SUCCEEDED"} and events[0]["job_id"] == job.id


def test_watch_throttles_progress_but_keeps_each_stages_last(bridge: Served, river: River) -> None:
    fake = bridge.fake
    job = fake.add_job()
    fake.state(job.id, pb.JOB_STATE_RUNNING)
    for done in range(1, 51):  # no total: its last line is only known when the next stage starts
        fake.emit(job.id, progress=pb.Progress(stage="decode", done=done, unit="frame"))
    for done in range(1, 201):
        fake.emit(job.id, progress=pb.Progress(stage="render", done=done, total=200, unit="step"))
    fake.state(job.id, pb.JOB_STATE_SUCCEEDED)
    code, out, _ = river("watch", job.id)
    lines = out.splitlines()
    decode = [i for i, line in enumerate(lines) if "decode" in line]
    render = [i for i, line in enumerate(lines) if "render" in line]
    assert code == 0 and 1 <= len(decode) <= 10 and 1 <= len(render) <= 10
    assert lines[decode[-1]].endswith("decode 50 frame") and decode[-1] < render[0]
    assert lines[render[-1]].endswith("render 200/200 step (100%)")
    code, out, _ = river("watch", job.id, "--json")
    assert len(out.splitlines()) == fake.jobs[job.id].last_seq  # JSON Lines are never thinned


def test_interleaved_stages_stay_throttled(bridge: Served, river: River) -> None:
    fake = bridge.fake
    job = fake.add_job()
    for done in range(1, 101):
        for stage in ("encode", "blur"):
            fake.emit(job.id, progress=pb.Progress(stage=stage, done=done, total=100, unit="frame"))
    fake.state(job.id, pb.JOB_STATE_SUCCEEDED)
    code, out, _ = river("watch", job.id)
    assert code == 0
    for stage in ("encode", "blur"):
        lines = [line for line in out.splitlines() if f" {stage} " in line]
        assert 1 <= len(lines) <= 10 and lines[-1].endswith(f"{stage} 100/100 frame (100%)")


@pytest.mark.timeout(20)
def test_submit_watch_follows_the_new_job(bridge: Served, river: River) -> None:
    bridge.fake.script = [
        {"state": pb.StateChange(state=pb.JOB_STATE_RUNNING)},
        {"message": "reasoning over the twin"},
        {"error": pb.JobError(kind="plan", message="no object matches 'cat'")},
        {"state": pb.StateChange(state=pb.JOB_STATE_FAILED)},
    ]
    code, out, err = river("submit", "/m/clip.mov", "make the cat bronze", "--watch")
    job_id = next(iter(bridge.fake.jobs))
    assert code == 1 and out.splitlines()[0] == f"submitted job {job_id} (EDIT, QUEUED, 0 ahead)"
    assert "    3  reasoning over the twin" in out and "    4  error (plan): no object matches 'cat'" in out
    assert err == f"river: error: job {job_id} failed (plan): no object matches 'cat'\n"


def test_list_is_a_table_newest_first(bridge: Served, river: River) -> None:
    fake = bridge.fake
    first, second, third = (fake.add_job() for _ in range(3))
    fake.finish(first.id)
    fake.emit(second.id, progress=pb.Progress(stage="render", done=3, total=81, unit="frame"))
    code, out, _ = river("list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "KIND", "STATE", "PROGRESS", "CREATED", "MEDIA"]
    assert [line.split()[0] for line in lines[1:]] == [third.id, second.id, first.id]
    assert "render 3/81 frame (3%)" in lines[2] and lines[3].split()[2] == "SUCCEEDED"
    assert lines[1].endswith("clip.mov")
    _, out, _ = river("list", "--limit", "2")
    assert len(out.splitlines()) == 3
    _, out, _ = river("list", "--state", "SUCCEEDED", "--json")
    assert [j["id"] for j in json.loads(out)["jobs"]] == [first.id]
    _, out, _ = river("list", "--kind", "render")
    assert out == "no jobs\n"


def test_wait_exit_codes_and_timeout(bridge: Served, river: River) -> None:
    fake = bridge.fake
    failed, queued = fake.add_job(), fake.add_job()
    fake.finish(failed.id, pb.JOB_STATE_FAILED)
    code, out, err = river("wait", failed.id)
    assert code == 1 and out.startswith(f"job {failed.id}  EDIT  FAILED") and "failed (media)" in err
    code, out, err = river("wait", queued.id, "--timeout", "0.2")
    assert code == 124 and f"job {queued.id} is still QUEUED after 0.2 s" in err
    code, out, _ = river("wait", queued.id, "--timeout", "0", "--json")
    assert code == 124 and json.loads(out)["state"] == "JOB_STATE_QUEUED"


def test_get_cancel_confirm_delete(bridge: Served, river: River, tmp_path: Path) -> None:
    fake = bridge.fake
    job, awaiting = fake.add_job(), fake.add_job()
    fake.finish(awaiting.id, AWAITING)
    code, out, _ = river("get", awaiting.id)
    assert code == 0 and out.startswith(f"job {awaiting.id}  EDIT  AWAITING_CONFIRMATION\n")
    assert "  media       /media/clip.mov\n" in out and "  plan: turn the dog (id 3) into bronze" in out
    code, out, _ = river("cancel", job.id, "--reason", "wrong take")
    assert (
        code == 0 and out == f"job {job.id} CANCELLED\n" and fake.jobs[job.id].error.message == "wrong take"
    )
    code, _, err = river("cancel", job.id)
    assert code == 1 and err == f"river: error: FAILED_PRECONDITION: job {job.id} is already CANCELLED\n"
    edited = tmp_path / "edited.json"
    edited.write_text('{"edits": []}')
    code, out, _ = river("confirm", awaiting.id, "--plan", str(edited))
    assert code == 0 and out.startswith(f"job {awaiting.id} RUNNING: confirmed with your edited plan")
    assert fake.confirms[-1].plan_json == '{"edits": []}'
    code, out, _ = river("delete", job.id, "--outputs")
    assert code == 0 and out == f"deleted job {job.id} and its outputs\n" and job.id not in fake.jobs
    code, _, err = river("get", job.id)
    assert code == 1 and err.startswith(f"river: error: NOT_FOUND: no job {job.id}")


def test_the_client_and_cli_import_without_the_engine() -> None:
    done = import_with_blocked(
        ["bridge.discovery", "bridge.client", "bridge.cli_jobs"],
        ["torch", "numpy", "av", "river_core", "transformers", "diffusers", "tqdm", "platformdirs"],
    )
    assert done.returncode == 0, done.stderr
