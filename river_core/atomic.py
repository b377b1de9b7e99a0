"""Atomic outputs: write to a temporary sibling, rename over the target only when complete.

Nothing is lost: an editor's source is never overwritten, and a failed or cancelled write leaves
no half-written file where a finished one would be.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from river_core.errors import OutputError

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (symlinks and hard links included)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_output_path(path: Path, *, sources: Iterable[Path] = (), overwrite: bool = False) -> Path:
    """Refuse outputs that equal a source or exist already (unless ``overwrite``); return the path."""
    path = Path(path)
    for src in sources:
        if same_file(path, Path(src)):
            raise OutputError(
                f"output {path} is the source media {src}; choose another output path "
                "(sources are never overwritten)"
            )
    if path.exists() and not overwrite:
        raise OutputError(f"output {path} already exists; choose another path or pass --overwrite")
    return path


@contextlib.contextmanager
def atomic_path(
    path: Path, *, directory: bool = False, sources: Iterable[Path] = (), overwrite: bool = False
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    The temporary keeps the target's suffix so muxers can guess the format from it. On any
    exception (cancel included) the temporary is removed and ``path`` is untouched. With
    ``directory=True`` the temporary is a fresh directory (PNG sequences, bundles).
    """
    path = Path(path)
    check_output_path(path, sources=sources, overwrite=overwrite)
    created = _make_parents(path.parent)
    tmp = path.parent / f".{path.stem}.river-tmp-{secrets.token_hex(4)}{path.suffix}"
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        if not directory:
            _fsync_file(tmp)
        _replace(tmp, path, directory=directory)
        _fsync_dir(path.parent)
    except BaseException as exc:
        _remove(tmp)
        for parent in reversed(created):
            with contextlib.suppress(OSError):
                parent.rmdir()
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            raise OutputError(f"disk full while writing {path}; free some space and run again") from exc
        raise


def write_bytes_atomic(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (small metadata files: JSON, sidecars)."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def _make_parents(parent: Path) -> list[Path]:
    missing: list[Path] = []
    p = parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    if missing:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output directory {parent}: {exc.strerror}") from exc
    elif not parent.is_dir():
        raise OutputError(f"output directory {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output directory {parent} is not writable")
    return list(reversed(missing))


def _replace(tmp: Path, path: Path, *, directory: bool) -> None:
    if directory and path.exists():
        # os.replace cannot swap non-empty directories: move the old one aside first.
        trash = path.parent / f".{path.name}.river-old-{secrets.token_hex(4)}"
        path.rename(trash)
        tmp.rename(path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.replace(path)


def _remove(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_file(path: Path) -> None:
    with contextlib.suppress(OSError), path.open("rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
