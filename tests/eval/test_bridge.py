"""`river eval --bridge`: the same media tasks as jobs on a real in-process server (ground-truth twin
stages, a replayed reasoner: fast, every answer known) give the same samples as in process; a cut run
resumes; a server whose reasoner is not --llm is refused; baselines run TWIN jobs and plan here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.client import RiverClient
from bridge.eval_jobs import JobBackend
from bridge.server.app import BridgeServer
from river_core.cli import main
from river_core.errors import UsageError
from river_core.eval.datasets import load_dataset
from river_core.eval.run import EvalSettings, evaluate, read_samples
from river_core.pipeline import RiverPipeline
from tests.bridge.conftest import make_server, media_root, runtime_dir  # noqa: F401 — fixtures
from tests.twin.doubles import Events, SceneIndex, handles_scene, loader

COMPARED = ("id", "valid", "error", "targets", "gold", "operations", "scores", "rounds")
# (range, gold id, gold frames): the twin of 5:22 calls the circle 1; the twin of 0:27 calls the square
# (frames 0–4) 1 and the circle 2. The replayed reasoner always says "object 1 becomes bronze".
TASKS = [("5:22", 1, (5, 22)), ("0:27", 2, (0, 27)), ("0:27", 1, (0, 5))]


@pytest.fixture
def scene(make_server: Callable[..., BridgeServer], media_root: Path, tmp_path: Path):  # noqa: F811
    clip = handles_scene().write_clip(media_root / "scene.mkv")
    rollout = tmp_path / "rollout.txt"
    edit = {"objects": [{"id": 1, "category": "circle", "attributes": "bronze"}]}
    rollout.write_text(f"Object 1.</think>\n<edit>{json.dumps(edit)}</edit>")
    llm = f"replay:{rollout}"
    pipeline = RiverPipeline.from_pretrained(
        "tiny", stage_loader=loader(SceneIndex(handles_scene()), Events()), llm=llm
    )
    server = make_server(pipeline=pipeline)
    lines = []
    for k, (rng, target, (a, b)) in enumerate(TASKS):
        lines.append(
            json.dumps(
                {
                    "id": f"scene-{k}",
                    "scene": "scene",
                    "split": "test",
                    "source": {"media": str(clip), "range": rng},
                    "query": "make the circle bronze",
                    "level": 1 + k % 2,
                    "category": "spatial",
                    "template": "test",
                    "gold": {
                        "targets": [{"id": target, "frames": [{"start": a, "end": b}]}],
                        "edit": {"op": "appearance", "prompt": "look like bronze"},
                        "program": "target = 1",
                    },
                }
            )
        )
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(lines) + "\n")
    return server, pipeline, llm, tasks


def _backend(server: BridgeServer) -> JobBackend:
    return JobBackend(RiverClient(server.address, server.token))


def _compared(samples: list[dict]) -> list[dict]:
    return [{k: s[k] for k in COMPARED} for s in samples]


def test_bridge_gives_the_in_process_samples_and_resumes(scene, tmp_path: Path) -> None:
    server, pipeline, llm, tasks = scene
    data = load_dataset(tasks)
    local = evaluate(data, tmp_path / "local", EvalSettings(llm=llm), pipeline=pipeline)
    assert [s["scores"]["target_acc"] for s in local] == [1.0, 0.0, 1.0]  # the answers are known
    jobs = evaluate(data, tmp_path / "jobs", EvalSettings(llm=llm, bridge=True), backend=_backend(server))
    assert _compared(jobs) == _compared(local)
    assert all(s["tokens"] > 0 and s["paths"]["plan"] for s in jobs)

    # Resume: a run killed mid-line runs only the missing tasks, and ends with the same samples.
    out = tmp_path / "jobs"
    lines = (out / "samples.jsonl").read_text().splitlines()
    (out / "samples.jsonl").write_text(lines[0] + "\n" + lines[1][:30])
    assert len(read_samples(out)) == 1
    resumed = evaluate(data, out, EvalSettings(llm=llm, bridge=True), backend=_backend(server))
    assert _compared(resumed) == _compared(jobs)
    # In-process settings in a --bridge folder are another run.
    with pytest.raises(UsageError, match="other settings"):
        evaluate(data, out, EvalSettings(llm=llm), pipeline=pipeline)


def test_a_server_with_another_reasoner_is_refused(scene, tmp_path: Path) -> None:
    server, _, _, tasks = scene
    with pytest.raises(UsageError, match=r"restart the server with `river serve --llm tiny`"):
        evaluate(
            load_dataset(tasks),
            tmp_path / "r",
            EvalSettings(llm="tiny", bridge=True),
            backend=_backend(server),
        )


def test_baselines_plan_here_on_the_servers_twins(scene, tmp_path: Path) -> None:
    server, _, _, tasks = scene
    samples = evaluate(
        load_dataset(tasks), tmp_path / "o", EvalSettings(llm="oracle", bridge=True), backend=_backend(server)
    )
    assert all(s["valid"] and s["scores"]["jf"] == 1.0 for s in samples), samples
    assert all(s["tokens"] == 0 and s["rounds"] == 0 for s in samples)


def test_the_cli_with_bridge(scene, tmp_path: Path, monkeypatch, capsys) -> None:
    import bridge.eval_jobs
    import river_core.cli.eval as eval_cli

    _, _, llm, tasks = scene
    # the entry point of an installed checkout; here the module itself (found through the discovery file)
    monkeypatch.setattr(eval_cli, "bridge_backend", bridge.eval_jobs.connect)
    out = tmp_path / "cli"
    assert main(["eval", str(tasks), "--bridge", "--out", str(out), "--json", "-q"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["n"] == 3 and r["target_acc"] == pytest.approx(2 / 3) for r in rows), rows
    assert json.loads((out / "run.json").read_text())["bridge"] is True
    assert len(read_samples(out)) == 3
    # Decoding settings are the server's; twin-only tasks have no media for a job.
    assert main(["eval", str(tasks), "--bridge", "--llm", llm, "--max-rounds", "2", "--out", str(out)]) == 2
    assert "does not apply with --bridge" in capsys.readouterr().err


def test_twin_tasks_are_refused_with_bridge(synth_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="twin tasks"):
        evaluate(
            load_dataset(synth_dir, split="train"),
            tmp_path / "t",
            EvalSettings(llm="nouns", bridge=True),
            backend=object(),
        )
