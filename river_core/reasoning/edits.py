"""Reading the ``<edit>`` block: edited twin → validated diff → :class:`~river_core.reasoning.plan.EditPlan`.

The LLM writes the edited twin D' inside ``<edit>``. Three shapes are read, each in the schema of a
view the LLM was shown:

- **per frame** (the paper's format, ``river twin view --format paper``)::

      {"frames": [{"frame": 12, "objects": [{"id": 3, "category": "dog", "attributes": "bronze dog",
                   "mask": "mask/3/12", "spatial": {"x": 0.41, "y": 0.62, "depth": 0.3, "size": 0.05}}]}]}

  A listed frame is the whole new content of that frame: an original object left out is removed
  there. Frames not listed are unchanged.
- **per object** (the compact view's track records; ``"tracks"`` as in a twin file reads the same)::

      {"objects": [{"id": 3, "category": "dog", "attributes": "a bronze statue of a dog"}]}

  The new category and attributes hold in every frame where the object exists; an optional
  ``"frames": [[first, last], …]`` (inclusive runs) lists where it remains, so frames it loses are
  removed. Objects not listed are unchanged. Adding objects needs the per-frame shape.
- **a whole twin document** (``schema_version`` present), as ``river twin validate`` reads it; its masks
  must be the original's.

Validity (:func:`edit_problems`): the JSON parses; every object instance has the required fields with
the original's types and nothing else (the paper's R_dt criteria, :func:`edit_schema_problems`); ids
exist in the original, except new objects when adding is allowed; an existing object keeps its own
mask, a new one borrows an original mask of the same frame; frames exist in the twin. The diff against
the original becomes :class:`EditPlan` operations, each with targets, frame spans and the paper's prompt
template ("In frame t, object i with category c has attributes a.").
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from river_core.errors import RiverError
from river_core.media.rational import frames_to_ranges, ranges_text
from river_core.reasoning.intent import REDACTION, instant_intent
from river_core.reasoning.plan import (
    EditPlan,
    Kind,
    Operation,
    PlanError,
    SpatialKey,
    Target,
    Trace,
    track_frames,
    twin_ref,
)
from river_core.reasoning.view import mask_ref, parse_mask_ref
from river_core.twin.schema import TwinDocument, summarize_tracks

# The paper view rounds spatial values to 3 decimals; a change smaller than this is copying noise.
SPATIAL_TOLERANCE: Final = 0.002
_ADD_WORDS = re.compile(r"\b(add|adds|adding|insert|put|place|include|introduce|draw)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _State:
    category: str
    attributes: str
    mask: tuple[int, int]  # (object id, frame) of an original mask
    spatial: tuple[float, float, float, float]  # x, y, depth, size


_OBJECT_FIELDS = {"id": int, "category": str, "attributes": str, "mask": str, "spatial": dict}
_SPATIAL_FIELDS = ("x", "y", "depth", "size")
_TRACK_FIELDS = {"id": int, "category": str, "attributes": str}
# Fields of the twin's track summaries; accepted in per-object edits when they agree with the twin.
_SUMMARY_FIELDS = ("first_frame", "last_frame", "frame_count")


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def parse_edit_json(text: str) -> tuple[Any, list[str]]:
    """The JSON value of an ``<edit>`` body, or the parse problem. Code fences are tolerated."""
    body = text.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fence:
        body = fence.group(1)
    try:
        return json.loads(body), []
    except json.JSONDecodeError as exc:
        return None, [f"the edit is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]


def edit_schema_problems(text: str | None) -> list[str]:
    """The paper's R_dt checks: the edit parses as JSON, and every object instance has every required
    field with the original's type and no others. Empty list = valid."""
    if text is None:
        return ["no <edit> block"]
    data, problems = parse_edit_json(text)
    if problems:
        return problems
    return _shape_problems(data)


