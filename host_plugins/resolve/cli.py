"""``python -m host_plugins.resolve edit|mark|free|info`` and ``river resolve install|doctor``.

Host side only (the bridge client and OTIO; no torch, no numpy). This module only builds the parsers;
:mod:`host_plugins.resolve.commands` does the work. Exit codes: 0 done; 1 failed; 2 bad usage or input;
3 some clips failed (the others were placed, each failure listed); 130 cancelled.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridge.cli_jobs import add_job_options

EPILOG = """selection (--selection):
  auto      the selected clips (Resolve 21.0.4+), else the clip under the playhead, else in/out marks
  selected  the clips selected on the Edit page (Timeline.GetSelectedClips, Resolve 21.0.4+)
  current   the video clip under the playhead
  inout     the clips under the timeline's in and out marks, cut to them

placement (--place):
  track     a free video track above the original (a RIVER track is added when needed), at the
            original's exact record frames; the original is untouched
  take      a new take of the original item (the original stays take 1)

examples:
  python -m host_plugins.resolve edit "make the dog look like bronze"
  python -m host_plugins.resolve edit --targets dog --op blur --selection inout --place take
  python -m host_plugins.resolve mark "when does the dog jump"
  python -m host_plugins.resolve free cut.xml "blur the faces" --select all
  river resolve install --user       (adds RIVER NLE to Workspace → Scripts in Resolve)
  river resolve doctor

Needs DaVinci Resolve Studio with Preferences → System → General → External scripting using: Local.
The free edition: export the timeline (File → Export → Timeline…) and use `free`."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m host_plugins.resolve",
        description="Edit the clips selected in DaVinci Resolve through the RIVER NLE server and place the "
        "results back without touching the originals.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress, only results and errors")
    common.add_argument("--debug", action="store_true", help="tracebacks instead of one-line errors")
    add_commands_to(parser.add_subparsers(title="commands", metavar="COMMAND"), common, standalone=True)
    return parser


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """``river resolve …`` (the ``river_nle.commands`` entry point)."""
    resolve = groups.add_parser(
        "resolve",
        parents=[common],
        help="DaVinci Resolve: install the script, check the setup, edit",
        description="DaVinci Resolve integration: install the Workspace → Scripts entry, check the setup, "
        "and the same edit/mark/free commands as `python -m host_plugins.resolve`.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_commands_to(
        resolve.add_subparsers(title="resolve commands", metavar="COMMAND"), common, standalone=False
    )


def add_commands_to(cmds: Any, common: argparse.ArgumentParser, *, standalone: bool) -> None:
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--discovery", type=Path, metavar="PATH", help="the server's discovery file")
    server.add_argument("--json", action="store_true", help="machine-readable output")
    server.add_argument(
        "--search-path",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="where to look for media Resolve names but this machine has elsewhere",
    )

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--selection",
            default="auto",
            choices=("auto", "selected", "current", "inout"),
            help="which clips (default auto: selected, else current, else in/out)",
        )
        p.add_argument(
            "--dry-run", action="store_true", help="print the selection and the jobs, submit nothing"
        )

    p = cmds.add_parser("info", parents=[common, server], help="the current timeline as RIVER reads it")
    p.add_argument(
        "--selection",
        choices=("auto", "selected", "current", "inout"),
        help="also report what this selection picks",
    )
    p.set_defaults(handler=_handler("cmd_info"))

    p = cmds.add_parser(
        "edit",
        parents=[common, server],
        help="edit the selected clips, place the results",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", nargs="?", help="the editing request, reasoned per clip (or use --targets)")
    selection(p)
    p.add_argument(
        "--place",
        default="track",
        choices=("track", "take"),
        help="a free track above (default) or a take of the original",
    )
    add_job_options(p)
    p.set_defaults(handler=_handler("cmd_edit"))

    p = cmds.add_parser("mark", parents=[common, server], help="answer 'when': timeline markers at the spans")
    p.add_argument("query", help="what to find, e.g. 'when does the dog jump'")
    selection(p)
    p.add_argument("--profile", help="model profile (the server's)")
    p.add_argument("--no-start", action="store_true", help="fail instead of starting a server")
    p.set_defaults(handler=_handler("cmd_mark"))

    p = cmds.add_parser(
        "free",
        parents=[common, server],
        help="the free edition: edit an exported timeline file",
        description="Resolve's free edition has no external scripting. Export the timeline (File → Export → "
        "Timeline…, FCP 7 XML), run this, then import the result (File → Import → Timeline…).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "timeline", type=Path, metavar="TIMELINE_EXPORT", help="the exported .xml .otio .fcpxml .edl .aaf"
    )
    p.add_argument("query", nargs="?", help="the editing request (or use --targets)")
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="SEL",
        help="clip:NAME | track:N | range:IN-OUT | marker:NAME | all (default all)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="NEW_TIMELINE",
        help="the timeline to import back (default: TIMELINE_EXPORT's name + _river)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--rate", metavar="NUM/DEN", help="an EDL's frame rate")
    p.add_argument("--with-matte", action="store_true", help="also lay the matte movies on a track above")
    p.add_argument("--dry-run", action="store_true", help="print what would be submitted, submit nothing")
    add_job_options(p)
    p.set_defaults(handler=_handler("cmd_free"))

    if not standalone:
        p = cmds.add_parser(
            "install", parents=[common], help="add RIVER NLE to Resolve's Workspace → Scripts"
        )
        scope = p.add_mutually_exclusive_group()
        scope.add_argument(
            "--user", dest="scope", action="store_const", const="user", help="for this user (default)"
        )
        scope.add_argument(
            "--system", dest="scope", action="store_const", const="system", help="for all users"
        )
        p.add_argument("--uninstall", action="store_true", help="remove what install wrote")
        p.add_argument(
            "--scripts-dir",
            type=Path,
            metavar="DIR",
            help="Resolve's Fusion/Scripts folder, when not where Blackmagic's README says",
        )
        p.set_defaults(handler=_handler("cmd_install", module="install"), scope=None)

        p = cmds.add_parser(
            "doctor", parents=[common], help="check the install, the environment, Resolve, the server"
        )
        p.add_argument("--discovery", type=Path, metavar="PATH", help="the server's discovery file")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(handler=_handler("cmd_doctor", module="install"))


def _handler(name: str, module: str = "commands") -> Any:
    def run(args: argparse.Namespace) -> int:
        import importlib

        mod = importlib.import_module(f"host_plugins.resolve.{module}")
        return int(getattr(mod, name)(args))

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("river: error: interrupted", file=sys.stderr)
        return 130
