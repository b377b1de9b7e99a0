"""The digital twin document: the paper's per-frame tuple D(t) = {(i, c, a, m, s)} as versioned JSON.

A twin covers a half-open range of source frames of one video. Every listed frame holds the objects
visible in it; an object keeps its ``id`` across frames (a track). Each object carries:

- ``category`` (c): a short noun from the detector's vocabulary ("dog", "cup");
- ``attributes`` (a): a free-text description ("small brown dog with a red collar");
- ``mask`` (m): a COCO RLE mask at the *source* resolution, ``size == [height, width]``, with the
  compressed ASCII ``counts`` pycocotools writes (column-major runs, starting with a run of zeros);
- ``spatial`` (s): where the object is, all normalized to [0, 1] with the origin top-left:

  - ``x``, ``y``: the mask centroid, ``x = (mean column + 0.5) / width``, ``y = (mean row + 0.5) / height``;
  - ``size``: mask area / (width × height);
  - ``bbox``: ``[x0, y0, x1, y1]`` pixel-edge box, ``x0 = min column / width``,
    ``x1 = (max column + 1) / width`` (rows and height likewise);
  - ``depth``: a *relative* depth, 0 = nearest to the camera, 1 = farthest. It is the median, over the
    object's mask, of a depth map normalized over the whole twin range, so values compare across
    frames of one twin. It is not metric: only the order and relative differences mean something.

:func:`validate_twin` is the one entry point for untrusted JSON (files, LLM edits): it checks the
structure with pydantic, then the rules a JSON Schema cannot express (frame order, unique ids, mask
sizes, decodable RLE, tracks agreeing with frames), and raises one
:class:`~river_core.errors.TwinValidationError` naming every problem by its JSON path.

>>> doc = load_twin(Path("clip.twin.json"))                      # doctest: +SKIP
>>> [i for i, obj in doc.track(3)][:3]                           # doctest: +SKIP
[30, 31, 32]
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from river_core import __version__
from river_core.atomic import write_bytes_atomic
from river_core.errors import RiverError, TwinValidationError
from river_core.media.rational import FrameRange, Timecode
from river_core.twin.rle import rle_problem

TWIN_SCHEMA_VERSION: Final = "1.0"
SUPPORTED_SCHEMA_VERSIONS = (TWIN_SCHEMA_VERSION,)
TWIN_SCHEMA_ID = f"https://river-nle.dev/schemas/twin-{TWIN_SCHEMA_VERSION}.json"

# How many problems one TwinValidationError lists; the rest are counted.
_MAX_LISTED_PROBLEMS = 5

Unit = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
PosInt = Annotated[StrictInt, Field(ge=1)]

DEPTH_DESCRIPTION = (
    "Relative depth in [0, 1]: 0 = nearest to the camera, 1 = farthest. The median over the object's "
    "mask of a depth map normalized over the whole twin range, so values compare across frames of "
    "one twin. Not metric: only the order and relative differences are meaningful."
)


class _Model(BaseModel):
    # Unknown keys are errors: a typo ("colour") must not silently drop data. NaN and infinity are
    # not JSON, so they could never be saved.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RLE(_Model):
    """A COCO run-length encoded binary mask, as pycocotools writes it."""

    size: tuple[PosInt, PosInt] = Field(description="[height, width] of the mask: the source frame size.")
    counts: StrictStr = Field(
        pattern=r"^[0-o]*$",
        description="Compressed COCO counts: column-major alternating runs (zeros first), "
        "LEB128-like ASCII in characters '0'..'o'.",
    )


class MaskRef(_Model):
    """Where an object's mask is: stored inline as RLE."""

    rle: RLE


class Spatial(_Model):
    """Spatial properties of one object in one frame, normalized to [0, 1] with the origin top-left."""

    x: Unit = Field(description="Mask centroid column: (mean column + 0.5) / width.")
    y: Unit = Field(description="Mask centroid row: (mean row + 0.5) / height.")
    depth: Unit = Field(description=DEPTH_DESCRIPTION)
    size: Unit = Field(description="Mask area / (width × height).")
    bbox: tuple[Unit, Unit, Unit, Unit] | None = Field(
        default=None,
        description="[x0, y0, x1, y1] pixel-edge box: x0 = min column / width, x1 = (max column + 1) / width "
        "(likewise y with rows and height). Optional in hand-written twins; builders always fill it.",
    )


class TwinObject(_Model):
    """One object instance in one frame: the tuple (i, c, a, m, s)."""

    id: NonNegInt = Field(description="Track id, stable across frames.")
    category: StrictStr = Field(min_length=1, description="Semantic category, e.g. 'dog'.")
    attributes: StrictStr = Field(description="Free-text visual description (color, texture, pose...).")
    mask: MaskRef
    spatial: Spatial


