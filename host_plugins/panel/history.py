"""The editor's past queries, per project (a Resolve project, a timeline file, a media folder).

Kept in one JSON file in the user's config folder (``$RIVER_PANEL_HISTORY``, else
``$XDG_CONFIG_HOME/river-nle/panel-history.json`` or the OS's equivalent), newest first, at most
:data:`LIMIT` per project, written atomically so a crash never loses the file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["LIMIT", "QueryHistory", "history_path"]

LIMIT = 50


def history_path() -> Path:
    if env := os.environ.get("RIVER_PANEL_HISTORY"):
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "river-nle" / "panel-history.json"


class QueryHistory:
    """``add(query)`` then ``items()`` (newest first) for one ``project``."""

    def __init__(self, project: str, path: Path | None = None) -> None:
        self.project = project or "(no project)"
        self.path = path or history_path()

    def _load(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: start afresh rather than refuse to open the panel
        if not isinstance(data, dict):
            return {}
        return {k: [q for q in v if isinstance(q, str)] for k, v in data.items() if isinstance(v, list)}

    def items(self) -> list[str]:
        return self._load().get(self.project, [])

    def add(self, query: str) -> None:
        query = " ".join(query.split())
        if not query:
            return
        data = self._load()
        past = [q for q in data.get(self.project, []) if q != query]
        data[self.project] = [query, *past][:LIMIT]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".history-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, ensure_ascii=False)
            Path(tmp).replace(self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
