"""The panel's tests: Qt offscreen (no display needed), pytest-qt, and the bridge's in-process server."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import pytest

pytest.importorskip("PySide6", reason="the panel needs the panel extra: pip install -e '.[panel]'")
pytest.importorskip("pytestqt", reason="the panel's tests need pytest-qt (the dev extra)")

from tests.bridge.conftest import make_server, media_root, runtime_dir

__all__ = ["make_server", "media_root", "runtime_dir"]
