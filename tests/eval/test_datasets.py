"""Dataset loaders on small fixtures of each layout, and their one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from river_core.eval.datasets import DatasetError, load_dataset
from river_core.twin.masks import decode_mask, encode_mask


def _benchmark(folder: Path, *, typed: bool) -> dict[str, np.ndarray]:
    """A ReVOS (``typed``) or MeViS folder: one video of 3 frames, two objects, two expressions."""
    frames = ["00000", "00001", "00002"]
    (folder / "JPEGImages" / "v1").mkdir(parents=True)
    for name in frames:
        Image.fromarray(np.full((16, 24, 3), 90, np.uint8)).save(folder / "JPEGImages" / "v1" / f"{name}.jpg")
    a = np.zeros((16, 24), bool)
    a[2:6, 2:6] = True
    b = np.zeros((16, 24), bool)
    b[8:12, 10:20] = True
    masks = {"7": [encode_mask(a), encode_mask(a), None], "8": [None, encode_mask(b), encode_mask(b)]}
    exps = {
        "0": {"exp": "the  square on the left", "obj_id": [0], "anno_id": [7]},
        "1": {"exp": "everything that moves", "obj_id": [0, 1], "anno_id": [7, 8]},
    }
    if typed:
        exps["0"]["type_id"], exps["1"]["type_id"] = 0, 1
    meta = {"videos": {"v1": {"expressions": exps, "frames": frames}}}
    (folder / "meta_expressions.json").write_text(json.dumps(meta))
    (folder / "mask_dict.json").write_text(json.dumps(masks))
    return {"a": a, "b": b}


def test_our_task_folder_and_file(synth_dir: Path) -> None:
    data = load_dataset(synth_dir, split="train")
    assert data.layout == "tasks" and len(data.tasks) == 11
    task = data.tasks[0]
    assert task.twin is not None and task.twin.is_file()
    assert task.gold_ids == [t.id for t in task.task.gold.targets]  # type: ignore[union-attr]
    assert task.gold_frames and task.all_gold_frames
    assert len(load_dataset(synth_dir / "test.jsonl").tasks) == len(load_dataset(synth_dir).tasks)


def test_revos_layout(tmp_path: Path) -> None:
    m = _benchmark(tmp_path, typed=True)
    data = load_dataset(tmp_path)
    assert data.layout == "revos" and [t.id for t in data.tasks] == ["v1-0", "v1-1"]
    first, second = data.tasks
    assert (first.query, first.level, first.category) == ("the square on the left", 1, "semantic")
    assert (second.level, first.gold_ids, first.range) == (3, None, "0:3")  # reasoning → level 3
    assert sorted(first.gold_masks) == [0, 1]  # frame 2 has no mask of object 7
    assert first.all_gold_frames == {0, 1}
    union = decode_mask(second.gold_masks[1])  # type: ignore[index]
    assert np.array_equal(union, m["a"] | m["b"])
    assert np.array_equal(decode_mask(second.gold_masks[2]), m["b"])  # type: ignore[index]


def test_mevis_layout(tmp_path: Path) -> None:
    _benchmark(tmp_path, typed=False)
    data = load_dataset(tmp_path)
    assert data.layout == "mevis"
    assert {(t.level, t.category) for t in data.tasks} == {(1, "temporal")}


def test_errors_say_what_is_wrong(tmp_path: Path, synth_dir: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match=r"no test\.jsonl and no meta_expressions\.json"):
        load_dataset(tmp_path)
    _benchmark(tmp_path / "b", typed=True)
    (tmp_path / "b" / "mask_dict.json").unlink()
    with pytest.raises(DatasetError, match=r"mask_dict\.json is missing"):
        load_dataset(tmp_path / "b")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DatasetError, match=r"\.jsonl"):
        load_dataset(tmp_path / "x.txt")
    with pytest.raises(DatasetError, match="--split"):
        load_dataset(synth_dir, split="dev")


@pytest.mark.slow
def test_revos_task_through_the_pipeline(tmp_path: Path) -> None:
    """A ReVOS expression end to end with the tiny profile: frames → FFV1 clip → twin → plan → J&F
    against the gold masks. The tiny twin of these flat frames holds bicycles (random tiny detector),
    so the nouns baseline targets them in every frame."""
    from river_core.eval.run import EvalSettings, evaluate

    _benchmark(tmp_path / "revos", typed=True)
    meta_path = tmp_path / "revos" / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    for exp in meta["videos"]["v1"]["expressions"].values():
        exp["exp"] = "blur the bicycles"
    meta_path.write_text(json.dumps(meta))
    samples = evaluate(load_dataset(tmp_path / "revos"), tmp_path / "out", EvalSettings(llm="nouns"))
    assert (tmp_path / "out" / "media" / "v1.mkv").is_file()
    first, second = samples
    assert first["valid"] and first["scores"]["target_acc"] is None  # no gold twin ids in ReVOS
    predicted = {f for text in first["targets"].values() for f in range(*map(int, text.split(":")))}
    assert predicted == {0, 1, 2}
    assert first["scores"]["tiou"] == pytest.approx(2 / 3)  # gold frames 0, 1 (object 7)
    assert second["scores"]["tiou"] == 1.0  # gold frames 0, 1, 2 (objects 7 and 8)
    for s in samples:
        assert 0.0 <= s["scores"]["jf"] <= 1.0
