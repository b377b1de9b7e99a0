"""`river timeline edit|mark|rerender` through a real server whose twin stages see a synthetic scene
exactly (ground-truth doubles) and whose reasoner replays a recorded rollout: fast, and every answer
is known. The tiny models' end to end is test_timeline_e2e.py."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from bridge.server.app import BridgeServer
from host_plugins.otio import batch as batch_module
from host_plugins.otio.layback import river_clips
from river_core.cli import main
from river_core.pipeline import RiverPipeline
from tests.host_plugins.otio.timelines import Shot, host_only, media_timeline
from tests.twin.doubles import Events, SceneIndex, handles_scene, loader

NTSC = Fraction(30000, 1001)
CIRCLE_BRONZE = {"objects": [{"id": 1, "category": "circle", "attributes": "bronze"}]}


@pytest.fixture
def scene_server(make_server: Callable[..., BridgeServer], media_root: Path, tmp_path: Path) -> Path:
    """A server (ground-truth twin, replayed reasoning: "object 1 becomes bronze") and the scene clip:
    30 frames, a square in frames 0–4 and a circle all along — in a twin of frames ≥ 5 the circle is 1."""
    scene = handles_scene()
    clip = scene.write_clip(media_root / "scene.mkv")
    rollout = tmp_path / "rollout.txt"
    rollout.write_text(f"The circle is object 1.</think>\n<edit>{json.dumps(CIRCLE_BRONZE)}</edit>")
    pipeline = RiverPipeline.from_pretrained(
        "tiny", stage_loader=loader(SceneIndex(scene), Events()), llm=f"replay:{rollout}"
    )
    make_server(pipeline=pipeline)
    return clip


def cut(clip: Path, shots: list[Shot], path: Path) -> Path:
    otio.adapters.write_to_file(media_timeline(clip, shots, rate=NTSC, media_frames=30), str(path))
    return path


def river(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--no-start", "-q"])
    out, err = capsys.readouterr()
    return code, out, err


def record(item: otio.core.Item) -> tuple[int, int]:
    placed = item.range_in_parent()
    a = Fraction(placed.start_time.value) / Fraction(placed.start_time.rate).limit_denominator(1001) * NTSC
    n = Fraction(placed.duration.value) / Fraction(placed.duration.rate).limit_denominator(1001) * NTSC
    assert a.denominator == 1 and n.denominator == 1
    return int(a), int(a + n)


def test_mark_edit_with_matte_and_rerender_from_the_stored_plan(scene_server: Path, capsys) -> None:
    folder = scene_server.parent
    shots = [Shot("one", start=6, length=10, gap=4), Shot("two", start=18, length=9, gap=3)]
    source = cut(scene_server, shots, folder / "cut.otio")
    records = [(4, 14), (17, 26)]

    # "when": markers at the record frames of the plan's target spans (the circle fills both shots).
    # (from a client with no torch, numpy or engine libraries: a host-only install)
    marked_path = str(folder / "marked.otio")
    code, out, err = host_only("timeline", "mark", str(source), "where is the circle", "--select", "all",
                               "--out", marked_path, "--json", "--no-start", "-q")  # fmt: skip
    assert code == 0, err
    spans = json.loads(out)["spans"]
    assert [(s["clip"], tuple(s["record_frames"])) for s in spans] == [
        ("one", records[0]),
        ("two", records[1]),
    ]
    assert spans[0]["record"] == "00:00:00:04-00:00:00:14" and "circle #1" in spans[0]["target"]
    marked = otio.adapters.read_from_file(str(folder / "marked.otio"))
    markers = list(marked.tracks.markers)
    assert [m.name for m in markers] == ["where is the circle"] * 2
    assert "circle #1" in markers[0].comment and "The circle is object 1" in markers[0].comment

    # edit with the matte on a track above the RIVER track
    code, out, err = river(capsys, "timeline", "edit", str(source), "make the circle bronze",
                           "--select", "all", "--out", str(folder / "river.otio"), "--with-matte",
                           "--format", "ffv1", "--steps", "1")  # fmt: skip
    assert code == 0, err
    laid = otio.adapters.read_from_file(str(folder / "river.otio"))
    names = [t.name for t in laid.tracks]
    assert names[-2:] == ["RIVER", "RIVER matte"], names
    found = river_clips(laid)
    assert [record(rc.clip) for rc in found] == records
    assert all(rc.provenance["query"] == "make the circle bronze" and rc.provenance["plan"] for rc in found)
    matte = [c for c in laid.tracks[-1] if isinstance(c, otio.schema.Clip)]
    assert [record(c) for c in matte] == records
    first_media = [rc.clip.media_reference.target_url for rc in found]

    # re-render from the stored plans with another seed: same places, new media, provenance updated
    code, out, err = river(capsys, "timeline", "rerender", str(folder / "river.otio"),
                           "--out", str(folder / "river2.otio"), "--seed", "3")  # fmt: skip
    assert code == 0, err
    rerendered = otio.adapters.read_from_file(str(folder / "river2.otio"))  # held: its clips need a parent
    again = river_clips(rerendered)
    assert [record(rc.clip) for rc in again] == records
    new_media = [rc.clip.media_reference.target_url for rc in again]
    assert all(a != b for a, b in zip(new_media, first_media, strict=True))
    assert all(Path(otio.url_utils.filepath_from_url(u)).is_file() for u in new_media)
    assert all(
        rc.provenance["seed"] == 3 and rc.provenance["spec"]["kind"] == "JOB_KIND_RENDER" for rc in again
    )


def test_a_partial_failure_writes_the_clips_that_succeeded_and_exits_3(scene_server: Path, capsys) -> None:
    """--targets 2: in the twin of frames 0–10 the circle is 2 (the square is 1); in the twin of 12–22
    there is only the circle, 1, so that job fails — the timeline still gets the other clip."""
    folder = scene_server.parent
    source = cut(scene_server, [Shot("early", 0, 10), Shot("late", 12, 10, gap=2)], folder / "cut2.otio")
    out_path = folder / "partial.otio"
    code, _, err = river(capsys, "timeline", "edit", str(source), "--targets", "2", "--op", "blur",
                           "--select", "all", "--out", str(out_path), "--format", "ffv1")  # fmt: skip
    assert code == 3, err
    assert "'late'" in err and "failed" in err
    partial = otio.adapters.read_from_file(str(out_path))
    found = river_clips(partial)
    assert [rc.provenance["source"]["clip"] for rc in found] == ["early"]
    assert record(found[0].clip) == (0, 10)


def stopped_edit(capsys, source: Path) -> tuple[str, list[str]]:
    """`river timeline edit` of every clip of ``source``, stopped (exit 130) by what the test arranged:
    its stderr and the states of the server's jobs after; asserts that no timeline was written."""
    from bridge.client import RiverClient, state_name

    out_path = source.parent / "never.otio"
    code, _, err = river(capsys, "timeline", "edit", str(source), "--targets", "1", "--op", "blur",
                         "--select", "all", "--out", str(out_path), "--format", "ffv1")  # fmt: skip
    assert code == 130, err
    assert not out_path.exists()
    with RiverClient.connect() as client:
        return err, [state_name(j.state) for j in client.iter_jobs()]


