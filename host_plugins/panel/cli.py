"""``river panel`` (and ``python -m host_plugins.panel``): open the editor's window.

    river panel --media clip.mov --range 0:17
    river panel --timeline cut.otio --select clip:"Shot 3"
    river panel --resolve                      (the Utility script does this with the current selection)

This module imports neither Qt nor the window until the command runs, so ``river --help`` works in a
host-only install; without the ``panel`` extra the command says how to install it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host_plugins.panel.worker import Connection

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
NO_QT = (
    "the panel needs PySide6, which this install does not have; install the panel extra: "
    "pip install 'river-nle[panel]' (the window also needs a display: on Linux an X or Wayland session)"
)

EPILOG = """sources (one of):
  --media FILE [--range R]      a media file; R as frames 0:17, 30:, :48 or timecode TC-TC (default all)
  --timeline FILE [--select S]  a timeline (.otio .xml .fcpxml .edl .aaf) and clips of it (default all)
  --resolve [--selection M]     the clips selected in DaVinci Resolve (Studio scripting)

keys: Ctrl+Enter runs the query and confirms a plan; Ctrl+1 review, Ctrl+2 result; Ctrl+J the job list;
Space plays the result, Left/Right step a frame; Esc dismisses a message.
The panel starts the RIVER NLE server when none runs (--no-start: it does not). Closing the panel
stops nothing on the server: its jobs go on and show up in `river jobs list`."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--media", type=Path, metavar="FILE", help="a media file to edit")
    source.add_argument("--timeline", type=Path, metavar="FILE", help="a timeline file to edit clips of")
    source.add_argument("--resolve", action="store_true", help="the clips selected in DaVinci Resolve")
    p.add_argument("--range", default="", metavar="R", help="--media: frames START:END or timecode TC-TC")
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="S",
        help="--timeline: clip:NAME, track:NAME|INDEX, range:TC-TC, marker:NAME or all (repeatable)",
    )
    p.add_argument("--rate", help="--timeline: the rate of an EDL, e.g. 24 or 30000/1001")
    p.add_argument(
        "--search-path", action="append", type=Path, default=[], metavar="DIR", help="where to look for media"
    )
    p.add_argument(
        "--selection",
        choices=("auto", "selected", "current", "inout"),
        default="auto",
        help="--resolve: which clips (default auto)",
    )
    p.add_argument("--place", choices=("track", "take"), default="track", help="--resolve: how results land")
    p.add_argument("--timeline-out", type=Path, metavar="FILE", help="--timeline: where to write the result")
    p.add_argument("--profile", help="model profile (default: the server's)")
    p.add_argument("--format", help="format of the final render (default: the server's, ProRes)")
    p.add_argument("--discovery", type=Path, metavar="PATH", help="the server's discovery file")
    p.add_argument("--no-start", action="store_true", help="do not start a server when none runs")
    p.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="save a picture of the window once it is up (and the server answered, or not), then close: "
        "a check that the panel opens on this display",
    )


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """``river panel`` (the ``river_nle.commands`` entry point)."""
    p = groups.add_parser(
        "panel",
        parents=[common],
        help="open the editor's panel (query, review, render, before/after)",
        description="Open the RIVER NLE panel on a media file, a timeline file or Resolve's selection.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(handler=run)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m host_plugins.panel",
        description="Open the RIVER NLE panel on a media file, a timeline file or Resolve's selection.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--debug", action="store_true", help="tracebacks instead of one-line errors")
    add_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)


def open_source(args: argparse.Namespace, resolve: Any = None) -> Any:
    """The Source the arguments name (None: none named); SourceError says what is wrong."""
    from host_plugins.panel.source import SourceError, media_source, resolve_source, timeline_source

    if args.range and not args.media:
        raise SourceError("--range goes with --media (a timeline's clips come with their own ranges)")
    if args.media:
        return media_source(args.media, args.range)
    if args.timeline:
        rate = None
        if args.rate:
            num, _, den = args.rate.partition("/")
            try:
                rate = Fraction(int(num), int(den or 1))
            except (ValueError, ZeroDivisionError):
                raise SourceError(f"--rate {args.rate}: give a rate like 24, 25 or 30000/1001") from None
        selectors = args.select or ["all"]
        return timeline_source(args.timeline, selectors, rate=rate, search_paths=args.search_path)
    if args.resolve or resolve is not None:
        return resolve_source(resolve, mode=args.selection, search_paths=args.search_path)
    return None


def connection(args: argparse.Namespace) -> Connection:
    """How the panel reaches the server: a server started on demand runs ``--profile`` (else the
    server's default), so a panel asked for the tiny profile does not get a paper server refusing its
    jobs."""
    from host_plugins.panel.worker import Connection

    return Connection(args.discovery, start=not args.no_start, profile=args.profile or "")


def run(args: argparse.Namespace, *, resolve: Any = None) -> int:
    """Open the window and run Qt's event loop until it closes."""
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:
        print(f"river panel: {NO_QT}", file=sys.stderr)
        return EXIT_ERROR
    from host_plugins.panel.source import SourceError
    from host_plugins.panel.window import PanelWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("RIVER NLE")
    app.setOrganizationName("RIVER NLE")
    if not os.environ.get("QT_QPA_PLATFORM") and app.platformName() in ("", "minimal"):
        print("river panel: no display; run it in a desktop session (or under xvfb-run)", file=sys.stderr)
    source, problem = None, ""
    try:
        source = open_source(args, resolve)
    except SourceError as exc:
        problem = str(exc)
        print(f"river panel: {problem}", file=sys.stderr)
    settings = {
        "profile": args.profile,
        "format": args.format,
        "place": args.place,
        "timeline_out": args.timeline_out,
    }
    window = PanelWindow(
        source,
        connection=connection(args),
        settings=settings,
        source_error=problem,
        start_server=not args.no_start,
    )
    window.show()
    if args.screenshot:
        _screenshot_then_quit(app, window, args.screenshot)
    return EXIT_OK if app.exec() == 0 else EXIT_ERROR


def _screenshot_then_quit(app: Any, window: Any, path: Path, waited_ms: int = 0) -> None:
    """Once the server has answered (ready or offline; at most 60 s), save the window and quit."""
    from PySide6.QtCore import QTimer

    from host_plugins.panel.viewer import grab_png

    if window.bridge.state in ("ready", "offline") or waited_ms >= 60_000:
        grab_png(window, path)
        print(f"river panel: saved {path} ({window.width()}×{window.height()}, {app.platformName()})")
        window.close()
        app.quit()
        return
    QTimer.singleShot(200, lambda: _screenshot_then_quit(app, window, path, waited_ms + 200))