def _shape_problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return [f'the edit is a JSON {_type_name(data)}; write an object with "frames" or "objects"']
    if "schema_version" in data:
        from river_core.twin.schema import validate_twin

        try:
            validate_twin(data)
        except RiverError as exc:
            return [str(exc)]
        return []
    if "frames" in data:
        return _frames_shape_problems(data)
    if "objects" in data or "tracks" in data:
        return _objects_shape_problems(data)
    return ['the edit has neither "frames" (per-frame twin) nor "objects" (per-object edits)']


def _objects_key(data: dict[str, Any]) -> str:
    # The twin document's own "tracks" summaries read the same as per-object edits.
    return "objects" if "objects" in data else "tracks"


def _fields_problems(
    obj: Any, where: str, fields: Mapping[str, type], optional: Iterable[str] = ()
) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: a JSON object is expected, got {_type_name(obj)}"]
    problems = []
    for name, kind in fields.items():
        if name not in obj:
            problems.append(f"{where}.{name}: required field is missing")
        elif not _is(obj[name], kind):
            problems.append(
                f"{where}.{name}: {_type_name(obj[name])} where the twin has {_type_name(kind())}"
            )
    extra = sorted(set(obj) - set(fields) - set(optional))
    if extra:
        problems.append(f"{where}: unknown field(s) {extra} not in the twin's schema")
    return problems


def _frames_shape_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    extra = sorted(set(data) - {"frames", "video"})
    if extra:
        problems.append(f"unknown top-level field(s) {extra}")
    frames = data["frames"]
    if not isinstance(frames, list):
        return [*problems, f"frames: an array is expected, got {_type_name(frames)}"]
    for fi, entry in enumerate(frames):
        at = f"frames[{fi}]"
        problems += _fields_problems(entry, at, {"frame": int, "objects": list})
        if not isinstance(entry, dict) or not isinstance(entry.get("objects"), list):
            continue
        for oi, obj in enumerate(entry["objects"]):
            where = f"{at}.objects[{oi}]"
            problems += _fields_problems(obj, where, _OBJECT_FIELDS)
            spatial = obj.get("spatial") if isinstance(obj, dict) else None
            if isinstance(spatial, dict):
                for name in _SPATIAL_FIELDS:
                    value = spatial.get(name)
                    if name not in spatial:
                        problems.append(f"{where}.spatial.{name}: required field is missing")
                    elif not (_is(value, float) or _is(value, int)):
                        problems.append(
                            f"{where}.spatial.{name}: {_type_name(value)} where the twin has number"
                        )
                extra = sorted(set(spatial) - set(_SPATIAL_FIELDS))
                if extra:
                    problems.append(f"{where}.spatial: unknown field(s) {extra}")
    return problems


def _objects_shape_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    key = _objects_key(data)
    extra = sorted(set(data) - {key})
    if extra:
        problems.append(f"unknown top-level field(s) {extra}")
    objects = data[key]
    if not isinstance(objects, list):
        return [*problems, f"{key}: an array is expected, got {_type_name(objects)}"]
    for oi, obj in enumerate(objects):
        where = f"{key}[{oi}]"
        problems += _fields_problems(obj, where, _TRACK_FIELDS, optional=("frames", *_SUMMARY_FIELDS))
        for name in _SUMMARY_FIELDS:
            if isinstance(obj, dict) and name in obj and not _is(obj[name], int):
                problems.append(f"{where}.{name}: {_type_name(obj[name])} where the twin has integer")
        runs = obj.get("frames") if isinstance(obj, dict) else None
        if runs is not None and not (
            isinstance(runs, list)
            and all(isinstance(r, list) and len(r) == 2 and all(_is(v, int) for v in r) for r in runs)
        ):
            problems.append(f"{where}.frames: a list of [first, last] frame pairs is expected")
    return problems


def _original_states(doc: TwinDocument) -> dict[int, dict[int, _State]]:
    out: dict[int, dict[int, _State]] = {}
    for entry in doc.frames:
        out[entry.index] = {
            o.id: _State(
                o.category,
                o.attributes,
                (o.id, entry.index),
                (o.spatial.x, o.spatial.y, o.spatial.depth, o.spatial.size),
            )
            for o in entry.objects
        }
    return out


