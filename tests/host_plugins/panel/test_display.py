"""`river panel` opens a real window on a plain X display (Xvfb), as an editor's desktop would show it:
the xcb platform plugin, not offscreen. Skips with the reason where Xvfb or Qt's X libraries are missing
(.ci/run installs them on Debian)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.test_import_boundaries import ROOT


def test_river_panel_opens_on_an_x_display(sample_clip: Path, tmp_path: Path, runtime_dir: Path) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (Debian: apt-get install xvfb xauth): no X display to open on")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    env["RIVER_PANEL_HISTORY"] = str(tmp_path / "history.json")
    png = tmp_path / "window.png"
    done = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m", "host_plugins.panel",
         "--media", str(sample_clip), "--range", "0:17", "--no-start", "--screenshot", str(png)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    if "could not connect to display" in done.stderr or "xcb-cursor0" in done.stderr:
        pytest.skip(f"Qt's X libraries are missing here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr
    assert "(1280×860, xcb)" in done.stdout  # a real X window, not the offscreen plugin
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 860)
    banner = image.pixelColor(1150, 16)  # no server here: the window drew its red one-line banner
    assert banner.red() > 100 and banner.green() < 60, banner.name()
