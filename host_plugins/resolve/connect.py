"""Find a running DaVinci Resolve exactly as Blackmagic's README says.

``RESOLVE_SCRIPT_API`` names the Developer/Scripting folder (its default per OS when unset); its
``Modules`` folder goes on ``sys.path``; ``import DaVinciResolveScript``; ``scriptapp("Resolve")``.
A script running inside Resolve already has a ``resolve`` object: pass it instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_plugins.resolve.api import ResolveError, has, version_text

FREE_PATH = (
    "the free edition has no external scripting: export the timeline (File → Export → Timeline…, "
    'FCP 7 XML) and run: python -m host_plugins.resolve free EXPORTED.xml "your request"'
)


@dataclass(frozen=True)
class ScriptingPaths:
    """Where Blackmagic's README puts the scripting API and library on this OS."""

    api: Path
    lib: Path


def default_paths(platform: str = sys.platform, env: dict[str, str] | None = None) -> ScriptingPaths:
    env = dict(os.environ) if env is None else env
    if platform == "darwin":
        return ScriptingPaths(
            Path("/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting"),
            Path(
                "/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/fusionscript.so"
            ),
        )
    if platform.startswith("win"):
        program_data = env.get("PROGRAMDATA", r"C:\ProgramData")
        return ScriptingPaths(
            Path(program_data)
            / "Blackmagic Design"
            / "DaVinci Resolve"
            / "Support"
            / "Developer"
            / "Scripting",
            Path(r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll"),
        )
    base = Path("/opt/resolve")
    if not base.exists() and Path("/home/resolve").exists():
        base = Path("/home/resolve")  # the standard ISO installation
    return ScriptingPaths(base / "Developer" / "Scripting", base / "libs" / "Fusion" / "fusionscript.so")


def scripting_paths(env: dict[str, str] | None = None) -> ScriptingPaths:
    """``RESOLVE_SCRIPT_API`` / ``RESOLVE_SCRIPT_LIB`` when set, else the README's defaults."""
    env = dict(os.environ) if env is None else env
    defaults = default_paths(env=env)
    api = env.get("RESOLVE_SCRIPT_API")
    lib = env.get("RESOLVE_SCRIPT_LIB")
    return ScriptingPaths(Path(api) if api else defaults.api, Path(lib) if lib else defaults.lib)


def import_module() -> Any:
    """``import DaVinciResolveScript`` with ``$RESOLVE_SCRIPT_API/Modules`` on ``sys.path``."""
    paths = scripting_paths()
    modules = paths.api / "Modules"
    if str(modules) not in sys.path and modules.is_dir():
        sys.path.append(str(modules))
    if "RESOLVE_SCRIPT_LIB" not in os.environ and paths.lib.exists():
        os.environ["RESOLVE_SCRIPT_LIB"] = str(paths.lib)  # Blackmagic's module reads it from here
    try:
        return importlib.import_module("DaVinciResolveScript")
    except ImportError as exc:
        raise ResolveError(
            f"cannot import DaVinciResolveScript from {modules} ({exc}): install DaVinci Resolve Studio, or "
            "set RESOLVE_SCRIPT_API to its Developer/Scripting folder (`river resolve doctor` checks)"
        ) from None


def find_resolve(resolve: Any = None) -> Any:
    """The ``resolve`` object: the one given (a script inside Resolve has it), else ``scriptapp``."""
    if resolve is not None:
        return resolve
    module = import_module()
    try:
        app = module.scriptapp("Resolve")
    except Exception as exc:  # noqa: BLE001  (Blackmagic's loader raises anything when fusionscript cannot load)
        raise ResolveError(f"DaVinciResolveScript.scriptapp failed ({exc}): {FREE_PATH}") from None
    if app is None:
        raise ResolveError(
            "DaVinci Resolve is not reachable: start Resolve Studio and set Preferences → System → General → "
            f"External scripting using: Local — or, {FREE_PATH}"
        )
    return app


def describe(resolve: Any) -> dict[str, str]:
    """Product and version for provenance: ``{"product": …, "version": "21.0.4.7"}``."""
    product = resolve.GetProductName() if has(resolve, "GetProductName") else ""
    return {"product": str(product or "DaVinci Resolve"), "version": version_text(resolve)}
