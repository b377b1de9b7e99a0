"""``river data synth``: tasks with exact answers from synthetic scenes, split by scene.

1. Scene ``k`` of a seed is drawn (:func:`river_core.rl.scenes.make_scene`) with its exact twin.
2. Every template (:data:`river_core.rl.templates.TEMPLATES`) proposes target descriptions; each one's
   program runs on the twin through the twin API, and only robust, unambiguous, non-trivial answers
   stay. The scene contributes up to :data:`TASKS_PER_SCENE` tasks, one per (level, category) cell,
   the cells and templates least used so far first, so levels and categories stay balanced.
3. Each task gets an edit (an instant operation, a new look or a removal) phrased in its query.
4. Scenes (never single tasks) are dealt to train/val/test, so no scene is in two splits.

The same seed gives the same bytes: every draw comes from a generator seeded by ``(seed, scene)``.

>>> data = synthesize(200, seed=0)                               # doctest: +SKIP
>>> write_dataset(data, Path("synth"))                           # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from river_core.atomic import atomic_path
from river_core.media.rational import frames_to_ranges
from river_core.progress import CancelToken, ProgressCallback, check, report
from river_core.rl.scenes import make_scene, scene_id
from river_core.rl.tasks import CATEGORIES, LEVELS, SPLITS, TASK_VERSION, Task, tasks_text
from river_core.rl.templates import TEMPLATES, Answer, Draft, SceneFacts, Template, answers
from river_core.twin.schema import TwinDocument, twin_json_text

TASKS_PER_SCENE: Final = 8
DEFAULT_SPLIT: Final = (0.8, 0.1, 0.1)
# Edits drawn for the tasks: instant operations, a new look (generative), a removal.
EDIT_KINDS: Final = ("appearance", "blur", "pixelate", "mask_out", "recolor", "highlight", "remove")
LOOKS: Final = ("bronze", "gold", "marble", "glass", "wood", "chrome", "stone")
RECOLORS: Final = ("green", "blue", "gold", "purple", "orange", "teal", "pink", "silver", "crimson")


@dataclass(frozen=True)
class SceneTasks:
    """One scene: its id, twin, and tasks (split filled in when scenes are dealt)."""

    id: str
    twin: TwinDocument
    tasks: list[dict[str, Any]]


@dataclass(frozen=True)
class Dataset:
    seed: int
    n: int
    levels: tuple[int, ...]
    split: tuple[float, float, float]
    scenes: list[SceneTasks]
    split_of: dict[str, str]
    tasks: dict[str, list[Task]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts per split × level × category (what ``summary.json`` holds)."""
        counts: dict[str, Any] = {}
        for split in SPLITS:
            tasks = self.tasks[split]
            cells = Counter((t.level, t.category) for t in tasks)
            counts[split] = {
                "scenes": sum(1 for s in self.split_of.values() if s == split),
                "tasks": len(tasks),
                "levels": {str(level): {c: cells[(level, c)] for c in CATEGORIES} for level in self.levels},
                "templates": dict(sorted(Counter(t.template for t in tasks).items())),
            }
        return {
            "task_version": TASK_VERSION,
            "seed": self.seed,
            "n": self.n,
            "levels": list(self.levels),
            "split": dict(zip(SPLITS, self.split, strict=True)),
            "splits": counts,
        }


def check_split(split: Sequence[float]) -> tuple[float, float, float]:
    """Train/val/test fractions: three numbers ≥ 0 summing to 1, train above 0."""
    values = tuple(float(x) for x in split)
    if len(values) != 3 or any(not np.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"split {split} must be three fractions ≥ 0 for train, val, test, e.g. 0.8,0.1,0.1")
    if abs(sum(values) - 1.0) > 1e-6 or values[0] <= 0:
        raise ValueError(f"split {split} must sum to 1 with a train fraction above 0, e.g. 0.8,0.1,0.1")
    return values[0], values[1], values[2]


