"""The task format: JSON Lines round trip, errors that name the line and field, the schema file, and
``river data schema`` / ``river data check``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from river_core.rl.tasks import Task, TaskFormatError, read_tasks, task_schema, task_schema_text, write_tasks
from river_core.twin.schema import save_twin
from river_core.twin.synthetic import SceneObject, SyntheticScene

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "trainer" / "schemas" / "task.schema.json"


def raw_task(**changes: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "task_version": "1.0",
        "id": "t-0",
        "scene": "s0",
        "split": "train",
        "source": {"twin": "twin.json"},
        "query": "recolor the cup left of the largest plate green",
        "level": 2,
        "category": "spatial",
        "template": "hand",
        "slots": {"relation": "left of"},
        "gold": {
            "targets": [{"id": 1, "frames": [{"start": 0, "end": 3}, {"start": 5, "end": 6}]}],
            "edit": {"op": "recolor", "color": "green"},
            "program": 'target = find("cup")[0]\nprint(target)\n',
        },
    }
    task.update(changes)
    return task


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_round_trip(tmp_path: Path) -> None:
    tasks = [
        Task.model_validate(raw_task()),
        Task.model_validate(
            raw_task(
                id="t-1",
                source={"media": "clips/dog.mp4", "range": "30:120"},
                gold={
                    "targets": [{"id": 3, "frames": [{"start": 30, "end": 90}]}],
                    "edit": {"op": "appearance", "prompt": "look like bronze"},
                    "program": "target = 3\n",
                },
            )
        ),
    ]
    path = write_tasks(tmp_path / "tasks.jsonl", tasks)
    assert len(path.read_text().splitlines()) == 2
    back = read_tasks(path)
    assert back == tasks
    assert back[0].twin_path(tmp_path) == tmp_path / "twin.json" and back[1].twin_path(tmp_path) is None
    assert back[0].to_json() == raw_task()  # nothing added, nothing lost


def test_errors_name_the_line_and_the_field(tmp_path: Path) -> None:
    gold = raw_task()["gold"]
    path = write_lines(
        tmp_path / "bad.jsonl",
        [
            raw_task(),
            "{not json",
            raw_task(id="t-2", level=4),
            raw_task(id="t-3", gold={k: v for k, v in gold.items() if k != "program"}),
            raw_task(id="t-0"),
            raw_task(id="t-5", gold={**gold, "edit": {"op": "recolor"}}),
            raw_task(
                id="t-6",
                gold={
                    **gold,
                    "targets": [{"id": 1, "frames": [{"start": 4, "end": 8}, {"start": 6, "end": 9}]}],
                },
            ),
            raw_task(id="t-7", source={"media": "a.mp4"}),
            raw_task(id="t-8", colour="red"),
        ],
    )
    with pytest.raises(TaskFormatError) as caught:
        read_tasks(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid tasks, 8 problems: ")
    for expected in (
        "line 2: not valid JSON",
        "line 3: level: Input should be less than or equal to 3",
        "line 4: gold.program: required field is missing",
        "line 5: id: 't-0' is already the id of line 1",
        "line 6: gold.edit: a recolor needs its color",
    ):
        assert expected in message, expected
    assert "… and 3 more" in message
    # The rest, one at a time (the message lists five).
    for line, expected in (
        (7, "gold.targets[0].frames: ranges 4:8 and 6:9 overlap"),
        (8, "source.media.range: required field is missing"),
        (9, "colour: unknown field"),
    ):
        single = write_lines(tmp_path / f"bad{line}.jsonl", [path.read_text().splitlines()[line - 1]])
        with pytest.raises(TaskFormatError, match=re.escape("line 1: " + expected)):
            read_tasks(single)


@pytest.mark.parametrize("source", ["twins/x.json", None, [], {"path": "x.json"}])
def test_a_source_that_is_neither_twin_nor_media(tmp_path: Path, source: Any) -> None:
    path = write_lines(tmp_path / "s.jsonl", [raw_task(source=source)])
    with pytest.raises(TaskFormatError, match=re.escape('line 1: source: source must be {"twin": PATH} or')):
        read_tasks(path)


def test_missing_file_and_duplicate_ids_on_write(tmp_path: Path) -> None:
    with pytest.raises(TaskFormatError, match="cannot read the task file"):
        read_tasks(tmp_path / "none.jsonl")
    task = Task.model_validate(raw_task())
    with pytest.raises(TaskFormatError, match="'t-0' is used by tasks 0 and 1"):
        write_tasks(tmp_path / "dup.jsonl", [task, task])
    assert not (tmp_path / "dup.jsonl").exists()


def test_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == task_schema_text(), (
        "trainer/schemas/task.schema.json is stale: river data schema > trainer/schemas/task.schema.json"
    )


def test_schema_works_with_a_standard_validator() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(task_schema())
    assert not list(validator.iter_errors(raw_task()))
    assert not list(validator.iter_errors(raw_task(source={"media": "a.mp4", "range": "0:10"})))
    for bad in (raw_task(level=0), raw_task(category="visual"), raw_task(source={"twin": ""}), raw_task(x=1)):
        assert list(validator.iter_errors(bad)), bad
    assert "task_version" in task_schema()["required"]


@pytest.fixture
def twin_dir(tmp_path: Path) -> Path:
    """A 6-frame twin: object 1 throughout, object 2 in frames 0..2 only."""
    objects = (
        SceneObject(1, "square", "red", 4, 0.3, (10, 10), category="cup"),
        SceneObject(2, "circle", "blue", 4, 0.6, (30, 12), disappear=3, category="plate"),
    )
    scene = SyntheticScene(48, 24, 6, objects=objects)
    save_twin(scene.ground_truth(created="2026-01-01T00:00:00+00:00"), tmp_path / "twin.json")
    return tmp_path


def test_river_data_schema_and_check(run_cli, twin_dir: Path) -> None:
    code, out, _ = run_cli("data", "schema")
    assert code == 0 and out == SCHEMA_FILE.read_text(encoding="utf-8")

    good = write_lines(
        twin_dir / "good.jsonl", [raw_task(), raw_task(id="t-1", split="val", level=1, category="semantic")]
    )
    code, out, err = run_cli("data", "check", good)
    assert code == 0, err
    assert "valid, 2 tasks from 1 scenes" in out and "train" in out and "val" in out
    code, out, _ = run_cli("data", "check", good, "--json")
    counts = json.loads(out)["counts"]
    assert counts["train"]["2"]["spatial"] == 1 and counts["val"]["1"]["semantic"] == 1

    gold = raw_task()["gold"]
    late = {**gold, "targets": [{"id": 2, "frames": [{"start": 0, "end": 5}]}]}  # 2 is gone from frame 3
    for task, expected in (
        (
            raw_task(gold={**gold, "targets": [{"id": 9, "frames": [{"start": 0, "end": 1}]}]}),
            "object 9 is not in",
        ),
        (raw_task(gold=late), "object 2 is absent from frames [3, 4]"),
        (raw_task(source={"twin": "elsewhere.json"}), "elsewhere.json"),
    ):
        code, _, err = run_cli("data", "check", write_lines(twin_dir / "x.jsonl", [task]))
        assert code == 1 and expected in err and len(err.strip().splitlines()) == 1, err

    code, _, err = run_cli("data", "check", write_lines(twin_dir / "y.jsonl", [raw_task(), "[1]"]))
    assert code == 1 and "line 2: a task is a JSON object, not list" in err


@pytest.mark.parametrize("text", ["", "\n  \n"])
@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_river_data_check_refuses_a_file_without_tasks(
    run_cli, tmp_path: Path, text: str, as_json: list[str]
) -> None:
    path = tmp_path / "zero.jsonl"
    path.write_text(text)
    code, out, err = run_cli("data", "check", path, *as_json)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, (out, err)
    assert f"no tasks in {path}" in err and "river data synth" in err
