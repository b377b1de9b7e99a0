"""Where the server keeps its state, which media it may read and where it may write.

Media paths resolve (symlinks followed) inside a media root; outputs inside the output root. A path
that escapes is refused before anything else is learned about it (not even whether it exists).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

DEFAULT_MAX_QUEUE: Final = 64


class PathRefused(Exception):
    """A path resolves outside the roots it must stay in (PERMISSION_DENIED)."""


def default_state_dir() -> Path:
    """``$RIVER_STATE_DIR``, else the user's state directory (jobs.sqlite3, job folders, outputs)."""
    if env := os.environ.get("RIVER_STATE_DIR"):
        return Path(env).expanduser()
    from platformdirs import user_state_dir

    return Path(user_state_dir("river-nle", appauthor=False))


def default_media_roots() -> list[Path]:
    """``$RIVER_MEDIA_ROOTS`` (os.pathsep-separated), else the home and the current directory."""
    if env := os.environ.get("RIVER_MEDIA_ROOTS"):
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home(), Path.cwd()]


@dataclass
class ServerConfig:
    """Everything ``river serve`` is told (or defaults to)."""

    state_dir: Path = field(default_factory=default_state_dir)
    media_roots: Sequence[Path] = field(default_factory=default_media_roots)
    output_root: Path | None = None  # default: <state_dir>/outputs
    profile: str = "paper"
    socket: Path | None = None  # default: <runtime dir>/bridge.sock
    port: int | None = None  # loopback TCP instead of a socket (0: any free port)
    discovery: Path | None = None  # default: <runtime dir>/bridge.json
    max_queue: int = DEFAULT_MAX_QUEUE
    preload: bool = True  # load the editor (and reasoner) at start; health is NOT_SERVING meanwhile
    device: str | None = None
    dtype: str | None = None
    workers: int = 64  # gRPC handler threads (watch streams hold one each)
    runner: str = "local"  # "local": one worker thread; "ray": Ray actors, one pipeline each
    ray_address: str | None = None  # join this Ray cluster ("auto", "ray://host:10001"); none: a local one
    ray_cpus: int | None = None  # CPU actors instead of one actor per GPU

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).expanduser().resolve()
        self.media_roots = [Path(p).expanduser().resolve() for p in self.media_roots]
        self.output_root = Path(self.output_root or self.state_dir / "outputs").expanduser().resolve()
        if not self.media_roots:
            raise ValueError("give at least one --media-root: the server reads media only inside them")
        if self.max_queue < 1:
            raise ValueError(f"--max-queue must be at least 1, not {self.max_queue}")
        if self.runner not in ("local", "ray"):
            raise ValueError(f"--runner must be local or ray, not {self.runner!r}")
        if self.runner != "ray" and (self.ray_address or self.ray_cpus):
            raise ValueError("--ray-address and --ray-cpus go with --runner ray")
        if self.ray_cpus is not None and self.ray_cpus < 1:
            raise ValueError(f"--ray-cpus must be at least 1, not {self.ray_cpus}")
        if self.port is not None and not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port} is not a TCP port (0–65535; 0 picks a free one)")

    @property
    def db_path(self) -> Path:
        return self.state_dir / "jobs.sqlite3"

    @property
    def jobs_dir(self) -> Path:
        return self.state_dir / "jobs"

    @property
    def outputs(self) -> Path:
        assert self.output_root is not None
        return self.output_root


def inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_media(raw: str, roots: Sequence[Path]) -> Path:
    """The real path of ``raw`` (absolute, symlinks followed) if it lies inside a media root."""
    if not Path(raw).is_absolute():
        raise ValueError("must be an absolute path (the server's working directory is not the client's)")
    real = Path(os.path.realpath(raw))
    if not any(inside(real, root) for root in roots):
        shown = ", ".join(str(r) for r in roots)
        raise PathRefused(
            f"{raw} resolves to {real}, outside the media roots ({shown}); "
            "start the server with --media-root DIR to allow that folder"
        )
    return real


def resolve_output(raw: str, root: Path) -> Path:
    """The output folder for ``raw`` (relative to ``root``, or absolute) if it lies inside ``root``.

    Symlinks in the existing part of the path are followed, so a link pointing out of the root is refused.
    """
    candidate = Path(raw) if Path(raw).is_absolute() else root / raw
    real = Path(os.path.realpath(candidate))
    if not inside(real, root) or real == root:
        raise PathRefused(
            f"{raw} resolves to {real}, not a folder inside the output root {root}; "
            "give a name relative to it, or start the server with --output-root DIR"
        )
    return real
