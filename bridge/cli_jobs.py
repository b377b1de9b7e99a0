"""``river jobs …``: submit and follow jobs on the RIVER NLE server (the bridge) from a shell.

Built on :mod:`bridge.client` only, so it runs where the engine is not installed. The server is the
one judge of a request (the engine's rules, the same ``river edit`` obeys); its lists of operations,
formats, profiles and deliverables come from ``GetCapabilities``. Errors are one line on stderr
(``river: error: …``, naming the flags): exit 2 for a request the server refuses as invalid or a bad
flag value, 1 for other failures; ``watch`` and ``wait`` exit with the job's outcome.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import timezone
from itertools import islice
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from bridge.client import (
    KINDS,
    SERVICE_NAME,
    TIMECODE_FORM,
    BridgeError,
    RiverClient,
    is_timecode,
    kind_name,
    state_name,
    state_value,
)
from bridge.discovery import DiscoveryError, log_path
from bridge.v1 import bridge_pb2

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_CANCELLED = 130

STATE_CHOICES = ("queued", "running", "awaiting_confirmation", "succeeded", "failed", "cancelled")
PROGRESS_INTERVAL_S = 0.25  # at most ~4 progress lines a second per stage

EPILOG = """examples:
  river jobs submit clip.mov "make the dog look like bronze" --range 30:111 --out edit1 --watch
  river jobs submit clip.mov --targets 3 --op blur --range 01:00:00:00-01:00:08:00 --out redacted
  river jobs submit clip.mov "remove the sign" --confirm --watch   (stops at the plan for review)
  river jobs plan JOB_ID > plan.json                               (the proposed plan, to edit)
  river jobs confirm JOB_ID --plan plan.json
  river jobs list --state running --state queued
  river jobs watch JOB_ID --json                                   (JSON Lines, one event a line)

The server runs the jobs (one is started on demand by `submit`); media are paths on its machine,
--out a folder name under its output root. watch and wait exit 0 when the job succeeded or awaits
confirmation, 1 when it failed, 130 when it was cancelled, 124 when wait's --timeout passed first."""


class InputError(Exception):
    """Bad local input (a flag's value, an unreadable file): reported in one line naming the flag (exit 2)."""


Handler = Callable[[argparse.Namespace], int]


