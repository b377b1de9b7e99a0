"""Tasks with exact answers: the training and evaluation format of the reasoner (JSON Lines).

One task per line. It names its input (a twin file, or media and a frame range), the implicit query as
an editor types it, its level (1–3: how many reasoning hops it takes) and category (semantic, spatial,
temporal, as in the paper's RVEBench), and the gold answer: the target object ids with the half-open
frame spans they are edited in, the edit itself (a plan operation kind with its prompt or color), and
``program``, the twin-API code that computes the targets (oracle rollouts execute it). The paper's
RVEBench is not public, so this format is the reference; :func:`task_schema` is its JSON Schema
(``river data schema``, also ``trainer/schemas/task.schema.json``), and trainer/README.md shows a line.

>>> tasks = read_tasks(Path("data/val.jsonl"))                    # doctest: +SKIP
>>> tasks[0].query, [t.id for t in tasks[0].gold.targets]         # doctest: +SKIP
('blur the cup left of the largest plate', [4])
>>> tasks[0].twin_path(Path("data"))                              # doctest: +SKIP
PosixPath('data/twins/syn-0-0003.json')
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from river_core.atomic import write_bytes_atomic
from river_core.errors import RiverError
from river_core.media.rational import FrameRange
from river_core.reasoning.plan import COLOR_KINDS, Kind, color_problem
from river_core.twin.schema import json_path

TASK_VERSION: Final = "1.0"
TASK_SCHEMA_ID: Final = f"https://river-nle.dev/schemas/task-{TASK_VERSION}.json"
LEVELS: Final = (1, 2, 3)
CATEGORIES: Final = ("semantic", "spatial", "temporal")
SPLITS: Final = ("train", "val", "test")
PROMPT_KINDS: Final = ("appearance", "replace", "add")
"""Generative kinds whose gold edit needs the look asked for (``prompt``)."""

Category = Literal["semantic", "spatial", "temporal"]
Split = Literal["train", "val", "test"]

_MAX_LISTED_PROBLEMS = 5


class TaskFormatError(RiverError, ValueError):
    """A task file or task that does not follow the format; the message names each line and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TwinSource(_Model):
    """The task's input is a twin file."""

    twin: StrictStr = Field(
        min_length=1,
        description="Path of the twin JSON, relative to the folder of the task file (or absolute).",
    )


class MediaSource(_Model):
    """The task's input is a frame range of a media file (its twin is built first)."""

    media: StrictStr = Field(
        min_length=1, description="Path of the media, relative to the folder of the task file (or absolute)."
    )
    range: StrictStr = Field(
        pattern=r"^[0-9]+:[0-9]+$", description="Source frames START:END, half-open, e.g. '30:120'."
    )

    @field_validator("range")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        FrameRange.parse(value)  # a RangeError (a ValueError) says what is wrong
        return value


def _source_kind(value: Any) -> str | None:
    if isinstance(value, (TwinSource, MediaSource)):
        return "twin" if isinstance(value, TwinSource) else "media"
    if not isinstance(value, dict):
        return None  # not an object: the discriminator's error says what a source is
    return "twin" if "twin" in value else "media" if "media" in value else None


Source = Annotated[
    Annotated[TwinSource, Tag("twin")] | Annotated[MediaSource, Tag("media")],
    Discriminator(
        _source_kind,
        custom_error_type="invalid_source",
        custom_error_message='source must be {"twin": PATH} or {"media": PATH, "range": "START:END"}',
    ),
]


class GoldTarget(_Model):
    """One object to edit and where: its id in the twin and the frames the edit covers."""

    id: Annotated[StrictInt, Field(ge=0)] = Field(description="Track id in the twin.")
    frames: list[FrameRange] = Field(
        min_length=1,
        description="Absolute source frames, half-open ranges, ascending and neither overlapping nor "
        "touching (3:5 and 5:9 are written 3:9).",
    )

    @field_validator("frames")
    @classmethod
    def _ordered(cls, frames: list[FrameRange]) -> list[FrameRange]:
        for before, after in itertools.pairwise(frames):
            if after.start <= before.end:
                raise ValueError(
                    f"ranges {before} and {after} overlap, touch or are out of order; merge and sort them"
                )
        return frames


class GoldEdit(_Model):
    """What is done to the targets: a plan operation kind and its parameters."""

    op: Kind = Field(
        description="A plan operation kind (river plan schema): generative appearance, replace, remove, "
        "add, move; instant blur, pixelate, mask_out, recolor, highlight, matte."
    )
    prompt: StrictStr | None = Field(
        default=None,
        min_length=1,
        description="The new look, as the query asks for it ('look like bronze'); needed by appearance, "
        "replace and add.",
    )
    color: StrictStr | None = Field(
        default=None, description="recolor (needed), mask_out, highlight: a CSS color name or #RRGGBB."
    )

    @model_validator(mode="after")
    def _fits_op(self) -> GoldEdit:
        if self.op == "recolor" and self.color is None:
            raise ValueError('a recolor needs its color, e.g. "color": "green"')
        if self.color is not None:
            if self.op not in COLOR_KINDS:
                raise ValueError(f"color goes with {', '.join(COLOR_KINDS)}, not {self.op}")
            problem = color_problem(self.color)
            if problem:
                raise ValueError(problem)
        if self.op in PROMPT_KINDS and self.prompt is None:
            raise ValueError(f'a gold {self.op} needs its prompt, e.g. "prompt": "look like bronze"')
        return self


