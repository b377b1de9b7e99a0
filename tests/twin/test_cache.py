import json
import os
from pathlib import Path

import pytest

from river_core.twin.cache import TwinCache, cache_key
from river_core.twin.synthetic import random_scene


def test_cache_key_changes_with_every_part() -> None:
    base = {"content_hash": "sha256:1", "range": "0:17", "models": {"tracker": "a"}, "settings": {"s": 1}}
    key = cache_key(base)
    assert key == cache_key(dict(reversed(list(base.items()))))  # order does not matter
    for name, value in [
        ("content_hash", "sha256:2"),
        ("range", "0:18"),
        ("models", {"tracker": "b"}),
        ("settings", {"s": 2}),
    ]:
        assert cache_key({**base, name: value}) != key, name


def test_put_get_and_damaged_entries(tmp_path: Path) -> None:
    cache = TwinCache(tmp_path)
    twin = random_scene(3, width=64, height=48, num_frames=5, n_objects=2).ground_truth()
    assert cache.get("k") is None
    cache.put("k", twin)
    assert cache.get("k") == twin
    cache.path_for("k").write_text('{"schema_version": "1.0", "video": {}}')
    with pytest.warns(UserWarning, match="damaged twin cache entry"):
        assert cache.get("k") is None
    assert not cache.path_for("k").exists()


def test_media_hash_is_memoized_until_the_file_changes(tmp_path: Path, monkeypatch) -> None:
    media = tmp_path / "clip.bin"
    media.write_bytes(b"first version")
    cache = TwinCache(tmp_path / "cache")
    calls = []
    import river_core.twin.cache as module

    real = module.content_hash
    monkeypatch.setattr(module, "content_hash", lambda p: calls.append(p) or real(p))
    first = cache.media_hash(media)
    assert cache.media_hash(media) == first and len(calls) == 1
    media.write_bytes(b"second version, longer")
    os.utime(media, ns=(1, 1))
    second = cache.media_hash(media)
    assert second != first and len(calls) == 2
    memo = next((tmp_path / "cache" / "hashes").glob("*.json"))
    assert json.loads(memo.read_text())["hash"] == second


def test_default_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    from river_core.twin.cache import default_cache_dir

    monkeypatch.setenv("RIVER_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
