"""Lint, format and type checks run as part of the suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    pytest.importorskip(args[0], reason=f"{args[0]} is not installed (dev extra)")
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint() -> None:
    done = run_tool("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format() -> None:
    done = run_tool("ruff", "format", "--check", ".")
    assert done.returncode == 0, "run `.venv/bin/ruff format .`\n" + done.stdout + done.stderr


def test_mypy_on_typed_packages() -> None:
    done = run_tool("mypy")  # packages and settings come from pyproject.toml: river_core, bridge
    assert done.returncode == 0, done.stdout + done.stderr