class Gold(_Model):
    """The exact answer."""

    targets: list[GoldTarget] = Field(min_length=1, description="The objects to edit, each with its frames.")
    edit: GoldEdit
    program: StrictStr = Field(
        min_length=1,
        description="Twin-API code (the helpers of river_core.reasoning.twin_api) that computes the "
        "targets: it sets `target` (an id) and, when the edit covers only some of the target's frames, "
        "`target_frames` (their indices), and prints what it found. Oracle rollouts execute it.",
    )

    @field_validator("targets")
    @classmethod
    def _unique(cls, targets: list[GoldTarget]) -> list[GoldTarget]:
        repeated = sorted(i for i, n in Counter(t.id for t in targets).items() if n > 1)
        if repeated:
            raise ValueError(f"object ids {repeated} are listed twice; give each target once")
        return targets


class Task(_Model):
    """One task: input, implicit query, level, category, gold answer."""

    task_version: Literal["1.0"] = TASK_VERSION
    id: StrictStr = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Unique in its file, e.g. 'syn-0-0003-02'."
    )
    scene: StrictStr = Field(
        min_length=1, description="The scene (video) it is about; all tasks of a scene share one split."
    )
    split: Split
    source: Source
    query: StrictStr = Field(min_length=1, description="The implicit request as an editor types it.")
    level: Annotated[StrictInt, Field(ge=1, le=3)] = Field(
        description="Reasoning hops: 1 the target is described directly, 2 through one intermediate "
        "object or fact, 3 through two (the target itself unnamed)."
    )
    category: Category = Field(
        description="Reasoning the last hop needs: semantic (categories, attributes), spatial (positions, "
        "sizes, depth), temporal (order, entering and leaving, touching)."
    )
    template: StrictStr = Field(min_length=1, description="What produced it, e.g. 'l2_spatial_relation'.")
    slots: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, description="The template's filled slots, e.g. {'relation': 'left of'}."
    )
    gold: Gold

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def twin_path(self, base: Path) -> Path | None:
        """The twin file of a twin source, relative paths taken from ``base`` (the task file's folder)."""
        if not isinstance(self.source, TwinSource):
            return None
        return Path(base) / self.source.twin

    @property
    def target_ids(self) -> list[int]:
        return [t.id for t in self.gold.targets]


def task_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one line of a task file: ``river data schema``."""
    body = Task.model_json_schema()
    body.pop("title", None)
    body.pop("description", None)
    body["required"] = ["task_version", *[r for r in body.get("required", []) if r != "task_version"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": TASK_SCHEMA_ID,
        "title": f"RIVER reasoning task {TASK_VERSION}",
        "description": "One line of a task file (JSON Lines): an input twin or media range, an implicit "
        "editing query with its level (1-3 hops) and category (semantic, spatial, temporal), and the gold "
        "answer (target ids per frame span, the edit, the twin-API program computing the targets).",
        **body,
    }


def task_schema_text() -> str:
    """The schema as the file ``trainer/schemas/task.schema.json`` holds it."""
    return json.dumps(task_schema(), indent=2, ensure_ascii=False) + "\n"


def tasks_text(tasks: Iterable[Task]) -> str:
    """Task lines, one compact JSON object each, in the order given."""
    return "".join(json.dumps(t.to_json(), ensure_ascii=False) + "\n" for t in tasks)


def write_tasks(path: Path | str, tasks: Iterable[Task], *, overwrite: bool = True) -> Path:
    """Write ``tasks`` as JSON Lines, atomically; ids must be unique."""
    tasks = list(tasks)
    seen: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if task.id in seen:
            raise TaskFormatError(f"task id {task.id!r} is used by tasks {seen[task.id]} and {i}")
        seen[task.id] = i
    path = Path(path)
    write_bytes_atomic(path, tasks_text(tasks).encode("utf-8"), overwrite=overwrite)
    return path


def read_tasks(path: Path | str) -> list[Task]:
    """Read and validate a task file; blank lines are skipped.

    Raises :class:`TaskFormatError` listing every problem as ``line N: field.path: what`` (the first few,
    then a count), or naming the file when it cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskFormatError(f"{path}: cannot read the task file ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise TaskFormatError(f"{path}: not UTF-8 text; a task file is JSON Lines") from None
    tasks, problems = parse_tasks(text)
    if problems:
        listed = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        noun = "problem" if len(problems) == 1 else "problems"
        raise TaskFormatError(
            f"{path}: invalid tasks, {len(problems)} {noun}: {listed}"
            + (f"; … and {more} more" if more > 0 else "")
        )
    return tasks


def parse_tasks(text: str) -> tuple[list[Task], list[str]]:
    """The valid tasks of JSON Lines ``text`` and the problems of the others (``line N: ...``)."""
    tasks: list[Task] = []
    problems: list[str] = []
    lines_of: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(raw, dict):
            problems.append(f"line {lineno}: a task is a JSON object, not {type(raw).__name__}")
            continue
        try:
            task = Task.model_validate(raw)
        except ValidationError as exc:
            problems += [f"line {lineno}: {p}" for p in _validation_problems(exc)]
            continue
        if task.id in lines_of:
            problems.append(f"line {lineno}: id: {task.id!r} is already the id of line {lines_of[task.id]}")
            continue
        lines_of[task.id] = lineno
        tasks.append(task)
    return tasks, problems


def _validation_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        path = json_path(err["loc"])
        if err["type"] == "missing":
            problems.append(f"{path}: required field is missing")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown field (not in task format {TASK_VERSION}); remove it")
        else:
            problems.append(f"{path}: {err['msg'].removeprefix('Value error, ')}")
    return problems
