"""Job kinds and life cycles through the bridge: batches, plan → render, a stop that re-queues."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.client import BridgeError, RiverClient, state_name
from bridge.server.app import BridgeServer
from bridge.v1 import bridge_pb2 as pb
from tests.bridge.test_server import first_object


def test_a_batch_is_all_or_nothing_and_listed_by_its_id(client: RiverClient, media_root: Path) -> None:
    media = media_root / "clip.mp4"
    specs = [client.edit_spec(media, kind="twin", frames=(0, n)) for n in (3, 4, 5)]
    bad = pb.EditSpec()
    bad.CopyFrom(specs[1])
    bad.media.path = str(media_root / "missing.mp4")
    with pytest.raises(BridgeError) as caught:
        client.submit_batch([specs[0], bad, specs[2]], batch_id="reel-1")
    assert caught.value.code == "NOT_FOUND" and caught.value.details.startswith("edits[1].spec.media.path")
    assert client.list_jobs().jobs == [], "a refused batch creates none of its jobs"
    done = client.submit_batch(specs, batch_id="reel-1")
    assert done.batch_id == "reel-1" and len({j.id for j in done.jobs}) == 3
    assert all(j.batch_id == "reel-1" for j in done.jobs)
    for job in done.jobs:
        assert state_name(client.wait(job.id, timeout=280).state) == "SUCCEEDED"
    listed = client.list_jobs(batch_id="reel-1", states=[pb.JOB_STATE_SUCCEEDED])
    assert sorted(j.id for j in listed.jobs) == sorted(j.id for j in done.jobs)
    assert not listed.jobs[0].results.summary_json, "list pages leave the large fields out"
    assert client.get_job(done.jobs[0].id).results.summary_json


def test_plan_job_then_render_the_reviewed_plan(
    make_server: Callable[..., BridgeServer], media_root: Path, tmp_path: Path
) -> None:
    media = media_root / "clip.mp4"
    first = make_server()
    with RiverClient(first.address, first.token) as c:
        target = first_object(c, media, (0, 9))
    first.stop()  # one server per runtime directory: the next one reasons with a replayed rollout
    rollout = tmp_path / "rollout.txt"
    edit = {"objects": [{"id": target, "category": "thing", "attributes": "bronze"}]}
    rollout.write_text(
        "Object ids are in the twin; the first one is what the editor means.</think>\n"
        f"<edit>{json.dumps(edit)}</edit>"
    )
    server = make_server(llm=f"replay:{rollout}", state_dir=tmp_path / "state2")
    with RiverClient(server.address, server.token) as client:
        planned = client.wait(
            client.submit_edit(media, kind="plan", frames=(0, 9), query="make the thing bronze").id,
            timeout=280,
        )
        assert state_name(planned.state) == "SUCCEEDED", planned.error.message
        plan_file = Path(planned.results.plan)
        assert plan_file.is_file() and Path(planned.results.twin).is_file()
        assert [t.id for t in planned.plan.targets] == [target]
        plan = json.loads(plan_file.read_text())
        # The editor reviews the plan and makes it a blur (how each operation renders is the plan's).
        op = plan["operations"][0]
        op.update(kind="blur", prompt="blur the thing")
        op.pop("category"), op.pop("attributes")
        with pytest.raises(BridgeError, match=r"spec\.op: goes with spec\.targets\.items"):
            client.submit_edit(media, kind="render", plan_json=json.dumps(plan), op="blur")
        rendered = client.wait(
            client.submit_edit(media, kind="render", plan_json=json.dumps(plan), format="png").id, timeout=280
        )
        assert state_name(rendered.state) == "SUCCEEDED", rendered.error.message
        assert rendered.spec.media.range.end == 9, "a render without a range takes its plan's range"
        assert rendered.results.frames == 9
        assert [t.id for t in rendered.plan.targets] == [target]
        provenance = json.loads(Path(rendered.results.provenance).read_text())
        assert provenance["settings"]["operations"] == ["blur"] and "editor" not in provenance["models"]


def test_a_stop_requeues_the_running_job_and_a_restart_runs_it(
    make_server: Callable[..., BridgeServer], media_root: Path
) -> None:
    media = media_root / "clip.mp4"
    server = make_server()
    with RiverClient(server.address, server.token) as client:
        target = first_object(client, media, (0, 33))
        job = client.submit_edit(
            media, frames=(0, 33), targets=[str(target)], prompt="bronze", output="requeued",
            render={"window": 17, "overlap": 4, "steps": 2},
        )  # fmt: skip
        for event in client.watch(job.id, reconnect=False):
            if event.WhichOneof("event") == "progress" and event.progress.stage in (
                "render",
                "vace",
                "encode",
            ):
                break
    server.stop()
    again = make_server()
    with RiverClient(again.address, again.token) as client:
        done = client.wait(job.id, timeout=280)
        assert state_name(done.state) == "SUCCEEDED", done.error.message
        messages = [e.state.message for e in client.watch(job.id) if e.WhichOneof("event") == "state"]
        assert any("re-queued" in m for m in messages)
        assert Path(done.results.media).is_file()
