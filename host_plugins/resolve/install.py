"""``river resolve install [--user|--system] [--uninstall]`` and ``river resolve doctor``.

Install writes one small launcher, ``RIVER NLE.py``, into Resolve's ``Fusion/Scripts/Utility`` folder
(the folders of Blackmagic's README, per OS), so RIVER NLE appears under Workspace → Scripts on every
page. Resolve runs it with its own Python; it runs *this* environment's interpreter
(``python -m host_plugins.resolve …``), which reaches Resolve through external scripting (Studio).
Uninstall removes only a file that install wrote (it carries a marker line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bridge.cli_jobs import error
from host_plugins.resolve.api import ResolveError, call, has, version_tuple
from host_plugins.resolve.connect import FREE_PATH, default_paths, describe, find_resolve, scripting_paths

LAUNCHER_NAME = "RIVER NLE.py"
MARKER = "# RIVER NLE launcher: written by `river resolve install`"


def scripts_dir(
    scope: str, *, platform: str = sys.platform, env: dict[str, str] | None = None, home: Path | None = None
) -> Path:
    """Resolve's ``Fusion/Scripts`` folder for ``scope`` ("user" or "system") on ``platform``."""
    env = dict(os.environ) if env is None else env
    home = Path(env.get("HOME") or Path.home()) if home is None else home
    if scope not in ("user", "system"):
        raise ValueError(f"scope {scope!r}: use user or system")
    if platform == "darwin":
        base = home / "Library" if scope == "user" else Path("/Library")
        return base / "Application Support" / "Blackmagic Design" / "DaVinci Resolve" / "Fusion" / "Scripts"
    if platform.startswith("win"):
        if scope == "system":
            return (
                Path(env.get("PROGRAMDATA", r"C:\ProgramData"))
                / "Blackmagic Design"
                / "DaVinci Resolve"
                / "Fusion"
                / "Scripts"
            )
        appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        if appdata.name.lower() != "roaming":  # the README writes %APPDATA%\Roaming\…: APPDATA without it
            appdata = appdata / "Roaming"
        return appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts"
    if scope == "user":
        return home / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts"
    opt = Path("/opt/resolve")
    if not opt.exists() and Path("/home/resolve").exists():
        opt = Path("/home/resolve")
    return opt / "Fusion" / "Scripts"


def launcher_text(python: str) -> str:
    return LAUNCHER.replace("@PYTHON@", python)


def _scripts(scope: str, scripts: Path | None) -> Path:
    """The Fusion/Scripts folder: ``--scripts-dir`` (which must not be, or lie in, a file) or ``scope``'s."""
    if scripts is None:
        return scripts_dir(scope)
    for path in (scripts, *scripts.parents):
        if path.exists() and not path.is_dir():
            inside = "" if path == scripts else f" ({path} is a file)"
            raise ResolveError(
                f"--scripts-dir {scripts} is not a folder{inside}: give Resolve's Fusion/Scripts folder"
            )
    return scripts


