"""The install story: README commands, CI entry point, pins, extras and the shipped sample."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The commands in the README's first code block, without comments."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the README must open with a bash code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_setup_and_test_commands() -> None:
    head = (ROOT / "README.md").read_text()[:400]
    assert "```bash" in head, "the two commands must be in the README's first lines"
    setup, test = readme_commands()[:2]
    assert "scripts/setup.sh" in setup and ".venv/bin/river" in setup
    assert test == "scripts/test.sh"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"bash {test_command}" in ci or re.search(
        rf"^\s*(exec\s+)?{re.escape(test_command)}\s*$", ci, re.M
    )


def test_test_script_handles_pytest_exit_code_5() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert '"$status" -eq 5' in script


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_cpu_constraints_pin_torch_and_never_torchvision() -> None:
    pins = _pins(ROOT / "constraints" / "cpu.txt")
    assert pins["torch"] == "2.13.0"
    assert "torchvision" not in pins and "torchaudio" not in pins
    gpu = _pins(ROOT / "constraints" / "gpu.txt")
    assert (gpu["torch"], gpu["torchvision"]) == ("2.13.0", "0.28.0")


def _requirement_names(reqs: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}


def test_extras_split_engine_from_host() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert project["dependencies"] == []
    host = _requirement_names(extras["host"])
    # PyAV (no numpy needed to probe) checks a relinked file's rate and length; never torch or numpy.
    assert not host & {"torch", "numpy", "transformers", "diffusers", "river-nle"}
    assert {"grpcio", "protobuf", "opentimelineio", "av"} <= host
    engine = _requirement_names(extras["engine"])
    assert {"torch", "transformers", "diffusers", "peft", "av"} <= engine
    for name, reqs in extras.items():
        if name != "gpu":
            assert "torchvision" not in _requirement_names(reqs), f"torchvision in extra {name!r}"
    assert {"panel", "train", "dist", "dev", "gpu"} <= set(extras)


def test_every_default_profile_dependency_is_pinned() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pins = _pins(ROOT / "constraints" / "cpu.txt")
    names = _requirement_names(extras["engine"] + extras["host"] + extras["dev"]) - {"river-nle"}
    missing = sorted(n for n in names if n not in pins)
    assert not missing, f"not pinned in constraints/cpu.txt: {missing}"


@pytest.mark.slow
def test_wheel_ships_the_sample_and_its_license(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("river_nle-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "river_core/data/samples/dog_3s.mp4",
        "river_core/data/samples/LICENSE-sam2-apache-2.0.txt",
        "river_core/py.typed",
        "host_plugins/otio/plugin_manifest.json",  # the OTIO media linker, found by entry point
    } <= names
    assert any(n.endswith("entry_points.txt") for n in names)