def add_commands(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``river jobs submit|get|list|watch|wait|cancel|confirm|delete``."""
    bridge = argparse.ArgumentParser(add_help=False)
    bridge.add_argument("--json", action="store_true", help="machine-readable output (JSON)")
    bridge.add_argument("--discovery", type=Path, metavar="PATH", help="the server's discovery file")
    parents = [common, bridge]
    jobs = groups.add_parser(
        "jobs", parents=[common], help="submit and follow jobs on the RIVER NLE server (the bridge)",
        description="Submit and follow jobs on the RIVER NLE server, as an NLE plugin does.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    cmds = jobs.add_subparsers(title="jobs commands", metavar="COMMAND")

    p = cmds.add_parser(
        "submit", parents=parents, help="queue an edit, twin, plan or render job (starts a server if needed)",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    # fmt: off
    p.add_argument("media", help="the clip (a path the server can read; made absolute)")
    p.add_argument("query", nargs="?", help="the editing request (reasoned into a plan)")
    p.add_argument("--kind", choices=tuple(KINDS), help="default: edit (render with --plan)")
    p.add_argument("--range", metavar="RANGE",
                   help="START:END frames (half-open; 275: and :17 work) or HH:MM:SS:FF-HH:MM:SS:FF timecode")
    p.add_argument("--rate", metavar="NUM/DEN", help="the rate the host assumes, e.g. 30000/1001 (checked)")
    p.add_argument("--timecode", default="", metavar="TC", help="the host's timecode at START (recorded)")
    what = add_job_options(p)
    what.add_argument("--plan", type=Path, metavar="PLAN.json", help="render a plan (implies --kind render)")
    p.add_argument("--name", default="", help="file name of the edited media, without extension")
    p.add_argument("--out", metavar="NAME", help="output folder under the server's output root")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--request-id", help="idempotency key: submitting it again returns the same job")
    p.add_argument("--watch", action="store_true", help="then follow the job as `river jobs watch` does")
    p.set_defaults(handler=cmd_submit)

    p = cmds.add_parser("capabilities", parents=parents, help="what the server runs: profile, ops, formats")
    p.set_defaults(handler=cmd_capabilities)

    p = cmds.add_parser("plan", parents=parents, help="print a job's plan as JSON (> plan.json)")
    p.add_argument("job_id", metavar="ID")
    p.set_defaults(handler=cmd_plan)

    p = cmds.add_parser("get", parents=parents, help="show a job")
    p.add_argument("job_id", metavar="ID")
    p.set_defaults(handler=cmd_get)

    p = cmds.add_parser("list", parents=parents, help="list jobs, newest first")
    p.add_argument("--state", action="append", type=str.lower, choices=STATE_CHOICES, help="repeatable")
    p.add_argument("--kind", choices=tuple(KINDS))
    p.add_argument("--batch", default="", metavar="BATCH_ID")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N jobs (default 50)")
    p.set_defaults(handler=cmd_list)

    p = cmds.add_parser("watch", parents=parents, help="follow a job's events until it ends or awaits you")
    p.add_argument("job_id", metavar="ID")
    p.add_argument("--after-seq", type=int, default=0, metavar="N", help="only events after seq N (resume)")
    p.set_defaults(handler=cmd_watch)

    p = cmds.add_parser("wait", parents=parents, help="block until a job ends or awaits confirmation")
    p.add_argument("job_id", metavar="ID")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="S", help="seconds (default 3600)")
    p.set_defaults(handler=cmd_wait)

    p = cmds.add_parser("cancel", parents=parents, help="stop a job; it leaves no output")
    p.add_argument("job_id", metavar="ID")
    p.add_argument("--reason", default="", help="recorded with the job")
    p.set_defaults(handler=cmd_cancel)

    p = cmds.add_parser("confirm", parents=parents, help="render a job's plan after review")
    p.add_argument("job_id", metavar="ID")
    p.add_argument("--plan", type=Path, metavar="EDITED.json", help="your edited plan, not the proposed one")
    p.set_defaults(handler=cmd_confirm)

    p = cmds.add_parser("delete", parents=parents, help="forget a finished job")
    p.add_argument("job_id", metavar="ID")
    p.add_argument("--outputs", action="store_true", help="also remove its output folder")
    p.set_defaults(handler=cmd_delete)
    # fmt: on


def add_job_options(p: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """The options of a job that apply to any media (``river jobs submit``, ``river timeline edit``):
    what to change and how to render it. Returns the group --targets belongs to (one of a kind)."""
    # fmt: off
    p.add_argument("--handles", type=int, default=0, metavar="N", help="extra frames to render each side")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--targets", help="twin objects: ids or categories, comma-separated (3,5 or dog)")
    p.add_argument("--op", help="what to do to the targets: generate (default) or an instant op")
    p.add_argument("--prompt", default="", help="--op generate: what the targets become")
    p.add_argument("--remove", action="store_true", help="--op generate: remove the targets instead")
    p.add_argument("--color", default="", help="--op recolor (needed), mask_out, highlight: a CSS color")
    p.add_argument("--profile", help="model profile: the server's (it runs one; see capabilities)")
    p.add_argument("--format", help="edited media format (default prores; the server's list)")
    p.add_argument("--deliver", metavar="LIST", help="what to write, comma-separated (default all)")
    p.add_argument("--confirm", action="store_true", help="stop with the plan for review before rendering")
    p.add_argument("--seed", type=int, help="render seed (default 0)")
    p.add_argument("--steps", type=int, help="denoising steps (paper 50, tiny 2)")
    p.add_argument("--guidance", type=float, dest="guidance_scale", help="classifier-free guidance")
    p.add_argument("--conditioning-scale", type=float, help="VACE conditioning scale")
    p.add_argument("--window", type=int, help="frames per VACE window, 4k+1")
    p.add_argument("--overlap", type=int, help="frames shared by consecutive windows")
    p.add_argument("--no-matte", action="store_true", help="do not write the matte")
    p.add_argument("--no-preview", action="store_true", help="do not write preview.mp4")
    p.add_argument("--no-sheet", action="store_true", help="do not write contact_sheet.png")
    p.add_argument("--no-start", action="store_true", help="fail instead of starting a server")
    # fmt: on
    return what


def job_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :meth:`RiverClient.edit_spec` that :func:`add_job_options` gave
    (InputError names a flag whose value is malformed)."""
    targets = None
    if args.targets is not None:
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        if not targets:
            raise InputError("--targets is empty; list object ids or categories, e.g. --targets 3,5")
    if args.handles < 0:
        raise InputError(f"--handles {args.handles} must be 0 or more frames")
    render = {
        name: getattr(args, name)
        for name in ("seed", "steps", "guidance_scale", "conditioning_scale", "window", "overlap")
        if getattr(args, name) is not None
    }
    render.update({name: True for name in ("no_matte", "no_preview", "no_sheet") if getattr(args, name)})
    deliver = [d.strip() for d in args.deliver.split(",") if d.strip()] if args.deliver else None
    return {
        "handles": args.handles, "targets": targets, "op": args.op or "", "prompt": args.prompt,
        "remove": args.remove, "color": args.color, "profile": args.profile or "",
        "format": args.format or "", "deliver": deliver, "confirm": args.confirm, "render": render or None,
    }  # fmt: skip


def one_line_errors(fn: Handler) -> Handler:
    """The bridge's user-facing errors become ``river: error: …`` (river's main knows none of them, and
    would call them internal errors): exit 2 for a request refused as invalid or a bad flag, 1 otherwise;
    the server's field names become flags. Every bridge command goes through it, ``river serve`` too.

    - InputError: a flag's value (2);
    - BridgeError: the server refused or could not be reached (INVALID_ARGUMENT: 2; else 1);
    - DiscoveryError: an unsafe or unusable runtime directory or discovery file (1)."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except InputError as exc:
            if getattr(args, "debug", False):
                raise
            error(str(exc))
            return EXIT_USAGE
        except BridgeError as exc:
            if getattr(args, "debug", False):
                raise
            if exc.code == "INVALID_ARGUMENT":
                error(as_flags(exc.details))
                return EXIT_USAGE
            error(f"{exc.code}: {as_flags(exc.details)}")
            return EXIT_ERROR
        except DiscoveryError as exc:
            if getattr(args, "debug", False):
                raise
            error(str(exc))
            return EXIT_ERROR

    return run


# The API's field paths as `river jobs submit` spells them (presentation only: the rules are the server's).
SPEC_FLAGS = {
    "spec.media.path": "MEDIA", "spec.media.range": "--range", "spec.media.handles": "--handles",
    "spec.media.rate": "--rate", "spec.media.timecode": "--timecode", "spec.query": '"query"',
    "spec.targets.items": "--targets", "spec.plan_json": "--plan", "spec.what": "what to change",
    "spec.kind": "--kind",
    "spec.render.guidance_scale": "--guidance", "spec.render.conditioning_scale": "--conditioning-scale",
    "spec.render.seed": "--seed", "spec.render.steps": "--steps", "spec.render.window": "--window",
    "spec.render.overlap": "--overlap", "spec.output": "--out",
}  # fmt: skip
_SPEC_PATH = re.compile(r"\bspec(?:\.[a-z_]+)+")


def as_flags(message: str) -> str:
    """A server message with its field paths spelled as flags: ``spec.color`` → ``--color``."""

    def flag(match: re.Match[str]) -> str:
        path = match.group(0)
        return SPEC_FLAGS.get(path) or "--" + path.rsplit(".", 1)[-1].replace("_", "-")

    return re.sub(r"^plan_json\b", "--plan", _SPEC_PATH.sub(flag, message))  # ConfirmPlan's field


# -- handlers --------------------------------------------------------------------------------


@one_line_errors
def cmd_submit(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)  # the flags' own syntax first: no server is started for a typo
    with connect(args, start=not args.no_start) as client:
        wait_until_ready(client, args)
        check_choices(spec, client.capabilities())
        job = client.submit(spec, request_id=args.request_id)
        if args.json:
            _print_message(job, lines=args.watch)
        else:
            ahead = f", {job.queue_position} ahead" if job.state == bridge_pb2.JOB_STATE_QUEUED else ""
            print(
                f"submitted job {job.id} ({kind_name(job.kind)}, {state_name(job.state)}{ahead})", flush=True
            )
            if not args.watch:
                print(f"  follow it: river jobs watch {job.id}")
        if not args.watch:
            return EXIT_OK
        return _follow(client, job.id, 0, args)


@one_line_errors
def cmd_capabilities(args: argparse.Namespace) -> int:
    with connect(args) as client:
        caps = client.capabilities()
    if args.json:
        _print_message(caps)
        return EXIT_OK
    print(f"RIVER NLE server {caps.server_version} ({caps.api_version}), pid {caps.pid}, "
          f"{'ready' if caps.ready else 'loading its models'}")  # fmt: skip
    for label, values in (
        ("profile", [caps.default_profile]),
        ("ops", caps.ops),
        ("formats", caps.formats),
        ("deliverables", caps.deliverables),
        ("media roots", caps.media_roots),
        ("output root", [caps.output_root]),
    ):
        print(f"  {label:<13}{', '.join(values)}")
    for role, model in sorted(caps.models.items()):
        print(f"  model        {role}: {model}")
    return EXIT_OK


@one_line_errors
def cmd_plan(args: argparse.Namespace) -> int:
    with connect(args) as client:
        job = client.get_job(args.job_id)
    if not job.HasField("plan") or not job.plan.plan_json:
        raise BridgeError(
            "FAILED_PRECONDITION",
            f"job {job.id} has no plan yet ({state_name(job.state)}); "
            f"a plan job or an edit submitted with --confirm has one: river jobs wait {job.id}",
        )
    print(json.dumps(json.loads(job.plan.plan_json), indent=2, ensure_ascii=False))
    return EXIT_OK


@one_line_errors
def cmd_get(args: argparse.Namespace) -> int:
    with connect(args) as client:
        job = client.get_job(args.job_id)
    if args.json:
        _print_message(job)
    else:
        print("\n".join(describe_job(job)))
    return EXIT_OK


@one_line_errors
def cmd_list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InputError(f"--limit {args.limit} must be 1 or more")
    states = [state_value(s) for s in args.state or ()]
    with connect(args) as client:
        found = client.iter_jobs(
            states=states, kind=args.kind, batch_id=args.batch, page_size=min(args.limit, 500)
        )
        jobs = list(islice(found, args.limit))
    if args.json:
        print(json.dumps({"jobs": [_to_dict(job) for job in jobs]}, indent=2))
        return EXIT_OK
    if not jobs:
        print("no jobs")
        return EXIT_OK
    rows = [("ID", "KIND", "STATE", "PROGRESS", "CREATED", "MEDIA")]
    rows += [
        (job.id, kind_name(job.kind), state_name(job.state),
         _progress_text(job.progress) if job.HasField("progress") else "-",
         _time(job, "create_time"), _media_text(job))
        for job in jobs
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return EXIT_OK


@one_line_errors
def cmd_watch(args: argparse.Namespace) -> int:
    if args.after_seq < 0:
        raise InputError(f"--after-seq {args.after_seq} must be 0 or more")
    with connect(args) as client:
        return _follow(client, args.job_id, args.after_seq, args)


@one_line_errors
def cmd_wait(args: argparse.Namespace) -> int:
    if args.timeout < 0:
        raise InputError(f"--timeout {args.timeout:g} must be 0 or more seconds")
    with connect(args) as client:
        job = client.wait(args.job_id, timeout=args.timeout)
    if args.json:
        _print_message(job)
    else:
        print("\n".join(describe_job(job)))
    code = _outcome(job, args)
    if code is None:
        error(
            f"job {job.id} is still {state_name(job.state)} after {args.timeout:g} s; wait again, "
            f"or follow it: river jobs watch {job.id}"
        )
        return EXIT_TIMEOUT
    return code


@one_line_errors
def cmd_cancel(args: argparse.Namespace) -> int:
    with connect(args) as client:
        job = client.cancel(args.job_id, args.reason)
    if args.json:
        _print_message(job)
    elif job.state == bridge_pb2.JOB_STATE_CANCELLED:
        print(f"job {job.id} CANCELLED")
    else:
        print(
            f"job {job.id} is {state_name(job.state)}; it stops at the next safe point and ends CANCELLED "
            f"(river jobs wait {job.id})"
        )
    return EXIT_OK


@one_line_errors
def cmd_confirm(args: argparse.Namespace) -> int:
    plan_json = _read_plan(args.plan, "--plan") if args.plan else None
    with connect(args) as client:
        job = client.confirm(args.job_id, plan_json)
    if args.json:
        _print_message(job)
    else:
        which = "your edited plan" if plan_json else "the plan as proposed"
        state = state_name(job.state)
        print(f"job {job.id} {state}: confirmed with {which}; follow it: river jobs watch {job.id}")
    return EXIT_OK


@one_line_errors
def cmd_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        done = client.delete(args.job_id, delete_outputs=args.outputs)
    if args.json:
        _print_message(done)
    else:
        print(
            f"deleted job {done.job_id or args.job_id}" + (" and its outputs" if done.outputs_deleted else "")
        )
    return EXIT_OK


# -- submit's spec ---------------------------------------------------------------------------


def spec_from_args(args: argparse.Namespace) -> bridge_pb2.EditSpec:
    """The EditSpec ``river jobs submit`` sends. Only the flags' own syntax is checked here (InputError
    names the flag); how they fit together is the server's to say."""
    rate = parse_rate(args.rate) if args.rate else None
    if args.timecode and not is_timecode(args.timecode):
        raise InputError(f"--timecode {args.timecode!r} is not a timecode ({TIMECODE_FORM})")
    settings = job_settings(args)
    plan_json = _read_plan(args.plan, "--plan") if args.plan else None
    if args.query is not None and (plan_json is not None or settings["targets"]):
        raise InputError("give either a query or --plan/--targets, not both")
    kind = args.kind or ("render" if plan_json is not None else "edit")
    try:
        return RiverClient.edit_spec(
            args.media, kind=kind, range_text=args.range or "", rate=rate, timecode=args.timecode,
            query=args.query, plan_json=plan_json, name=args.name, output=args.out or "",
            overwrite=args.overwrite, **settings,
        )  # fmt: skip
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def check_choices(spec: bridge_pb2.EditSpec, caps: bridge_pb2.Capabilities) -> None:
    """--op, --format, --profile and --deliver against the lists the server gave (GetCapabilities)."""
    for flag, value, allowed in (
        ("--op", spec.op, caps.ops),
        ("--format", spec.format, caps.formats),
        ("--profile", spec.profile, caps.profiles),
        *(("--deliver", d, caps.deliverables) for d in spec.deliver),
    ):
        if value and allowed and value not in allowed:
            raise InputError(f"{flag} {value!r} is not one of this server's: {', '.join(allowed)}")


