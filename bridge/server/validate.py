"""Every request field checked before a job exists; the spec normalised before it is stored.

A bad field is ``INVALID_ARGUMENT`` naming the field (``spec.media.range: end 95 is past the clip's
90 frames``); a path outside the roots is ``PERMISSION_DENIED``; a missing file ``NOT_FOUND``; a range
past the clip ``OUT_OF_RANGE``; a rate that contradicts the file ``FAILED_PRECONDITION``; an existing
output folder ``ALREADY_EXISTS``. The normalised spec holds the real media path, the whole range,
the probed rate, the absolute output folder and every default, so a stored job says exactly what runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Final

import grpc

from bridge.server.config import PathRefused, ServerConfig, resolve_media, resolve_output
from bridge.v1 import bridge_pb2 as pb
from river_core.cli_edit import FORMAT_CHOICES
from river_core.editing.render import ACTIONS
from river_core.pipeline import PROFILES

if TYPE_CHECKING:
    from river_core.media import MediaInfo

# The engine's own lists: what `river edit` accepts is what the bridge accepts.
OPS: Final = ACTIONS
FORMATS: Final = FORMAT_CHOICES
KIND_NAMES: Final = {pb.JOB_KIND_TWIN: "TWIN", pb.JOB_KIND_PLAN: "PLAN", pb.JOB_KIND_RENDER: "RENDER",
                     pb.JOB_KIND_EDIT: "EDIT"}  # fmt: skip
WHAT: Final[dict[str, set[str | None]]] = {
    "TWIN": {None, "query"},
    "PLAN": {"query"},
    "RENDER": {"plan_json"},
    "EDIT": {"query", "targets"},
}  # what each kind takes (the EditSpec.what oneof)
MAX_QUERY: Final = 4000
MAX_PLAN: Final = 1 << 20
MAX_PATH: Final = 4096
MAX_HANDLES: Final = 10_000
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestError(Exception):
    """A request the server refuses, with the gRPC status to refuse it with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(field: str, problem: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {problem}")


def check_job_id(job_id: str, field: str = "job_id") -> str:
    if not job_id:
        raise invalid(field, "is empty; give the id SubmitEdit returned")
    if not re.fullmatch(r"j[0-9a-f]{19}", job_id):
        raise invalid(field, f"{job_id[:64]!r} is not a job id (ids look like j + 19 hex digits)")
    return job_id


def check_request_id(request_id: str, field: str = "request_id") -> str:
    if request_id and not _REQUEST_ID.fullmatch(request_id):
        raise invalid(field, "must be 1–128 characters of A–Z a–z 0–9 . _ : - (a UUID works)")
    return request_id


def check_plan_json(text: str, field: str) -> dict[str, object]:
    """A plan document: JSON, an object, within the size limit, valid against the plan schema."""
    if len(text) > MAX_PLAN:
        raise invalid(field, f"is {len(text)} characters; plans are at most {MAX_PLAN}")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise invalid(field, f"is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise invalid(field, "must be a JSON object (an edit plan, see `river plan schema`)")
    from pydantic import ValidationError

    from river_core.reasoning.plan import EditPlan

    try:
        EditPlan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise invalid(field, f"is not an edit plan: {where}: {first['msg']}") from None
    return data


def normalise(
    spec: pb.EditSpec, request_id: str, config: ServerConfig, *, new_output: bool = True
) -> pb.EditSpec:
    """The checked, normalised copy of ``spec`` that the job store keeps and the runner executes.

    ``new_output=False`` (a retry of a known request) skips the check that the output folder does
    not exist yet: the first attempt may have written it."""
    out = pb.EditSpec()
    out.CopyFrom(spec)
    kind = spec.kind
    if kind not in KIND_NAMES:
        raise invalid("spec.kind", f"{kind} is not a job kind; use one of TWIN, PLAN, RENDER, EDIT")
    _check_what(spec)
    _check_options(spec)
    out.op = spec.op or "generate"
    out.profile = spec.profile or config.profile
    out.format = spec.format or "prores"
    media = _check_media(spec.media, config, _plan_range(spec))
    out.media.CopyFrom(media)
    out.output = str(_output(spec, media, request_id, config, new_output))
    return out


def _check_what(spec: pb.EditSpec) -> None:
    what = spec.WhichOneof("what")
    name = KIND_NAMES[spec.kind]
    allowed = WHAT[name]
    if what not in allowed:
        wanted = " or ".join(sorted(w for w in allowed if w)) or "nothing"
        raise invalid("spec.what", f"a {name} job takes {wanted}, not {what or 'nothing'}")
    if what == "query":
        if not spec.query.strip():
            raise invalid("spec.query", 'is empty; say what to change, e.g. "make the dog look like bronze"')
        if len(spec.query) > MAX_QUERY:
            raise invalid("spec.query", f"is {len(spec.query)} characters; at most {MAX_QUERY}")
    elif what == "targets":
        items = list(spec.targets.items)
        if not items or any(not t.strip() or len(t) > 128 for t in items) or len(items) > 256:
            raise invalid("spec.targets.items", "give 1–256 object ids or categories, each 1–128 characters")
    elif what == "plan_json":
        check_plan_json(spec.plan_json, "spec.plan_json")
    if spec.confirm and not (name == "EDIT"):
        raise invalid("spec.confirm", f"only EDIT jobs stop for confirmation; a {name} job does not render")


def _check_options(spec: pb.EditSpec) -> None:
    op = spec.op or "generate"
    if op not in OPS:
        raise invalid("spec.op", f"{op[:64]!r} is not one of: {', '.join(OPS)}")
    if spec.profile and spec.profile not in PROFILES:
        raise invalid("spec.profile", f"{spec.profile[:64]!r} is not one of: {', '.join(PROFILES)}")
    if spec.format and spec.format not in FORMATS:
        raise invalid("spec.format", f"{spec.format[:64]!r} is not one of: {', '.join(FORMATS)}")
    targets = spec.WhichOneof("what") == "targets"
    if op != "generate" and spec.kind == pb.JOB_KIND_EDIT and not targets:
        raise invalid("spec.op", f"--op {op} needs targets (spec.targets) to know what to {op}")
    if (spec.prompt or spec.remove) and op != "generate":
        raise invalid("spec.prompt", f"prompt and remove go with op generate, not {op}")
    if targets and op == "generate" and not (spec.prompt.strip() or spec.remove):
        raise invalid("spec.prompt", "op generate with targets needs a prompt (the new look) or remove")
    if op == "recolor":
        _check_color(spec.color)
    elif spec.color:
        raise invalid("spec.color", f"goes with op recolor, not {op}")
    if len(spec.prompt) > MAX_QUERY:
        raise invalid("spec.prompt", f"is {len(spec.prompt)} characters; at most {MAX_QUERY}")
    if len(spec.host_context) > 64 or any(
        len(k) > 128 or len(v) > 4096 for k, v in spec.host_context.items()
    ):
        raise invalid("spec.host_context", "at most 64 entries, keys ≤ 128 and values ≤ 4096 characters")
    _check_render(spec.render)


def _check_color(color: str) -> None:
    from PIL import ImageColor

    try:
        ImageColor.getrgb(color)
    except ValueError:
        raise invalid("spec.color", f"{color[:64]!r} is not a CSS color name or #RRGGBB") from None


def _check_render(r: pb.RenderOptions) -> None:
    if r.HasField("seed") and not 0 <= r.seed < 2**63:
        raise invalid("spec.render.seed", f"{r.seed} must be ≥ 0")
    if r.HasField("steps") and not 1 <= r.steps <= 1000:
        raise invalid("spec.render.steps", f"{r.steps} must be 1–1000")
    if r.HasField("guidance_scale") and not 0.0 <= r.guidance_scale <= 50.0:
        raise invalid("spec.render.guidance_scale", f"{r.guidance_scale} must be 0–50")
    if r.HasField("conditioning_scale") and not 0.0 <= r.conditioning_scale <= 5.0:
        raise invalid("spec.render.conditioning_scale", f"{r.conditioning_scale} must be 0–5")
    if r.HasField("window") and not (5 <= r.window <= 1001 and r.window % 4 == 1):
        raise invalid("spec.render.window", f"{r.window} must be 4k+1 frames, 5–1001 (e.g. 81)")
    if r.HasField("overlap"):
        window = r.window if r.HasField("window") else 81
        if not 0 <= r.overlap < window:
            raise invalid("spec.render.overlap", f"{r.overlap} must be 0 ≤ overlap < window ({window})")


def _plan_range(spec: pb.EditSpec) -> tuple[int, int] | None:
    """A RENDER job without a range renders the range its plan was made on."""
    if spec.WhichOneof("what") != "plan_json":
        return None
    span = json.loads(spec.plan_json)["twin"]["frame_range"]  # checked by _check_what
    return int(span["start"]), int(span["end"])


def _check_media(ref: pb.MediaRef, config: ServerConfig, default: tuple[int, int] | None) -> pb.MediaRef:
    if not ref.path:
        raise invalid("spec.media.path", "is empty; give the absolute path of the clip")
    if len(ref.path) > MAX_PATH or "\x00" in ref.path:
        raise invalid("spec.media.path", "is not a usable path")
    try:
        real = resolve_media(ref.path, config.media_roots)
    except PathRefused as exc:
        raise RequestError(grpc.StatusCode.PERMISSION_DENIED, f"spec.media.path: {exc}") from None
    except ValueError as exc:
        raise invalid("spec.media.path", str(exc)) from None
    try:
        exists = real.is_file()
    except OSError as exc:  # a name too long for the file system, a permission on the way
        raise invalid("spec.media.path", f"cannot use {ref.path[:200]} ({exc.strerror})") from None
    if not exists:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"spec.media.path: no such file {ref.path}")
    from river_core.errors import RiverError

    try:
        stat = real.stat()
        info = _probe(str(real), stat.st_size, stat.st_mtime_ns)
    except OSError as exc:
        raise invalid("spec.media.path", f"cannot read {ref.path} ({exc.strerror})") from None
    except RiverError as exc:
        raise invalid("spec.media.path", str(exc)) from None
    if ref.HasField("rate"):
        if ref.rate.num <= 0 or ref.rate.den <= 0:
            raise invalid("spec.media.rate", f"{ref.rate.num}/{ref.rate.den} is not a positive rate")
        if Fraction(ref.rate.num, ref.rate.den) != info.rate:
            raise RequestError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"spec.media.rate: the host says {ref.rate.num}/{ref.rate.den} but {real.name} is "
                f"{info.rate.numerator}/{info.rate.denominator} fps; relink the clip or fix the rate",
            )
    if not 0 <= ref.handles <= MAX_HANDLES:
        raise invalid("spec.media.handles", f"{ref.handles} must be 0–{MAX_HANDLES}")
    start, end = (
        (ref.range.start, ref.range.end) if ref.HasField("range") else (default or (0, info.frame_count))
    )
    if start < 0 or end <= start:
        raise invalid("spec.media.range", f"[{start}, {end}) is not a range: need 0 ≤ start < end")
    if end > info.frame_count:
        raise RequestError(
            grpc.StatusCode.OUT_OF_RANGE,
            f"spec.media.range: end {end} is past the clip's {info.frame_count} frames",
        )
    out = pb.MediaRef(path=str(real), timecode=ref.timecode, handles=ref.handles)
    out.range.start, out.range.end = max(0, start - ref.handles), min(info.frame_count, end + ref.handles)
    out.rate.num, out.rate.den = info.rate.numerator, info.rate.denominator
    return out