def edited_states(
    data: Any, original: TwinDocument, *, allow_add: bool
) -> tuple[dict[int, dict[int, _State]], list[str]]:
    """The frames an edit touches, as {frame: {id: state}}, and every reference problem."""
    before = _original_states(original)
    frame_list = sorted(before)
    span = f"{frame_list[0]}..{frame_list[-1]}" if frame_list else "none"
    tracks = track_frames(original)
    problems: list[str] = []
    after: dict[int, dict[int, _State]] = {}
    if "schema_version" in data:
        data = _twin_as_frames(data, original, problems)
    if ("objects" in data or "tracks" in data) and "frames" not in data:
        key = _objects_key(data)
        summaries = {t.id: t for t in summarize_tracks(original.frames)}
        seen: set[int] = set()
        for oi, item in enumerate(data[key]):
            oid = item["id"]
            if oid not in tracks:
                problems.append(
                    f"{key}[{oi}].id: object {oid} does not exist (ids are {sorted(tracks)}); "
                    "to add an object use the per-frame form with a mask borrowed from the original"
                )
                continue
            if oid in seen:
                problems.append(f"{key}[{oi}].id: object {oid} is listed twice")
                continue
            seen.add(oid)
            for name in _SUMMARY_FIELDS:
                truth = getattr(summaries[oid], name)
                if name in item and item[name] != truth:
                    problems.append(
                        f"{key}[{oi}].{name}: the twin says {truth}, got {item[name]}; "
                        'to keep the object in fewer frames write "frames": [[first, last], …]'
                    )
            keep = tracks[oid]
            if "frames" in item:
                wanted = {f for a, b in item["frames"] for f in range(a, b + 1)}
                outside = sorted(wanted - tracks[oid])
                if outside:
                    problems.append(
                        f"{key}[{oi}].frames: object {oid} is absent in frames "
                        f"{ranges_text(frames_to_ranges(outside))}; an edit cannot extend a track"
                    )
                keep = wanted & tracks[oid]
            for frame in sorted(tracks[oid]):
                states = after.setdefault(frame, dict(before[frame]))
                if frame in keep:
                    old = before[frame][oid]
                    states[oid] = _State(item["category"], item["attributes"], old.mask, old.spatial)
                else:
                    states.pop(oid, None)
        return after, problems
    video = data.get("video")
    if video is not None:
        fr = original.video.frame_range
        if not isinstance(video, dict) or video.get("frame_range", [fr.start, fr.end]) != [fr.start, fr.end]:
            problems.append("video: differs from the original; an edit changes objects, not the source")
    for fi, entry in enumerate(data["frames"]):
        t = entry["frame"]
        if t not in before:
            problems.append(f"frames[{fi}].frame: {t} is not in the twin (frames {span})")
            continue
        if t in after:
            problems.append(f"frames[{fi}].frame: frame {t} is listed twice")
            continue
        frame_states: dict[int, _State] = {}
        for oi, obj in enumerate(entry["objects"]):
            where = f"frames[{fi}].objects[{oi}]"
            oid = obj["id"]
            if oid in frame_states:
                problems.append(f"{where}.id: object {oid} appears twice in frame {t}")
                continue
            ref = parse_mask_ref(obj["mask"])
            sp = obj["spatial"]
            spatial = (float(sp["x"]), float(sp["y"]), float(sp["depth"]), float(sp["size"]))
            if any(not 0.0 <= v <= 1.0 for v in spatial):
                problems.append(f"{where}.spatial: values must lie in [0, 1], got {list(spatial)}")
            if ref is None or ref[1] not in before or ref[0] not in before[ref[1]]:
                problems.append(
                    f"{where}.mask: {obj['mask']!r} is not a mask of the original twin; masks come only from "
                    f"the original, written {mask_ref(oid, t)!r}"
                )
                continue
            if oid in before[t]:
                if ref != (oid, t):
                    problems.append(
                        f"{where}.mask: object {oid} must keep its own mask {mask_ref(oid, t)!r}, "
                        f"not {obj['mask']!r}"
                    )
                    continue
            elif oid in tracks:
                problems.append(
                    f"{where}.id: object {oid} is not in frame {t} of the original; an edit cannot extend "
                    "a track (masks come only from the original)"
                )
                continue
            elif not allow_add:
                problems.append(
                    f"{where}.id: object {oid} is new, but the query does not ask to add anything; "
                    f"refer to existing ids {sorted(tracks)}"
                )
                continue
            elif ref[1] != t:
                problems.append(f"{where}.mask: a new object in frame {t} must borrow a mask of frame {t}")
                continue
            if not obj["category"].strip():
                problems.append(f"{where}.category: empty")
            frame_states[oid] = _State(obj["category"], obj["attributes"], ref, spatial)
        after[t] = frame_states
    return after, problems