class FrameEntry(_Model):
    """The objects visible in one source frame."""

    index: NonNegInt = Field(description="Source frame number (inside video.frame_range).")
    objects: list[TwinObject] = Field(description="Objects visible in this frame; ids are unique.")


class VideoInfo(_Model):
    """The source the twin describes."""

    path: StrictStr = Field(description="Media path or URI of the source.")
    content_hash: StrictStr = Field(
        pattern=r"^sha256:[0-9a-f]{64}$", description="sha256 of the source media."
    )
    width: PosInt = Field(description="Source width in pixels (masks are at this resolution).")
    height: PosInt = Field(description="Source height in pixels.")
    rate: StrictStr = Field(pattern=r"^[1-9][0-9]*/[1-9][0-9]*$", description="Exact frame rate 'num/den'.")
    frame_count: PosInt = Field(description="Frames in the whole source.")
    frame_range: FrameRange = Field(description="Source frames the twin covers, half-open.")
    start_timecode: StrictStr = Field(
        pattern=r"^[0-9]{2}:[0-9]{2}:[0-9]{2}[:;][0-9]{2}$",
        description="Timecode of frame_range.start: HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame.",
    )
    drop_frame: StrictBool = Field(description="Whether start_timecode is drop-frame.")

    @property
    def rate_fraction(self) -> Fraction:
        return Fraction(self.rate)

    @property
    def timecode(self) -> Timecode:
        """The start timecode as a :class:`~river_core.media.rational.Timecode`."""
        return Timecode.parse(self.start_timecode, self.rate_fraction, self.drop_frame)


class TrackSummary(_Model):
    """One object's life in the twin (derived from frames; see :func:`summarize_tracks`)."""

    id: NonNegInt
    category: StrictStr = Field(description="The most common category of this id.")
    attributes: StrictStr = Field(description="The most common attributes of this id.")
    first_frame: NonNegInt
    last_frame: NonNegInt
    frame_count: PosInt = Field(description="Number of frames the object appears in.")


class ModelRef(_Model):
    """A model a builder stage used."""

    role: StrictStr = Field(description="Stage, e.g. 'segmenter', 'depth'.")
    id: StrictStr = Field(description="Model id, e.g. 'facebook/sam2.1-hiera-large'.")
    revision: StrictStr | None = None


def now_iso() -> str:
    """The current UTC time as ISO-8601 with seconds, as provenance records it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Provenance(_Model):
    """How the twin was made."""

    builder: StrictStr = "unknown"
    builder_version: StrictStr = __version__
    created: StrictStr = Field(
        default_factory=now_iso, json_schema_extra={"format": "date-time"}, description="ISO-8601 time."
    )
    models: list[ModelRef] = Field(default_factory=list)
    calls: dict[StrictStr, NonNegInt] = Field(default_factory=dict, description="Model calls per role.")
    timings_ms: dict[StrictStr, StrictFloat] = Field(default_factory=dict, description="Time per stage.")
    vocabulary: list[StrictStr] = Field(default_factory=list, description="Detector vocabulary.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Free-form builder settings.")
    warnings: list[StrictStr] = Field(default_factory=list)

    @field_validator("created")
    @classmethod
    def _iso_8601(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO-8601 date-time like 2026-01-31T12:00:00+00:00"
            ) from None
        return value


class TwinDocument(_Model):
    """A digital twin of a frame range of one video (schema version 1.0)."""

    schema_version: Literal["1.0"] = TWIN_SCHEMA_VERSION
    video: VideoInfo
    frames: list[FrameEntry]
    tracks: list[TrackSummary] = Field(default_factory=list, description="Per-id summaries (optional).")
    provenance: Provenance = Field(default_factory=Provenance)

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict; ``validate_twin(doc.to_json()) == doc``."""
        return self.model_dump(mode="json")

    def object_ids(self) -> list[int]:
        """Every object id that appears in some frame, sorted."""
        return sorted({obj.id for frame in self.frames for obj in frame.objects})

    def frame(self, index: int) -> FrameEntry:
        """The entry of source frame ``index``; ``KeyError`` if the twin does not list it."""
        for entry in self.frames:
            if entry.index == index:
                return entry
        raise KeyError(f"frame {index} is not in this twin (it covers {self.video.frame_range})")

    def track(self, object_id: int) -> Iterator[tuple[int, TwinObject]]:
        """Yield ``(frame index, object)`` for every frame in which ``object_id`` appears."""
        for entry in self.frames:
            for obj in entry.objects:
                if obj.id == object_id:
                    yield entry.index, obj