def parse_rate(text: str) -> tuple[int, int]:
    """``"30000/1001"`` → (30000, 1001); ``"25"`` → (25, 1)."""
    num, sep, den = text.partition("/")
    try:
        rate = (int(num), int(den) if sep else 1)
    except ValueError:
        rate = None
    if rate is None or rate[0] <= 0 or rate[1] <= 0:
        raise InputError(f"--rate {text!r} must be NUM/DEN (or a whole number), e.g. --rate 30000/1001")
    return rate


def _read_plan(path: Path, flag: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"{flag} {path}: cannot read it ({why})") from exc
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{flag} {path} is not JSON ({exc}); pass a plan.json from a plan job") from exc
    return text


# -- following a job -------------------------------------------------------------------------


def _follow(client: RiverClient, job_id: str, after_seq: int, args: argparse.Namespace) -> int:
    printer = EventPrinter(as_json=args.json, progress=not getattr(args, "quiet", False))
    try:
        for event in client.watch(job_id, after_seq):
            printer.event(event)
    except KeyboardInterrupt:
        printer.flush()
        error(
            f"stopped watching; job {job_id} keeps running: river jobs watch {job_id} --after-seq "
            f"{printer.last_seq} follows it again, river jobs cancel {job_id} stops it"
        )
        return EXIT_CANCELLED
    printer.flush()
    job = client.get_job(job_id)
    if not args.json:
        if job.state == bridge_pb2.JOB_STATE_SUCCEEDED:
            print("\n".join(_results_lines(job.results)))
        elif job.state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION and not printer.saw_plan:
            print("\n".join(_plan_lines(job.plan)))
    code = _outcome(job, args)
    return EXIT_OK if code is None else code


