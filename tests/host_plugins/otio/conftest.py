"""The bridge's in-process server (tiny profile) for the timeline tests, from tests/bridge; and ``cut``, a
29.97 timeline of the bundled clip (test modules with their own ``cut`` shadow it)."""

import shutil
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from tests.bridge.conftest import make_server, media_root, runtime_dir
from tests.host_plugins.otio.timelines import Shot, media_timeline

__all__ = ["cut", "make_server", "media_root", "runtime_dir"]

NTSC = Fraction(30000, 1001)


@pytest.fixture
def cut(tmp_path: Path, sample_clip: Path) -> Path:
    """A 29.97 timeline starting at 01:00:00:00 (non-drop) that places two shots of the bundled clip."""
    media = tmp_path / "footage" / "dog.mp4"
    media.parent.mkdir()
    shutil.copy2(sample_clip, media)
    timeline = media_timeline(
        media, [Shot("dog A", start=20, length=17, gap=12), Shot("dog B", start=61, length=9, gap=5)],
        rate=NTSC, media_frames=90, global_start=108000,
    )  # fmt: skip
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path