def summarize_tracks(frames: Iterable[FrameEntry]) -> list[TrackSummary]:
    """One :class:`TrackSummary` per object id, sorted by id.

    Category and attributes are the most common values of that id (the first seen wins a tie).
    """
    seen: dict[int, list[tuple[int, TwinObject]]] = {}
    for entry in frames:
        for obj in entry.objects:
            seen.setdefault(obj.id, []).append((entry.index, obj))
    return [
        TrackSummary(
            id=object_id,
            category=Counter(o.category for _, o in hits).most_common(1)[0][0],
            attributes=Counter(o.attributes for _, o in hits).most_common(1)[0][0],
            first_frame=min(i for i, _ in hits),
            last_frame=max(i for i, _ in hits),
            frame_count=len(hits),
        )
        for object_id, hits in sorted(seen.items())
    ]


def twin_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of twin documents, for standard validators and LLM prompts.

    It checks structure and value ranges; :func:`validate_twin` adds the consistency rules.
    """
    body = TwinDocument.model_json_schema()
    body.pop("title", None)
    body.pop("description", None)
    # The version has a Python default for builders, but a file must say which schema it follows.
    body["required"] = ["schema_version", *[r for r in body.get("required", []) if r != "schema_version"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": TWIN_SCHEMA_ID,
        "title": f"RIVER digital twin {TWIN_SCHEMA_VERSION}",
        "description": "Per-frame object tuples (id, category, attributes, mask, spatial) of a video "
        "frame range. Masks are COCO RLE at source resolution. " + DEPTH_DESCRIPTION,
        **body,
    }


# -- validation --------------------------------------------------------------------------------


def validate_twin(data: dict[str, Any] | str | bytes | Path | TwinDocument) -> TwinDocument:
    """Parse and check a twin; raise :class:`TwinValidationError` listing what is wrong.

    ``data`` is a parsed dict, JSON text (``str``/``bytes``), a ``Path`` to a JSON file, or a
    :class:`TwinDocument` (only the consistency rules are checked then).
    """
    source = f"{data}: " if isinstance(data, Path) else ""
    if isinstance(data, TwinDocument):
        doc = data
    else:
        raw = _load_raw(data)
        if not isinstance(raw, dict):
            raise TwinValidationError(f"{source}a twin is a JSON object, not {type(raw).__name__}")
        version = raw.get("schema_version")
        if "schema_version" not in raw:
            raise TwinValidationError(
                f'{source}schema_version: required field is missing; add "schema_version": '
                f'"{TWIN_SCHEMA_VERSION}" if the file follows this schema'
            )
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            raise TwinValidationError(
                f"{source}schema_version: {version!r} is not supported; this RIVER {__version__} reads "
                f"{', '.join(SUPPORTED_SCHEMA_VERSIONS)}: rebuild the twin or upgrade RIVER"
            )
        try:
            doc = TwinDocument.model_validate(raw)
        except ValidationError as exc:
            raise _problems_error(source, _pydantic_problems(exc)) from None
    problems = twin_problems(doc)
    if problems:
        raise _problems_error(source, problems)
    return doc


def _load_raw(data: dict[str, Any] | str | bytes | Path) -> Any:
    if isinstance(data, dict):
        return data
    text: str | bytes
    if isinstance(data, Path):
        try:
            text = data.read_bytes()
        except OSError as exc:
            raise TwinValidationError(
                f"{data}: cannot read the twin ({exc.strerror}); check the path"
            ) from None
        where = "file"
    else:
        text, where = data, "text"
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        hint = "" if where == "file" else "; pass a pathlib.Path to read a file"
        raise TwinValidationError(f"twin {where} is not valid JSON ({exc}){hint}") from None


def _problems_error(source: str, problems: list[str]) -> TwinValidationError:
    listed = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
    more = len(problems) - _MAX_LISTED_PROBLEMS
    tail = f"; … and {more} more" if more > 0 else ""
    noun = "problem" if len(problems) == 1 else "problems"
    return TwinValidationError(f"{source}invalid twin, {len(problems)} {noun}: {listed}{tail}")


def json_path(loc: Iterable[int | str]) -> str:
    """A pydantic error location as a JSON path: ``frames[3].objects[0].id``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(document)"


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool | type(None)) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# What a pattern mismatch means, by field name: the regex alone does not tell a user what to write.
_PATTERN_HINTS = {
    "rate": "write the exact rate as num/den, e.g. 30000/1001 or 25/1",
    "content_hash": 'write "sha256:" and 64 lowercase hex digits',
    "start_timecode": "write HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame",
    "counts": "COCO RLE counts use only the characters '0'..'o'",
}


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        path = json_path(loc)
        if err["type"] == "missing":
            problems.append(f"{path}: required field is missing")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown field (not in twin schema {TWIN_SCHEMA_VERSION}); remove it")
        elif err["type"] == "string_pattern_mismatch" and loc and loc[-1] in _PATTERN_HINTS:
            problems.append(f"{path}: got {_short(err['input'])}; {_PATTERN_HINTS[str(loc[-1])]}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{path}: {msg}, got {_short(err['input'])}")
    return problems


