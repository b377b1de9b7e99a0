"""`river train sft|grpo|report` on bad input: one-line errors (never the internal-error path), and a run
folder that never overwrites what the user owns (``--overwrite`` replaces only RIVER's own run, whole)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from river_core.atomic import MANIFEST, check_replaceable_folder, write_manifest
from river_core.cli import main
from river_core.errors import OutputError

RECIPE = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny-cpu.yaml"
FAST = ["--set", "sft_epochs=0", "--set", "tiny_hidden=16", "--set", "tiny_layers=1", "--no-eval", "-q"]


def _train(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["train", *argv])
    err = capsys.readouterr().err
    return code, err


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("river: error: "), err
    assert "internal error" not in err
    return lines[0]


def _river_run(folder: Path, *, grpo: bool = True) -> Path:
    """A run folder as `river train` leaves it (the manifest lists every file)."""
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text("{}", encoding="utf-8")
    recipe = {"tasks": "synth", "sft_epochs": 1.0, "grpo_lr": 1e-4}
    (folder / "config.json").write_text(json.dumps(recipe), encoding="utf-8")
    (folder / "summary.json").write_text("{}", encoding="utf-8")
    if grpo:
        (folder / "grpo" / "checkpoint-4").mkdir(parents=True)
        (folder / "grpo" / "checkpoint-4" / "trainer_state.json").write_text("{}", encoding="utf-8")
    write_manifest(folder)
    return folder


# -- the run folder --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["sft", "grpo"])
def test_a_folder_river_did_not_write_is_refused_and_kept(
    command: str, tmp_path: Path, synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "own config"}\n', encoding="utf-8")
    (mine / "metrics.jsonl").write_text("my notes\n", encoding="utf-8")
    for extra in ([], ["--overwrite"], ["--resume"]):
        code, err = _train(
            capsys, command, "--config", str(RECIPE), "--out", str(mine), "--set", f"tasks={synth_dir}",
            *FAST, *extra,
        )  # fmt: skip
        line = _one_line_error(err)
        assert code == 1 and "mine/ is not a folder RIVER wrote" in line and "choose another --out" in line
    assert sorted(p.name for p in mine.iterdir()) == ["config.json", "metrics.jsonl"]
    assert (mine / "config.json").read_text(encoding="utf-8") == '{"my": "own config"}\n'
    assert (mine / "metrics.jsonl").read_text(encoding="utf-8") == "my notes\n"


def test_a_file_as_out_is_refused(
    tmp_path: Path, synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video")
    code, err = _train(capsys, "sft", "--config", str(RECIPE), "--out", str(clip), *FAST)
    assert code == 1 and "is a file, and a run folder is written there" in _one_line_error(err)
    assert clip.read_bytes() == b"not really a video"


def test_an_existing_run_needs_overwrite(
    tmp_path: Path, synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _river_run(tmp_path / "run")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    for command in ("sft", "grpo"):
        code, err = _train(
            capsys, command, "--config", str(RECIPE), "--out", str(run), "--set", f"tasks={synth_dir}", *FAST
        )
        assert code == 1 and "holds a RIVER training run already; pass --overwrite" in _one_line_error(err)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    code, err = _train(capsys, "sft", "--config", str(RECIPE), "--out", str(run), "--overwrite", "--resume")
    assert code == 2 and "pass only one" in _one_line_error(err)


def test_a_river_run_with_a_file_of_the_users_is_refused_even_with_overwrite(
    tmp_path: Path, synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _river_run(tmp_path / "run")
    (run / "notes.txt").write_text("mine", encoding="utf-8")
    code, err = _train(
        capsys, "sft", "--config", str(RECIPE), "--out", str(run), "--set", f"tasks={synth_dir}", *FAST,
        "--overwrite",
    )  # fmt: skip
    assert code == 1 and "holds files RIVER did not write (notes.txt)" in _one_line_error(err)
    assert (run / "notes.txt").read_text(encoding="utf-8") == "mine" and (run / "grpo").is_dir()


def test_overwrite_replaces_the_run_whole(
    tmp_path: Path, synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _river_run(tmp_path / "run")
    code, err = _train(
        capsys, "sft", "--config", str(RECIPE), "--out", str(run), "--set", f"tasks={synth_dir}", *FAST,
        "--overwrite",
    )  # fmt: skip
    assert code == 0, err
    assert not (run / "grpo").exists()  # no stale GRPO checkpoints beside the new model
    assert (run / "model" / "reasoner.json").is_file() and (run / "summary.json").is_file()
    assert json.loads((run / "config.json").read_text(encoding="utf-8"))["tiny_hidden"] == 16
    check_replaceable_folder(run)  # the manifest lists every file: the next --overwrite may replace it
    assert (run / MANIFEST).is_file()
    assert "Writing model shards" not in err and "%|" not in err  # -q: no progress bars


def test_grpo_continues_an_sft_run_and_resume_continues_any_run(tmp_path: Path) -> None:
    from river_core.rl.grpo import prepare_run_folder

    run = _river_run(tmp_path / "run", grpo=False)
    (run / "sft").mkdir()
    (run / "sft" / "config.json").write_text("{}", encoding="utf-8")
    write_manifest(run)
    prepare_run_folder(run, grpo=True, resume=False, overwrite=False)  # GRPO after `train sft`
    assert (run / "sft" / "config.json").is_file()
    with pytest.raises(OutputError, match="pass --overwrite"):
        prepare_run_folder(run, grpo=False, resume=False, overwrite=False)
    (run / "grpo").mkdir()
    write_manifest(run)
    prepare_run_folder(run, grpo=True, resume=True, overwrite=False)
    assert (run / "grpo").is_dir() and (run / "sft").is_dir()


# -- the recipe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipe", "sets", "message"),
    [
        (b"\x8f\xfe\x00\x91 random bytes \xff", [], "is not text (not UTF-8)"),
        (b"a: [1, 2\n  b: :\n", [], "is not valid YAML: line 2, column 4: "),
        (b"", [], "is empty; give a YAML recipe"),
        (b"# only a comment\n", [], "is empty; give a YAML recipe"),
        (b"[]\n", [], "is not a mapping of keys to values (it holds a list)"),
        (b"- tasks\n", [], "is not a mapping of keys to values (it holds a list)"),
        (RECIPE.read_bytes(), ["sft_batch_size=0"], "`sft_batch_size` must be at least 1, got 0"),
        (RECIPE.read_bytes(), ["batch_size=0"], "`batch_size` must be at least 1, got 0"),
        (RECIPE.read_bytes(), ["gradient_accumulation_steps=0"], "`gradient_accumulation_steps` must be at"),
        (RECIPE.read_bytes(), ["logging_steps=0"], "`logging_steps` must be at least 1, got 0"),
        (RECIPE.read_bytes(), ["max_eval_tasks=0"], "`max_eval_tasks` must be at least 1 or null, got 0"),
        (RECIPE.read_bytes(), ["max_completion_tokens=-3"], "`max_completion_tokens` must be at least 1"),
        (RECIPE.read_bytes(), ["grpo_max_steps=0"], "`grpo_max_steps` must be at least 1 (or -1"),
        (RECIPE.read_bytes(), ["temperature=0"], "`temperature` must be more than 0"),
        (RECIPE.read_bytes(), ["top_p=0"], "`top_p` must be more than 0"),
    ],
)
def test_a_bad_recipe_is_one_line_naming_the_fault(
    recipe: bytes, sets: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_bytes(recipe)
    overrides = [arg for s in sets for arg in ("--set", s)]
    for command in ("sft", "grpo"):
        code, err = _train(capsys, command, "--config", str(path), "--out", str(tmp_path / "run"), *overrides)
        assert code == 2 and message in _one_line_error(err)
    assert not (tmp_path / "run").exists()


def test_a_folder_as_config_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _train(capsys, "sft", "--config", str(tmp_path), "--out", str(tmp_path / "run"))
    assert code == 2 and "is a folder; give a recipe file" in _one_line_error(err)


def test_library_deprecation_warnings_are_hidden_unless_debug(tmp_path: Path) -> None:
    from river_core.cli.train import _library_warnings
    from river_core.rl.config import TrainConfig
    from river_core.rl.grpo import grpo_args

    config = TrainConfig(tasks=str(tmp_path), device="cpu", batch_size=4, num_generations=2)
    for shown in (True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _library_warnings(shown=shown):
                grpo_args(config, tmp_path / "grpo")
        future = [w for w in caught if issubclass(w.category, FutureWarning)]
        assert bool(future) == shown, [str(w.message) for w in caught]


# -- report ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"hello, not a summary\n", b"\xff\xfe\x00 bytes", b"[1, 2]\n"])
def test_report_on_a_file_that_is_not_a_summary(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(content)
    code, err = _train(capsys, "report", str(notes))
    assert code == 2 and "is not the summary.json `river train` writes" in _one_line_error(err)


def test_other_river_output_is_not_continued_and_the_tasks_folder_is_never_out(
    tmp_path: Path, synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from river_core.rl.grpo import prepare_run_folder

    other = tmp_path / "other"  # a folder RIVER wrote, but not a training run (e.g. `river data synth`)
    other.mkdir()
    (other / "train.jsonl").write_text("", encoding="utf-8")
    write_manifest(other)
    with pytest.raises(OutputError, match=r"holds other RIVER output \(not a training run\)"):
        prepare_run_folder(other, grpo=True, resume=False, overwrite=False)
    with pytest.raises(OutputError, match=r"holds other RIVER output"):
        prepare_run_folder(other, grpo=True, resume=True, overwrite=False)
    assert sorted(p.name for p in other.iterdir()) == [MANIFEST, "train.jsonl"]
    before = sorted(p.relative_to(synth_dir) for p in synth_dir.rglob("*"))
    for out in (synth_dir, synth_dir.parent):
        code, err = _train(
            capsys, "sft", "--config", str(RECIPE), "--out", str(out), "--set", f"tasks={synth_dir}", *FAST,
            "--overwrite",
        )  # fmt: skip
        assert code == 1 and "holds the tasks folder" in _one_line_error(err)
    assert sorted(p.relative_to(synth_dir) for p in synth_dir.rglob("*")) == before


def test_sft_without_a_rollout_that_fits_names_the_key(
    tmp_path: Path, synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _train(
        capsys, "sft", "--config", str(RECIPE), "--out", str(tmp_path / "run"), "--set", f"tasks={synth_dir}",
        *FAST, "--set", "sft_epochs=1", "--set", "max_completion_tokens=16",
    )  # fmt: skip
    line = _one_line_error(err)
    assert code == 1 and "no oracle rollout for SFT" in line and "`max_completion_tokens` = 16" in line
