"""``river serve``: added to the ``river`` command through the ``river_nle.commands`` entry point.

``river serve`` runs the bridge in the foreground until SIGINT/SIGTERM; a client can also start it
on demand (``bridge.client.RiverClient.connect(start=True)``). ``river jobs …`` talks to it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from bridge.cli_jobs import one_line_errors

EPILOG = """examples:
  river serve --media-root ~/Footage --media-root /Volumes/Media   (Unix socket; token in the discovery file)
  river serve --port 0 --profile tiny --no-preload                   (loopback TCP, any free port)
  river serve --runner ray --ray-address auto --media-root /mnt/studio   (Ray: one actor per GPU)
  river jobs submit ~/Footage/clip.mov --range 0:17 --targets 3 --op blur --json

Jobs are kept in STATE_DIR/jobs.sqlite3 and survive restarts: a job that was running when the server
died ends FAILED (interrupted), queued jobs run again. Outputs go under --output-root only."""


def add_serve(groups: Any, common: argparse.ArgumentParser) -> None:
    p = groups.add_parser(
        "serve",
        parents=[common],
        help="run the bridge: the local gRPC service NLE plugins talk to",
        description="Serve river.bridge.v1 on a private Unix socket (or loopback TCP) with a bearer token.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--socket", type=Path, help="Unix socket path (default: RUNTIME_DIR/bridge.sock)")
    where.add_argument("--port", type=int, help="loopback TCP port instead of a socket (0: any free port)")
    p.add_argument(
        "--media-root",
        action="append",
        type=Path,
        default=None,
        metavar="DIR",
        help="a folder whose media the server may read (repeat; default: $RIVER_MEDIA_ROOTS, else home, cwd)",
    )
    p.add_argument(
        "--output-root", type=Path, help="the only folder outputs go to (default STATE_DIR/outputs)"
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        help="job store and job folders (default: $RIVER_STATE_DIR or the user state dir)",
    )
    p.add_argument("--discovery", type=Path, help="discovery file (default RUNTIME_DIR/bridge.json)")
    p.add_argument("--profile", choices=("paper", "tiny"), default="paper", help="default model profile")
    p.add_argument(
        "--llm", help="reasoner LLM for query jobs: paper|tiny|transformers:DIR|openai:URL|replay:FILE"
    )
    p.add_argument(
        "--max-queue", type=int, default=64, help="queued + running jobs before RESOURCE_EXHAUSTED"
    )
    p.add_argument("--no-preload", action="store_true", help="load models on the first job, not at start")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument(
        "--runner",
        choices=("local", "ray"),
        default="local",
        help="local: one worker, one pipeline (default); ray: Ray actors, one pipeline per GPU (ray extra)",
    )
    p.add_argument("--ray-address", help="join this Ray cluster (auto, ray://HEAD:10001); default: local")
    p.add_argument("--ray-cpus", type=int, metavar="N", help="N CPU actors instead of one actor per GPU")
    p.set_defaults(handler=cmd_serve)


@one_line_errors  # the bridge's own user errors (an unsafe runtime directory …) as `river jobs` has them
def cmd_serve(args: argparse.Namespace) -> int:
    from bridge.server.app import BridgeServer, ServerRunning
    from bridge.server.config import ServerConfig, default_media_roots, default_state_dir
    from bridge.server.store import StoreError
    from river_core.errors import RiverError

    if args.runner == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise RiverError("install the ray extra: pip install 'river-nle[ray]'")
    try:
        config = ServerConfig(
            state_dir=args.state_dir or default_state_dir(),
            media_roots=args.media_root or default_media_roots(),
            output_root=args.output_root,
            profile=args.profile,
            socket=args.socket,
            port=args.port,
            discovery=args.discovery,
            max_queue=args.max_queue,
            preload=not args.no_preload,
            device=args.device,
            dtype=args.dtype,
            runner=args.runner,
            ray_address=args.ray_address,
            ray_cpus=args.ray_cpus,
        )
    except ValueError as exc:
        raise RiverError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s river serve: %(message)s", stream=sys.stderr)

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    server = BridgeServer(config, llm=args.llm, say=say)
    try:
        server.start()  # a start that fails has stopped the server again
    except (ServerRunning, StoreError) as exc:
        raise RiverError(str(exc)) from None
    except OSError as exc:
        raise RiverError(f"could not start the server: {exc}") from None
    # SIGTERM and Ctrl-C are the normal way to stop a server: stop cleanly and exit 0.
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5) and not server.wait(0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopping")
        server.stop()
    return 0
