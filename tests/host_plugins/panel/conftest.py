"""The panel's tests run offscreen with pytest-qt; without PySide6, pytest-qt or PyAV they skip. The
bridge's in-process server fixtures (tests/bridge/conftest.py) are shared here.

Clips come from the independent encoder of tests/conftest.py (``make_clip``): ``color_clip`` makes
one whose frame ``n`` is a solid colour with one channel at ``10·n`` (the others fixed at 255 and 200),
so a pixel says which frame it is: neighbours differ by 10, and H.264 at crf 18 keeps a flat colour
within ±4.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the panel extra (PySide6-Essentials) is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (the dev extra)")
pytest.importorskip("av", reason="PyAV is not installed: the panel decodes frames with it")

from tests.bridge.conftest import make_server, media_root, runtime_dir
from tests.host_plugins.otio.test_timeline_jobs import scene_server
from tests.host_plugins.resolve.conftest import resolve_env

__all__ = ["make_server", "media_root", "resolve_env", "runtime_dir", "scene_server"]

STEP = 10  # the frame-number channel rises by this much per frame


@pytest.fixture(scope="session")
def color_clip(make_clip: Callable[..., Path]) -> Callable[..., Path]:
    """``color_clip(name, channel="r", frames=24, ...)``: channel ``channel`` of frame n is 10·n, the
    other two are fixed (255 and 200, in r, g, b order); other keywords go to ``make_clip``."""

    def make(name: str, *, channel: str = "r", frames: int = 24, **kwargs: object) -> Path:
        assert frames * STEP <= 255, "the frame-number channel would overflow"
        fixed = iter(("255", "200"))
        expr = {c: ("N*10" if c == channel else next(fixed)) for c in "rgb"}
        vf = f"geq=r='{expr['r']}':g='{expr['g']}':b='{expr['b']}'"
        return make_clip(name, size=(160, 90), frames=frames, vf=vf, **kwargs)

    return make