def _outcome(job: bridge_pb2.Job, args: argparse.Namespace) -> int | None:
    """The exit code of a job's state (None while it runs), saying why on stderr for failures."""
    state = job.state
    if state == bridge_pb2.JOB_STATE_SUCCEEDED:
        return EXIT_OK
    if state == bridge_pb2.JOB_STATE_FAILED:
        kind = f" ({job.error.kind})" if job.error.kind else ""
        error(f"job {job.id} failed{kind}: {job.error.message or 'no reason given'}")
        return EXIT_ERROR
    if state == bridge_pb2.JOB_STATE_CANCELLED:
        error(f"job {job.id} was cancelled" + (f": {job.error.message}" if job.error.message else ""))
        return EXIT_CANCELLED
    if state == bridge_pb2.JOB_STATE_AWAITING_CONFIRMATION:
        hint = f"river jobs confirm {job.id} to render it (--plan EDITED.json for your version)"
        print(hint, file=sys.stderr if args.json else sys.stdout)
        return EXIT_OK
    return None


class EventPrinter:
    """One line per event (``--json``: one JSON object per line); progress throttled per stage."""

    def __init__(self, *, as_json: bool, progress: bool = True) -> None:
        self.as_json = as_json
        self.progress = progress
        self.last_seq = 0
        self.saw_plan = False
        self._error = ""  # the last error event's message: a FAILED state repeating it says it once
        self._printed_at: dict[str, float] = {}
        self._pending: dict[str, str] = {}  # stage → its latest unprinted progress line

    def event(self, event: bridge_pb2.JobEvent) -> None:
        self.last_seq = event.seq
        if self.as_json:
            print(json.dumps(_to_dict(event)), flush=True)
            return
        which = event.WhichOneof("event")
        if which == "progress":
            if self.progress:
                self._progress(event)
            return
        self.flush()
        if which == "state":
            said = event.state.message and event.state.message != self._error
            text = state_name(event.state.state) + (f": {event.state.message}" if said else "")
        elif which == "message":
            text = event.message
        elif which == "plan":
            self.saw_plan = True
            text = "\n".join(_plan_lines(event.plan)).strip()
        elif which == "results":
            text = f"results in {event.results.output_dir or '(no folder)'}"
        elif which == "error":
            self._error = event.error.message
            text = f"error ({event.error.kind}): {event.error.message}"
        else:
            text = "(an event this client does not know)"
        self._line(event.seq, text)

    def flush(self) -> None:
        """Print the last progress line of each stage that was held back."""
        for line in self._pending.values():
            print(line, flush=True)
        self._pending.clear()

    def _progress(self, event: bridge_pb2.JobEvent) -> None:
        p = event.progress
        if p.stage not in self._printed_at:
            # A new stage: the last lines of the earlier ones come first. Stages seen before may
            # interleave (encode, blur, encode, …) and stay throttled.
            self.flush()
        line = self._format(event.seq, _progress_text(p))
        now = time.monotonic()
        finished = p.HasField("total") and p.done >= p.total
        if finished or now - self._printed_at.get(p.stage, -1e9) >= PROGRESS_INTERVAL_S:
            self._pending.pop(p.stage, None)
            self._printed_at[p.stage] = now
            print(line, flush=True)
        else:
            self._pending[p.stage] = line

    def _line(self, seq: int, text: str) -> None:
        print(self._format(seq, text), flush=True)

    @staticmethod
    def _format(seq: int, text: str) -> str:
        return f"{seq:>5}  " + text.replace("\n", "\n       ")


