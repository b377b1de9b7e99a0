"""An in-process bridge server on the tiny profile, its client, and a private media root.

``RIVER_TEST_RUNNER=ray`` runs every ``make_server`` on the Ray runner (two CPU actors on one local Ray
cluster for the session) instead of the local one: the whole bridge suite against Ray. It is slow (each
server starts two actors that build their own pipelines), so it is not part of the default run::

    RIVER_TEST_RUNNER=ray pytest tests/bridge -m "not gpu"
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.client import RiverClient
from bridge.server.app import BridgeServer
from bridge.server.config import ServerConfig

RUNNER = os.environ.get("RIVER_TEST_RUNNER", "local")
# Tests that reach into the local worker or patch the pipeline class in this process: actors do not see it.
LOCAL_ONLY = {
    "test_a_full_queue_is_resource_exhausted": "it holds LocalRunner._run in this process",
    "test_not_serving_and_unavailable_while_models_load": "it patches RiverPipeline.preload in this process",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if RUNNER != "ray":
        return
    for item in items:
        if (why := LOCAL_ONLY.get(getattr(item, "originalname", item.name))) is not None:
            item.add_marker(pytest.mark.skip(reason=f"local runner only under RIVER_TEST_RUNNER=ray: {why}"))


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """The session's local Ray cluster when the suite runs on the Ray runner (nothing otherwise)."""
    if RUNNER != "ray":
        yield
        return
    ray = pytest.importorskip("ray", reason="RIVER_TEST_RUNNER=ray needs the ray extra")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    if started:
        ray.shutdown()


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
def make_server(
    tmp_path: Path, runtime_dir: Path, media_root: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., BridgeServer]]:
    """``make_server(**config)`` starts an in-process server (tiny profile, no preload); ``llm`` and
    ``pipeline`` go to the server itself. Under ``RIVER_TEST_RUNNER=ray`` it runs on Ray (a test that
    hands the server a pipeline built in this process is skipped: actors build their own)."""
    if RUNNER == "ray":
        request.getfixturevalue("ray_cluster")
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
        if RUNNER == "ray" and "runner" not in overrides:
            if pipeline is not None:
                pytest.skip("the test builds its pipeline in this process; Ray actors build their own")
            options.update(runner="ray", ray_cpus=2)
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
