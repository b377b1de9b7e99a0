"""What a new user met with two front-ends: `river edit` and `river jobs` obey one rule set (the
engine's request), ranges are read the same way, targets mean the objects of the chosen range, `--out`
names a folder under the server's root, and an edited plan is checked when it is confirmed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.client import BridgeError, RiverClient, state_name
from bridge.server.app import BridgeServer
from river_core.pipeline import RiverPipeline
from tests.bridge.test_server import first_object
from tests.twin.doubles import Events, SceneIndex, handles_scene, loader

Run = Callable[..., tuple[int, str, str]]


def test_both_front_ends_refuse_the_same_request_with_the_same_rule(
    server: BridgeServer, media_root: Path, run_cli: Run, tmp_path: Path
) -> None:
    """`--color red` with pixelate: refused by `river edit` and by the server, in each one's words, exit 2."""
    media = media_root / "clip.mp4"
    args = ("--targets", "1", "--op", "pixelate", "--color", "red", "--range", "0:9", "-q")
    code, _, err = run_cli("edit", media, *args, "--profile", "tiny", "--out", tmp_path / "e")
    assert code == 2 and "--color: goes with --op recolor, mask_out or highlight, not --op pixelate" in err
    code, _, err = run_cli("jobs", "submit", media, *args, "--no-start")
    assert code == 2, err
    assert err == "river: error: --color: goes with --op recolor, mask_out or highlight, not --op pixelate\n"
    with RiverClient(server.address, server.token) as client:
        with pytest.raises(BridgeError) as caught:
            client.submit_edit(media, targets=["1"], op="pixelate", color="red")
        assert caught.value.code == "INVALID_ARGUMENT"
        assert (
            caught.value.details
            == "spec.color: goes with spec.op recolor, mask_out or highlight, not spec.op pixelate"
        )
        assert not client.list_jobs().jobs


@pytest.mark.parametrize(
    ("typed", "frames"), [("60:", (60, 90)), (":17", (0, 17)), ("00:00:02:00-", (60, 90))]
)
def test_river_jobs_reads_ranges_as_river_edit_does(
    server: BridgeServer, media_root: Path, run_cli: Run, typed: str, frames: tuple[int, int]
) -> None:
    code, out, err = run_cli(
        "jobs",
        "submit",
        media_root / "clip.mp4",
        "--kind",
        "twin",
        "--range",
        typed,
        "--no-start",
        "--json",
        "-q",
    )
    assert code == 0, err
    media = json.loads(out)["spec"]["media"]
    # protobuf's JSON leaves out zeros and writes int64 as strings
    assert (int(media["range"].get("start", 0)), int(media["range"]["end"])) == frames
    assert "range_text" not in media  # resolved and stored as frames


def test_a_range_past_the_clip_says_how(server: BridgeServer, media_root: Path, run_cli: Run) -> None:
    code, _, err = run_cli(
        "jobs", "submit", media_root / "clip.mp4", "--kind", "twin", "--range", "95:", "--no-start"
    )
    assert code == 1 and "OUT_OF_RANGE" in err and "starts at frame 95, after the clip's last frame" in err


def test_out_is_a_name_under_the_output_root(server: BridgeServer, media_root: Path, run_cli: Run) -> None:
    """The help's own example `--out edits/one` was made absolute against the client's folder and refused."""
    code, out, err = run_cli(
        "jobs", "submit", media_root / "clip.mp4", "--kind", "twin", "--range", "0:3", "--out", "edits/one",
        "--no-start", "--json", "-q",
    )  # fmt: skip
    assert code == 0, err
    with RiverClient(server.address, server.token) as client:
        job = client.wait(json.loads(out)["id"], timeout=280)
        assert state_name(job.state) == "SUCCEEDED", job.error.message
        assert job.results.output_dir == str(Path(client.capabilities().output_root) / "edits" / "one")
        assert Path(job.results.twin).is_file()


def test_target_ids_resolve_against_the_twin_of_the_chosen_range(
    make_server: Callable[..., BridgeServer], tmp_path: Path, media_root: Path
) -> None:
    """`--range 5:22 --handles 5 --targets 1`: the server built the twin over 0:27, where id 1 is
    another object (a square seen only in frames 0–4) than in the 5:22 twin the editor looked at."""
    scene = handles_scene()
    clip = scene.write_clip(media_root / "scene.mkv")
    pipeline = RiverPipeline.from_pretrained("tiny", stage_loader=loader(SceneIndex(scene), Events()))
    server = make_server(pipeline=pipeline)
    with RiverClient(server.address, server.token) as client:
        looked = client.wait(client.submit_edit(clip, kind="twin", frames=(5, 22)).id, timeout=280)
        objects = json.loads(looked.results.summary_json)["objects"]
        assert [(o["id"], o["category"]) for o in objects] == [(1, "circle")]
        job = client.submit_edit(
            clip,
            frames=(5, 22),
            handles=5,
            targets=["1"],
            op="mask_out",
            format="ffv1",
            deliver=["media", "matte"],
        )
        assert (job.spec.media.range.start, job.spec.media.range.end, job.spec.media.handles) == (5, 22, 5)
        done = client.wait(job.id, timeout=280)
        assert state_name(done.state) == "SUCCEEDED", done.error.message
        assert [(t.id, t.category) for t in done.plan.targets] == [(1, "circle")]
        assert done.results.frames == 27 and done.results.timecode == "00:00:00:00"  # rendered from frame 0
        assert done.results.preview == "" and done.results.contact_sheet == ""  # not asked for


def test_an_edited_plan_is_checked_when_confirmed(
    server: BridgeServer, media_root: Path, run_cli: Run, tmp_path: Path
) -> None:
    """A plan that does not fit the twin is refused at confirm time (the job keeps awaiting); `river jobs
    plan ID > plan.json` gives the proposed plan to edit."""
    media = media_root / "clip.mp4"
    with RiverClient(server.address, server.token) as client:
        target = first_object(client, media, (0, 9))
        job = client.submit_edit(media, frames=(0, 9), targets=[str(target)], op="blur", confirm=True)
        waiting = client.wait(job.id, timeout=280)
        assert state_name(waiting.state) == "AWAITING_CONFIRMATION", waiting.error.message
        code, out, err = run_cli("jobs", "plan", job.id)
        assert code == 0, err
        plan = json.loads(out)
        assert plan == json.loads(waiting.plan.plan_json) and plan["operations"][0]["kind"] == "blur"
        plan["operations"][0]["targets"][0]["id"] = 999
        edited = tmp_path / "plan.json"
        edited.write_text(json.dumps(plan))
        code, _, err = run_cli("jobs", "confirm", job.id, "--plan", edited)
        assert code == 2 and "--plan: does not fit the job's twin" in err and "999" in err, err
        assert "still awaits confirmation" in err
        assert state_name(client.get_job(job.id).state) == "AWAITING_CONFIRMATION"
        plan["operations"][0]["targets"][0]["id"] = target
        plan["operations"][0]["targets"][0]["frames"] = [{"start": 2, "end": 5}]  # narrowed by the editor
        edited.write_text(json.dumps(plan))
        code, _, err = run_cli("jobs", "confirm", job.id, "--plan", edited)
        assert code == 0, err
        done = client.wait(job.id, timeout=280)
        assert state_name(done.state) == "SUCCEEDED", done.error.message
        assert done.plan.confirmed and [(r.start, r.end) for r in done.plan.targets[0].frames] == [(2, 5)]
        provenance = json.loads(Path(done.results.provenance).read_text())
        assert provenance["plan"]["operations"][0]["targets"][0]["frames"] == [{"start": 2, "end": 5}]
