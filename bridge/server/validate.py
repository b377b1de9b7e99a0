"""Every request field checked before a job exists; the spec normalised before it is stored.

The rules between an edit's fields are the engine's (:class:`river_core.request.EditRequest`, the same
``river edit`` obeys): a spec becomes an engine request here, and a broken rule comes back as
``INVALID_ARGUMENT`` naming the spec's fields (``spec.color: goes with spec.op recolor, …``). What only
the server knows is checked here too: a path outside the roots is ``PERMISSION_DENIED``; a missing
file ``NOT_FOUND``; a range past the clip ``OUT_OF_RANGE``; a rate that contradicts the file or a
profile this server does not run ``FAILED_PRECONDITION``; an existing output folder ``ALREADY_EXISTS``.
The normalised spec holds the real media path, the resolved range the editor chose (handles apart),
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
from river_core import request as engine
from river_core.components import PROFILES
from river_core.errors import RiverError
from river_core.media.formats import DELIVERY_FORMATS
from river_core.media.rational import FrameRange, Timecode

if TYPE_CHECKING:
    from river_core.media import MediaInfo
    from river_core.reasoning.plan import EditPlan

# The engine's own lists: what `river edit` accepts is what the bridge accepts.
OPS: Final = engine.OPS
FORMATS: Final = DELIVERY_FORMATS
DELIVERABLES: Final = engine.DELIVERABLES
KIND_NAMES: Final = {pb.JOB_KIND_TWIN: "TWIN", pb.JOB_KIND_PLAN: "PLAN", pb.JOB_KIND_RENDER: "RENDER",
                     pb.JOB_KIND_EDIT: "EDIT"}  # fmt: skip
WHAT: Final[dict[str, set[str | None]]] = {
    "TWIN": {None, "query"},
    "PLAN": {"query"},
    "RENDER": {"plan_json"},
    "EDIT": {"query", "targets"},
}  # what each kind takes (the EditSpec.what oneof)
ENGINE_KIND: Final = {"TWIN": "twin", "PLAN": "plan", "RENDER": "edit", "EDIT": "edit"}
FIELD_PATHS: Final = {
    "media": "spec.media.path", "range": "spec.media.range", "handles": "spec.media.handles",
    "query": "spec.query", "targets": "spec.targets.items", "plan": "spec.plan_json", "kind": "spec.kind",
    "guidance": "spec.render.guidance_scale", "seed": "spec.render.seed", "steps": "spec.render.steps",
    "conditioning_scale": "spec.render.conditioning_scale", "window": "spec.render.window",
    "overlap": "spec.render.overlap", "twin": "spec.what",
}  # fmt: skip
"""Engine request fields → where they are in the API (the rest are ``spec.<field>``)."""
MAX_PLAN: Final = 1 << 20
MAX_PATH: Final = 4096
MAX_TIMECODE: Final = 32
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


def field_path(name: str) -> str:
    """Where an engine request field is in the API: ``guidance`` → ``spec.render.guidance_scale``."""
    return FIELD_PATHS.get(name, f"spec.{name}")


def check_plan_json(text: str, field: str) -> EditPlan:
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
        return EditPlan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise invalid(field, f"is not an edit plan: {where}: {first['msg']}") from None


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
    if spec.profile and spec.profile not in PROFILES:
        raise invalid("spec.profile", f"{spec.profile[:64]!r} is not one of: {', '.join(PROFILES)}")
    if spec.profile and spec.profile != config.profile:
        raise RequestError(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"spec.profile: this server runs the {config.profile} profile (its models are loaded once); "
            f"leave the profile empty, or start a server with --profile {spec.profile}",
        )
    if len(spec.host_context) > 64 or any(
        len(k) > 128 or len(v) > 4096 for k, v in spec.host_context.items()
    ):
        raise invalid("spec.host_context", "at most 64 entries, keys ≤ 128 and values ≤ 4096 characters")
    request = engine_request(spec)  # every rule between the fields, before any file is touched
    media, info = _check_media(spec.media, config)
    try:
        chosen = request.frames(info)
    except engine.RequestError as exc:
        code = grpc.StatusCode.OUT_OF_RANGE if exc.outside else grpc.StatusCode.INVALID_ARGUMENT
        raise RequestError(code, exc.render(field_path)) from None
    out.media.CopyFrom(media)
    out.media.range.start, out.media.range.end = chosen.start, chosen.end
    out.op = request.op or ("generate" if request.targets else "")
    out.profile = config.profile
    out.format = request.format
    del out.deliver[:]
    out.deliver.extend(sorted(request.deliver, key=DELIVERABLES.index))
    out.output = str(_output(spec, out.media, request_id, config, new_output))
    return out


def engine_request(spec: pb.EditSpec, *, plan: EditPlan | None = None) -> engine.EditRequest:
    """The engine's request for ``spec`` (``plan``: a confirmed plan in place of its query or targets).

    A broken rule is ``INVALID_ARGUMENT`` naming the spec's fields."""
    what = spec.WhichOneof("what")
    if plan is None and what == "plan_json":
        plan = check_plan_json(spec.plan_json, "spec.plan_json")
    r = spec.render
    deliver = list(spec.deliver) or [
        d
        for d, off in zip(DELIVERABLES, (False, r.no_matte, r.no_preview, r.no_sheet), strict=True)
        if not off
    ]
    media = spec.media
    try:
        frames: FrameRange | str | None = None
        if media.HasField("range"):
            frames = FrameRange(media.range.start, media.range.end)
        elif media.range_text:
            frames = media.range_text
        request = engine.EditRequest(
            media=Path(media.path),
            kind=ENGINE_KIND[KIND_NAMES[spec.kind]],  # type: ignore[arg-type]
            query=spec.query if what == "query" else None,
            targets=tuple(spec.targets.items) if what == "targets" else (),
            plan=plan if what == "plan_json" else None,
            op=spec.op or None if what == "targets" else (None if spec.op in ("", "generate") else spec.op),
            prompt=spec.prompt or None,
            remove=spec.remove,
            color=spec.color or None,
            range=frames,
            handles=int(media.handles),
            output=Path(spec.output) if spec.output else None,
            overwrite=spec.overwrite,
            format=spec.format or "prores",
            name=spec.name or None,
            deliver=frozenset(deliver),
            seed=r.seed if r.HasField("seed") else 0,
            steps=r.steps if r.HasField("steps") else None,
            guidance=r.guidance_scale if r.HasField("guidance_scale") else None,
            conditioning_scale=r.conditioning_scale if r.HasField("conditioning_scale") else None,
            window=r.window if r.HasField("window") else None,
            overlap=r.overlap if r.HasField("overlap") else None,
            host=tuple(spec.host_context.items()),
        )
    except engine.RequestError as exc:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, exc.render(field_path)) from None
    except ValueError as exc:  # a FrameRange that is not a range
        raise invalid("spec.media.range", str(exc)) from None
    if plan is not None and what != "plan_json":
        request = request.with_plan(plan)
    return request