def _twin_as_frames(data: dict[str, Any], original: TwinDocument, problems: list[str]) -> dict[str, Any]:
    """A whole twin document as a per-frame edit; masks must equal the original's, bit for bit."""
    from river_core.twin.schema import validate_twin

    doc = validate_twin(data)
    masks = {(o.id, e.index): o.mask.rle.counts for e in original.frames for o in e.objects}
    frames = []
    for entry in doc.frames:
        objects = []
        for obj in entry.objects:
            key = (obj.id, entry.index)
            if masks.get(key) != obj.mask.rle.counts:
                owner = next(
                    (k for k, v in masks.items() if k[1] == entry.index and v == obj.mask.rle.counts), None
                )
                if owner is None:
                    problems.append(
                        f"frame {entry.index}, object {obj.id}: its mask is not a mask of the original twin"
                    )
                    continue
                key = owner
            s = obj.spatial
            objects.append(
                {
                    "id": obj.id,
                    "category": obj.category,
                    "attributes": obj.attributes,
                    "mask": mask_ref(*key),
                    "spatial": {"x": s.x, "y": s.y, "depth": s.depth, "size": s.size},
                }
            )
        frames.append({"frame": entry.index, "objects": objects})
    return {"frames": frames}


# -- diff → plan -----------------------------------------------------------------------------------


def allows_add(query: str) -> bool:
    """Whether ``query`` explicitly asks to add something (new objects are accepted only then)."""
    return bool(_ADD_WORDS.search(query))


def instant_operation(op: Operation, query: str) -> Operation:
    """``op`` as the instant operation its query (or its new attributes) asks for, if it does:
    a changed look becomes that operation; a removal becomes redaction when the query redacts.
    Generative otherwise ("look like bronze" stays an appearance change for the video model)."""
    if op.kind not in ("appearance", "replace", "remove"):
        return op
    intent = instant_intent(query) or instant_intent(op.attributes)
    if intent is None or (op.kind == "remove" and intent.kind not in REDACTION):
        return op
    spans = "; ".join(f"object {t.id} ({t.category}) frames {ranges_text(t.frames)}" for t in op.targets)
    color = f" {intent.color}" if intent.color else ""
    return op.model_copy(
        update={
            "kind": intent.kind,
            "color": intent.color,
            "category": None,
            "attributes": None,
            "prompt": f"{intent.kind.replace('_', ' ')}{color}: {spans}",
        }
    )


def edit_problems(text: str | None, original: TwinDocument, *, allow_add: bool = False) -> list[str]:
    """Every reason ``text`` (an ``<edit>`` body) cannot become a plan; empty = valid."""
    try:
        plan_from_edit(text, original, query="", allow_add=allow_add)
    except PlanError as exc:
        return exc.problems
    return []