# -- formatting ------------------------------------------------------------------------------


def describe_job(job: bridge_pb2.Job) -> list[str]:
    """A job for people: kind, state, media, what, times, progress, error, plan and results."""
    lines = [f"job {job.id}  {kind_name(job.kind)}  {state_name(job.state)}"]
    spec = job.spec
    lines.append(f"  media       {_media_text(job, full=True)}")
    what = spec.WhichOneof("what")
    if what == "query":
        lines.append(f"  query       {spec.query}")
    elif what == "targets":
        lines.append(f"  targets     {', '.join(spec.targets.items)}" + (f" ({spec.op})" if spec.op else ""))
    elif what == "plan_json":
        lines.append(f"  plan        given ({len(spec.plan_json)} characters)")
    if job.batch_id:
        lines.append(f"  batch       {job.batch_id}")
    for label, field in (("created", "create_time"), ("started", "start_time"), ("ended", "end_time")):
        if job.HasField(field):
            lines.append(f"  {label:<11} {_time(job, field)}")
    if job.state == bridge_pb2.JOB_STATE_QUEUED:
        lines.append(f"  queue       {job.queue_position} ahead")
    if job.HasField("progress"):
        lines.append(f"  progress    {_progress_text(job.progress)}")
    if job.HasField("error") and (job.error.message or job.error.kind):
        lines.append(f"  error       {job.error.kind or 'error'}: {job.error.message}")
    if job.HasField("plan"):
        lines += ["  " + line for line in "\n".join(_plan_lines(job.plan)).splitlines()]
    if job.HasField("results"):
        lines += ["  " + line for line in _results_lines(job.results)]
    return lines


