"""What every ``river`` command shares: progress bars, JSON output, usage errors and flag names."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from river_core.progress import ProgressCallback, ProgressEvent

# Request fields whose flag is not ``--`` + the field name with ``-`` for ``_``.
FLAG_NAMES: Mapping[str, str] = {
    "output": "--out",
    "format": "--format",
    "targets": "--targets",
    "media": "MEDIA",
    "query": '"query"',
}


def flag(field: str) -> str:
    """The command-line spelling of a request field: ``conditioning_scale`` → ``--conditioning-scale``."""
    return FLAG_NAMES.get(field, "--" + field.replace("_", "-"))


@contextmanager
def progress_bar(args: argparse.Namespace) -> Iterator[ProgressCallback | None]:
    """tqdm bars on stderr, one per stage run; they appear only after a second and only on a terminal."""
    if getattr(args, "quiet", False):
        yield None
        return
    from tqdm import tqdm

    bar: Any = None
    stage: str | None = None

    def update(event: ProgressEvent) -> None:
        nonlocal bar, stage
        if bar is not None and (event.stage != stage or event.done < bar.n):
            bar.close()  # a new stage, or the same stage run again
            bar = None
        if bar is None:
            bar = tqdm(
                total=event.total, desc=event.stage, unit=event.unit,
                delay=1.0, disable=None, leave=False, file=sys.stderr,
            )  # fmt: skip
            stage = event.stage
        bar.update(event.done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def say_to(args: argparse.Namespace) -> Any:
    """A ``say`` callback printing engine messages unless ``--json`` or ``-q`` asked for quiet."""

    def say(line: str) -> None:
        if not getattr(args, "json", False) and not getattr(args, "quiet", False):
            print(line, flush=True)

    return say