def twin_problems(doc: TwinDocument) -> list[str]:
    """The consistency rules a JSON Schema cannot express, as readable ``path: problem`` lines."""
    problems = _video_problems(doc.video)
    shape = [doc.video.height, doc.video.width]
    frame_range = doc.video.frame_range
    previous: int | None = None
    for fi, entry in enumerate(doc.frames):
        where = f"frames[{fi}].index"
        if previous is not None and entry.index <= previous:
            problems.append(f"{where}: {entry.index} follows {previous}; frames must be strictly increasing")
        if not frame_range.start <= entry.index < frame_range.end:
            problems.append(
                f"{where}: {entry.index} is outside video.frame_range "
                f"[{frame_range.start}, {frame_range.end})"
            )
        previous = entry.index
        ids: set[int] = set()
        for oi, obj in enumerate(entry.objects):
            at = f"frames[{fi}].objects[{oi}]"
            if obj.id in ids:
                problems.append(f"{at}.id: {obj.id} appears twice in frame {entry.index}; ids must be unique")
            ids.add(obj.id)
            size = list(obj.mask.rle.size)
            if size != shape:
                problems.append(f"{at}.mask.rle.size: {shape} expected (video height, width), got {size}")
            else:
                reason = rle_problem(obj.mask.rle)
                if reason:
                    problems.append(f"{at}.mask.rle.counts: {reason}")
            box = obj.spatial.bbox
            if box is not None and (box[0] > box[2] or box[1] > box[3]):
                problems.append(
                    f"{at}.spatial.bbox: {list(box)} is not ordered [x0, y0, x1, y1] with x0 ≤ x1, y0 ≤ y1"
                )
    if doc.tracks:
        problems += _track_problems(doc)
    return problems


def _video_problems(video: VideoInfo) -> list[str]:
    problems = []
    fr = video.frame_range
    if fr.end <= fr.start:
        problems.append(f"video.frame_range: [{fr.start}, {fr.end}) is empty; end must be greater than start")
    if fr.end > video.frame_count:
        problems.append(f"video.frame_range.end: {fr.end} is past video.frame_count {video.frame_count}")
    drop_sep = video.start_timecode[8] == ";"
    if drop_sep != video.drop_frame:
        problems.append(
            f"video.start_timecode: {video.start_timecode!r} disagrees with drop_frame={video.drop_frame}; "
            "drop-frame timecode is written HH:MM:SS;FF, non-drop HH:MM:SS:FF"
        )
    else:
        try:
            video.timecode  # noqa: B018 - parsing is the check
        except RiverError as exc:
            problems.append(f"video.start_timecode: {exc}")
    return problems


def _track_problems(doc: TwinDocument) -> list[str]:
    problems = []
    actual = {t.id: t for t in summarize_tracks(doc.frames)}
    listed: set[int] = set()
    for ti, track in enumerate(doc.tracks):
        at = f"tracks[{ti}]"
        if track.id in listed:
            problems.append(f"{at}.id: {track.id} is summarized twice")
        listed.add(track.id)
        truth = actual.get(track.id)
        if truth is None:
            problems.append(f"{at}.id: {track.id} does not appear in any frame")
            continue
        for name in ("first_frame", "last_frame", "frame_count"):
            got, want = getattr(track, name), getattr(truth, name)
            if got != want:
                problems.append(f"{at}.{name}: the frames say {want}, got {got}")
    missing = sorted(set(actual) - listed)
    if missing:
        problems.append(f"tracks: ids {missing} appear in frames but have no summary; use summarize_tracks()")
    return problems


# -- files -------------------------------------------------------------------------------------


def load_twin(path: Path | str) -> TwinDocument:
    """Read and validate a twin JSON file."""
    return validate_twin(Path(path))


def save_twin(doc: TwinDocument, path: Path | str, *, overwrite: bool = True) -> Path:
    """Check ``doc`` and write it as pretty JSON, atomically (a failed write leaves ``path`` as it was)."""
    path = Path(path)
    validate_twin(doc)
    write_bytes_atomic(path, twin_json_text(doc).encode("utf-8"), overwrite=overwrite)
    return path


# A JSON array of numbers spread over lines by `indent`; strings never hold a raw newline, so a
# match is always structure, never text inside a value.
_NUMBER_ARRAY = re.compile(r"\[\n\s+([-0-9.eE+,\s]+?)\n\s*\]")


def twin_json_text(doc: TwinDocument) -> str:
    """Pretty JSON (2-space indent, number arrays such as ``size`` and ``bbox`` on one line)."""
    text = json.dumps(doc.to_json(), indent=2, ensure_ascii=False, allow_nan=False)
    text = _NUMBER_ARRAY.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    return text + "\n"
