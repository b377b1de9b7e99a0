"""Regenerate the bridge's protobuf and gRPC code from ``bridge/v1/bridge.proto``.

``python -m bridge.codegen`` writes ``bridge/v1/bridge_pb2.py``, ``bridge_pb2.pyi`` and
``bridge_pb2_grpc.py``; ``python -m bridge.codegen --check`` exits 1 when the committed files differ
from what the proto generates (a test runs it). Needs grpcio-tools (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = "bridge/v1/bridge.proto"
GENERATED = ("bridge/v1/bridge_pb2.py", "bridge/v1/bridge_pb2.pyi", "bridge/v1/bridge_pb2_grpc.py")


def generate(out: Path) -> list[Path]:
    """Run protoc (grpcio-tools) on the proto; the files land under ``out`` with their repo paths."""
    try:
        from grpc_tools import protoc
    except ImportError as exc:
        raise SystemExit(
            "bridge.codegen needs grpcio-tools: pip install -e '.[dev]' (it is in the dev extra)"
        ) from exc
    import importlib.resources

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        str(ROOT / PROTO),
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {PROTO}")
    return [out / name for name in GENERATED]


def stale() -> list[str]:
    """The generated files that differ from a fresh generation (empty: up to date)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        return [
            name
            for name, path in zip(GENERATED, fresh, strict=True)
            if not (ROOT / name).is_file() or (ROOT / name).read_bytes() != path.read_bytes()
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale generated files")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"stale: {name} (run python -m bridge.codegen)", file=sys.stderr)
        return 1 if names else 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in zip(GENERATED, generate(Path(tmp)), strict=True):
            (ROOT / name).write_bytes(path.read_bytes())
            print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
