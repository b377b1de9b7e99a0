"""`river resolve install|doctor` and the launcher: the README's folders per OS, in a temporary home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from host_plugins.resolve import install as inst
from host_plugins.resolve.api import ResolveError
from river_core.cli import main
from tests.host_plugins.otio.timelines import host_only
from tests.test_import_boundaries import ROOT


@pytest.mark.parametrize(
    ("platform", "scope", "env", "expect"),
    [
        ("linux", "user", {}, "HOME/.local/share/DaVinciResolve/Fusion/Scripts"),
        (
            "darwin",
            "user",
            {},
            "HOME/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts",
        ),
        (
            "darwin",
            "system",
            {},
            "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts",
        ),
        (
            "win32",
            "user",
            {"APPDATA": "HOME/AppData/Roaming"},
            "HOME/AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts",
        ),
        # the README's "%APPDATA%\Roaming\…" read with an APPDATA that lacks Roaming: the same folder
        (
            "win32",
            "user",
            {"APPDATA": "HOME/AppData"},
            "HOME/AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts",
        ),
        (
            "win32",
            "system",
            {"PROGRAMDATA": "HOME/ProgramData"},
            "HOME/ProgramData/Blackmagic Design/DaVinci Resolve/Fusion/Scripts",
        ),
    ],
)
def test_scripts_folder_is_the_readmes_per_os(
    tmp_path: Path, platform: str, scope: str, env: dict, expect: str
) -> None:
    env = {k: v.replace("HOME", str(tmp_path)) for k, v in env.items()}
    got = inst.scripts_dir(scope, platform=platform, env=env, home=tmp_path)
    assert got == Path(expect.replace("HOME", str(tmp_path)))


def test_linux_system_folder_is_opt_resolve() -> None:
    got = inst.scripts_dir("system", platform="linux", env={}, home=Path("/nowhere"))
    assert got in (Path("/opt/resolve/Fusion/Scripts"), Path("/home/resolve/Fusion/Scripts"))


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_install_writes_a_launcher_that_runs_this_environment_and_uninstall_removes_it(
    tmp_path: Path, platform: str
) -> None:
    scripts = inst.scripts_dir(
        "user", platform=platform, env={"APPDATA": str(tmp_path / "AppData" / "Roaming")}, home=tmp_path
    )
    target = inst.install("user", scripts=scripts)
    assert target == scripts / "Utility" / "RIVER NLE.py"
    text = target.read_text(encoding="utf-8")
    assert inst.MARKER in text and f'RIVER_PYTHON = r"{sys.executable}"' in text
    compile(text, str(target), "exec")  # Resolve's Python must be able to run it
    # from a shell the launcher passes its arguments to `python -m host_plugins.resolve`
    done = subprocess.run(
        [sys.executable, str(target), "edit", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr
    assert "--place" in done.stdout and "--selection" in done.stdout
    assert inst.install("user", scripts=scripts) == target  # again: replaces its own file
    assert inst.uninstall("user", scripts=scripts) == target
    assert not target.exists() and (scripts / "Utility").is_dir()
    assert inst.uninstall("user", scripts=scripts) is None


def test_install_and_uninstall_leave_a_file_they_did_not_write(tmp_path: Path) -> None:
    utility = tmp_path / "Scripts" / "Utility"
    utility.mkdir(parents=True)
    theirs = utility / "RIVER NLE.py"
    theirs.write_text("print('someone else')\n")
    with pytest.raises(ResolveError, match="not written by RIVER NLE"):
        inst.install("user", scripts=tmp_path / "Scripts")
    with pytest.raises(ResolveError, match="not written by RIVER NLE"):
        inst.uninstall("user", scripts=tmp_path / "Scripts")
    assert theirs.read_text() == "print('someone else')\n"


def test_launcher_inside_resolve_without_a_ui_says_how_to_run(tmp_path: Path, capsys) -> None:
    target = inst.install("user", scripts=tmp_path / "Scripts")
    import runpy

    runpy.run_path(
        str(target), init_globals={"resolve": object(), "fusion": None, "bmd": None}, run_name="launcher"
    )
    assert "host_plugins.resolve edit" in capsys.readouterr().out


def test_launcher_command_line(tmp_path: Path) -> None:
    import runpy

    target = inst.install("user", scripts=tmp_path / "Scripts")
    ns = runpy.run_path(str(target), run_name="launcher")
    assert ns["command"]("edit", "blur the dog", "inout", "take") == [
        sys.executable,
        "-m",
        "host_plugins.resolve",
        "edit",
        "blur the dog",
        "--selection",
        "inout",
        "--place",
        "take",
    ]
    assert ns["command"]("mark", "when", "current")[-2:] == ["--selection", "current"]
    # "Open panel": the panel on Resolve's selection, its arguments understood by the panel itself
    panel = ns["command"]("panel", "", "selected", "take")
    assert panel == [sys.executable, "-m", "host_plugins.panel", "--resolve", "--selection", "selected",
                     "--place", "take"]  # fmt: skip
    done = subprocess.run([*panel, "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "--resolve" in done.stdout, done.stderr


def test_river_resolve_install_cli_in_a_temporary_home(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["resolve", "install", "--user"]) == 0
    target = tmp_path / ".local/share/DaVinciResolve/Fusion/Scripts/Utility/RIVER NLE.py"
    assert target.is_file() and str(target) in capsys.readouterr().out
    assert main(["resolve", "install", "--uninstall"]) == 0
    assert not target.exists()


@pytest.mark.parametrize("below", ["", "Fusion/Scripts"])
@pytest.mark.parametrize("uninstall", [[], ["--uninstall"]])
def test_a_file_as_scripts_dir_is_one_line(tmp_path: Path, capsys, below: str, uninstall: list[str]) -> None:
    file = tmp_path / "clip.mp4"
    file.write_bytes(b"media")
    scripts = file / below if below else file
    assert main(["resolve", "install", "--scripts-dir", str(scripts), *uninstall]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--scripts-dir {scripts} is not a folder" in err, err
    assert file.read_bytes() == b"media"


def test_help_runs_without_torch_or_numpy() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['torch'] = sys.modules['numpy'] = None; "
            "sys.argv = ['x', '--help']; import runpy; "
            "runpy.run_module('host_plugins.resolve', run_name='__main__')",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr
    assert "edit" in done.stdout and "free" in done.stdout
    code, out, err = host_only("resolve", "install", "--help")
    assert code == 0, err
    assert "--uninstall" in out
