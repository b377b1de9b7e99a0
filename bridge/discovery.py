"""Where a running bridge server is, and the token to talk to it.

The server writes a discovery file (``bridge.json``, mode 0600) into a private runtime directory
(mode 0700); clients read it to find the address and the bearer token. Both sides import this module,
so it stays standard-library only.

>>> info = read_discovery()          # None when no server has written one
>>> info.address if info else None   # 'unix:/run/user/1000/river-nle/bridge.sock'
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

API_VERSION: Final = "river.bridge.v1"

_POSIX = os.name == "posix"


class DiscoveryError(Exception):
    """The runtime directory or the discovery file is unsafe or unreadable (a one-line message)."""


def runtime_dir(create: bool = True) -> Path:
    """The private directory for the server's socket, lock, log and discovery file.

    ``$RIVER_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/river-nle``, else ``<tmp>/river-nle-<uid>``
    (Windows: ``%LOCALAPPDATA%\\river-nle\\run``). Created with mode 0700; on POSIX a directory that
    another user owns, or that group or others can enter, is refused: it would expose the token.
    """
    path = _runtime_dir_location()
    if create:
        existed = path.is_dir()
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise DiscoveryError(
                f"cannot create the runtime directory {path} ({exc.strerror}); set RIVER_RUNTIME_DIR "
                "to a private directory you can write"
            ) from exc
        if _POSIX and not existed:
            path.chmod(0o700)  # mkdir's mode is filtered by the umask; make it exact
    if _POSIX and path.exists():
        _check_private_dir(path)
    return path


def _runtime_dir_location() -> Path:
    if override := os.environ.get("RIVER_RUNTIME_DIR"):
        return Path(override).expanduser().absolute()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "river-nle" / "run"
    if xdg := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(xdg) / "river-nle"
    return Path(tempfile.gettempdir()) / f"river-nle-{os.getuid()}"


def _check_private_dir(path: Path) -> None:
    st = path.stat()
    if st.st_uid != os.getuid():
        raise DiscoveryError(
            f"the runtime directory {path} belongs to another user (uid {st.st_uid}); "
            "set RIVER_RUNTIME_DIR to a private directory of yours"
        )
    mode = st.st_mode & 0o777
    if mode & 0o077:
        raise DiscoveryError(
            f"the runtime directory {path} is accessible by others (mode {mode:04o}); "
            f"chmod 700 {path} or set RIVER_RUNTIME_DIR"
        )


def default_socket_path() -> Path:
    """The server's Unix socket: ``runtime_dir()/bridge.sock``."""
    return runtime_dir() / "bridge.sock"


def discovery_path() -> Path:
    """The discovery file: ``$RIVER_BRIDGE_DISCOVERY``, else ``runtime_dir()/bridge.json``."""
    if override := os.environ.get("RIVER_BRIDGE_DISCOVERY"):
        return Path(override).expanduser().absolute()
    return runtime_dir() / "bridge.json"


def lock_path() -> Path:
    """The file the running server holds an exclusive ``flock`` on: one server per runtime directory."""
    return runtime_dir() / "bridge.lock"


def log_path() -> Path:
    """Where a server started on demand by a client writes its output."""
    return runtime_dir() / "server.log"


