"""The dependency direction of ARCHITECTURE.md, enforced.

host_plugins → bridge.client only; bridge.server → river_core; river_core imports none of the
others; the host side imports with torch (and numpy) unavailable.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"{name} is blocked by the import-boundary test", name=name)
            return None
    sys.meta_path.insert(0, Block())
    """
)


def import_with_blocked(
    modules: list[str], blocked: list[str], *, walk: bool = False
) -> subprocess.CompletedProcess:
    code = BLOCKER + textwrap.dedent(
        f"""
        import importlib, pkgutil
        for name in {modules!r}:
            mod = importlib.import_module(name)
            if {walk!r} and hasattr(mod, "__path__"):
                for info in pkgutil.walk_packages(mod.__path__, name + "."):
                    importlib.import_module(info.name)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        print("ok")
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code, ",".join(blocked)], capture_output=True, text=True, cwd=ROOT
    )


def test_blocker_really_blocks() -> None:
    """The harness must be able to fail: importing torch itself under the blocker fails."""
    done = import_with_blocked(["torch"], ["torch"])
    assert done.returncode != 0 and "blocked by the import-boundary test" in done.stderr


@pytest.mark.parametrize("package", ["host_plugins", "bridge"])
def test_host_side_imports_without_torch_or_numpy(package: str) -> None:
    done = import_with_blocked(
        [package],
        ["torch", "numpy", "av", "river_core", "transformers", "diffusers"],
        walk=package == "host_plugins",
    )
    assert done.returncode == 0, done.stderr


def test_the_river_command_serves_a_host_only_install() -> None:
    """`pip install river-nle[host]` has no torch, numpy, PyAV, Pillow or pydantic: `river jobs` must
    still run (the command line imports the heavy engine only inside the handlers that need it)."""
    code = BLOCKER + textwrap.dedent(
        """
        from river_core.cli import main
        try:
            main(["jobs", "submit", "--help"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        # An engine command says what to install instead of a traceback.
        assert main(["media", "probe", "clip.mov"]) == 1
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "torch,numpy,av,PIL,pydantic,scipy,transformers,diffusers"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--range" in done.stdout and "--out" in done.stdout
    assert "river: error: this command needs the engine" in done.stderr and "river-nle[engine]" in done.stderr


def test_the_cli_and_media_stack_do_not_import_torch() -> None:
    """`river --version` and media commands stay fast: torch is loaded only by model stages."""
    done = import_with_blocked(
        ["river_core.cli", "river_core.media", "river_core.twin.schema", "river_core.twin.synthetic"],
        ["torch", "transformers", "diffusers"],
    )
    assert done.returncode == 0, done.stderr


# Which top-level packages each package may import from this project.
ALLOWED = {
    "river_core": {"river_core"},
    "bridge": {"bridge", "river_core"},  # only bridge.server may use river_core, checked below
    "host_plugins": {"host_plugins", "bridge"},
}
PROJECT = set(ALLOWED) | {"trainer"}


def project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}" for alias in node.names
            )  # `from river_core import cli`
    return {name for name in found if name.split(".")[0] in PROJECT}


# The bridge's client side: the client, its command line (`river jobs`, whose job options `river timeline`
# shares), the generated messages and discovery. Never bridge.server (it imports the engine).
CLIENT_SIDE = ("bridge.client", "bridge.cli_jobs", "bridge.v1", "bridge.discovery")


def _client_side(name: str) -> bool:
    return name == "bridge" or any(name == m or name.startswith(m + ".") for m in CLIENT_SIDE)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependency_direction(package: str) -> None:
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT)
        for name in project_imports(path):
            top = name.split(".")[0]
            if top not in ALLOWED[package]:
                problems.append(f"{rel} imports {name}")
            if package == "host_plugins" and top == "bridge" and not _client_side(name):
                problems.append(f"{rel} imports {name}: host plugins may use the bridge's client side only")
            if (
                package == "bridge"
                and top == "river_core"
                and "server" not in rel.parts
                and not rel.name.startswith("server")
            ):
                problems.append(f"{rel} imports {name}: only bridge.server may use the engine")
            front_end = name == "river_core.cli" or name.startswith("river_core.cli.")
            if front_end and not (package == "river_core" and rel.parts[:2] == ("river_core", "cli")):
                # The engine's API serves every front-end; none reaches up into the command line.
                problems.append(f"{rel} imports {name}: only river_core/cli/ itself may use the command line")
    assert not problems, "\n".join(problems)


def test_the_ast_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import bridge.server\nfrom host_plugins import x\nfrom . import sibling\n"
        "from river_core import cli\n"
    )
    assert project_imports(bad) == {
        "bridge.server",
        "host_plugins",
        "host_plugins.x",
        "river_core",
        "river_core.cli",
    }


def test_no_engine_or_server_module_reaches_into_the_command_line(tmp_path: Path, monkeypatch) -> None:
    """The rule of test_dependency_direction for river_core.cli, shown to fail on a violation."""
    fake = tmp_path / "river_core"
    (fake / "cli").mkdir(parents=True)
    (fake / "pipeline.py").write_text("from river_core.cli.edit import request_from_args\n")
    (fake / "cli" / "edit.py").write_text("from river_core.cli.common import flag\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError, match=r"river_core/pipeline\.py imports river_core\.cli\.edit"):
        test_dependency_direction("river_core")
