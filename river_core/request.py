"""The one request type every front-end builds: what to change, where, how, and what to deliver.

``river edit``, ``river jobs`` (through the bridge server) and the Python API all describe a job as
an :class:`EditRequest`, and every rule that ties its fields together lives here, once. A broken rule
raises :class:`RequestError` naming the field (``color``) and the problem in field names; each
front-end shows them in its own words (``--color`` on the command line, ``spec.color`` in the bridge):

>>> try:
...     EditRequest(Path("clip.mov"), targets=("3",), op="pixelate", color="red")
... except RequestError as exc:
...     print(exc)
...     print(exc.render(lambda field: "--" + field.replace("_", "-")))
color: goes with op recolor, mask_out or highlight, not op pixelate
--color: goes with --op recolor, mask_out or highlight, not --op pixelate

Where the edit happens is a range of the clip (:meth:`EditRequest.frames`): as typed by an editor
(``30:120``, ``275:``, ``01:00:01:00-01:00:02:10``) or exact frames, resolved against the clip, the
twin or the plan it must lie in. Target ids mean the objects of the twin of *that* range; handles only
widen what is rendered (:meth:`EditRequest.render_frames`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from river_core.errors import OutOfRangeError, RangeError, UsageError
from river_core.media.formats import DELIVERABLES, DELIVERY_FORMATS
from river_core.media.rational import FrameRange

if TYPE_CHECKING:
    from river_core.media.probe import MediaInfo
    from river_core.reasoning.plan import EditPlan

Kind = Literal["twin", "plan", "edit"]
KINDS: Final = ("twin", "plan", "edit")
INSTANT_OPS: Final = ("blur", "pixelate", "mask_out", "recolor", "highlight", "matte")
OPS: Final = ("generate", *INSTANT_OPS)
"""What ``op`` can ask of explicit targets: a new look rendered by the video model, or an instant
operation (the plan kinds of the same names, :data:`river_core.reasoning.plan.INSTANT_KINDS`)."""
COLOR_OPS: Final = ("recolor", "mask_out", "highlight")
MAX_QUERY: Final = 4000
MAX_TARGETS: Final = 256
MAX_HANDLES: Final = 10_000
MAX_SEED: Final = 2**63 - 1
DEFAULT_WINDOW: Final = 81
_REF = re.compile(r"\{(\w+)\}")


class RequestError(UsageError):
    """A request field that cannot work as given. ``problem`` may name other fields as ``{field}``;
    :meth:`render` spells every field name the way a front-end does."""

    def __init__(self, field: str, problem: str) -> None:
        self.problem = problem
        super().__init__("", field)
        self.field: str = field
        self.outside = False  # a range that lies outside the clip, twin or plan (not a malformed one)
        self.args = (self.render(lambda name: name),)

    def render(self, name: Callable[[str], str]) -> str:
        """The message with each field named by ``name`` (e.g. ``color`` → ``--color``)."""
        text = _REF.sub(lambda m: name(m.group(1)) if m.group(1) in FIELD_NAMES else m.group(0), self.problem)
        return f"{name(self.field)}: {text}"

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class EditRequest:
    """One job: the media and its range, what to change (exactly one of ``query``, ``targets`` or
    ``plan`` for an edit), how (``op`` and its options for explicit targets), the render settings and
    what to deliver where.

    ``kind`` ``"twin"`` only builds the twin of the range (a ``query`` steers its vocabulary);
    ``"plan"`` reasons a query into a plan for review; ``"edit"`` renders and delivers.
    """

    media: Path
    kind: Kind = "edit"
    query: str | None = None
    targets: tuple[str, ...] = ()
    plan: EditPlan | None = None
    op: str | None = None
    prompt: str | None = None
    remove: bool = False
    color: str | None = None
    range: str | FrameRange | None = None
    handles: int = 0
    twin: Path | None = None
    output: Path | None = None
    overwrite: bool = False
    format: str = "prores"
    name: str | None = None
    deliver: frozenset[str] = field(default_factory=lambda: frozenset(DELIVERABLES))
    seed: int = 0
    steps: int | None = None
    guidance: float | None = None
    conditioning_scale: float | None = None
    window: int | None = None
    overlap: int | None = None
    use_cache: bool = True
    host: tuple[tuple[str, str], ...] = ()  # where the job came from (an NLE plugin's context): provenance

    def __post_init__(self) -> None:
        object.__setattr__(self, "media", Path(self.media))
        object.__setattr__(self, "host", tuple(sorted(dict(self.host).items())))
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "deliver", frozenset(self.deliver))
        check_request(self)

    # -- derived --------------------------------------------------------------------------------

    @property
    def action(self) -> str:
        """The operation explicit targets get (``generate`` unless ``op`` says otherwise)."""
        return self.op or "generate"

    @property
    def what(self) -> str | None:
        """Which of query, targets or plan says what to change (None: nothing, a twin job)."""
        if self.plan is not None:
            return "plan"
        if self.targets:
            return "targets"
        return "query" if self.query is not None else None

    def with_plan(self, plan: EditPlan) -> EditRequest:
        """The same edit with a (reviewed) plan in place of its query or targets."""
        return replace(self, kind="edit", query=None, targets=(), op=None, prompt=None, remove=False,
                       color=None, plan=plan)  # fmt: skip

    def frames(self, info: MediaInfo, *, twin_range: FrameRange | None = None) -> FrameRange:
        """The range the user chose, resolved against the clip: as given, else the range of the
        twin (``twin_range``) or of the plan, else the whole clip. It must lie inside the clip and
        inside the twin/plan range it is edited with."""
        outer, what = twin_range, "the twin's"
        if outer is None and self.plan is not None:
            outer, what = self.plan.twin.frame_range, "the plan's twin"
        try:
            if self.range is None:
                chosen = outer or FrameRange(0, info.frame_count)
            elif isinstance(self.range, FrameRange):
                chosen = self.range
            else:
                chosen = FrameRange.parse(self.range, info.frame_count, start_timecode=info.timecode_or_zero)
            chosen.check_within(info.frame_count)
            if outer is not None:
                chosen.require_inside(outer, what)
        except RangeError as exc:
            error = RequestError("range", str(exc))
            error.outside = isinstance(exc, OutOfRangeError)
            raise error from None
        return chosen

    def render_frames(self, info: MediaInfo, chosen: FrameRange) -> FrameRange:
        """What is rendered: the chosen range widened by ``handles`` each side, within the clip."""
        return chosen.widened(self.handles, info.frame_count)

    def to_json(self) -> dict[str, Any]:
        """The request as recorded in provenance (the plan by its query; paths as strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "plan":
                value = None if value is None else {"query": value.query, "operations": len(value.operations)}
            elif f.name == "host":
                value = dict(value)
            elif isinstance(value, Path | FrameRange):
                value = str(value)
            elif isinstance(value, frozenset | tuple):
                value = sorted(value) if isinstance(value, frozenset) else list(value)
            out[f.name] = value
        return out


FIELD_NAMES: Final = frozenset(f.name for f in fields(EditRequest))


def check_request(r: EditRequest) -> None:
    """Every rule between the fields of ``r``; raises the first broken one as :class:`RequestError`."""
    _check_what(r)
    _check_how(r)
    _check_where(r)
    _check_render(r)


def _check_what(r: EditRequest) -> None:
    if r.kind not in KINDS:
        raise RequestError("kind", f"{str(r.kind)[:64]!r} is not one of: {', '.join(KINDS)}")
    given = [name for name in ("query", "targets", "plan") if getattr(r, name) not in (None, ())]
    if r.kind == "twin" and set(given) - {"query"}:
        raise RequestError(given[-1], "a twin job takes a {query} (it steers the detector) or nothing")
    if r.kind == "twin" and r.twin is not None:
        raise RequestError("twin", "a twin job builds the twin; leave {twin} out")
    if r.kind == "plan" and given != ["query"]:
        raise RequestError(
            "query", "a plan job reasons a {query} into a plan: give the query (and no {targets} or {plan})"
        )
    if r.kind == "edit" and not given:
        raise RequestError(
            "query",
            'say what to change: a {query} ("make the dog look like bronze"), {targets} with an {op}, '
            "or a reviewed {plan}",
        )
    if len(given) > 1:
        raise RequestError(
            given[1], "give one of a {query}, {targets} or a {plan}, not " + " and ".join(given)
        )
    if r.query is not None:
        if not r.query.strip():
            raise RequestError("query", 'is empty; say what to change, e.g. "make the dog look like bronze"')
        if len(r.query) > MAX_QUERY:
            raise RequestError("query", f"is {len(r.query)} characters; at most {MAX_QUERY}")
    if r.targets:
        if len(r.targets) > MAX_TARGETS:
            raise RequestError("targets", f"lists {len(r.targets)} objects; at most {MAX_TARGETS}")
        for item in r.targets:
            if not isinstance(item, str) or not item.strip() or len(item) > 128:
                raise RequestError(
                    "targets", f"{item!r} is not an object id or category of the twin (e.g. 3 or dog)"
                )


def _check_how(r: EditRequest) -> None:
    if r.op is not None:
        if r.op not in OPS:
            raise RequestError("op", f"{str(r.op)[:64]!r} is not one of: {', '.join(OPS)}")
        if not r.targets:
            raise RequestError("op", "goes with {targets}; a query or a plan says itself what to do")
    action = r.action
    if (r.prompt is not None or r.remove) and not (r.targets and action == "generate"):
        which = "prompt" if r.prompt is not None else "remove"
        raise RequestError(
            which, "goes with {targets} and {op} generate" + (f", not {{op}} {action}" if r.targets else "")
        )
    if r.targets and action == "generate":
        if r.prompt is not None and r.remove:
            raise RequestError("remove", "say either a new look ({prompt}) or {remove}, not both")
        if r.prompt is not None and not r.prompt.strip():
            raise RequestError(
                "prompt", 'is empty; say what the targets become, e.g. "a bronze statue of a dog"'
            )
        if r.prompt is None and not r.remove:
            raise RequestError(
                "prompt", '{op} generate with {targets} needs the new look ("a bronze statue") or {remove}'
            )
        if r.prompt is not None and len(r.prompt) > MAX_QUERY:
            raise RequestError("prompt", f"is {len(r.prompt)} characters; at most {MAX_QUERY}")
    if r.color is not None:
        if not (r.targets and action in COLOR_OPS):
            raise RequestError("color", f"goes with {{op}} {', '.join(COLOR_OPS[:-1])} or {COLOR_OPS[-1]}"
                               + (f", not {{op}} {action}" if r.targets else ""))  # fmt: skip
        from river_core.reasoning.plan import color_problem

        if problem := color_problem(r.color):
            raise RequestError("color", problem)
    elif r.targets and action == "recolor":
        raise RequestError("color", "{op} recolor needs a color: a CSS color name or #RRGGBB (e.g. red)")


def _check_where(r: EditRequest) -> None:
    if isinstance(r.handles, bool) or not isinstance(r.handles, int) or not 0 <= r.handles <= MAX_HANDLES:
        raise RequestError("handles", f"{r.handles!r} must be a whole number of frames, 0–{MAX_HANDLES}")
    if r.range is not None and not isinstance(r.range, FrameRange | str):
        raise RequestError("range", f"{r.range!r} is not a range; write START:END or HH:MM:SS:FF-HH:MM:SS:FF")
    if isinstance(r.range, str) and not r.range.strip():
        raise RequestError("range", "is empty; write START:END (30:120, 275:) or HH:MM:SS:FF-HH:MM:SS:FF")
    if r.format not in DELIVERY_FORMATS:
        raise RequestError("format", f"{str(r.format)[:64]!r} is not one of: {', '.join(DELIVERY_FORMATS)}")
    unknown = sorted(str(d) for d in r.deliver if d not in DELIVERABLES)
    if unknown or not r.deliver:
        raise RequestError(
            "deliver",
            f"{', '.join(unknown) or 'nothing'}: choose from {', '.join(DELIVERABLES)} (comma-separated)",
        )
    if not r.deliver & {"media", "matte"}:
        raise RequestError(
            "deliver", "must include media or matte: a preview or a sheet alone is not an edit"
        )
    if r.name is not None:
        name = r.name
        if (
            not name
            or name in (".", "..")
            or any(c in name for c in "/\\\0")
            or name.startswith(".")
            or len(name) > 200
        ):
            raise RequestError(
                "name", f"{name[:64]!r} must be a plain file name such as clip_bronze (no folders)"
            )


def _check_render(r: EditRequest) -> None:
    def whole(name: str, low: int, high: int, hint: str) -> None:
        value = getattr(r, name)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RequestError(name, f"{value!r} must be a whole number, {low}–{high}{hint}")

    def number(name: str, low: float, high: float) -> None:
        value = getattr(r, name)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RequestError(name, f"{value!r} is not a number")
        if not low <= value <= high:
            raise RequestError(name, f"{value:g} must be {low:g}–{high:g}")

    whole("seed", 0, MAX_SEED, "")
    whole("steps", 1, 1000, " (the paper uses 50)")
    number("guidance", 0.0, 50.0)
    number("conditioning_scale", 0.0, 5.0)
    whole("window", 5, 1001, " frames")
    if r.window is not None and r.window % 4 != 1:
        raise RequestError(
            "window",
            f"{r.window} frames is not 4k+1 (Wan2.1 renders 4k+1 frames): try {r.window // 4 * 4 + 1}",
        )
    window = r.window or DEFAULT_WINDOW
    whole("overlap", 0, window - 1, f" (less than the {{window}} of {window} frames)")
