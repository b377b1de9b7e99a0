"""The ``river`` command: the engine's front-end for the shell.

Human output by default, ``--json`` for machines, progress bars on stderr for anything slower
than a second. Errors are one line on stderr (``river: error: ...``) and a non-zero exit:
1 for bad input or environment, 2 for bad usage, 130 when cancelled, 70 for an internal bug.
Heavy modules are imported inside the handlers so ``river --version`` stays instant.

Other packages add commands through the ``river_nle.commands`` entry point group (the bridge adds
``serve`` and ``jobs`` this way), so the engine never imports them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from river_core import __version__
from river_core.cli import data, demo, edit, media, reasoning, train, twin
from river_core.cli import eval as eval_command
from river_core.cli.common import flag
from river_core.errors import Cancelled, RiverError, UsageError
from river_core.request import RequestError

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130
EXIT_INTERNAL = 70
ENTRY_POINT_GROUP = "river_nle.commands"
ENGINE_MODULES = frozenset({"numpy", "av", "PIL", "pydantic", "scipy", "torch", "transformers", "diffusers",
                            "pycocotools", "tqdm", "skimage", "platformdirs"})  # fmt: skip

Extension = Callable[[Any, argparse.ArgumentParser], None]
"""Adds commands to ``river``: called with the sub-parsers and the common options parser."""


def main(argv: Sequence[str] | None = None, *, extensions: Sequence[Extension] | None = None) -> int:
    """Run ``river ARGV``; ``extensions`` defaults to the installed ``river_nle.commands`` entry points."""
    parser = build_parser(installed_extensions() if extensions is None else extensions)
    args = parser.parse_args(argv)
    # Resolved here, not with set_defaults: parent-parser actions are shared objects, and a
    # default set on the top parser would leak into every sub-parser and undo an earlier flag.
    args.debug = getattr(args, "debug", False) or _env_flag("RIVER_DEBUG")
    args.quiet = getattr(args, "quiet", False)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.handler(args) or 0)
    except Cancelled as exc:
        _error(f"cancelled ({exc}); nothing was left half-written")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        _error("interrupted; nothing was left half-written")
        return EXIT_CANCELLED
    except UsageError as exc:
        if args.debug:
            raise
        _error(exc.render(flag) if isinstance(exc, RequestError) else str(exc))
        return EXIT_USAGE
    except RiverError as exc:
        if args.debug:
            raise
        _error(str(exc))
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0  # `river media probe x --json | head` is fine
    except ModuleNotFoundError as exc:
        if args.debug or (exc.name or "").split(".")[0] not in ENGINE_MODULES:
            raise
        _error(
            f"this command needs the engine, and {exc.name} is not installed (a host-only install runs "
            "`river jobs`): pip install 'river-nle[engine]', or scripts/setup.sh"
        )
        return EXIT_USER_ERROR
    except Exception as exc:
        if args.debug:
            raise
        _error(
            f"internal error: {type(exc).__name__}: {exc} — this is a bug in RIVER NLE; "
            "run again with --debug for the traceback and report it"
        )
        return EXIT_INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)


def installed_extensions() -> list[Extension]:
    """The ``add_commands`` functions other installed packages register for ``river``. One that fails
    to load costs its own commands (with a warning), never the others."""
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            found.append(ep.load())
        except Exception as exc:  # noqa: BLE001 — a broken plugin must not take `river` down with it
            print(
                f"river: warning: the {ep.name!r} commands ({ep.value}) could not load: {exc}",
                file=sys.stderr,
            )
    return found


def build_parser(extensions: Sequence[Extension] = ()) -> argparse.ArgumentParser:
    # The global options are accepted before or after the command. Sub-parsers must not reset
    # them (argparse lets a sub-parser's default overwrite a value given earlier), hence SUPPRESS.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks instead of one-line errors (or set RIVER_DEBUG=1)",
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )

    parser = argparse.ArgumentParser(
        prog="river",
        parents=[common],
        description="RIVER NLE: reasoning video editing for your NLE's clips.",
    )
    parser.add_argument("--version", action="version", version=f"river-nle {__version__}")
    groups = parser.add_subparsers(title="commands", metavar="COMMAND")
    media.add_commands(groups, common)
    twin.add_commands(groups, common)
    reasoning.add_commands(groups, common)
    edit.add_command(groups, common)
    data.add_commands(groups, common)
    train.add_commands(groups, common)
    eval_command.add_commands(groups, common)
    for extend in extensions:
        extend(groups, common)
    demo.add_command(groups, common)
    return parser


def _error(message: str) -> None:
    print(f"river: error: {message}", file=sys.stderr)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def _terminate(signum: int, frame: object) -> None:
    # Turn SIGTERM into an exception so atomic writers remove their temporaries on the way out.
    raise Cancelled("terminated by signal")


if __name__ == "__main__":
    sys.exit(main())
