"""Checkpoint lookup: local first, fail fast and clearly when the hub is out of reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from river_core.errors import ModelUnavailableError, RiverError
from river_core.twin.backends import _hub
from river_core.twin.stages import ModelSpec


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setattr(_hub.hf_constants, "HF_HUB_OFFLINE", False)


def test_a_cached_checkpoint_is_read_without_the_network(online, monkeypatch) -> None:
    monkeypatch.setattr(_hub, "try_to_load_from_cache", lambda repo, name, revision: f"/cache/{repo}/{name}")
    monkeypatch.setattr(_hub, "_hub_reachable", lambda: pytest.fail("the network must not be touched"))
    with _hub.loading(ModelSpec("org/model"), what="X", files="f") as src:
        assert (src.model_id, src.kwargs) == ("org/model", {"revision": "main", "local_files_only": True})


def test_an_unreachable_hub_fails_at_once_with_the_remedy(online, monkeypatch) -> None:
    monkeypatch.setattr(_hub, "try_to_load_from_cache", lambda repo, name, revision: None)

    def refuse(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(_hub.socket, "create_connection", refuse)
    with (
        pytest.raises(
            ModelUnavailableError, match=r"cannot be reached.*`hf download org/model --revision v2`"
        ),
        _hub.loading(ModelSpec("org/model", revision="v2"), what="X", files="f"),
    ):
        pytest.fail("nothing should be loaded")


def test_a_reachable_hub_may_download(online, monkeypatch) -> None:
    monkeypatch.setattr(_hub, "try_to_load_from_cache", lambda repo, name, revision: None)
    monkeypatch.setattr(_hub, "_hub_reachable", lambda: True)
    with _hub.loading(ModelSpec("org/model"), what="X", files="f") as src:
        assert src.local_only is False


def test_directories_and_bad_ids(tmp_path: Path) -> None:
    with _hub.loading(ModelSpec(str(tmp_path)), what="X", files="f") as src:
        assert src.local_only and src.model_id == str(tmp_path)
    with pytest.raises(ModelUnavailableError, match="does not exist; check the path"):
        _hub.resolve(ModelSpec(str(tmp_path / "missing")))
    with pytest.raises(RiverError, match="is a tiny build"):
        _hub.resolve(ModelSpec("tiny:tracker"))
    with (
        pytest.raises(ModelUnavailableError, match="does not hold a checkpoint of X"),
        _hub.loading(ModelSpec(str(tmp_path)), what="X", files="config.json"),
    ):
        raise OSError("no config.json")
