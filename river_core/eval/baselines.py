"""Baselines that bracket a reasoner, given to ``river eval`` as ``--llm oracle`` / ``--llm nouns``.

- ``oracle``: the gold answer written as the ``<edit>`` a perfect reasoner would write
  (:func:`river_core.rl.oracle.gold_edit`), turned into a plan by the same code as any rollout. It
  scores 1.0 on every reasoning metric and renders with the same renderer, so it is the ceiling.
- ``nouns``: no reasoning. The targets are every object whose category a word of the query names
  (``blur the ball, but only while the dog touches it`` → the ball *and* the dog, in all their frames);
  the operation is read from the query like any plan's. It finds directly named targets and fails
  where the target is reached through a relation or a time — the floor reasoning must beat.

Both return an :class:`~river_core.reasoning.plan.EditPlan` or raise ``PlanError`` (no valid plan).
"""

from __future__ import annotations

import json
import re
from typing import Final

from river_core.reasoning.edits import plan_from_edit
from river_core.reasoning.plan import EditPlan, PlanError
from river_core.rl.oracle import OracleError, gold_edit
from river_core.rl.tasks import Task
from river_core.twin.schema import TwinDocument

BASELINES: Final = ("oracle", "nouns")
_REMOVE = re.compile(r"\b(?:remove|erase|delete|get rid of)\b", re.I)


def is_baseline(spec: str) -> bool:
    return spec in BASELINES


def baseline_plan(spec: str, task: Task | None, twin: TwinDocument, query: str) -> EditPlan:
    """The plan of baseline ``spec`` for ``query`` on ``twin`` (``task``: the gold, for the oracle)."""
    if spec == "oracle":
        if task is None:
            raise PlanError(["the oracle needs gold target ids (our task format); this task has masks only"])
        try:
            edit = gold_edit(task, twin)
        except OracleError as exc:
            raise PlanError([str(exc)]) from None
        return plan_from_edit(json.dumps(edit), twin, query=query, provenance={"baseline": "oracle"})
    if spec == "nouns":
        return plan_from_edit(
            json.dumps(nouns_edit(twin, query)), twin, query=query, provenance={"baseline": "nouns"}
        )
    raise ValueError(f"unknown baseline {spec!r}; one of {', '.join(BASELINES)}")


def named_categories(twin: TwinDocument, query: str) -> set[str]:
    """The twin's categories a word of ``query`` names (singular or plural, any case).

    >>> # "blur the cups left of the dog" names {"cup", "dog"} when the twin has them
    """
    words = set(re.findall(r"[a-z]+", query.lower()))
    found = set()
    for category in {o.category for e in twin.frames for o in e.objects}:
        name = category.lower()
        if name in words or f"{name}s" in words or f"{name}es" in words:
            found.add(category)
    return found


def nouns_edit(twin: TwinDocument, query: str) -> dict[str, list[dict[str, object]]]:
    """The ``<edit>`` changing every object of a named category (removing them for a removal query)."""
    categories = named_categories(twin, query)
    objects: dict[int, dict[str, object]] = {}
    remove = bool(_REMOVE.search(query))
    for entry in twin.frames:
        for o in entry.objects:
            if o.category in categories and o.id not in objects:
                changed: dict[str, object] = {"id": o.id, "category": o.category}
                if remove:
                    changed.update(attributes=o.attributes, frames=[])
                else:
                    changed["attributes"] = f"{o.attributes}, edited: {query}"
                objects[o.id] = changed
    return {"objects": list(objects.values())}
