"""An in-process bridge server on the tiny profile, its client, and a private media root."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.client import RiverClient
from bridge.server.app import BridgeServer
from bridge.server.config import ServerConfig


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private runtime directory (Unix socket paths must stay under ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="rb-", dir="/tmp"))
    path.chmod(0o700)
    monkeypatch.setenv("RIVER_RUNTIME_DIR", str(path))
    monkeypatch.delenv("RIVER_BRIDGE_DISCOVERY", raising=False)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def media_root(tmp_path: Path, sample_clip: Path) -> Path:
    """A media root holding a copy of the bundled clip as ``clip.mp4``."""
    root = tmp_path / "media"
    root.mkdir()
    shutil.copy2(sample_clip, root / "clip.mp4")
    return root


@pytest.fixture
def make_server(tmp_path: Path, runtime_dir: Path, media_root: Path) -> Iterator[Callable[..., BridgeServer]]:
    """``make_server(**config)`` starts an in-process server (tiny profile, no preload); ``llm`` and
    ``pipeline`` go to the server itself."""
    servers: list[BridgeServer] = []

    def make(**overrides: object) -> BridgeServer:
        llm = overrides.pop("llm", None)
        pipeline = overrides.pop("pipeline", None)
        options: dict[str, object] = {
            "state_dir": tmp_path / "state",
            "media_roots": [media_root],
            "output_root": tmp_path / "out",
            "profile": "tiny",
            "preload": False,
            "workers": 48,
        }
        options.update(overrides)
        server = BridgeServer(ServerConfig(**options), llm=llm, pipeline=pipeline)  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop(grace=0)


@pytest.fixture
def server(make_server: Callable[..., BridgeServer]) -> BridgeServer:
    return make_server()


@pytest.fixture
def client(server: BridgeServer) -> Iterator[RiverClient]:
    with RiverClient(server.address, server.token) as c:
        yield c
