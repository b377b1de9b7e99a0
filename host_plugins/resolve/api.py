"""Talking to Resolve's scripting objects safely.

Resolve's objects answer *any* attribute name with a callable (``hasattr`` is always True, and an
unknown method returns None), so features are detected with ``dir()``. A handle from a project that is
no longer open answers None to everything: every call that must answer goes through :func:`call`,
which turns None into a :class:`ResolveError` naming what failed.
"""

from __future__ import annotations

from typing import Any


class ResolveError(Exception):
    """Resolve refused or failed something; ``str()`` is one line saying what and how to fix it."""


def has(obj: Any, method: str) -> bool:
    """Whether Resolve's object really has ``method`` (``dir()``, never ``hasattr``)."""
    try:
        return method in dir(obj)
    except Exception:  # noqa: BLE001  (a dead native object can fail to list itself)
        return False


def call(obj: Any, method: str, *args: Any, what: str = "", allow_none: bool = False) -> Any:
    """``obj.method(*args)``; ResolveError when the method is missing or answers None."""
    if obj is None:
        raise ResolveError(f"{what or method}: the Resolve object is gone (was the project closed?)")
    if not has(obj, method):
        raise ResolveError(
            f"{what or method}: this Resolve has no {method}() — update DaVinci Resolve (21.0.4 or later)"
        )
    value = getattr(obj, method)(*args)
    if value is None and not allow_none:
        raise ResolveError(
            f"{what or method}: Resolve answered nothing — the project or timeline was switched or closed "
            "while RIVER worked; reopen it and run again"
        )
    return value


def version_text(resolve: Any) -> str:
    """``21.0.4.7`` from ``GetVersion()`` ([major, minor, patch, build, suffix]); '' when unknown."""
    fields = resolve.GetVersion() if has(resolve, "GetVersion") else None
    if not fields:
        return resolve.GetVersionString() if has(resolve, "GetVersionString") else ""
    if isinstance(fields, dict):  # some builds answer {1: major, 2: minor, …}
        fields = [fields[k] for k in sorted(fields)]
    numbers = [str(f) for f in list(fields)[:4] if str(f) != ""]
    suffix = str(fields[4]) if len(fields) > 4 and fields[4] else ""
    return ".".join(numbers) + (f" {suffix}" if suffix else "")


def version_tuple(resolve: Any) -> tuple[int, ...]:
    fields = resolve.GetVersion() if has(resolve, "GetVersion") else None
    if isinstance(fields, dict):
        fields = [fields[k] for k in sorted(fields)]
    out = []
    for f in list(fields or [])[:4]:
        try:
            out.append(int(f))
        except (TypeError, ValueError):
            break
    return tuple(out)
