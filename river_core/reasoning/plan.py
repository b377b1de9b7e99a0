"""The edit plan: the one hand-off from reasoning to rendering, and what the editor reviews.

A plan lists operations (kind, target objects with half-open frame spans, the new category and
attributes, the text prompt from the paper's template) derived from an edited twin by
:mod:`river_core.reasoning.edits`, plus the reasoning trace for "explain and confirm". It is JSON with
a schema (:func:`plan_json_schema`, ``river plan schema``), meant to be read and edited by hand;
:func:`load_plan` checks a hand-edited plan against its twin. Masks are not copied into the plan: the
renderer takes them from the original twin by object id and frame.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from river_core.atomic import write_bytes_atomic
from river_core.errors import RiverError
from river_core.media.rational import FrameRange, frames_to_ranges, ranges_text
from river_core.twin.schema import TwinDocument, json_path, twin_json_text

PLAN_VERSION: Final = "1.0"

Kind = Literal[
    "appearance",
    "replace",
    "remove",
    "add",
    "move",
    "blur",
    "pixelate",
    "mask_out",
    "recolor",
    "highlight",
    "matte",
]
GENERATIVE_KINDS: Final = ("appearance", "replace", "remove", "add", "move")
"""Rendered by Wan2.1-VACE from the prompt."""
INSTANT_KINDS: Final = ("blur", "pixelate", "mask_out", "recolor", "highlight", "matte")
"""Applied to the targets' region frame by frame, no diffusion: redaction (blur, pixelate, mask_out: a
solid fill), recolor (hue and saturation of ``color``, the picture's luminosity kept), highlight (a
tint and outline) and matte (the picture untouched; the matte is the deliverable)."""
COLOR_KINDS: Final = ("recolor", "mask_out", "highlight")
"""Instant kinds that take a ``color`` (recolor needs one; the others have a default)."""


class PlanError(RiverError, ValueError):
    """An edit or plan that cannot be used; the message lists every problem."""

    def __init__(self, problems: list[str], what: str = "invalid edit") -> None:
        self.problems = problems
        listed = "; ".join(problems[:6]) + (f"; … and {len(problems) - 6} more" if len(problems) > 6 else "")
        super().__init__(f"{what}: {listed}")


# -- the plan document -------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


NonNeg = Annotated[StrictInt, Field(ge=0)]
Unit = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]


class Target(_Model):
    """An object an operation changes, as it is in the original twin, and where."""

    id: NonNeg
    category: StrictStr = Field(description="Category in the original twin ('' for a new object).")
    attributes: StrictStr = Field(description="Attributes in the original twin ('' for a new object).")
    frames: list[FrameRange] = Field(description="Source frames the operation applies to, half-open ranges.")
    mask_from: NonNeg | None = Field(
        default=None, description="For an added object: the original object whose masks it takes."
    )


class SpatialKey(_Model):
    """Where a moved object should be in one frame (normalized like the twin's spatial)."""

    frame: NonNeg
    id: NonNeg
    x: Unit
    y: Unit
    depth: Unit
    size: Unit


class Operation(_Model):
    """One change: the same kind and new values over one or more targets."""

    id: StrictStr = Field(description="Stable name within the plan, e.g. 'op1'.")
    kind: Kind = Field(
        description="Rendered by the video model: appearance (attributes change), replace (the category "
        "changes), remove (the object goes), add (a new object takes an original mask), move (the spatial "
        "values change). Instant, no diffusion: blur, pixelate, mask_out (a solid fill), recolor (to "
        "`color`), highlight, matte (the matte only)."
    )
    targets: list[Target]
    category: StrictStr | None = Field(default=None, description="The new category (changes, adds).")
    attributes: StrictStr | None = Field(default=None, description="The new attributes (changes, adds).")
    spatial: list[SpatialKey] | None = Field(default=None, description="New positions (move only).")
    color: StrictStr | None = Field(
        default=None, description="recolor, mask_out, highlight: a CSS color name or #RRGGBB."
    )
    prompt: StrictStr = Field(description="Text conditioning, from the paper's template.")

    @property
    def frames(self) -> list[FrameRange]:
        """Union of the targets' ranges."""
        return frames_to_ranges(sorted({f for t in self.targets for r in t.frames for f in r}))

    @property
    def instant(self) -> bool:
        """Applied without the video model (see :data:`INSTANT_KINDS`)."""
        return self.kind in INSTANT_KINDS


class TwinRef(_Model):
    """Which twin the plan was made from."""

    path: StrictStr | None = None
    content_hash: StrictStr = Field(description="sha256 of the source media.")
    frame_range: FrameRange
    rate: StrictStr
    twin_digest: StrictStr = Field(description="sha256 of the twin's canonical JSON.")


class Execution(_Model):
    """One ``<execute>`` round as it ran."""

    code: StrictStr
    ok: bool
    stdout: StrictStr
    error: StrictStr | None = None
    error_kind: StrictStr | None = None
    elapsed_ms: StrictFloat | None = None
    isolation: StrictStr | None = None


class Attempt(_Model):
    """One sampled rollout and why it was or was not used."""

    sample: NonNeg
    valid: bool
    reason: StrictStr | None = None
    rollout: StrictStr = ""


class Trace(_Model):
    """How the plan was reasoned: for "explain and confirm"."""

    thinking: StrictStr = ""
    rollout: StrictStr = ""
    executions: list[Execution] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)
    view: dict[str, Any] = Field(default_factory=dict, description="Which twin view the LLM saw.")


