"""Plans that need no reasoning — explicit targets — and a plan widened to the handles of a range.

An editor who already knows which objects of the twin to change names them (``--targets 3,5`` or a
category, ``--targets dog``) with an operation; :func:`explicit_plan` turns that into the same plan a
query would give, so everything after it (review, masks, render) is one path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from river_core.errors import RiverError
from river_core.media.rational import FrameRange, frames_to_ranges, ranges_text
from river_core.reasoning.plan import TWIN_QUERY, EditPlan, Operation, Target, twin_ref
from river_core.twin.schema import TwinDocument

if TYPE_CHECKING:
    from river_core.request import EditRequest  # the request decides; this module only builds its plan


class TargetError(RiverError, LookupError):
    """An explicit target that is not an object of the twin; the message lists the twin's objects."""


def explicit_plan(twin: TwinDocument, request: EditRequest, frames: FrameRange) -> EditPlan:
    """A plan for explicit targets (object ids or categories of the twin) over their frames in the
    range: one operation, ``request.op`` (an instant operation), or a new look (``prompt``), or the
    targets removed (``remove``)."""
    by_id: dict[int, list[int]] = {}
    category: dict[int, str] = {}
    attributes: dict[int, str] = {}
    for entry in twin.frames:
        if entry.index in frames:
            for obj in entry.objects:
                by_id.setdefault(obj.id, []).append(entry.index)
                category.setdefault(obj.id, obj.category)
                attributes.setdefault(obj.id, obj.attributes)
    known = ", ".join(f"{i} ({category[i]})" for i in sorted(by_id)) or "none"
    chosen: list[int] = []
    for item in request.targets:
        text = item.strip()
        if text.isdigit():
            if int(text) not in by_id:
                raise TargetError(f"object {text} is not in the twin for {frames}; its objects: {known}")
            chosen.append(int(text))
        else:
            matches = [i for i in sorted(by_id) if category[i].lower() == text.lower()]
            if not matches:
                raise TargetError(
                    f"no object of category {text!r} in the twin for {frames}; its objects: {known}"
                )
            chosen.extend(matches)
    targets = [
        Target(
            id=i, category=category[i], attributes=attributes[i], frames=frames_to_ranges(sorted(by_id[i]))
        )
        for i in sorted(set(chosen))
    ]
    action = request.action
    if action != "generate":
        spans = "; ".join(f"object {t.id} ({t.category}) frames {ranges_text(t.frames)}" for t in targets)
        how = action.replace("_", " ") + (f" {request.color}" if request.color else "")
        op = Operation(id="op1", kind=action, targets=targets, color=request.color, prompt=f"{how}: {spans}")
    elif request.remove:
        removed = [
            f"In frame {t.frames[0].start}, object {t.id} with category {t.category} is removed."
            for t in targets
        ]
        op = Operation(id="op1", kind="remove", targets=targets, prompt=" ".join(removed))
    else:
        look = request.prompt or ""
        sentences = [
            f"In frame {t.frames[0].start}, object {t.id} with category {t.category} has attributes {look}."
            for t in targets
        ]
        op = Operation(
            id="op1", kind="appearance", targets=targets, category=targets[0].category, attributes=look,
            prompt=" ".join(sentences),
        )  # fmt: skip
    return EditPlan(
        query=request.prompt or f"{action} {', '.join(request.targets)}",
        twin=twin_ref(twin),
        operations=[op],
        provenance={
            "source": "explicit targets",
            "targets": list(request.targets),
            "op": action,
            TWIN_QUERY: None,
        },
    )


def with_handles(
    op: Operation, twin: TwinDocument, covered: FrameRange, render_frames: FrameRange
) -> Operation:
    """``op`` continued into the frames rendered beyond the twin it was planned on (``covered``): a
    target whose frames reach an end of ``covered`` goes on into the handles for as long as its object
    is there (in ``twin``, which holds the handles), so a trimmed-out frame shows the same edit as its
    neighbour. Inside ``covered`` the plan's frames stand as they are (an editor may have narrowed them)."""
    if not render_frames.minus(covered):
        return op
    present: dict[int, set[int]] = {}
    for entry in twin.frames:
        if entry.index not in covered:
            for obj in entry.objects:
                present.setdefault(obj.id, set()).add(entry.index)
    targets = []
    for t in op.targets:
        here = present.get(t.mask_from if op.kind == "add" and t.mask_from is not None else t.id, set())
        frames = {f for r in t.frames for f in r}
        if covered.start in frames:  # back through the handles before the range
            f = covered.start - 1
            while f >= render_frames.start and f in here:
                frames.add(f)
                f -= 1
        if covered.end - 1 in frames:  # on through the handles after it
            f = covered.end
            while f < render_frames.end and f in here:
                frames.add(f)
                f += 1
        targets.append(t.model_copy(update={"frames": frames_to_ranges(sorted(frames))}))
    return op.model_copy(update={"targets": targets})