def _ctrl_c() -> None:
    raise KeyboardInterrupt  # the editor presses Ctrl-C while the batch runs


def _sigterm() -> None:
    # `timeout`, or an NLE's script stopping us: the jobs must be cancelled on the server, not left
    # running behind a message that says they were (delivered to this, the main, thread at once)
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("stop", [_ctrl_c, _sigterm], ids=["ctrl-c", "sigterm"])
def test_a_stop_cancels_the_whole_batch_and_writes_nothing(
    scene_server: Path, capsys, monkeypatch, stop: Callable[[], None]
) -> None:
    folder = scene_server.parent
    source = cut(scene_server, [Shot("a", 6, 10), Shot("b", 18, 9)], folder / "cut3.otio")
    seen: list[str] = []
    real_sleep = batch_module.time.sleep

    def stop_once(seconds: float) -> None:
        seen.append("sleep")
        if len(seen) == 1:
            stop()
        real_sleep(seconds)

    monkeypatch.setattr(batch_module.time, "sleep", stop_once)
    err, states = stopped_edit(capsys, source)
    assert set(states) <= {"CANCELLED", "SUCCEEDED"} and "CANCELLED" in states, states
    assert "cancelling the batch" in err and "no timeline was written" in err, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_the_batch_is_submitted_cancels_the_jobs_it_queued(
    scene_server: Path, capsys, monkeypatch, signum: int
) -> None:
    """The signal lands while SubmitBatch is on its way: the server queues the jobs, so the command must
    wait for their ids and cancel them, not stop with them unknown (and running)."""
    folder = scene_server.parent
    source = cut(scene_server, [Shot("a", 6, 10), Shot("b", 18, 9)], folder / "cut5.otio")
    from bridge.client import RiverClient

    real_submit = RiverClient.submit_batch

    def submit_then_stop(self, *args, **kwargs):
        answer = real_submit(self, *args, **kwargs)  # queued on the server …
        os.kill(os.getpid(), signum)  # … and stopped before the answer is back
        return answer

    monkeypatch.setattr(RiverClient, "submit_batch", submit_then_stop)
    err, states = stopped_edit(capsys, source)
    assert len(states) == 2 and set(states) <= {"CANCELLED", "SUCCEEDED"}, states
    assert "stopping once the batch is submitted" in err and "cancelling the batch" in err, err
