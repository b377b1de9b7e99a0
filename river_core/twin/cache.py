"""The twin cache: the second question about a clip costs nothing.

A twin is stored under a key derived from everything its content depends on: the media content
hash (not its path), the frame range, the model checkpoints and revisions, the device and dtype, the
builder settings, the query's noun phrases (they join the detector's vocabulary) and the builder and
schema versions. A hit returns the stored twin without loading any model.

The cache lives in the user's cache directory (``platformdirs``), or ``RIVER_CACHE_DIR``. Content
hashes of large files are memoized by path, size, modification time and inode, so a lookup does not
re-read a 10 GB ProRes file.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from river_core import __version__
from river_core.atomic import write_bytes_atomic
from river_core.errors import TwinValidationError
from river_core.media import content_hash
from river_core.twin.schema import TWIN_SCHEMA_VERSION, TwinDocument, load_twin, save_twin


def default_cache_dir() -> Path:
    """``RIVER_CACHE_DIR``, else the platform's user cache directory for river-nle."""
    explicit = os.environ.get("RIVER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_cache_dir("river-nle", appauthor=False))


def cache_key(parts: dict[str, Any]) -> str:
    """A stable hex key for a JSON-able description of a build (sorted keys, versions included)."""
    material = {"builder": __version__, "schema": TWIN_SCHEMA_VERSION, **parts}
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class TwinCache:
    """Twins on disk by key, plus a memo of media content hashes."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, key: str) -> Path:
        return self.root / "twins" / f"{key}.json"

    def get(self, key: str) -> TwinDocument | None:
        """The stored twin, or None. A damaged entry is removed (with a warning), never returned."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        try:
            return load_twin(path)
        except TwinValidationError as exc:
            warnings.warn(f"removed a damaged twin cache entry {path}: {exc}", stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, doc: TwinDocument) -> Path:
        return save_twin(doc, self.path_for(key))

    def media_hash(self, media: Path) -> str:
        """``content_hash(media)``, memoized while the file's size, mtime and inode are unchanged."""
        media = Path(media)
        stat = media.stat()
        fingerprint = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
        memo = self.root / "hashes" / f"{hashlib.sha256(str(media.resolve()).encode()).hexdigest()[:32]}.json"
        try:
            stored = json.loads(memo.read_text())
            if stored.get("fingerprint") == fingerprint and str(stored.get("hash", "")).startswith("sha256:"):
                return str(stored["hash"])
        except (OSError, ValueError):
            pass
        digest = content_hash(media)
        record = {"path": str(media.resolve()), "fingerprint": fingerprint, "hash": digest}
        write_bytes_atomic(memo, json.dumps(record).encode())
        return digest
