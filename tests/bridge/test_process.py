"""The bridge as separate processes: `river serve`, `river jobs`, kill -9 and restart."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.client import RiverClient, state_name
from bridge.v1 import bridge_pb2 as pb
from tests.bridge.test_server import first_object

ROOT = Path(__file__).resolve().parents[2]


def serve_command(tmp_path: Path, media_root: Path) -> list[str]:
    return [
        sys.executable, "-m", "river_core.cli", "serve", "--profile", "tiny", "--no-preload", "-q",
        "--media-root", str(media_root), "--state-dir", str(tmp_path / "state"),
        "--output-root", str(tmp_path / "out"),
    ]  # fmt: skip


@pytest.fixture
def serve(tmp_path: Path, runtime_dir: Path, media_root: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started server processes (killed at the end of the test if still alive)."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def start(serve: list[subprocess.Popen[bytes]], tmp_path: Path, media_root: Path) -> RiverClient:
    with (tmp_path / f"serve{len(serve)}.log").open("wb") as log:  # the child keeps its own copy
        serve.append(subprocess.Popen(serve_command(tmp_path, media_root), cwd=ROOT, stderr=log, stdout=log))
    return _wait_for(serve[-1], tmp_path)


def _wait_for(proc: subprocess.Popen[bytes], tmp_path: Path) -> RiverClient:
    import time

    from bridge.client import BridgeError

    deadline = time.monotonic() + 90
    while True:
        try:
            client = RiverClient.connect()
            if client.discovery and client.discovery.pid == proc.pid:
                client.wait_ready(60)
                return client
            client.close()
        except BridgeError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            logs = "".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("serve*.log"))
            pytest.fail(f"the server did not come up (exit {proc.poll()}):\n{logs}")
        time.sleep(0.1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_kill_9_during_a_job_then_restart(
    serve: list[subprocess.Popen[bytes]], tmp_path: Path, media_root: Path
) -> None:
    source = media_root / "clip.mp4"
    before = sha256(source)
    client = start(serve, tmp_path, media_root)
    target = first_object(client, source, (0, 33))
    job = client.submit_edit(
        source, frames=(0, 33), targets=[str(target)], prompt="bronze", output="killed",
        render={"window": 17, "overlap": 4, "steps": 2},
    )  # fmt: skip
    waiting = client.submit_edit(source, kind="twin", frames=(0, 5), output="waiting")
    for event in client.watch(job.id):
        if event.WhichOneof("event") == "progress" and event.progress.stage in ("render", "vace", "encode"):
            os.kill(serve[0].pid, signal.SIGKILL)
            break
    else:
        pytest.fail("the job ended before it rendered")
    serve[0].wait(30)
    client.close()

    client = start(serve, tmp_path, media_root)
    killed = client.get_job(job.id)
    assert state_name(killed.state) == "FAILED"
    assert killed.error.kind == "interrupted" and "submit it again" in killed.error.message
    events = list(client.watch(job.id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].state.state == pb.JOB_STATE_FAILED
    assert killed.end_time.seconds > 0
    requeued = client.wait(waiting.id, timeout=120)
    assert state_name(requeued.state) == "SUCCEEDED", "a job that was only queued runs after the restart"
    assert sha256(source) == before, "the source media must never change"
    out_root = tmp_path / "out"
    assert not (out_root / "killed").exists()
    assert not [p.name for p in out_root.iterdir() if p.name.startswith(".")], "temporaries left behind"
    client.close()
    serve[1].send_signal(signal.SIGTERM)
    assert serve[1].wait(60) == 0
    assert not (Path(os.environ["RIVER_RUNTIME_DIR"]) / "bridge.json").exists()


def test_river_serve_and_river_jobs(
    serve: list[subprocess.Popen[bytes]], tmp_path: Path, media_root: Path
) -> None:
    """The issue's must-show: `river jobs submit … --json` and `river jobs watch` reach SUCCEEDED."""
    source = media_root / "clip.mp4"
    client = start(serve, tmp_path, media_root)
    target = first_object(client, source, (0, 17))
    client.close()

    def river(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "river_core.cli", *args], cwd=ROOT, capture_output=True, text=True,
            timeout=240,
        )  # fmt: skip

    submitted = river(
        "jobs", "submit", str(source), "--range", "0:17", "--targets", str(target), "--op", "blur",
        "--profile", "tiny", "--no-start", "--json",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["spec"]["media"]["range"].get("end") == "17" and job["spec"]["op"] == "blur"
    watched = river("jobs", "watch", job["id"])
    assert watched.returncode == 0, watched.stderr
    assert "SUCCEEDED" in watched.stdout
    got = json.loads(river("jobs", "get", job["id"], "--json").stdout)
    assert got["state"] == "JOB_STATE_SUCCEEDED"
    media = Path(got["results"]["media"])
    assert media.is_file() and str(media) in watched.stdout
    listed = river("jobs", "list")
    assert job["id"] in listed.stdout