def _plan_lines(plan: bridge_pb2.PlanPreview) -> list[str]:
    lines = ["plan: " + (textwrap.dedent(plan.explanation).strip() or "(no explanation)")]
    for t in plan.targets:
        spans = ", ".join(f"{r.start}:{r.end}" for r in t.frames)
        attributes = f" ({t.attributes})" if t.attributes else ""
        lines.append(f"  target {t.id} {t.category}{attributes}" + (f" frames {spans}" if spans else ""))
    if plan.preview_image:
        lines.append(f"  preview {plan.preview_image}")
    return lines


def _results_lines(results: bridge_pb2.Results) -> list[str]:
    lines = [
        f"output {results.output_dir or '(none)'}" + (f": {results.frames} frames" if results.frames else "")
    ]
    for label in (
        "media",
        "matte_dir",
        "matte_movie",
        "preview",
        "contact_sheet",
        "provenance",
        "twin",
        "plan",
    ):
        value = getattr(results, label)
        if value:
            lines.append(f"  {label.replace('_', ' '):<14}{value}")
    if results.timecode:
        lines.append(f"  {'timecode':<14}{results.timecode}")
    if results.media:  # QC is meaningful only when media was rendered
        lines.append("  QC " + ("passed" if results.qc_passed else "FLAGGED"))
        lines += [f"    - {flag}" for flag in results.qc_flags]
    return lines


