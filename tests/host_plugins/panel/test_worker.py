"""The panel's bridge worker against a real in-process server: calls run off the UI thread and answer
on it, errors arrive as one line, a watch stops at once and survives a server restart without a gap
or a repeat. Also the UI-thread stall probe, which must be able to fail.

The server's twin stages are ground-truth doubles on a synthetic 30-frame scene (tests/twin/doubles.py)
with a tracker whose pace the test sets (:class:`Pace`), so a job runs as long as a test needs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication

from bridge.client import BridgeError, RiverClient, state_name
from bridge.server.app import BridgeServer
from bridge.v1 import bridge_pb2
from host_plugins.panel.probe import StallProbe
from host_plugins.panel.worker import Bridge, Connection, error_text
from river_core.pipeline import RiverPipeline
from river_core.twin.synthetic import SyntheticScene
from tests.twin.doubles import Events, GroundTruthTracker, SceneIndex, handles_scene, loader


class Pace:
    """How fast the doubles' tracker goes: ``delay`` seconds a frame; ``hold(after)`` stops it after
    ``after`` more frames until ``release()`` (a server stop waits for the frame in hand: release first)."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.frames = 0
        self._limit: int | None = None
        self._cond = threading.Condition()

    def step(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._limit is None or self.frames < self._limit, timeout=60)
            self.frames += 1
        if self.delay:
            time.sleep(self.delay)

    def hold(self, after: int = 0) -> None:
        with self._cond:
            self._limit = self.frames + after

    def release(self) -> None:
        with self._cond:
            self._limit = None
            self._cond.notify_all()


class PacedTracker(GroundTruthTracker):
    def __init__(self, index: SceneIndex, events: Events, pace: Pace) -> None:
        super().__init__(index, events)
        self.pace = pace

    def start(self, width: int, height: int):
        session = super().start(width, height)
        track = session.track

        def paced(*args, **kwargs):
            self.pace.step()
            return track(*args, **kwargs)

        session.track = paced  # type: ignore[method-assign]
        return session


@dataclass
class Lab:
    """Servers on one state and runtime directory (a restart is ``start()`` again) and the scene clip."""

    make_server: Callable[..., BridgeServer]
    scene: SyntheticScene
    clip: Path
    pace: Pace = field(default_factory=Pace)
    servers: list[BridgeServer] = field(default_factory=list)

    def start(self) -> BridgeServer:
        index, events = SceneIndex(self.scene), Events()
        stages = loader(index, events, tracker=lambda: PacedTracker(index, events, self.pace))
        server = self.make_server(pipeline=RiverPipeline.from_pretrained("tiny", stage_loader=stages))
        self.servers.append(server)
        return server

    def stop(self) -> None:
        """Stop the current server (its running job is re-queued for the next one)."""
        self.pace.release()
        self.servers[-1].stop(grace=0)

    def client(self) -> RiverClient:
        """Another client, as another panel or `river jobs` would be."""
        return RiverClient.connect(start=False)

    def twin(self, client: RiverClient, start: int = 0, **spec: object) -> bridge_pb2.Job:
        """A TWIN job of frames [start, 30): a different ``start`` misses the twin cache."""
        return client.submit_edit(self.clip, kind="twin", frames=(start, 30), **spec)  # type: ignore[arg-type]


@pytest.fixture
def lab(make_server: Callable[..., BridgeServer], media_root: Path) -> Iterator[Lab]:
    scene = handles_scene()
    lab = Lab(make_server, scene, scene.write_clip(media_root / "scene.mkv"))
    yield lab
    lab.pace.release()  # before the servers stop: a held job would keep a stop waiting


@pytest.fixture
def bridge(lab: Lab, qtbot) -> Iterator[Bridge]:
    """The panel's Bridge on the runtime directory's discovery file (never starts a server)."""
    b = Bridge(Connection(start=False, timeout=10.0))
    yield b
    b.shutdown(wait_ms=3000)
    b.connection.close()


