"""The runtime directory and the discovery file: private, atomic, and strict about what they read."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge import discovery
from bridge.discovery import (
    API_VERSION,
    Discovery,
    DiscoveryError,
    discovery_path,
    pid_alive,
    read_discovery,
    remove_discovery,
    runtime_dir,
    write_discovery,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv("RIVER_RUNTIME_DIR", str(path))
    monkeypatch.delenv("RIVER_BRIDGE_DISCOVERY", raising=False)
    return path


def info(pid: int | None = None) -> Discovery:
    return Discovery(
        address="unix:/tmp/x/bridge.sock",
        token="t0ken",
        pid=os.getpid() if pid is None else pid,
        version="0.1.0",
        started="2026-07-01T12:00:00Z",
        state_dir="/var/river",
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_runtime_dir_is_created_private_even_under_a_loose_umask(runtime: Path) -> None:
    old = os.umask(0o000)
    try:
        assert runtime_dir() == runtime
    finally:
        os.umask(old)
    assert runtime.is_dir() and mode(runtime) == 0o700
    assert discovery_path() == runtime / "bridge.json"
    assert discovery.default_socket_path() == runtime / "bridge.sock"
    assert discovery.lock_path() == runtime / "bridge.lock"
    assert discovery.log_path() == runtime / "server.log"


@posix_only
def test_an_open_runtime_dir_is_refused_with_the_fix(runtime: Path) -> None:
    runtime.mkdir(mode=0o755)
    runtime.chmod(0o755)
    with pytest.raises(DiscoveryError) as caught:
        runtime_dir()
    message = str(caught.value)
    assert "\n" not in message
    assert f"chmod 700 {runtime}" in message and "RIVER_RUNTIME_DIR" in message and "0755" in message
    runtime.chmod(0o700)
    assert runtime_dir() == runtime


def test_runtime_dir_without_create_does_not_create(runtime: Path) -> None:
    assert runtime_dir(create=False) == runtime
    assert not runtime.exists()


def test_runtime_dir_falls_back_to_xdg_then_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIVER_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    if sys.platform != "win32":
        assert runtime_dir(create=False) == tmp_path / "river-nle"
        monkeypatch.delenv("XDG_RUNTIME_DIR")
        monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
        monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() caches; let it read TMPDIR again
        (tmp_path / "tmp").mkdir()
        assert runtime_dir(create=False) == tmp_path / "tmp" / f"river-nle-{os.getuid()}"


def test_discovery_path_override(runtime: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVER_BRIDGE_DISCOVERY", str(tmp_path / "elsewhere.json"))
    assert discovery_path() == tmp_path / "elsewhere.json"


@posix_only
def test_write_discovery_is_0600_and_round_trips(runtime: Path) -> None:
    old = os.umask(0o000)
    try:
        path = write_discovery(info())
    finally:
        os.umask(old)
    assert path == runtime / "bridge.json"
    assert mode(path) == 0o600 and mode(runtime) == 0o700
    assert read_discovery() == info()
    assert json.loads(path.read_text())["api_version"] == API_VERSION
    assert [p.name for p in runtime.iterdir()] == ["bridge.json"]  # no temp file left behind
    write_discovery(info(pid=12345))  # replaced atomically
    loaded = read_discovery()
    assert loaded is not None and loaded.pid == 12345


def test_no_discovery_file_is_none(runtime: Path) -> None:
    assert read_discovery() is None


@posix_only
def test_a_discovery_file_others_can_read_is_refused(runtime: Path) -> None:
    path = write_discovery(info())
    path.chmod(0o644)
    with pytest.raises(DiscoveryError) as caught:
        read_discovery()
    message = str(caught.value)
    assert "readable by others (mode 0644)" in message and "chmod 600" in message and str(path) in message


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"address": "unix:/x", "pid": 1, "version": "0.1"}), "'token'"),
        (json.dumps({"address": "unix:/x", "token": "t", "pid": "12", "version": "0.1"}), "'pid'"),
        (json.dumps({"address": "", "token": "t", "pid": 12, "version": "0.1"}), "'address' is empty"),
    ],
)
def test_malformed_discovery_names_the_problem(runtime: Path, content: str, named: str) -> None:
    runtime_dir()
    path = runtime / "bridge.json"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, content.encode())
    os.close(fd)
    with pytest.raises(DiscoveryError) as caught:
        read_discovery()
    assert named in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_optional_keys_default(runtime: Path) -> None:
    data = {"address": "127.0.0.1:5000", "token": "t", "pid": 7, "version": "0.1"}
    got = Discovery.from_json(data)
    assert got.api_version == API_VERSION and got.started == "" and got.state_dir == ""
    assert Discovery.from_json(got.to_json()) == got


def test_remove_discovery_removes_only_its_own(runtime: Path) -> None:
    path = write_discovery(info(pid=4242))
    remove_discovery(9999)
    assert path.exists(), "a server must not remove its successor's discovery file"
    remove_discovery(4242)
    assert not path.exists()
    remove_discovery(4242)  # absent: nothing to do


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
    assert not pid_alive(0) and not pid_alive(-5)


@posix_only
def test_an_unreaped_child_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # until it has exited (a zombie: we have not reaped it)
            if Path(f"/proc/{child.pid}/stat").exists() and not pid_alive(child.pid):
                break
            time.sleep(0.01)
        if Path("/proc").is_dir():
            assert not pid_alive(child.pid)
    finally:
        child.wait()


def test_new_tokens_are_long_and_distinct() -> None:
    tokens = {discovery.new_token() for _ in range(20)}
    assert len(tokens) == 20 and all(len(t) >= 40 for t in tokens)


def test_server_lock_held(runtime: Path) -> None:
    if os.name != "posix":
        pytest.skip("flock is POSIX")
    import fcntl

    assert not discovery.server_lock_held()  # no lock file yet
    fd = os.open(discovery.lock_path(), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        assert not discovery.server_lock_held()
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert discovery.server_lock_held()  # flock is per open file: our own second open conflicts
    finally:
        os.close(fd)
    assert not discovery.server_lock_held()
