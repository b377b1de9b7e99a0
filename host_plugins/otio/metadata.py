"""New OTIO objects with large metadata, made fast and exactly.

OTIO converts a dict set into metadata item by item in Python: a job's provenance (a hundred values)
takes about a millisecond, and 2,000 RIVER clips took 2 s of a lay-back. OTIO's JSON reader builds the
same values in C++, several times faster. It is used only where it gives exactly what setting the
values would: str-keyed dicts, lists, str, bool, None, int64 and the floats the reader parses exactly
(see :func:`exact_json_float`); anything else is set item by item, as before, with OTIO's own errors.

    >>> clip = with_metadata(otio.schema.Clip, {"river": {"job_id": "j1"}})
    >>> clip.name = "shot 1 (RIVER)"
"""

from __future__ import annotations

import copy
import functools
import json
import math
from typing import Any, TypeVar

import opentimelineio as otio

T = TypeVar("T", bound=otio.core.SerializableObjectWithMetadata)

_INT64 = 2**63
_WHOLE = 2**49  # a whole float below it: at most 15 digits, "N.0", within the rule below
_BARE: dict[type, dict[str, Any]] = {}  # schema → a default-made one as OTIO writes it (times: 0 and 1)


def with_metadata(schema: type[T], metadata: dict[str, Any]) -> T:
    """``schema()`` (``otio.schema.Clip``, ``Marker``, …) with a copy of ``metadata`` as its metadata;
    set its other fields after."""
    text = None
    if json_exact(metadata):
        if schema not in _BARE:
            _BARE[schema] = json.loads(schema().to_json_string())
        text = json.dumps({**_BARE[schema], "metadata": metadata}, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: OTIO refuses it, in its own words, below
            text = None
    if text is None:
        made = schema()
        for key, value in metadata.items():
            made.metadata[key] = copy.deepcopy(value)
        return made
    return otio.core.deserialize_json_from_string(text)  # type: ignore[no-any-return]


def json_exact(value: Any) -> bool:
    """Whether OTIO's JSON reader gives back from ``json.dumps(value)`` what setting ``value`` stores."""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            # (a str, the most common value, is taken here: no call for it)
            if type(k) is not str or (type(v) is not str and not json_exact(v)):
                return False
        return True
    if kind is list or kind is tuple:
        return all(type(v) is str or json_exact(v) for v in value)
    if kind is float:
        return exact_json_float(value)
    if kind is int:
        return -_INT64 <= value < _INT64
    return kind is str or kind is bool or value is None


def exact_json_float(x: float) -> bool:
    """Whether OTIO's JSON reader (RapidJSON at normal precision: off by up to 3 ulp in general) reads
    ``repr(x)`` back as ``x``. It does for an integer of at most 2**53 times a power of ten within ±22:
    one correctly rounded operation, and ``repr`` is the shortest text that rounds back to ``x``."""
    if x.is_integer() and -_WHOLE < x < _WHOLE:  # the common case (frame counts), fast: "108135.0"
        return True
    return _exact_fraction(x)


@functools.lru_cache(maxsize=256)  # rates: a handful per timeline, asked for per clip
def _exact_fraction(x: float) -> bool:
    if not math.isfinite(x):
        return False
    mantissa, _, exponent = repr(x).lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    return int(whole + fraction) <= 2**53 and -22 <= int(exponent or 0) - len(fraction) <= 22
