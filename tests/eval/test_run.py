"""The eval loop with the baselines (no model, --render none): oracle at 1.0, nouns below it where the
target is reached through a relation or a time, resume after an interruption, the CLI and compare."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from river_core.cli import main
from river_core.eval.datasets import load_dataset
from river_core.eval.report import compare, metrics_csv, write_report
from river_core.eval.run import EvalSettings, evaluate, read_samples

REASONING = ("target_acc", "target_f1", "j", "f", "jf", "tiou")


@pytest.fixture(scope="module")
def runs(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    data = load_dataset(synth_dir, split="train")
    out = tmp_path_factory.mktemp("runs")
    return {b: evaluate(data, out / b, EvalSettings(llm=b)) for b in ("oracle", "nouns")}


def test_oracle_scores_one_on_every_reasoning_metric(runs: dict[str, list[dict]]) -> None:
    assert len(runs["oracle"]) == 11
    for s in runs["oracle"]:
        assert s["valid"], s["error"]
        assert all(s["scores"][k] == 1.0 for k in REASONING), (s["id"], s["scores"])
        assert s["targets"] == s["gold"]


def test_nouns_below_the_oracle_on_relational_and_temporal_tasks(runs: dict[str, list[dict]]) -> None:
    hard = [s for s in runs["nouns"] if s["level"] > 1 or s["category"] == "temporal"]
    assert len(hard) >= 5
    mean = sum(s["scores"]["target_f1"] for s in hard) / len(hard)
    assert mean < 0.9
    assert sum(s["scores"]["target_acc"] for s in hard) < len(hard)
    # It does name categories: every valid nouns plan includes an object of a category the query names.
    assert any(s["scores"]["target_f1"] > 0 for s in runs["nouns"])


def test_compare_pairs_by_task_and_bootstraps(runs: dict[str, list[dict]]) -> None:
    rows = compare(runs["nouns"], runs["oracle"], resamples=500)
    f1 = next(r for r in rows if r["level"] == "all" and r["metric"] == "target F1")
    nouns_f1 = sum(s["scores"]["target_f1"] for s in runs["nouns"]) / 11
    assert f1["a"] == pytest.approx(nouns_f1) and f1["b"] == 1.0
    assert f1["delta"] == pytest.approx(1.0 - nouns_f1)
    assert f1["ci_low"] <= f1["delta"] <= f1["ci_high"] and f1["ci_low"] > 0
    same = compare(runs["oracle"], runs["oracle"])
    assert all(r["delta"] == 0 and r["ci_low"] == r["ci_high"] == 0 for r in same)


def _without_time(samples: list[dict]) -> list[dict]:
    return [{k: v for k, v in s.items() if k != "seconds"} for s in samples]


def _csv_without_time(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]


def test_resume_after_interruption_gives_the_same_report(synth_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synth_dir, split="train")
    whole = evaluate(data, tmp_path / "whole", EvalSettings(llm="nouns", limit=6))
    out = tmp_path / "cut"
    evaluate(data, out, EvalSettings(llm="nouns", limit=4))
    lines = (out / "samples.jsonl").read_text().splitlines()
    (out / "samples.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:25])  # killed mid-line
    assert len(read_samples(out)) == 3
    resumed = evaluate(data, out, EvalSettings(llm="nouns", limit=6))
    assert _without_time(resumed) == _without_time(whole)
    assert _csv_without_time(metrics_csv(resumed)) == _csv_without_time(metrics_csv(whole))
    write_report(out, resumed)
    assert "| L1 |" in (out / "report.md").read_text()
    with pytest.raises(Exception, match="other settings"):
        evaluate(data, out, EvalSettings(llm="oracle"))


def test_cli_eval_and_compare(synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for b in ("oracle", "nouns"):
        assert (
            main(["eval", str(synth_dir), "--split", "train", "--llm", b, "--out", str(tmp_path / b), "-q"])
            == 0
        )
    for name in ("report.md", "metrics.csv", "samples.jsonl", "accuracy.png", "scores.png"):
        assert (tmp_path / "oracle" / name).is_file()
    capsys.readouterr()
    assert main(["eval", "compare", str(tmp_path / "nouns"), str(tmp_path / "oracle"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["metric"] == "J&F" and r["delta"] > 0 for r in rows)
    assert main(["eval", str(tmp_path / "missing"), "--llm", "oracle", "--out", str(tmp_path / "x")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", str(synth_dir), "--llm", "nonsense:x", "--out", str(tmp_path / "y")]) == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--profile", "huge"], "--profile 'huge' is not one of paper, tiny"),
        (["--render", "instant", "--profile", "huge"], "--profile 'huge' is not one of"),
        (["--dtype", "float8"], "invalid choice: 'float8'"),
        (["--device", "tpu"], "--device 'tpu' is not one of"),
        (["--render", "instant", "--judge", "bogus"], "--judge 'bogus' is not understood"),
        (["--judge", "tiny"], "--judge scores rendered edits"),
        (["--limit", "0"], "--limit 0 must be at least 1"),
        (["--workers", "0"], "--workers 0 must be at least 1"),
        (["--max-rounds", "0"], "--max-rounds 0 must be at least 1"),
        (["--seed", "-1"], "--seed -1 must be in 0…"),
    ],
)
def test_cli_eval_refuses_bad_flags_before_any_task(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    out = tmp_path / "report"
    argv = ["eval", str(synth_dir), "--split", "train", "--limit", "1", "--llm", "oracle", "--out", str(out)]
    try:
        status = main([*argv, "-q", *flags])
    except SystemExit as exc:  # argparse's own choices
        status = int(exc.code or 0)
    err = capsys.readouterr().err
    assert status == 2 and message in err, err
    assert not out.exists()  # nothing recorded


@pytest.mark.parametrize("below", ["", "sub"])
def test_cli_eval_refuses_a_file_as_the_report_folder(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], below: str
) -> None:
    file = tmp_path / "clip.mp4"
    file.write_bytes(b"not a folder")
    out = file / below if below else file
    argv = ["eval", str(synth_dir), "--split", "train", "--limit", "1", "--llm", "oracle", "--out", str(out)]
    assert main([*argv, "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err and "internal error" not in err, err
    assert file.read_bytes() == b"not a folder"


def test_a_model_run_counts_its_tokens(synth_dir: Path, tmp_path: Path) -> None:
    """The model path (the reasoner, greedy, one sample): the random tiny model spends its whole token
    budget without a valid plan, and every reasoning metric is 0 for it."""
    data = load_dataset(synth_dir)
    (sample,) = evaluate(data, tmp_path, EvalSettings(llm="tiny", limit=1, max_new_tokens=24, prompt="tiny"))
    assert not sample["valid"] and sample["error"]
    assert sample["tokens"] == 24 and sample["rounds"] == 0
    assert all(sample["scores"][k] == 0.0 for k in REASONING)
    assert json.loads((tmp_path / "run.json").read_text())["llm"] == "tiny"


def test_a_trained_model_gets_its_own_prompt_style(tmp_path: Path) -> None:
    from river_core.eval.run import _trained_prompt

    (tmp_path / "reasoner.json").write_text('{"prompt": "tiny", "max_execute_rounds": 4}')
    assert _trained_prompt(f"transformers:{tmp_path}") == "tiny"
    assert _trained_prompt("tiny") == "full"
    assert _trained_prompt(f"transformers:{tmp_path / 'none'}") == "full"


def test_workers_give_the_same_samples(synth_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synth_dir, split="train")
    one = evaluate(data, tmp_path / "one", EvalSettings(llm="nouns", limit=4))
    two = evaluate(data, tmp_path / "two", EvalSettings(llm="nouns", limit=4, workers=2))
    assert _without_time(two) == _without_time(one)
    assert len((tmp_path / "two" / "samples.jsonl").read_text().splitlines()) == 4
