"""The bridge's in-process server (tiny profile) for the timeline tests, from tests/bridge."""

from tests.bridge.conftest import make_server, media_root, runtime_dir

__all__ = ["make_server", "media_root", "runtime_dir"]