def _progress_text(p: bridge_pb2.Progress) -> str:
    unit = f" {p.unit}" if p.unit else ""
    if p.HasField("total") and p.total > 0:
        return f"{p.stage} {p.done}/{p.total}{unit} ({100 * p.done // p.total}%)"
    return f"{p.stage} {p.done}{unit}"


def _media_text(job: bridge_pb2.Job, *, full: bool = False) -> str:
    media = job.spec.media
    text = media.path if full else Path(media.path).name
    if media.HasField("range"):
        text += f" [{media.range.start}:{media.range.end}]"
    if full and media.HasField("rate"):
        text += f" at {media.rate.num}/{media.rate.den}"
    if full and media.timecode:
        text += f" from {media.timecode}"
    return text


def _time(job: bridge_pb2.Job, field: str) -> str:
    if not job.HasField(field):
        return "-"
    stamp = getattr(job, field).ToDatetime(tzinfo=timezone.utc).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


# -- plumbing --------------------------------------------------------------------------------


def connect(args: argparse.Namespace, *, start: bool = False, profile: str | None = None) -> RiverClient:
    """The running server's client; with ``start``, one started on demand when none runs, with the
    model profile the jobs ask for (``profile``, default ``args.profile``; none: the server's default)."""
    try:
        return RiverClient.connect(args.discovery)
    except BridgeError as exc:
        if exc.code != "NO_SERVER" or not start:
            raise
    profile = (getattr(args, "profile", None) or "") if profile is None else profile
    if not getattr(args, "quiet", False):
        with_profile = f" with --profile {profile}" if profile else ""
        print(
            f"starting the RIVER NLE server{with_profile} (log: {log_path()}) …", file=sys.stderr, flush=True
        )
    return RiverClient.connect(args.discovery, start=True, profile=profile)


READY_TIMEOUT_S = 900.0  # the paper profile's models take minutes to load on a cold machine


def wait_until_ready(client: RiverClient, args: argparse.Namespace) -> None:
    """A server that is still loading its models answers submissions UNAVAILABLE: wait for it."""
    if client.health(SERVICE_NAME) == "SERVING":
        return
    if not getattr(args, "quiet", False):
        print("the server is loading its models; waiting for it …", file=sys.stderr, flush=True)
    client.wait_ready(timeout=READY_TIMEOUT_S)


def _to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _print_message(message: Message, *, lines: bool = False) -> None:
    print(json.dumps(_to_dict(message), indent=None if lines else 2), flush=True)


def error(message: str) -> None:
    print(f"river: error: {message}", file=sys.stderr, flush=True)