@functools.lru_cache(maxsize=256)
def _probe(path: str, size: int, mtime_ns: int) -> MediaInfo:
    """Probing reads the file (~35 ms for a short clip): remembered while the file is unchanged, so
    a host submitting many ranges of one clip does not pay it each time."""
    from river_core.media import probe

    return probe(Path(path))


def _output(spec: pb.EditSpec, media: pb.MediaRef, request_id: str, config: ServerConfig, new: bool) -> Path:
    raw = spec.output
    if not raw:
        tag = hashlib.sha256(request_id.encode()).hexdigest()[:8]
        span = f"{media.range.start}-{media.range.end}"
        raw = f"{Path(media.path).stem}_{KIND_NAMES[spec.kind].lower()}_{span}_{tag}"
    if len(raw) > MAX_PATH or "\x00" in raw:
        raise invalid("spec.output", "is not a usable path")
    try:
        out = resolve_output(raw, config.outputs)
    except PathRefused as exc:
        raise RequestError(grpc.StatusCode.PERMISSION_DENIED, f"spec.output: {exc}") from None
    if new and out.exists() and not spec.overwrite:
        raise RequestError(
            grpc.StatusCode.ALREADY_EXISTS,
            f"spec.output: {out} exists; choose another name or set overwrite",
        )
    return out