def app_thread() -> QThread:
    app = QApplication.instance()
    assert app is not None
    return app.thread()


def wait_for(qtbot, condition: Callable[[], object], timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: bool(condition()), timeout=timeout)


# -- Bridge.call -----------------------------------------------------------------------------------


def test_a_call_runs_off_the_ui_thread_and_answers_on_it(lab: Lab, bridge: Bridge, qtbot) -> None:
    lab.start()
    seen: dict[str, object] = {}

    with lab.client() as other:
        job = lab.twin(other)

    def work(client: RiverClient) -> bridge_pb2.Job:
        seen["work_thread"] = QThread.currentThread()
        seen["python_thread"] = threading.current_thread().name
        return client.get_job(job.id)  # (not capabilities(): its first call imports the engine, slowly)

    def done(answer: bridge_pb2.Job) -> None:
        seen["done_thread"] = QThread.currentThread()
        seen["answer"] = answer

    bridge.call(work, done, lambda exc: seen.setdefault("failed", exc))
    wait_for(qtbot, lambda: "answer" in seen or "failed" in seen)
    assert "failed" not in seen, seen.get("failed")
    assert seen["work_thread"] is not app_thread(), "the call ran on the UI thread"
    assert seen["python_thread"] != threading.main_thread().name
    assert seen["done_thread"] is app_thread(), "done must be called on the UI thread"
    assert seen["answer"].id == job.id  # type: ignore[attr-defined]


def test_a_failed_call_reports_one_line_on_the_ui_thread(lab: Lab, bridge: Bridge, qtbot) -> None:
    lab.start()
    failures: list[tuple[BaseException, QThread]] = []
    missing = "j" + "0" * 19
    bridge.call(lambda c: c.get_job(missing), None, lambda e: failures.append((e, QThread.currentThread())))
    wait_for(qtbot, lambda: failures)
    exc, thread = failures[0]
    assert thread is app_thread()
    assert isinstance(exc, BridgeError) and exc.code == "NOT_FOUND"
    text = error_text(exc)
    assert missing in text and "\n" not in text


def test_no_server_is_offline_not_a_crash(bridge: Bridge, qtbot) -> None:
    failures: list[BaseException] = []
    states: list[tuple[str, str]] = []
    bridge.status.connect(lambda state, message: states.append((state, message)))
    bridge.call(lambda c: c.list_jobs(), None, failures.append)
    wait_for(qtbot, lambda: failures)
    assert isinstance(failures[0], BridgeError) and failures[0].code == "NO_SERVER"
    assert states and states[-1][0] == "offline" and "river serve" in states[-1][1]


# -- JobWatch --------------------------------------------------------------------------------------


def test_a_watch_stops_promptly_and_the_job_goes_on(lab: Lab, bridge: Bridge, qtbot) -> None:
    lab.start()
    lab.pace.hold(after=3)  # the job stays in its track stage until released
    with lab.client() as other:
        job = lab.twin(other)
        watch = bridge.watch(job.id)
        events: list[bridge_pb2.JobEvent] = []
        watch.event.connect(events.append)
        watch.start()
        wait_for(qtbot, lambda: any(e.progress.stage == "track" for e in events))
        with qtbot.waitSignal(watch.finished, timeout=2000):
            began = time.monotonic()
            watch.stop()
        assert time.monotonic() - began < 1.0
        watch.join(2.0)
        assert not watch.running
        assert state_name(other.get_job(job.id).state) == "RUNNING", "stopping a watch must not stop the job"
        lab.pace.release()
        assert state_name(other.wait(job.id, timeout=30).state) == "SUCCEEDED"