def _check_what(spec: pb.EditSpec) -> None:
    """The bridge's own kinds: which of query, targets or plan_json each takes."""
    what = spec.WhichOneof("what")
    name = KIND_NAMES[spec.kind]
    allowed = WHAT[name]
    if what not in allowed:
        wanted = " or ".join(sorted(w for w in allowed if w)) or "nothing"
        raise invalid("spec.what", f"a {name} job takes {wanted}, not {what or 'nothing'}")
    if what == "plan_json" and len(spec.plan_json) > MAX_PLAN:
        raise invalid("spec.plan_json", f"is {len(spec.plan_json)} characters; plans are at most {MAX_PLAN}")
    if spec.confirm and not (name == "EDIT"):
        raise invalid("spec.confirm", f"only EDIT jobs stop for confirmation; a {name} job does not render")


def _check_media(ref: pb.MediaRef, config: ServerConfig) -> tuple[pb.MediaRef, MediaInfo]:
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
    if ref.timecode:
        _check_timecode(ref.timecode, info.rate)
    out = pb.MediaRef(path=str(real), timecode=ref.timecode, handles=ref.handles)
    out.rate.num, out.rate.den = info.rate.numerator, info.rate.denominator
    return out, info


def _check_timecode(text: str, rate: Fraction) -> None:
    """The host's timecode at the range's start: recorded with the job, so it must be one at the clip's
    rate (``HH:MM:SS:FF``, ``;`` before FF for drop frame)."""
    if len(text) > MAX_TIMECODE:
        raise invalid("spec.media.timecode", f"is {len(text)} characters, not HH:MM:SS:FF (or HH:MM:SS;FF)")
    try:
        Timecode.parse(text, rate)
    except RiverError as exc:  # the engine's message: what is wrong with it, and the form
        raise invalid("spec.media.timecode", str(exc)) from None


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
        span = f"{media.range.start}_{media.range.end}"
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
