"""The server on Ray: a local two-CPU cluster (one per module), two CPU actors on the tiny profile.

Each test starts two actors that each build a tiny pipeline (~15–30 s on a loaded 2-core machine), so
the job-running tests are marked slow; the storage check stays in the default tier.

Each actor builds its own tiny pipeline from the server's profile (nothing built in this process is
shipped to it); the job store stays the server's alone — the tests read it through the client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.client import RiverClient, state_name
from bridge.server.app import BridgeServer

pytestmark = pytest.mark.ray
NO_RAY = "the ray extra is not installed: pip install 'river-nle[ray]'"


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One local Ray cluster for the module (local mode is gone in Ray 2.60; a start costs ~5 s)."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    if ray.is_initialized():  # RIVER_TEST_RUNNER=ray: the session's cluster
        yield
        return
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture
def ray_server(make_server: Callable[..., BridgeServer], cluster: None) -> Callable[..., BridgeServer]:
    def make(**overrides: object) -> BridgeServer:
        return make_server(runner="ray", ray_cpus=2, **overrides)

    return make


def running_slot(server: BridgeServer, job_id: str) -> object:
    runner = server.runner
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        slot = runner._running.get(job_id)  # type: ignore[union-attr]
        if slot is not None:
            return slot
        time.sleep(0.05)
    pytest.fail(f"job {job_id} never started on an actor")


def first_progress(client: RiverClient, job_id: str) -> None:
    for event in client.watch(job_id):
        if event.WhichOneof("event") == "progress":
            return
    pytest.fail(f"job {job_id} ended before any progress")


@pytest.mark.slow
def test_a_batch_is_spread_over_both_actors(
    ray_server: Callable[..., BridgeServer], media_root: Path
) -> None:
    server = ray_server()
    media = media_root / "clip.mp4"
    with RiverClient(server.address, server.token) as client:
        specs = [client.edit_spec(media, kind="twin", frames=(n, n + 5)) for n in range(0, 30, 5)]
        batch = client.submit_batch(specs, batch_id="reel")
        for job in batch.jobs:
            done = client.wait(job.id, timeout=240)
            assert state_name(done.state) == "SUCCEEDED", done.error.message
            assert json.loads(done.results.summary_json)["frames"] == 5
            running = [
                e.state.message
                for e in client.watch(job.id)
                if e.WhichOneof("event") == "state" and state_name(e.state.state) == "RUNNING"
            ]
            assert running and running[0].startswith("running on ray actor"), running
    shares: dict[str, int] = {}
    for name in server.runner.assignments.values():  # type: ignore[union-attr]
        shares[name] = shares.get(name, 0) + 1
    assert len(shares) == 2, f"both actors take jobs: {shares}"
    assert sum(shares.values()) == 6


@pytest.mark.slow
def test_a_cancel_reaches_the_running_actor(
    ray_server: Callable[..., BridgeServer], media_root: Path
) -> None:
    server = ray_server()
    with RiverClient(server.address, server.token) as client:
        job = client.submit_edit(media_root / "clip.mp4", kind="twin", frames=(0, 90), output="cancelled")
        first_progress(client, job.id)
        client.cancel(job.id, reason="the editor changed their mind")
        final = client.wait(job.id, timeout=60)
        assert state_name(final.state) == "CANCELLED", final.error.message
        assert "changed their mind" in final.error.message
        assert not (Path(client.capabilities().output_root) / "cancelled").exists()


@pytest.mark.slow
def test_a_killed_actor_fails_its_job_and_a_new_actor_takes_the_next(
    ray_server: Callable[..., BridgeServer], media_root: Path
) -> None:
    server = ray_server()
    media = media_root / "clip.mp4"
    with RiverClient(server.address, server.token) as client:
        job = client.submit_edit(media, kind="twin", frames=(0, 90), output="killed")
        first_progress(client, job.id)
        slot = running_slot(server, job.id)
        generation = slot.generation  # type: ignore[attr-defined]
        import ray

        ray.kill(slot.actor)  # type: ignore[attr-defined]
        final = client.wait(job.id, timeout=60)
        assert state_name(final.state) == "FAILED"
        assert final.error.kind == "interrupted"
        assert "ray actor" in final.error.message and "died while running the job" in final.error.message
        assert "\n" not in final.error.message
        assert not (Path(client.capabilities().output_root) / "killed").exists()
        deadline = time.monotonic() + 60
        while slot.generation == generation and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.1)
        assert slot.generation == generation + 1, "the dead actor was replaced"  # type: ignore[attr-defined]
        # Both slots (the replaced one included) take jobs afterwards.
        jobs = [client.submit_edit(media, kind="twin", frames=(n, n + 3)).id for n in (0, 3, 6, 9)]
        for job_id in jobs:
            assert state_name(client.wait(job_id, timeout=120).state) == "SUCCEEDED"
        assert len({server.runner.assignments[j] for j in jobs}) == 2  # type: ignore[union-attr]


@pytest.mark.slow
def test_jobs_queued_when_the_server_stops_run_after_a_restart(
    ray_server: Callable[..., BridgeServer], media_root: Path, tmp_path: Path
) -> None:
    media = media_root / "clip.mp4"
    server = ray_server()
    with RiverClient(server.address, server.token) as client:
        jobs = [client.submit_edit(media, kind="twin", frames=(n, n + 30)).id for n in (0, 30, 60)]
        first_progress(client, jobs[0])
    server.stop()
    again = ray_server()
    with RiverClient(again.address, again.token) as client:
        for job_id in jobs:
            done = client.wait(job_id, timeout=240)
            assert state_name(done.state) == "SUCCEEDED", done.error.message
        messages = [e.state.message for e in client.watch(jobs[0]) if e.WhichOneof("event") == "state"]
        assert any("re-queued" in m for m in messages), messages


def test_the_server_refuses_to_start_when_an_actor_cannot_see_a_root(
    make_server: Callable[..., BridgeServer], media_root: Path, tmp_path: Path, cluster: None
) -> None:
    # The actors run on this machine, so a root no node has stands in for one a worker node lacks.
    missing = tmp_path / "not-mounted"
    with pytest.raises(OSError, match=r"node \S+ \(\S+\) cannot read media root .*not-mounted") as caught:
        make_server(runner="ray", ray_cpus=2, media_roots=[media_root, missing])
    assert "\n" not in str(caught.value)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".river-probe-")]
    assert make_server(runner="local").runner is not None, "the refused server let go of its locks"
    import ray

    deadline = time.monotonic() + 20  # Ray frees a killed actor's CPU shortly after
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2, "and of its actors"


def test_runner_ray_without_ray_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from bridge.server.cli import add_serve
    from river_core.cli import build_parser
    from river_core.errors import RiverError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    args = build_parser((add_serve,)).parse_args(["serve", "--runner", "ray", "--ray-cpus", "2"])
    with pytest.raises(RiverError, match=r"^install the ray extra: pip install 'river-nle\[ray\]'$"):
        args.handler(args)


@pytest.mark.slow
def test_a_whole_track_from_river_timeline_edit_fans_out_over_both_actors(
    ray_server: Callable[..., BridgeServer], media_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The host side unchanged: ``river timeline edit --select all`` finds the Ray-backed server through its
    discovery file, its one batch runs on both actors, and the RIVER clips sit at the record frames."""
    from fractions import Fraction

    import opentimelineio as otio

    from river_core.cli import main
    from tests.host_plugins.otio.timelines import Shot, media_timeline

    server = ray_server()
    media = media_root / "clip.mp4"
    shots = [Shot(f"shot {n}", start=10 * n, length=6, gap=3) for n in range(4)]
    cut = media_timeline(media, shots, rate=Fraction(30000, 1001), media_frames=90)
    source_file = media_root / "cut.otio"
    otio.adapters.write_to_file(cut, str(source_file))
    out = media_root / "cut_river.otio"
    argv = [
        "timeline", "edit", str(source_file), "--targets", "1", "--op", "blur", "--select", "all",
        "--out", str(out), "--no-start", "-q",
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    written = otio.adapters.read_from_file(str(out))
    river = [t for t in written.tracks if t.kind == otio.schema.TrackKind.Video][-1]
    placed = [c.range_in_parent() for c in river if isinstance(c, otio.schema.Clip)]
    assert [(int(r.start_time.value), int(r.duration.value)) for r in placed] == [
        (3 + 9 * n, 6) for n in range(4)
    ]
    shares: dict[str, int] = {}
    for name in server.runner.assignments.values():  # type: ignore[union-attr]
        shares[name] = shares.get(name, 0) + 1
    assert len(shares) == 2 and sum(shares.values()) == 4, f"both actors took clips: {shares}"
