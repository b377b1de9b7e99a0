"""``river timeline info|edit|mark|rerender``: any NLE's timeline file as the unit of work.

Host side only (OTIO and the bridge client; no torch, no numpy). This module only builds the
parsers (``river --version`` stays instant); :mod:`host_plugins.otio.commands` does the work.
Exit codes: 0 done; 1 failed (nothing written); 2 bad usage or input (nothing written); 3 some clips
failed — the timeline was written with the clips that succeeded, each failure listed; 130 cancelled.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bridge.cli_jobs import add_job_options

EPILOG = """selection (--select, repeatable; kinds narrow each other, one kind adds up):
  clip:NAME        clips by name (wildcards: clip:shot_*)
  track:NAME|N     a video track by name or number (track:2 or track:V2)
  range:IN-OUT     record timecode, OUT exclusive: clips are cut to it (range:01:00:02:00-01:00:04:00)
  marker:NAME      clips under markers of that name (timeline, track or clip markers)
  all              every video clip

examples:
  river timeline info cut.xml --search-path /Volumes/RAID/Footage
  river timeline edit cut.otio "blur whoever touches the ball last" --select track:V1 --out cut_river.otio
  river timeline edit cut.fcpxml --targets dog --op blur --select clip:Dog* --out cut_river.fcpxml --dry-run
  river timeline mark cut.xml "when does the dog jump" --select all --out cut_marked.xml
  river timeline rerender cut_river.otio --out cut_river2.otio --steps 50

The input timeline is never written. exit: 0 done, 1 failed, 2 bad input, 3 some clips failed
(the timeline holds the ones that succeeded), 130 cancelled."""


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """Register ``river timeline …`` (the ``river_nle.commands`` entry point)."""
    timeline = groups.add_parser(
        "timeline", parents=[common], help="edit clips of an NLE timeline (OTIO, FCP7 XML, FCPXML, EDL, AAF)",
        description="Select clips of a timeline file, edit them through the RIVER NLE server, and write a "
        "new timeline with the results on a RIVER track. The input is never written.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    cmds = timeline.add_subparsers(title="timeline commands", metavar="COMMAND")

    source = argparse.ArgumentParser(add_help=False)
    source.add_argument(
        "timeline", type=Path, metavar="TIMELINE", help=".otio .otioz .otiod .xml .fcpxml .edl .aaf"
    )
    source.add_argument(
        "--rate", metavar="NUM/DEN", help="an EDL's frame rate (else its first media's), e.g. 25"
    )
    source.add_argument("--search-path", action="append", type=Path, default=[], metavar="DIR",
                        help="where to find media by file name (repeatable), as NLEs relink")  # fmt: skip
    source.add_argument("--json", action="store_true", help="machine-readable output")
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--discovery", type=Path, metavar="PATH", help="the server's discovery file")

    def selection(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("--select", action="append", default=[], metavar="SEL", required=required,
                       help="clip:NAME | track:NAME|N | range:IN-OUT | marker:NAME | all")  # fmt: skip
        p.add_argument("--dry-run", action="store_true", help="print what would be submitted, submit nothing")

    def output(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("--out", type=Path, required=required, metavar="NEW_TIMELINE",
                       help="the new timeline (format from its extension; default the input's)")  # fmt: skip
        p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    p = cmds.add_parser(
        "info", parents=[common, source], help="tracks, clips, record ranges, media found/missing"
    )
    p.set_defaults(handler=_handler("cmd_info"))

    p = cmds.add_parser(
        "edit", parents=[common, source, server], help="edit the selected clips, lay the results back",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("query", nargs="?", help="the editing request, reasoned per clip (or use --targets)")
    selection(p)
    output(p)
    p.add_argument("--with-matte", action="store_true", help="also lay the matte movies on a track above")
    add_job_options(p)
    p.set_defaults(handler=_handler("cmd_edit"))

    p = cmds.add_parser(
        "mark", parents=[common, source, server], help="answer 'when': markers at the spans a query finds",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("query", help="what to find, e.g. 'when does the dog jump'")
    selection(p)
    output(p, required=False)
    p.add_argument("--profile", help="model profile (the server's)")
    p.add_argument("--no-start", action="store_true", help="fail instead of starting a server")
    p.set_defaults(handler=_handler("cmd_mark"))

    p = cmds.add_parser(
        "rerender", parents=[common, source, server], help="re-run every RIVER clip from its provenance",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    selection(p, required=False)
    output(p)
    p.add_argument(
        "--re-reason", action="store_true", help="reason the query again instead of the stored plan"
    )
    # fmt: off
    p.add_argument("--profile", help="model profile (the server's)")
    p.add_argument("--format", help="edited media format (the server's list)")
    p.add_argument("--seed", type=int, help="render seed")
    p.add_argument("--steps", type=int, help="denoising steps")
    p.add_argument("--guidance", type=float, dest="guidance_scale", help="classifier-free guidance")
    p.add_argument("--conditioning-scale", type=float, help="VACE conditioning scale")
    p.add_argument("--no-start", action="store_true", help="fail instead of starting a server")
    # fmt: on
    p.set_defaults(handler=_handler("cmd_rerender"))


def _handler(name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from host_plugins.otio import commands

        return int(getattr(commands, name)(args))

    return run