def plan_from_edit(
    text: str | None,
    original: TwinDocument,
    *,
    query: str,
    allow_add: bool | None = None,
    twin_path: str | None = None,
    trace: Trace | None = None,
    provenance: dict[str, Any] | None = None,
) -> EditPlan:
    """Validate an ``<edit>`` body against ``original`` and turn the difference into a plan.

    ``allow_add`` defaults to whether the query asks to add something. Raises :class:`PlanError`
    listing every problem, also when the edit changes nothing.
    """
    problems = edit_schema_problems(text)
    if problems:
        raise PlanError(problems)
    assert text is not None
    data, _ = parse_edit_json(text)
    allow = allows_add(query) if allow_add is None else allow_add
    after, problems = edited_states(data, original, allow_add=allow)
    if problems:
        raise PlanError(problems)
    operations = _diff(_original_states(original), after)
    if not operations:
        raise PlanError(["the edit changes nothing: no object differs from the original twin"])
    operations = [instant_operation(op, query) for op in operations]
    return EditPlan(
        query=query,
        twin=twin_ref(original, twin_path),
        operations=operations,
        trace=trace or Trace(),
        provenance=provenance or {},
    )


def _diff(before: dict[int, dict[int, _State]], after: dict[int, dict[int, _State]]) -> list[Operation]:
    # (kind, new category, new attributes) → id → frames; spatial keys for moves.
    groups: dict[tuple[Kind, str | None, str | None], dict[int, list[int]]] = defaultdict(
        lambda: defaultdict(list)
    )
    mask_from: dict[int, int] = {}
    originals: dict[int, _State] = {}
    moves: list[SpatialKey] = []
    for t in sorted(after):
        old, new = before[t], after[t]
        for oid, state in old.items():
            originals.setdefault(oid, state)
            if oid not in new:
                groups[("remove", None, None)][oid].append(t)
                continue
            edited = new[oid]
            if edited.category != state.category:
                groups[("replace", edited.category, edited.attributes)][oid].append(t)
            elif edited.attributes != state.attributes:
                groups[("appearance", edited.category, edited.attributes)][oid].append(t)
            if any(
                abs(a - b) > SPATIAL_TOLERANCE for a, b in zip(edited.spatial, state.spatial, strict=True)
            ):
                groups[("move", None, None)][oid].append(t)
                x, y, depth, size = edited.spatial
                moves.append(SpatialKey(frame=t, id=oid, x=x, y=y, depth=depth, size=size))
        for oid, state in new.items():
            if oid not in old:
                groups[("add", state.category, state.attributes)][oid].append(t)
                mask_from.setdefault(oid, state.mask[0])
    operations = []
    order = {"replace": 0, "appearance": 1, "remove": 3, "add": 4, "move": 5}
    for n, ((kind, category, attributes), by_id) in enumerate(
        sorted(groups.items(), key=lambda kv: (order[kv[0][0]], min(kv[1]), kv[0][1] or "", kv[0][2] or "")),
        1,
    ):
        targets = []
        for oid, frames in sorted(by_id.items()):
            orig = originals.get(oid)
            targets.append(
                Target(
                    id=oid,
                    category=orig.category if orig else "",
                    attributes=orig.attributes if orig else "",
                    frames=frames_to_ranges(frames),
                    mask_from=mask_from.get(oid) if kind == "add" else None,
                )
            )
        spatial = [k for k in moves if k.id in by_id] if kind == "move" else None
        operations.append(
            Operation(
                id=f"op{n}",
                kind=kind,
                targets=targets,
                category=category,
                attributes=attributes,
                spatial=spatial,
                prompt=_prompt(kind, targets, category, attributes, spatial),
            )
        )
    return operations


def _prompt(
    kind: Kind,
    targets: list[Target],
    category: str | None,
    attributes: str | None,
    spatial: list[SpatialKey] | None,
) -> str:
    """The paper's template, one sentence per target and frame span (at the span's first frame)."""
    sentences = []
    for target in targets:
        for span in target.frames:
            t, i = span.start, target.id
            if kind == "remove":
                sentences.append(f"In frame {t}, object {i} with category {target.category} is removed.")
            elif kind == "move":
                key = next(k for k in spatial or [] if k.id == i and k.frame >= t)
                sentences.append(
                    f"In frame {t}, object {i} with category {target.category} has attributes "
                    f"{target.attributes} and is at x {key.x:.3f}, y {key.y:.3f}."
                )
            else:
                sentences.append(
                    f"In frame {t}, object {i} with category {category} has attributes {attributes}."
                )
    return " ".join(sentences)