def install(scope: str, *, scripts: Path | None = None, python: str | None = None) -> Path:
    """Write the launcher; returns its path. Refuses to replace a file it did not write."""
    folder = _scripts(scope, scripts) / "Utility"
    target = folder / LAUNCHER_NAME
    if target.exists() and MARKER not in target.read_text(encoding="utf-8", errors="replace"):
        raise ResolveError(
            f"{target} exists and was not written by RIVER NLE: move it away and install again"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(launcher_text(python or sys.executable), encoding="utf-8")
        tmp.replace(target)
    except PermissionError:
        hint = " (try --user, or run as administrator)" if scope == "system" else ""
        raise ResolveError(f"cannot write {target}: permission denied{hint}") from None
    except OSError as exc:
        raise ResolveError(f"cannot write {target}: {exc.strerror or exc}; check the folder") from None
    return target


def uninstall(scope: str, *, scripts: Path | None = None) -> Path | None:
    """Remove the launcher install wrote; None when there was none."""
    target = _scripts(scope, scripts) / "Utility" / LAUNCHER_NAME
    if not target.exists():
        return None
    if MARKER not in target.read_text(encoding="utf-8", errors="replace"):
        raise ResolveError(f"{target} was not written by RIVER NLE: left in place")
    target.unlink()
    return target


def cmd_install(args: argparse.Namespace) -> int:
    scope = args.scope or "user"
    try:
        if args.uninstall:
            removed = uninstall(scope, scripts=args.scripts_dir)
            print(f"removed {removed}" if removed else f"nothing to remove ({scope} install not found)")
            return 0
        target = install(scope, scripts=args.scripts_dir)
    except ResolveError as exc:
        error(str(exc))
        return 1
    print(f"installed {target}")
    print(
        "  restart Resolve, then: Workspace → Scripts → RIVER NLE (Resolve Studio, external scripting: Local)"
    )
    return 0


# -- doctor ---------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    status: str  # "ok", "warn", "fail"
    detail: str
    fix: str = ""


def doctor(*, discovery: Path | None = None, resolve: Any = None) -> list[Check]:
    checks = [_check_install(), *_check_env()]
    checks += _check_resolve(resolve)
    checks.append(_check_server(discovery))
    return checks


def _check_install() -> Check:
    found = []
    for scope in ("user", "system"):
        target = scripts_dir(scope) / "Utility" / LAUNCHER_NAME
        if target.exists():
            found.append((scope, target))
    if not found:
        return Check(
            "launcher",
            "fail",
            "RIVER NLE is not in Resolve's Workspace → Scripts",
            "river resolve install --user",
        )
    scope, target = found[0]
    text = target.read_text(encoding="utf-8", errors="replace")
    python = next(
        (
            line.split("=", 1)[1].strip().strip("r").strip("\"'")
            for line in text.splitlines()
            if line.startswith("RIVER_PYTHON")
        ),
        "",
    )
    if MARKER not in text:
        return Check(
            "launcher",
            "fail",
            f"{target} was not written by RIVER NLE",
            "move it away; river resolve install",
        )
    if not python or not Path(python).exists():
        return Check(
            "launcher",
            "fail",
            f"{target} runs {python or '?'}, which no longer exists",
            "river resolve install --" + scope,
        )
    return Check("launcher", "ok", f"{target} ({scope}) runs {python}")


def _check_env() -> list[Check]:
    paths = scripting_paths()
    defaults = default_paths()
    out = []
    module = paths.api / "Modules" / "DaVinciResolveScript.py"
    set_api = "RESOLVE_SCRIPT_API" in os.environ
    if module.exists():
        out.append(Check("RESOLVE_SCRIPT_API", "ok", f"{paths.api}" + ("" if set_api else " (the default)")))
    else:
        out.append(
            Check(
                "RESOLVE_SCRIPT_API",
                "fail",
                f"no DaVinciResolveScript.py under {paths.api / 'Modules'}",
                f'set RESOLVE_SCRIPT_API="{defaults.api}" (where Resolve Studio installs it)',
            )
        )
    if paths.lib.exists():
        out.append(Check("RESOLVE_SCRIPT_LIB", "ok", str(paths.lib)))
    else:
        out.append(
            Check(
                "RESOLVE_SCRIPT_LIB",
                "warn",
                f"{paths.lib} does not exist",
                f'set RESOLVE_SCRIPT_LIB="{defaults.lib}" (fusionscript of your Resolve install)',
            )
        )
    return out


def _check_resolve(resolve: Any) -> list[Check]:
    try:
        app = find_resolve(resolve)
    except ResolveError as exc:
        return [
            Check(
                "scripting connection",
                "fail",
                str(exc),
                "start DaVinci Resolve Studio and set Preferences → System → General → External "
                f"scripting using: Local; on {FREE_PATH[4:]}",
            )
        ]
    host = describe(app)
    out = [Check("scripting connection", "ok", f"{host['product']} {host['version']}")]
    try:
        manager = call(app, "GetProjectManager")
        project = call(manager, "GetCurrentProject", allow_none=True)
        timeline = project.GetCurrentTimeline() if project is not None else None
    except ResolveError as exc:
        return [*out, Check("project", "fail", str(exc), "open a project in Resolve")]
    if timeline is None:
        out.append(Check("timeline", "warn", "no timeline is open", "open a timeline on the Edit page"))
    elif has(timeline, "GetSelectedClips"):
        out.append(Check("selection", "ok", "GetSelectedClips is available: edit uses the selected clips"))
    else:
        older = version_tuple(app) < (21, 0, 4)
        out.append(
            Check(
                "selection",
                "warn",
                "no GetSelectedClips" + (" (Resolve before 21.0.4)" if older else ""),
                "update to Resolve 21.0.4+, or use --selection current / inout",
            )
        )
    return out


def _check_server(discovery: Path | None) -> Check:
    from bridge.client import SERVICE_NAME, BridgeError, RiverClient

    try:
        with RiverClient.connect(discovery) as client:
            state = client.health(SERVICE_NAME)
    except BridgeError as exc:
        return Check(
            "server",
            "warn",
            f"{exc.details}",
            "edit starts one on demand where the engine is installed; or run `river serve`",
        )
    if state != "SERVING":
        return Check(
            "server",
            "warn",
            f"the server answers {state} (still loading its models?)",
            "wait, or check its log",
        )
    return Check("server", "ok", "a RIVER NLE server is running and serving")


def cmd_doctor(args: argparse.Namespace, resolve: Any = None) -> int:
    checks = doctor(discovery=args.discovery, resolve=resolve)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for c in checks:
            print(f"{c.status.upper():4} {c.name}: {c.detail}")
            if c.fix and c.status != "ok":
                print(f"     fix: {c.fix}")
    return 1 if any(c.status == "fail" for c in checks) else 0


LAUNCHER = '''# RIVER NLE launcher: written by `river resolve install`
# (`river resolve install --uninstall` removes it).
# Resolve lists it under Workspace → Scripts. It asks for the request in a small window and runs RIVER NLE
# in its own environment (the interpreter below), which reaches Resolve through external scripting.
RIVER_PYTHON = r"@PYTHON@"

import subprocess
import sys

SELECTIONS = ["auto", "selected", "current", "inout"]
PLACES = ["track", "take"]


def command(action, query, selection="auto", place="track"):
    if action == "panel":  # the panel window, on the current selection (the query is typed there)
        panel = [RIVER_PYTHON, "-m", "host_plugins.panel", "--resolve"]
        return panel + ["--selection", selection, "--place", place]
    argv = [RIVER_PYTHON, "-m", "host_plugins.resolve", action, query, "--selection", selection]
    if action == "edit":
        argv += ["--place", place]
    return argv


def open_panel(argv):
    """Start the panel beside Resolve and return at once: it lives on after this script ends."""
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
        proc = subprocess.Popen(argv, creationflags=flags, close_fds=True)
    else:
        proc = subprocess.Popen(argv, start_new_session=True, close_fds=True)
    print("RIVER NLE: the panel is opening (pid " + str(proc.pid) + ")")
    return 0


def run(argv):
    """Run RIVER NLE, echoing its lines to Resolve's console; its exit code."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    for line in proc.stdout:
        print(line.rstrip())
    return proc.wait()


def dialog(fusion, bmd):
    ui = fusion.UIManager
    disp = bmd.UIDispatcher(ui)
    win = disp.AddWindow(
        {"ID": "RiverNLE", "WindowTitle": "RIVER NLE", "Geometry": [200, 200, 560, 120]},
        ui.VGroup([
            ui.LineEdit({"ID": "Query", "PlaceholderText": "What to change, e.g. make the dog bronze"}),
            ui.HGroup([
                ui.ComboBox({"ID": "Selection"}), ui.ComboBox({"ID": "Place"}),
                ui.Button({"ID": "Edit", "Text": "Edit"}), ui.Button({"ID": "Mark", "Text": "Mark when"}),
                ui.Button({"ID": "Panel", "Text": "Open panel"}),
            ]),
        ]),
    )
    items = win.GetItems()
    for s in SELECTIONS:
        items["Selection"].AddItem(s)
    for p in PLACES:
        items["Place"].AddItem(p)
    chosen = []

    def go(action):
        def handler(ev):
            query = items["Query"].Text
            chosen.append((action, query, items["Selection"].CurrentText, items["Place"].CurrentText))
            disp.ExitLoop()
        return handler

    win.On.Edit.Clicked = go("edit")
    win.On.Mark.Clicked = go("mark")
    win.On.Panel.Clicked = go("panel")
    win.On.RiverNLE.Close = lambda ev: disp.ExitLoop()
    win.Show()
    disp.RunLoop()
    win.Hide()
    if chosen and chosen[0][0] == "panel":
        return chosen[0]
    return chosen[0] if chosen and chosen[0][1].strip() else None


def main():
    if not any(name in globals() for name in ("resolve", "fusion", "fu")):
        # from a shell, not inside Resolve: the arguments go straight to RIVER NLE
        return run([RIVER_PYTHON, "-m", "host_plugins.resolve"] + sys.argv[1:])
    fusion = globals().get("fusion") or globals().get("fu")
    bmd = globals().get("bmd")
    if fusion is None or bmd is None or getattr(fusion, "UIManager", None) is None:
        how = RIVER_PYTHON + " -m host_plugins.resolve edit \\"your request\\""
        print("RIVER NLE: no dialog here; run: " + how)
        return 2
    answer = dialog(fusion, bmd)
    if answer is None:
        return 0
    action, query, selection, place = answer
    argv = command(action, query, selection or "auto", place or "track")
    return open_panel(argv) if action == "panel" else run(argv)


if __name__ == "__main__" or "resolve" in globals():
    code = main()
    if __name__ == "__main__":
        sys.exit(code)
'''