def test_a_watch_resumes_across_a_server_restart_without_gaps_or_repeats(
    lab: Lab, bridge: Bridge, qtbot
) -> None:
    lab.start()
    lab.pace.delay = 0.05  # 30 tracked frames: 1.5 s, long enough to stop the server mid-way
    with lab.client() as other:
        job = lab.twin(other)
    watch = bridge.watch(job.id)
    seqs: list[int] = []
    last: list[bridge_pb2.JobEvent] = []
    links: list[str] = []
    threads: set[QThread] = set()

    def on_event(event: bridge_pb2.JobEvent) -> None:
        seqs.append(event.seq)
        last[:] = [event]
        threads.add(QThread.currentThread())

    watch.event.connect(on_event)
    watch.link.connect(links.append)
    watch.start()
    wait_for(qtbot, lambda: last and last[0].progress.stage == "track")
    lab.stop()
    wait_for(qtbot, lambda: any(link.startswith("lost") for link in links))
    lab.pace.delay = 0.0
    lab.start()  # a new process would write a new discovery file: new token, same state
    with qtbot.waitSignal(watch.finished, timeout=20_000):
        pass
    assert "resumed" in links
    assert seqs == list(range(1, len(seqs) + 1)), f"events must be 1..N once each, got {seqs}"
    assert last[0].state.state == bridge_pb2.JOB_STATE_SUCCEEDED
    assert watch.last_seq == seqs[-1]
    assert threads == {app_thread()}, "events are delivered on the UI thread"
    with lab.client() as other:
        assert other.get_job(job.id).last_seq == seqs[-1]


# -- the stall probe -------------------------------------------------------------------------------


def test_the_stall_probe_sees_a_blocked_ui_thread(qtbot) -> None:
    probe = StallProbe(interval_ms=5).start()
    QTimer.singleShot(30, lambda: time.sleep(0.12))  # the UI thread is blocked for 120 ms
    qtbot.wait(250)
    assert probe.stop() >= 100.0
    assert probe.ticks > 5
    assert probe.max_stall_cpu_ms < 60.0  # asleep, not working: the UI thread used (almost) no CPU


def test_the_stall_probe_tells_our_work_from_waiting(qtbot) -> None:
    def busy() -> None:
        end = time.thread_time() + 0.12
        while time.thread_time() < end:
            pass

    probe = StallProbe(interval_ms=5).start()
    QTimer.singleShot(30, busy)  # the UI thread works for 120 ms of its own CPU time
    qtbot.wait(400)
    assert probe.stop() >= 100.0 and probe.max_stall_cpu_ms >= 100.0


def test_the_stall_probe_is_quiet_when_nothing_blocks(qtbot) -> None:
    probe = StallProbe(interval_ms=5).start()
    qtbot.wait(150)
    stalled = probe.stop()
    assert probe.ticks > 5 and 0 < stalled < 250.0  # loose: the machine is shared with other work
    assert not probe.running
    with pytest.raises(ValueError, match="interval_ms"):
        StallProbe(interval_ms=0)


# -- starting a server -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "argv"), [(["--profile", "tiny"], ["serve", "--profile", "tiny"]), ([], ["serve"])]
)
def test_a_server_the_panel_starts_runs_the_profile_it_was_asked_for(
    runtime_dir: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], argv: list[str]
) -> None:
    """`river panel --profile tiny` with no server running: the server it starts runs tiny (it used to
    get the server's default, paper, which then refused every tiny job); no --profile: the default."""
    from host_plugins.panel.cli import build_parser, connection

    seen = runtime_dir / "argv"
    river_cmd = runtime_dir / "river"  # the `river` beside the interpreter, as an install has it
    river_cmd.write_text(f'#!/bin/sh\necho "$@" > {seen}\nexit 3\n')
    river_cmd.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(runtime_dir / "python"))
    monkeypatch.delenv("RIVER_SERVER_COMMAND", raising=False)
    conn = connection(build_parser().parse_args(["--media", "clip.mp4", *flags]))
    conn.wait = 20.0
    with pytest.raises(BridgeError, match="exited with code 3"):
        conn.client()
    assert seen.read_text().split() == argv
