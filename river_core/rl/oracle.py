"""Oracle rollouts: what a perfect reasoner writes for a task, in the reasoner's exact protocol.

``<think>`` (the prefill) → a short plan → ``<execute>`` the task's real ``gold.program`` (plus a line that
prints the answer) → the ``<results>`` the sandbox really returns for it on the task's twin, injected →
``<think>`` what they show → ``<edit>`` the edited twin that applies the gold operation to the gold targets
and frames. The pieces are tokenized one by one like a live session's (the prompt, prefill and results
with mask 0; the model's own text with mask 1), so SFT on them trains exactly the tokens GRPO samples.

>>> oracle = oracle_rollout(episode, Sandbox())            # doctest: +SKIP
>>> score(oracle.rollout, max_execute_rounds=4).structured.total   # the maximum, 0 + 0 + 0.5
0.5
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from river_core.errors import RiverError
from river_core.media.rational import frames_to_ranges
from river_core.reasoning.llm_transformers import TransformersLLM
from river_core.reasoning.plan import track_frames
from river_core.reasoning.protocol import Segment, results_block
from river_core.reasoning.reasoner import _results_text
from river_core.reasoning.sandbox import Sandbox
from river_core.rl.rollout import Episode, Rollout
from river_core.rl.tasks import Task
from river_core.twin.schema import TwinDocument

# The look each instant operation leaves in the edited twin's attributes: the plan reads the operation
# from the query (river_core.reasoning.intent); the attributes only have to change.
_LOOKS = {
    "blur": "blurred",
    "pixelate": "pixelated",
    "mask_out": "blacked out",
    "highlight": "highlighted",
}


class OracleError(RiverError, ValueError):
    """A task whose gold cannot be written as an oracle rollout (the message says why)."""


@dataclass
class OracleRollout:
    """An oracle rollout: the :class:`Rollout` (ids, env mask, segments, executions) and its pieces."""

    rollout: Rollout
    program: str
    edit: dict[str, Any]


def answer_code(program: str) -> str:
    """The gold program without its own ``print`` lines, plus lines printing the answer and what the
    edit copies from it (the target's category and attributes; its frames when the program sets them).

    Short on purpose: each line is one the policy must learn to write, and a tiny model learns a short,
    regular program far sooner than the gold's commentary (the answer is the same)."""
    lines = [line for line in program.rstrip().splitlines() if not line.lstrip().startswith("print(")]
    lines += [
        "info = object_info(target)",
        'print("target:", target, "|", info["category"], "|", info["attributes"])',
    ]
    if "target_frames" in program:
        lines.append('print("frames:", target_frames)')
    return "\n".join(lines) + "\n"


def gold_edit(task: Task, twin: TwinDocument) -> dict[str, Any]:
    """The ``<edit>`` JSON that applies the task's gold operation to its gold targets and frames.

    Whole-track changes use the per-object form; a removal keeps the frames outside the gold spans
    (``"frames": [[first, last], …]``, empty for a full removal); a look change on part of a track
    needs the per-frame form (every object of those frames, with its own mask and position).
    """
    tracks = track_frames(twin)
    by_id = {o.id: o for e in twin.frames for o in e.objects}
    op = task.gold.edit.op
    objects: list[dict[str, Any]] = []
    partial: dict[int, set[int]] = {}
    for target in task.gold.targets:
        if target.id not in tracks:
            raise OracleError(f"task {task.id}: gold target {target.id} is not in the twin")
        frames = {f for r in target.frames for f in range(r.start, r.end)} & tracks[target.id]
        obj = by_id[target.id]
        if op == "remove":
            keep = sorted(tracks[target.id] - frames)
            runs = [[r.start, r.end - 1] for r in frames_to_ranges(keep)]
            objects.append(
                {"id": obj.id, "category": obj.category, "attributes": obj.attributes, "frames": runs}
            )
        elif frames == tracks[target.id]:
            objects.append(
                {"id": obj.id, "category": obj.category, "attributes": _look(task, obj.attributes)}
            )
        else:
            partial[target.id] = frames
    if op not in ("remove", "appearance", "recolor", *_LOOKS):
        raise OracleError(f"task {task.id}: no oracle edit for the operation {op!r}")
    if not partial:
        return {"objects": objects}
    if objects:
        raise OracleError(f"task {task.id}: mixes whole-track and partial targets; not supported")
    out_frames = []
    for entry in twin.frames:
        if not any(entry.index in f for f in partial.values()):
            continue
        listed = []
        for o in entry.objects:
            changed = entry.index in partial.get(o.id, set())
            s = o.spatial
            listed.append(
                {
                    "id": o.id,
                    "category": o.category,
                    "attributes": _look(task, o.attributes) if changed else o.attributes,
                    "mask": f"mask/{o.id}/{entry.index}",
                    "spatial": {"x": s.x, "y": s.y, "depth": s.depth, "size": s.size},
                }
            )
        out_frames.append({"frame": entry.index, "objects": listed})
    return {"frames": out_frames}


def _look(task: Task, attributes: str) -> str:
    edit = task.gold.edit
    if edit.op == "appearance":
        return edit.prompt or "a new look"
    if edit.op == "recolor":
        return f"recolored {edit.color}"
    return _LOOKS.get(edit.op, f"{attributes}, edited")


def oracle_rollout(llm: TransformersLLM, episode: Episode, sandbox: Sandbox) -> OracleRollout:
    """The oracle rollout of ``episode``: its gold program really runs in ``sandbox`` on the twin."""
    task = episode.task
    if not task.gold.program:
        raise OracleError(f"task {task.id}: no gold.program to execute")
    code = answer_code(task.gold.program)
    result = sandbox.run(code, episode.data)
    if not result.ok:
        raise OracleError(f"task {task.id}: the gold program failed in the sandbox: {result.error}")
    edit = gold_edit(task, episode.twin)
    ids_text = ", ".join(str(t.id) for t in task.gold.targets)
    pieces: list[tuple[str, str]] = [
        ("prefill", episode.prefill),
        ("generated", f"I find the target with the twin functions.\n</think>\n<execute>\n{code}</execute>"),
        ("injected", results_block(_results_text(result))),
        (
            "generated",
            f"<think>\nThe target is object {ids_text}.\n</think>\n"
            f"<edit>\n{json.dumps(edit, separators=(',', ':'))}\n</edit>",
        ),
    ]
    ids: list[int] = []
    mask: list[int] = []
    segments: list[Segment] = []
    for source, text in pieces:
        if not text:
            continue
        piece = llm.encode(text)
        ids += piece
        mask += [1 if source == "generated" else 0] * len(piece)
        segments.append(Segment(source, text))  # type: ignore[arg-type]
    return OracleRollout(Rollout(episode, ids, mask, segments, [result]), code, edit)
