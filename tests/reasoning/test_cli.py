"""The reasoner's commands, as an editor or a script runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from river_core.errors import RiverError
from river_core.reasoning.view import parse_compact_view
from river_core.twin.schema import TwinDocument

Run = Callable[..., tuple[int, str, str]]

ROLLOUT = (
    "Which animal? Find it in code.</think>\n"
    "<execute>\nprint(find(category='dog'))\n</execute>\n"
    "<results>\n[3]\n</results>\n"
    "<think>Object 3.</think>\n"
    '<edit>{"objects": [{"id": 3, "category": "dog", "attributes": "a dog cast in bronze"}]}</edit>\n'
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_sandbox_run_prints_the_answer(run_cli: Run, small_twin_path: Path, tmp_path: Path) -> None:
    code = write(tmp_path / "sum.py", "print(sum(range(10)))\n")
    status, out, _ = run_cli("sandbox", "run", "--twin", small_twin_path, code)
    assert (status, out) == (0, "45\n")
    status, out, _ = run_cli("sandbox", "run", "--twin", small_twin_path, code, "--json")
    body = json.loads(out)
    assert status == 0 and body["ok"] is True and body["stdout"] == "45\n"
    assert body["isolation"]["level"] in ("full", "partial", "minimal")
    assert isinstance(body["elapsed_ms"], int | float)


def test_sandbox_run_refuses_file_access(run_cli: Run, small_twin_path: Path, tmp_path: Path) -> None:
    code = write(tmp_path / "peek.py", "print(open('/etc/passwd').read())\n")
    status, out, _ = run_cli("sandbox", "run", "--twin", small_twin_path, code, "--json")
    body = json.loads(out)
    assert status == 1 and body["ok"] is False
    assert "open" in body["error"] and "passwd" not in body["stdout"]
    status, out, err = run_cli("sandbox", "run", "--twin", small_twin_path, code)
    assert status == 1 and out == "" and "river: error: the code failed (gate)" in err


def test_sandbox_run_reaches_the_twin_api(run_cli: Run, small_twin_path: Path, tmp_path: Path) -> None:
    code = write(tmp_path / "q.py", "print(find(category='dog'), last_frame(3), left_of(1, 4))\n")
    status, out, _ = run_cli("sandbox", "run", "--twin", small_twin_path, code)
    assert (status, out) == (0, "[3] 19 True\n")


def test_twin_view_compact_and_paper(run_cli: Run, small_twin_path: Path, small_twin: TwinDocument) -> None:
    status, compact, _ = run_cli("twin", "view", small_twin_path, "--format", "compact")
    assert status == 0
    parsed = parse_compact_view(compact)
    assert sorted(parsed.objects) == [1, 2, 3, 4]
    status, paper, err = run_cli("twin", "view", small_twin_path, "--format", "paper", "--stats")
    assert status == 0 and "ratio" in err
    assert len(json.loads(paper)["frames"]) == len(small_twin.frames)
    assert len(compact) < len(paper)
    status, _, err = run_cli("twin", "view", small_twin_path, "--budget-tokens", "5")
    assert status == 2 and "--budget-tokens 5 is too small" in err


def test_reason_with_a_replayed_rollout_writes_the_plan(
    run_cli: Run, small_twin_path: Path, tmp_path: Path
) -> None:
    rollout = write(tmp_path / "rollout.txt", ROLLOUT)
    plan_path, trace_path = tmp_path / "plan.json", tmp_path / "trace.json"
    status, out, err = run_cli(
        "reason", small_twin_path, "make the animal look like bronze", "--llm", f"replay:{rollout}",
        "--out", plan_path, "--trace", trace_path,
    )  # fmt: skip
    assert status == 0, err
    plan = json.loads(plan_path.read_text())
    (op,) = plan["operations"]
    assert [t["id"] for t in op["targets"]] == [3]
    assert op["targets"][0]["frames"] == [{"start": 0, "end": 20}]
    assert "op1 appearance: object 3 (dog) frames 0:20" in out
    trace = json.loads(trace_path.read_text())
    assert trace["valid"] and trace["executions"][0]["stdout"] == "[3]\n"
    # The written trace replays to the same plan.
    again = tmp_path / "again.json"
    status, _, err = run_cli("reason", small_twin_path, "q", "--llm", f"replay:{trace_path}", "--out", again)
    assert status == 0, err
    assert json.loads(again.read_text())["operations"] == plan["operations"]
    # Plans are never overwritten by accident.
    status, _, err = run_cli("reason", small_twin_path, "q", "--llm", f"replay:{rollout}", "--out", plan_path)
    assert status == 1 and "already exists" in err


def test_reason_without_a_valid_plan_fails_clearly(
    run_cli: Run, small_twin_path: Path, tmp_path: Path
) -> None:
    rollout = write(tmp_path / "bad.txt", ROLLOUT.replace('"id": 3', '"id": 33'))
    trace = tmp_path / "trace.json"
    status, _, err = run_cli(
        "reason",
        small_twin_path,
        "q",
        "--llm",
        f"replay:{rollout}",
        "--out",
        tmp_path / "p.json",
        "--trace",
        trace,
    )
    assert status == 1 and "no valid edit plan" in err and "object 33 does not exist" in err
    assert not (tmp_path / "p.json").exists()
    assert json.loads(trace.read_text())["attempts"][0]["valid"] is False


@pytest.mark.parametrize("spec", ["gpt4", "replay:", "openai:ftp://x"])
def test_reason_rejects_unknown_llm_specs(
    run_cli: Run, small_twin_path: Path, tmp_path: Path, spec: str
) -> None:
    status, _, err = run_cli("reason", small_twin_path, "q", "--llm", spec, "--out", tmp_path / "p.json")
    assert status == 2 and ("--llm" in err or "openai:http://" in err)


def test_plan_schema_and_validate(run_cli: Run, small_twin_path: Path, tmp_path: Path) -> None:
    status, out, _ = run_cli("plan", "schema")
    schema = json.loads(out)
    assert status == 0 and schema["$schema"].endswith("2020-12/schema")
    jsonschema.Draft202012Validator.check_schema(schema)
    rollout = write(tmp_path / "rollout.txt", ROLLOUT)
    plan_path = tmp_path / "plan.json"
    assert run_cli("reason", small_twin_path, "q", "--llm", f"replay:{rollout}", "--out", plan_path)[0] == 0
    jsonschema.validate(json.loads(plan_path.read_text()), schema)
    status, out, _ = run_cli("plan", "validate", plan_path, "--twin", small_twin_path)
    assert status == 0 and "valid, 1 operation" in out
    data = json.loads(plan_path.read_text())
    data["operations"][0]["targets"][0]["frames"] = [{"start": 0, "end": 24}]
    write(plan_path, json.dumps(data))
    status, _, err = run_cli("plan", "validate", plan_path, "--twin", small_twin_path)
    assert status == 1 and "absent in frames 20:24" in err


@pytest.mark.parametrize("replayed", ["trace", "plan"])
def test_reason_refuses_to_replay_a_rollout_made_on_another_twin(
    run_cli: Run, small_twin: TwinDocument, small_twin_path: Path, tmp_path: Path, replayed: str
) -> None:
    from river_core.twin.schema import save_twin

    rollout = write(tmp_path / "rollout.txt", ROLLOUT)
    saved = {"plan": tmp_path / "plan.json", "trace": tmp_path / "trace.json"}
    status, _, err = run_cli(
        "reason", small_twin_path, "q", "--llm", f"replay:{rollout}",
        "--out", saved["plan"], "--trace", saved["trace"],
    )  # fmt: skip
    assert status == 0, err
    video = small_twin.video.model_copy(update={"content_hash": "sha256:" + "1" * 64})
    other = save_twin(small_twin.model_copy(update={"video": video}), tmp_path / "other" / "twin.json")
    out = tmp_path / "again.json"
    status, _, err = run_cli("reason", other, "q", "--llm", f"replay:{saved[replayed]}", "--out", out)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "the rollout was made on another twin (other media (content sha256:" in err
    assert not out.exists()


def test_rollout_score_of_a_missing_file_names_no_other_commands_flag(
    run_cli: Run, small_twin_path: Path, tmp_path: Path
) -> None:
    status, _, err = run_cli("rollout", "score", tmp_path / "missing.txt", "--twin", small_twin_path)
    assert status == 1 and "cannot read the rollout" in err and "--llm" not in err, err


@pytest.mark.parametrize("config", [None, "{}"])
def test_reason_with_a_folder_that_is_no_model_is_one_line(
    run_cli: Run, small_twin_path: Path, tmp_path: Path, config: str | None
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    if config is not None:
        write(folder / "config.json", config)  # no model_type: transformers raises ValueError
    for debug in ([], ["--debug"]):
        try:
            status, _, err = run_cli(
                "reason", small_twin_path, "q", "--llm", f"transformers:{folder}",
                "--out", tmp_path / "p.json", *debug,
            )  # fmt: skip
        except RiverError as exc:  # --debug: the error itself, which main() exits 1 with
            status, err = 1, str(exc)
        assert status == 1 and "internal error" not in err, err
        assert f"the directory '{folder}' does not hold a checkpoint of reasoner LLM" in err
        assert ("not a model folder: no config.json" in err) == (config is None), err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("content_hash", "sha256:" + "0" * 64, "other media (content sha256:000000000000…"),
        ("frame_range", {"start": 0, "end": 5}, "other frames (0:5, this twin's 0:"),
    ],
)
def test_plan_validate_refuses_a_plan_made_on_another_twin(
    run_cli: Run, small_twin_path: Path, tmp_path: Path, field: str, value: object, message: str
) -> None:
    rollout = write(tmp_path / "rollout.txt", ROLLOUT)
    plan_path = tmp_path / "plan.json"
    assert run_cli("reason", small_twin_path, "q", "--llm", f"replay:{rollout}", "--out", plan_path)[0] == 0
    data = json.loads(plan_path.read_text())
    data["twin"][field] = value
    write(plan_path, json.dumps(data))
    status, out, err = run_cli("plan", "validate", plan_path, "--twin", small_twin_path)
    assert status == 1 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "the plan was made on another twin" in err and message in err and "river reason" in err


def test_rollout_score_gives_the_structured_rewards(
    run_cli: Run, small_twin_path: Path, tmp_path: Path
) -> None:
    good = write(tmp_path / "good.txt", ROLLOUT)
    status, out, _ = run_cli("rollout", "score", good, "--twin", small_twin_path, "--json")
    body = json.loads(out)
    assert status == 0
    assert (body["r_token"], body["r_exec"], body["r_dt"], body["r_struct"]) == (0.0, 0.0, 0.5, 0.5)
    assert body["executions"][0]["stdout"] == "[3]\n"
    broken = write(
        tmp_path / "broken.txt",
        ROLLOUT.replace("find(category='dog')", "find(category=dog)").replace('"category": "dog", ', ""),
    )
    status, out, _ = run_cli("rollout", "score", broken, "--twin", small_twin_path)
    assert status == 0
    assert out.splitlines()[0] == "R_token +0.0  R_exec -0.5  R_dt -0.5  R_struct -1.0"
    assert "exec: execute #1: " in out and "category: required field is missing" in out


def test_reason_builds_the_twin_of_media_first(run_cli: Run, sample_clip: Path, tmp_path: Path) -> None:
    """Media input: the tiny twin builder runs (deterministic random weights), then the reasoner."""
    rollout = write(
        tmp_path / "r.txt",
        "x</think><execute>print([o['id'] for o in objects()])</execute>"
        '<edit>{"objects": [{"id": 1, "category": "bird", "attributes": "a bronze bird"}]}</edit>',
    )
    plan_path = tmp_path / "plan.json"
    status, _, err = run_cli(
        "reason", sample_clip, "make the bird bronze", "--range", "0:5", "--profile", "tiny",
        "--llm", f"replay:{rollout}", "--out", plan_path, "-q",
    )  # fmt: skip
    assert status == 0, err
    plan = json.loads(plan_path.read_text())
    assert plan["twin"]["path"] == str(sample_clip)
    assert plan["twin"]["frame_range"] == {"start": 0, "end": 5}
    assert plan["operations"][0]["targets"][0]["id"] == 1
    assert plan["trace"]["executions"][0]["stdout"].startswith("[1")
    # The media itself is never an output.
    status, _, err = run_cli("reason", sample_clip, "q", "--llm", f"replay:{rollout}", "--out", sample_clip)
    assert status == 1 and "source media" in err


def test_sandbox_run_warns_loudly_without_os_isolation(
    run_cli: Run, small_twin_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from river_core.reasoning import sandbox

    sandbox._bwrap_probe.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        code = write(tmp_path / "sum.py", "print(sum(range(10)))\n")
        status, out, err = run_cli("sandbox", "run", "--twin", small_twin_path, code)
        assert (status, out) == (0, "45\n")
        assert "river: WARNING: the sandbox runs with" in err and "bubblewrap" in err
        status, _, err = run_cli("sandbox", "run", "--twin", small_twin_path, code, "--require-isolation")
        assert status == 1 and "bubblewrap" in err
    finally:
        monkeypatch.undo()
        sandbox._bwrap_probe.cache_clear()


# -- flags are checked before anything runs; outputs never replace an input -----------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--samples", "0"], "--samples 0 must be at least 1"),
        (["--max-rounds", "-1"], "--max-rounds -1 must be at least 1"),
        (["--max-rounds", "0"], "--max-rounds 0 must be at least 1"),
        (["--max-new-tokens", "0"], "--max-new-tokens 0 must be at least 1"),
        (["--temperature", "-0.5"], "--temperature -0.5 must be a number ≥ 0"),
        (["--temperature", "nan"], "--temperature nan must be a number ≥ 0"),
        (["--budget-tokens", "0"], "--budget-tokens 0 must be a positive number of tokens"),
        (["--budget-tokens", "5"], "--budget-tokens 5 is too small for this twin"),
        (["--seed", "-1"], "--seed -1 must be in 0…"),
        (["--range", "0:5"], "--range applies to media input"),
        (["--device", "tpu"], "--device 'tpu' is not one of"),
    ],
)
def test_reason_bad_flags_are_usage_errors(
    run_cli: Run, small_twin_path: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    rollout = write(tmp_path / "rollout.txt", ROLLOUT)
    status, out, err = run_cli(
        "reason", small_twin_path, "q", "--llm", f"replay:{rollout}", "--out", tmp_path / "p.json", *flags
    )
    assert status == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rollout.txt"]


@pytest.mark.parametrize("flag", ["--out", "--trace"])
def test_reason_never_writes_over_the_replayed_rollout(
    run_cli: Run, small_twin_path: Path, tmp_path: Path, flag: str
) -> None:
    rollout = write(tmp_path / "rollout.txt", ROLLOUT)
    outputs = {"--out": tmp_path / "p.json", "--trace": tmp_path / "t.json", flag: rollout}
    status, _, err = run_cli(
        "reason", small_twin_path, "q", "--llm", f"replay:{rollout}", "--overwrite",
        *(str(a) for pair in outputs.items() for a in pair),
    )  # fmt: skip
    assert status == 1 and f"{flag} {rollout} is the rollout --llm replays" in err
    assert rollout.read_text(encoding="utf-8") == ROLLOUT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rollout.txt"]


def test_reason_never_writes_over_the_twin_or_one_output_twice(
    run_cli: Run, small_twin_path: Path, tmp_path: Path
) -> None:
    rollout = write(tmp_path / "rollout.txt", ROLLOUT)
    before = small_twin_path.read_bytes()
    status, _, err = run_cli(
        "reason", small_twin_path, "q", "--llm", f"replay:{rollout}", "--out", small_twin_path, "--overwrite"
    )
    assert status == 1 and "is the source twin" in err
    assert small_twin_path.read_bytes() == before
    same = tmp_path / "both.json"
    status, _, err = run_cli(
        "reason", small_twin_path, "q", "--llm", f"replay:{rollout}", "--out", same, "--trace", same
    )
    assert status == 2 and "--out and --trace are the same file" in err
    assert not same.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--timeout", "0"], "--timeout 0 must be a number of seconds above 0"),
        (["--timeout", "inf"], "--timeout inf must be a number of seconds above 0"),
        (["--cpu", "0"], "--cpu 0 must be at least 1"),
        (["--memory-mb", "10"], "--memory-mb 10 must be at least 64"),
    ],
)
def test_sandbox_limits_are_flags_in_messages(
    run_cli: Run, small_twin_path: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    code = write(tmp_path / "sum.py", "print(sum(range(10)))\n")
    status, out, err = run_cli("sandbox", "run", "--twin", small_twin_path, code, *flags)
    assert status == 2 and out == "" and message in err, err
    assert "SandboxLimits" not in err and "_seconds" not in err and "_bytes" not in err


def test_sandbox_timeout_names_the_flag(run_cli: Run, small_twin_path: Path, tmp_path: Path) -> None:
    code = write(tmp_path / "spin.py", "while True:\n    pass\n")
    status, _, err = run_cli(
        "sandbox", "run", "--twin", small_twin_path, code, "--timeout", "0.5", "--cpu", "30"
    )
    assert status == 1
    assert "the code failed (timeout): it ran longer than 0.5 s; raise --timeout" in err
    assert "wall_seconds" not in err