def synthesize(
    n: int,
    seed: int,
    *,
    levels: Sequence[int] = LEVELS,
    split: Sequence[float] = DEFAULT_SPLIT,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Dataset:
    """``n`` tasks of the given levels from scenes of ``seed``, dealt to splits by scene."""
    # 1. Check the arguments.
    if n < 1:
        raise ValueError(f"`n` must be at least 1 task, got {n}")
    if seed < 0:
        raise ValueError(f"`seed` must be 0 or more, got {seed}")
    chosen = tuple(sorted(set(levels)))
    if not chosen or not set(chosen) <= set(LEVELS):
        raise ValueError(f"`levels` {list(levels)} must be some of {list(LEVELS)}")
    fractions = check_split(split)
    templates = [t for t in TEMPLATES if t.level in chosen]
    # 2. Scenes, until there are n tasks.
    cells: Counter[tuple[int, str]] = Counter()
    used: Counter[str] = Counter()
    scenes: list[SceneTasks] = []
    total = 0
    for index in range(4 * n + 16):
        if total >= n:
            break
        check(cancel)
        _, twin = make_scene(seed, index)
        rng = np.random.default_rng([seed, index, 1])
        facts = SceneFacts(twin)
        picked = _pick(facts, templates, cells, used, rng, min(TASKS_PER_SCENE, n - total))
        name = scene_id(seed, index)
        tasks = [
            _task(name, j, template, draft, answer, _edit(rng, facts.color[answer.target]))
            for j, (template, draft, answer) in enumerate(picked)
        ]
        if tasks:
            scenes.append(SceneTasks(name, twin, tasks))
            total += len(tasks)
        report(progress, "synth", total, n, "task")
    if total < n:
        raise RuntimeError(f"only {total} of {n} tasks from {4 * n + 16} scenes; this is a bug")
    # 3. Deal the scenes to the splits.
    split_of = _deal([s.id for s in scenes], fractions, seed)
    by_split: dict[str, list[Task]] = {s: [] for s in SPLITS}
    for scene in scenes:
        for raw in scene.tasks:
            by_split[split_of[scene.id]].append(Task.model_validate({**raw, "split": split_of[scene.id]}))
    return Dataset(seed, n, chosen, fractions, scenes, split_of, by_split)


def _pick(
    facts: SceneFacts,
    templates: list[Template],
    cells: Counter[tuple[int, str]],
    used: Counter[str],
    rng: np.random.Generator,
    limit: int,
) -> list[tuple[Template, Draft, Answer]]:
    """Up to ``limit`` tasks of one scene, one per cell, the least used cells and templates first."""
    order = {cell: i for i, cell in enumerate(dict.fromkeys((t.level, t.category) for t in templates))}
    picked: list[tuple[Template, Draft, Answer]] = []
    for cell in sorted(order, key=lambda c: (cells[c], order[c])):
        if len(picked) >= limit:
            break
        members = sorted(
            (t for t in templates if (t.level, t.category) == cell), key=lambda t: (used[t.name], t.name)
        )
        for template in members:
            found = answers(facts, template)
            if found:
                draft, answer = found[int(rng.integers(len(found)))]
                picked.append((template, draft, answer))
                cells[cell] += 1
                used[template.name] += 1
                break
    return picked


def _edit(rng: np.random.Generator, color: str) -> dict[str, Any]:
    """An edit for a target of ``color``: a recolor never asks for the color it already has."""
    kind = str(rng.choice(EDIT_KINDS))
    edit: dict[str, Any] = {"op": kind}
    if kind == "recolor":
        edit["color"] = str(rng.choice([c for c in RECOLORS if c != color]))
    elif kind == "appearance":
        edit["prompt"] = f"look like {rng.choice(LOOKS)}"
    return edit


def _task(
    scene: str, j: int, template: Template, draft: Draft, answer: Answer, edit: dict[str, Any]
) -> dict[str, Any]:
    """The task's JSON (without its split)."""
    return {
        "task_version": TASK_VERSION,
        "id": f"{scene}-{j:02d}",
        "scene": scene,
        "source": {"twin": f"twins/{scene}.json"},
        "query": phrase_query(draft.what, draft.when, edit),
        "level": template.level,
        "category": template.category,
        "template": template.name,
        "slots": draft.slots,
        "gold": {
            "targets": [
                {"id": answer.target, "frames": [r.to_json() for r in frames_to_ranges(answer.frames)]}
            ],
            "edit": edit,
            "program": draft.program,
        },
    }


def phrase_query(what: str, when: str, edit: dict[str, Any]) -> str:
    """The request as an editor types it: the edit's verb, the target description, the time clause.

    >>> phrase_query("the red cup", "", {"op": "recolor", "color": "green"})
    'recolor the red cup green'
    >>> phrase_query("the ball", "while the dog touches it", {"op": "blur"})
    'blur the ball, but only while the dog touches it'
    """
    op = edit["op"]
    query = {
        "appearance": f"make {what} {edit.get('prompt', '')}",
        "recolor": f"recolor {what} {edit.get('color', '')}",
        "mask_out": f"black out {what}",
    }.get(op, f"{op} {what}")
    return f"{query}, but only {when}" if when else query


def _deal(scenes: list[str], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """Each scene's split: shuffled, then cut by the fractions (every split with a share gets a scene
    when there are enough scenes)."""
    count = len(scenes)
    exact = [f * count for f in fractions]
    sizes = [int(x) for x in exact]
    for i in sorted(range(3), key=lambda i: (sizes[i] - exact[i], i))[: count - sum(sizes)]:
        sizes[i] += 1
    wanted = [i for i in range(3) if fractions[i] > 0]
    for i in wanted:
        if sizes[i] == 0 and count >= len(wanted):
            donor = max(range(3), key=lambda k: (sizes[k], -k))
            sizes[donor] -= 1
            sizes[i] += 1
    shuffled = [scenes[i] for i in np.random.default_rng([seed, 0x5B11]).permutation(count)]
    out: dict[str, str] = {}
    start = 0
    for split, size in zip(SPLITS, sizes, strict=True):
        for name in shuffled[start : start + size]:
            out[name] = split
        start += size
    return out


def write_dataset(data: Dataset, out: Path | str, *, overwrite: bool = False) -> Path:
    """Write ``out/`` atomically: ``twins/<scene>.json``, ``train|val|test.jsonl``, ``summary.json``.

    ``overwrite`` replaces only a folder RIVER wrote (see :mod:`river_core.atomic`).
    """
    out = Path(out)
    with atomic_path(out, directory=True, overwrite=overwrite) as tmp:
        (tmp / "twins").mkdir()
        for scene in data.scenes:
            (tmp / "twins" / f"{scene.id}.json").write_text(twin_json_text(scene.twin), encoding="utf-8")
        for split in SPLITS:
            (tmp / f"{split}.jsonl").write_text(tasks_text(data.tasks[split]), encoding="utf-8")
        summary = json.dumps(data.summary(), indent=2) + "\n"
        (tmp / "summary.json").write_text(summary, encoding="utf-8")
    return out
