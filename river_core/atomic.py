"""Atomic outputs: write to a temporary sibling, rename over the target only when complete.

Nothing is lost: an editor's source is never overwritten, a failed or cancelled write leaves no
half-written file where a finished one would be, and ``overwrite`` never deletes a user's files.

Every folder written with ``atomic_path(..., directory=True)`` carries a manifest,
``.river-output.json`` (RIVER's version, the creation time and every path it wrote). ``overwrite``
replaces an existing folder only when its manifest is valid and the folder holds nothing the manifest
does not list; a folder without one is not RIVER's and is refused. Run :func:`check_output_path` up
front so a job fails in its first step, not after rendering; :func:`atomic_path` checks again just
before it renames.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from river_core import __version__
from river_core.errors import OutputError

MANIFEST = ".river-output.json"
_MANIFEST_KIND = "river-output"
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_SHOW_FOREIGN = 6  # entries named in a refusal; the rest are counted


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (symlinks and hard links included)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_output_path(
    path: Path, *, sources: Iterable[Path] = (), overwrite: bool = False, directory: bool = False
) -> Path:
    """Refuse an output that would destroy something; return the path.

    Refused: a path that is one of ``sources`` (symlinks and hard links included) or a folder holding
    one; an existing path without ``overwrite``; with ``overwrite``, an existing folder that RIVER did
    not write or that holds files RIVER did not write (whatever ``directory`` says: replacing a folder
    is only ever allowed under this rule), a symbolic link to a folder, and a file where
    ``directory=True`` asks for a folder. An existing plain file may be replaced with ``overwrite``.
    """
    path = Path(path)
    sources = [Path(s) for s in sources]
    for src in sources:
        if same_file(path, src):
            raise OutputError(
                f"output {path} is the source media {src}; choose another output path "
                "(sources are never overwritten)"
            )
    if not os.path.lexists(path):
        return path
    if not overwrite:
        raise OutputError(f"output {path} already exists; choose another path or pass --overwrite")
    if path.is_dir():
        if path.is_symlink():
            raise OutputError(
                f"output {path} is a symbolic link to a folder; --overwrite replaces only folders RIVER "
                "wrote: give that folder itself or another path"
            )
        for src in sources:
            if is_inside(src, path):
                raise OutputError(
                    f"output folder {path} contains the source media {src}; "
                    "deliver into another folder (sources are never overwritten)"
                )
        check_replaceable_folder(path)
    elif directory:
        raise OutputError(f"output {path} is a file, and a folder is written there; choose another path")
    return path


def check_replaceable_folder(folder: Path) -> None:
    """Raise :class:`OutputError` unless ``folder`` may be replaced: it holds a valid manifest and
    nothing the manifest does not list (or it is empty)."""
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise OutputError(f"output {folder}/ cannot be read ({exc.strerror}); choose another path") from None
    if not entries:
        return  # an empty folder: nothing to lose
    listed = _read_manifest(folder)
    if listed is None:
        names = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries)
        raise OutputError(
            f"output {folder}/ is not a folder RIVER wrote (it has no valid {MANIFEST}) and holds "
            f"{_shown(names)}; --overwrite replaces only RIVER's own output folders: choose another --out"
        )
    foreign = _foreign_entries(folder, listed)
    if foreign:
        raise OutputError(
            f"output {folder}/ holds files RIVER did not write ({_shown(foreign)}); move them or choose "
            "another --out"
        )


def _shown(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOW_FOREIGN])
    return shown + (f" and {len(names) - _SHOW_FOREIGN} more" if len(names) > _SHOW_FOREIGN else "")


@contextlib.contextmanager
def atomic_path(
    path: Path, *, directory: bool = False, sources: Iterable[Path] = (), overwrite: bool = False
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    The temporary keeps the target's suffix so muxers can guess the format from it. On any
    exception (cancel included) the temporary is removed and ``path`` is untouched. With
    ``directory=True`` the temporary is a fresh directory (PNG sequences, bundles) and gets the
    manifest (see the module) just before the rename.
    """
    path = Path(path)
    sources = [Path(s) for s in sources]
    check_output_path(path, sources=sources, overwrite=overwrite, directory=directory)
    if not directory and path.is_dir():
        raise OutputError(f"output {path} is a folder, and a file is written there; give a file name")
    created = _make_parents(path.parent)
    tmp = path.parent / f".{path.stem}.river-tmp-{secrets.token_hex(4)}{path.suffix}"
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        if directory:
            write_manifest(tmp)
        else:
            _fsync_file(tmp)
        # Checked again: the folder may have changed (or appeared) while the output was written.
        check_output_path(path, sources=sources, overwrite=overwrite, directory=directory)
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


def write_manifest(folder: Path) -> Path:
    """Write ``folder/.river-output.json`` listing every path under ``folder`` (folders end in ``/``)."""
    folder = Path(folder)
    document = {
        "kind": _MANIFEST_KIND,
        "river_nle": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "paths": sorted(p for p in _walk(folder) if p != MANIFEST),
    }
    manifest = folder / MANIFEST
    manifest.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return manifest


# -- the folder rule ------------------------------------------------------------------------------


def _read_manifest(folder: Path) -> set[str] | None:
    """The paths ``folder``'s manifest lists, or None when it has no valid manifest."""
    manifest = folder / MANIFEST
    if manifest.is_symlink() or not manifest.is_file():
        return None
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(document, dict) or document.get("kind") != _MANIFEST_KIND:
        return None
    paths = document.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return None
    return set(paths)


def _walk(folder: Path, prefix: str = "") -> Iterator[str]:
    """Every path under ``folder``, relative, ``/``-separated; folders (not links to them) end in ``/``."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            yield f"{prefix}{entry.name}/"
            yield from _walk(Path(entry.path), f"{prefix}{entry.name}/")
        else:
            yield prefix + entry.name


def _foreign_entries(folder: Path, listed: set[str], prefix: str = "") -> list[str]:
    """The topmost entries under ``folder`` that ``listed`` does not hold (a foreign folder is named
    once, not with everything inside it)."""
    foreign: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        rel = prefix + entry.name
        if rel == MANIFEST:
            continue
        if entry.is_dir(follow_symlinks=False):
            if rel + "/" in listed:
                foreign += _foreign_entries(Path(entry.path), listed, rel + "/")
            else:
                foreign.append(rel + "/")
        elif rel not in listed:
            foreign.append(rel)
    return foreign


def is_inside(path: Path, folder: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies somewhere under ``folder``."""
    try:
        return folder.resolve() in path.resolve().parents
    except OSError:
        return False


# -- file system steps ----------------------------------------------------------------------------


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
    if not (directory and path.exists()):
        tmp.replace(path)
        return
    # os.replace cannot swap non-empty folders: move the old one aside, rename the new one in,
    # and put the old one back if that fails, so a failed swap loses nothing.
    old = path.parent / f".{path.name}.river-old-{secrets.token_hex(4)}"
    path.rename(old)
    try:
        tmp.rename(path)
    except BaseException:
        try:
            old.rename(path)
        except OSError as exc:
            raise OutputError(
                f"replacing {path} failed and the previous {path.name} could not be put back: it is "
                f"kept as {old}; rename it yourself"
            ) from exc
        raise
    shutil.rmtree(old, ignore_errors=True)


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