class EditPlan(_Model):
    """What to change, where and when, before anything is rendered. Human-editable JSON."""

    plan_version: Literal["1.0"] = PLAN_VERSION
    query: StrictStr
    twin: TwinRef
    operations: list[Operation]
    trace: Trace = Field(default_factory=Trace)
    provenance: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of plan files: ``river plan schema``."""
    body = EditPlan.model_json_schema()
    body.pop("title", None)
    body["required"] = ["plan_version", *[r for r in body.get("required", []) if r != "plan_version"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://river-nle.dev/schemas/plan-{PLAN_VERSION}.json",
        "title": f"RIVER edit plan {PLAN_VERSION}",
        "description": "Operations (targets, frame spans, kind, prompt) derived from an edited digital twin, "
        "with the reasoning trace. Masks come from the original twin by object id and frame.",
        **body,
    }


def twin_ref(doc: TwinDocument, path: str | None = None) -> TwinRef:
    """The reference a plan keeps to ``doc``."""
    digest = hashlib.sha256(twin_json_text(doc).encode("utf-8")).hexdigest()
    return TwinRef(
        path=path,
        content_hash=doc.video.content_hash,
        frame_range=doc.video.frame_range,
        rate=doc.video.rate,
        twin_digest=f"sha256:{digest}",
    )


def save_plan(plan: EditPlan, path: Path | str, *, overwrite: bool = True) -> Path:
    """Write ``plan`` as pretty JSON, atomically."""
    path = Path(path)
    text = json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)
    return path


def load_plan(path: Path | str, twin: TwinDocument | None = None) -> EditPlan:
    """Read a plan file (perhaps edited by hand); with ``twin``, check it still fits that twin."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RiverError(f"{path}: cannot read the plan ({exc.strerror}); check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlanError([f"not valid JSON ({exc})"], what=f"{path}: invalid plan") from None
    try:
        plan = EditPlan.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{json_path(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise PlanError(problems, what=f"{path}: invalid plan") from None
    if twin is not None:
        differ = twin_mismatch(plan, twin)
        if differ:
            raise PlanError(
                [*differ, "its object ids are another twin's: check it against the twin it was made on, or "
                 "reason a new plan on this one (river reason TWIN QUERY --out PLAN)"],
                what=f"{path}: the plan was made on another twin",
            )  # fmt: skip
        problems = plan_problems(plan, twin)
        if problems:
            raise PlanError(problems, what=f"{path}: plan does not fit the twin")
    return plan


def twin_mismatch(plan: EditPlan | TwinRef, twin: TwinDocument) -> list[str]:
    """How ``twin`` differs from the twin ``plan`` (or a :class:`TwinRef`) was made on where it matters
    to the plan's ids: other media (content hash), other frames (range). Empty when it is that twin or a
    rebuild of it."""
    ref = plan.twin if isinstance(plan, EditPlan) else plan
    differ = []
    if ref.content_hash != twin.video.content_hash:
        differ.append(
            f"other media (content {_short(ref.content_hash)}, this twin's {_short(twin.video.content_hash)})"
        )
    if ref.frame_range != twin.video.frame_range:
        differ.append(f"other frames ({ref.frame_range}, this twin's {twin.video.frame_range})")
    return differ


def _short(content_hash: str) -> str:
    return content_hash[:19] + "…" if len(content_hash) > 19 else content_hash


def plan_problems(plan: EditPlan, twin: TwinDocument) -> list[str]:
    """What a (hand-edited) plan asks that the twin cannot give: unknown ids, frames outside a track."""
    problems: list[str] = []
    tracks = track_frames(twin)
    for op in plan.operations:
        if not op.targets:
            problems.append(f"{op.id}: no targets")
        for target in op.targets:
            where = f"{op.id}: object {target.id}"
            frames = {f for r in target.frames for f in r}
            if op.kind == "add":
                source = target.mask_from
                if source is None or source not in tracks:
                    problems.append(f"{where}: an added object needs mask_from, an object of the twin")
                elif not frames <= tracks[source]:
                    problems.append(f"{where}: object {source} (mask_from) is absent in some of its frames")
                continue
            if target.id not in tracks:
                problems.append(f"{where} does not exist; ids are {sorted(tracks)}")
            elif not frames <= tracks[target.id]:
                missing = sorted(frames - tracks[target.id])
                problems.append(f"{where} is absent in frames {ranges_text(frames_to_ranges(missing))}")
        if op.kind == "move" and not op.spatial:
            problems.append(f"{op.id}: a move needs spatial keys")
        if op.kind in ("appearance", "replace", "add") and not (op.category and op.attributes):
            problems.append(f"{op.id}: a {op.kind} needs the new category and attributes")
        if op.kind == "recolor" and not op.color:
            problems.append(f'{op.id}: a recolor needs its color, e.g. "color": "red" or "#ff0000"')
        if op.color is not None and op.kind not in COLOR_KINDS:
            problems.append(f"{op.id}: color goes with {', '.join(COLOR_KINDS)}, not {op.kind}")
        if op.color is not None and color_problem(op.color):
            problems.append(f"{op.id}: {color_problem(op.color)}")
    return problems


def color_problem(color: str) -> str | None:
    """Why ``color`` is not a color the instant operations take (None when it is)."""
    from PIL import ImageColor

    try:
        ImageColor.getrgb(color)
    except ValueError:
        return f"color {color[:64]!r} is not a CSS color name or #RRGGBB (e.g. red, #ff8800)"
    return None


def track_frames(doc: TwinDocument) -> dict[int, set[int]]:
    tracks: dict[int, set[int]] = defaultdict(set)
    for entry in doc.frames:
        for obj in entry.objects:
            tracks[obj.id].add(entry.index)
    return dict(tracks)


TWIN_QUERY: Final = "twin_query"
"""Provenance key: the query the plan's twin was built for. Its nouns are the detector's vocabulary, so
rendering the plan later rebuilds (or finds in the cache) that very twin, whose ids the plan uses."""


def twin_query(plan: EditPlan) -> str | None:
    """The query to build the plan's twin with: as recorded, else the plan's own query."""
    recorded = plan.provenance.get(TWIN_QUERY, plan.query)
    return recorded if isinstance(recorded, str) or recorded is None else None


def describe_plan(plan: EditPlan) -> str:
    """The plan as an editor reads it before confirming a render (ranges as ``START:END``)."""
    lines = []
    for op in plan.operations:
        targets = ", ".join(
            f"object {t.id} ({t.category or 'new'}) frames {ranges_text(t.frames)}" for t in op.targets
        )
        change = f" → {op.category}: {op.attributes}" if op.attributes is not None else ""
        how = f" {op.color}" if op.color else ""
        lines.append(f"  {op.id} {op.kind}{how}: {targets}{change}")
        if not op.instant:
            lines.append(f"      prompt: {op.prompt[:200]}{'…' if len(op.prompt) > 200 else ''}")
    if plan.trace.thinking:
        why = " ".join(plan.trace.thinking.split())
        lines.append(f"  why: {why[:300]}{'…' if len(why) > 300 else ''}")
    return "\n".join(lines)
