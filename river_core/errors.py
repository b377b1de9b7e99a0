"""The engine's exceptions.

Every error a user can cause derives from :class:`RiverError` *and* the matching builtin
(the PyAV pattern), so callers can catch either. The message is one line that says what is
wrong and how to fix it; the CLI prints it as is, without a traceback.
"""

from __future__ import annotations


class RiverError(Exception):
    """Base class for errors caused by input, configuration or the environment."""


class MediaError(RiverError, ValueError):
    """A media file cannot be used (not a video, truncated, unsupported...)."""


class MediaNotFoundError(MediaError, FileNotFoundError):
    """A media path does not exist."""


class RangeError(RiverError, ValueError):
    """A frame range is malformed or outside the clip."""


class OutOfRangeError(RangeError):
    """A well-formed range that lies outside the clip, the twin or the plan it must be inside."""


class OutputError(RiverError, OSError):
    """An output cannot be written where asked (exists, equals a source, disk full...)."""


class TwinValidationError(RiverError, ValueError):
    """A twin document does not satisfy the schema or its consistency rules."""


class Cancelled(RiverError):
    """A long operation was cancelled through its :class:`~river_core.progress.CancelToken`."""


class ModelUnavailableError(RiverError, FileNotFoundError):
    """A model checkpoint is not in the cache or the directory given (and cannot be downloaded)."""


class UsageError(RiverError, ValueError):
    """A request whose options cannot work together, or a value out of its allowed range: the
    command line's usage errors (exit 2). ``field`` names the option at fault when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