def server_lock_held(lock: Path | None = None) -> bool:
    """Whether some process holds the server lock (a server is running or starting). False on Windows.

    ``lock`` defaults to :func:`lock_path`; a server with its own discovery file locks that file's
    ``.lock`` sibling.
    """
    if not _POSIX:
        return False
    import fcntl

    try:
        fd = os.open(lock_path() if lock is None else lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our lock, if we got it
    return False


def uds_supported() -> bool:
    """Whether clients here can use Unix sockets (the Python gRPC client cannot on Windows)."""
    return sys.platform != "win32"


def unix_address(path: Path) -> str:
    """The gRPC target for a Unix socket: ``unix:/abs/path.sock``."""
    return f"unix:{Path(path).absolute()}"


def new_token() -> str:
    """A fresh bearer token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie does not count)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    # A child that exited but was not reaped yet still answers kill(0).
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _pid_alive_windows(pid: int) -> bool:
    if sys.platform == "win32":  # repeated so type checkers on other platforms skip it
        import ctypes

        process_query_limited_information, still_active = 0x1000, 259
        handle = ctypes.windll.kernel32.OpenProcess(process_query_limited_information, False, pid)
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            ok = ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(ok) and code.value == still_active
        finally:
            ctypes.windll.kernel32.CloseHandle(handle)
    return False


@dataclass(frozen=True)
class Discovery:
    """What a client needs to reach a running server."""

    address: str  # gRPC target: "unix:/abs/path.sock" or "127.0.0.1:PORT"
    token: str
    pid: int
    version: str  # river-nle version of the server
    api_version: str = API_VERSION
    started: str = ""  # ISO-8601 UTC
    state_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Discovery:
        """Parse and check a decoded discovery file; DiscoveryError names the missing or bad key."""
        if not isinstance(data, dict):
            raise DiscoveryError(f"the discovery data is a {type(data).__name__}, not a JSON object")
        values: dict[str, Any] = {}
        for field in fields(cls):
            required = field.name in ("address", "token", "pid", "version")
            if field.name not in data:
                if required:
                    raise DiscoveryError(f"the discovery data has no {field.name!r}")
                continue
            value = data[field.name]
            expected: type = int if field.name == "pid" else str
            if not isinstance(value, expected) or isinstance(value, bool):
                raise DiscoveryError(
                    f"the discovery data's {field.name!r} is {value!r}, not a {expected.__name__}"
                )
            if required and not value:
                raise DiscoveryError(f"the discovery data's {field.name!r} is empty")
            values[field.name] = value
        return cls(**values)


def write_discovery(info: Discovery, path: Path | None = None) -> Path:
    """Write the discovery file atomically, mode 0600 from its first byte; returns its path."""
    path = discovery_path() if path is None else Path(path)
    if path.parent == _runtime_dir_location():
        runtime_dir()  # create and check it
    data = (json.dumps(info.to_json(), indent=2) + "\n").encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # O_EXCL with 0600: the token is never in a file that others could open, not even briefly.
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if _POSIX:
        _fsync_dir(path.parent)
    return path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_discovery(path: Path | None = None) -> Discovery | None:
    """The running server's discovery, or None when there is no file.

    DiscoveryError when the file is malformed or (POSIX) when others could read it.
    """
    path = discovery_path() if path is None else Path(path)
    try:
        with path.open("rb") as f:
            if _POSIX:
                _check_private_file(path, os.fstat(f.fileno()))
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DiscoveryError(f"cannot read {path} ({exc.strerror})") from exc
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DiscoveryError(
            f"{path} is not valid JSON ({exc}); remove it or restart the server (river serve)"
        ) from exc
    try:
        return Discovery.from_json(data)
    except DiscoveryError as exc:
        raise DiscoveryError(
            f"{path} is not a bridge discovery file ({exc}); remove it or restart the server (river serve)"
        ) from exc


def _check_private_file(path: Path, st: os.stat_result) -> None:
    if st.st_uid != os.getuid():
        raise DiscoveryError(
            f"{path} belongs to another user (uid {st.st_uid}); set RIVER_RUNTIME_DIR to a private directory"
        )
    mode = st.st_mode & 0o777
    if mode & 0o077:
        what = "readable" if mode & 0o044 else "writable"
        raise DiscoveryError(
            f"{path} is {what} by others (mode {mode:04o}); it holds the bridge token: "
            "chmod 600 it or restart the server"
        )


def remove_discovery(pid: int, path: Path | None = None) -> None:
    """Remove the discovery file if it is ``pid``'s: a server never removes a successor's file."""
    path = discovery_path() if path is None else Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.get("pid") == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
