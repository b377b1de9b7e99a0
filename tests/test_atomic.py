"""Atomic outputs: nothing half-written, sources never overwritten, and --overwrite replaces only what
RIVER wrote (never a user's own files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from river_core import __version__
from river_core.atomic import (
    MANIFEST,
    atomic_path,
    check_output_path,
    write_bytes_atomic,
    write_manifest,
)
from river_core.errors import OutputError
from tests.helpers import listing


def river_folder(path: Path, files: dict[str, str] | None = None) -> Path:
    """A folder written by RIVER (through atomic_path, with overwrite), holding ``files``."""
    files = files if files is not None else {"edited.mov": "movie", "matte/matte.000001.png": "png"}
    with atomic_path(path, directory=True, overwrite=True) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)
    return path


# -- the manifest ---------------------------------------------------------------------------------


def test_a_folder_output_gets_a_manifest_of_everything_written(tmp_path: Path) -> None:
    out = river_folder(tmp_path / "out")
    doc = json.loads((out / MANIFEST).read_text())
    assert doc["kind"] == "river-output" and doc["river_nle"] == __version__
    assert doc["created"].endswith("+00:00")
    assert doc["paths"] == ["edited.mov", "matte/", "matte/matte.000001.png"]
    names = ["out", f"out/{MANIFEST}", "out/edited.mov", "out/matte", "out/matte/matte.000001.png"]
    assert listing(tmp_path) == names


def test_a_file_output_gets_no_manifest(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "plan.json", b"{}")
    assert listing(tmp_path) == ["plan.json"]


# -- --overwrite of a folder ----------------------------------------------------------------------


def test_overwrite_replaces_a_folder_river_wrote(tmp_path: Path) -> None:
    out = river_folder(tmp_path / "out")
    river_folder(out, {"new.mov": "new"})
    assert listing(tmp_path) == ["out", f"out/{MANIFEST}", "out/new.mov"]


def test_overwrite_never_deletes_a_users_folder(tmp_path: Path) -> None:
    """The reported loss: `--out victim --overwrite` on a folder holding the user's notes and sub/."""
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("mine")
    (victim / "sub" / "draft.txt").write_text("mine too")
    before = listing(tmp_path)
    with pytest.raises(OutputError, match=r"victim/ is not a folder RIVER wrote \(it has no valid"):
        check_output_path(victim, overwrite=True, directory=True)
    with (
        pytest.raises(OutputError, match="not a folder RIVER wrote"),
        atomic_path(victim, directory=True, overwrite=True) as tmp,
    ):
        (tmp / "edited.mov").write_text("new")
    assert listing(tmp_path) == before


def test_overwrite_refuses_a_river_folder_holding_the_users_files(tmp_path: Path) -> None:
    out = river_folder(tmp_path / "victim")
    (out / "notes.txt").write_text("mine")
    (out / "sub" / "deep").mkdir(parents=True)
    (out / "sub" / "deep" / "x.txt").write_text("mine")
    (out / "matte" / "extra.png").write_text("mine")
    before = listing(tmp_path)
    message = (
        r"output .*victim/ holds files RIVER did not write \(matte/extra.png, notes.txt, sub/\); "
        "move them or choose another --out"
    )
    with pytest.raises(OutputError, match=message):
        check_output_path(out, overwrite=True)  # the folder rule holds whatever `directory` says
    with pytest.raises(OutputError, match=message):
        river_folder(out, {"new.mov": "new"})
    assert listing(tmp_path) == before


def test_a_file_dropped_in_while_writing_is_kept(tmp_path: Path) -> None:
    """The folder is checked up front and again just before the swap."""
    out = river_folder(tmp_path / "out")
    with (
        pytest.raises(OutputError, match=r"did not write \(notes.txt\)"),
        atomic_path(out, directory=True, overwrite=True) as tmp,
    ):
        (tmp / "new.mov").write_text("new")
        (out / "notes.txt").write_text("written while the job ran")
    assert (out / "notes.txt").read_text() == "written while the job ran"
    assert (out / "edited.mov").is_file() and len(listing(tmp_path)) == 6  # no staging left


@pytest.mark.parametrize(
    "manifest", ["not json", json.dumps({"paths": ["a"]}), json.dumps({"kind": "river-output", "paths": 3})]
)
def test_a_broken_manifest_is_not_river_s(tmp_path: Path, manifest: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text(manifest)
    (out / "a").write_text("?")
    with pytest.raises(OutputError, match="not a folder RIVER wrote"):
        check_output_path(out, overwrite=True, directory=True)


def test_an_empty_folder_may_be_replaced(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    river_folder(tmp_path / "out", {"a.mov": "a"})  # the user made the folder; nothing in it is lost
    assert (tmp_path / "out" / "a.mov").is_file()


def test_without_overwrite_nothing_existing_is_replaced(tmp_path: Path) -> None:
    out = river_folder(tmp_path / "out")
    with pytest.raises(OutputError, match="already exists; choose another path or pass --overwrite"):
        check_output_path(out, directory=True)


def test_a_file_is_not_replaced_by_a_folder_nor_a_folder_by_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    with pytest.raises(OutputError, match="is a file, and a folder is written there"):
        check_output_path(tmp_path / "out", overwrite=True, directory=True)
    folder = river_folder(tmp_path / "folder")
    with pytest.raises(OutputError, match="is a folder, and a file is written there"):
        write_bytes_atomic(folder, b"x", overwrite=True)


def test_a_link_to_a_folder_is_refused(tmp_path: Path) -> None:
    target = river_folder(tmp_path / "real")
    (tmp_path / "link").symlink_to(target, target_is_directory=True)
    with pytest.raises(OutputError, match="symbolic link to a folder"):
        check_output_path(tmp_path / "link", overwrite=True, directory=True)


def test_a_folder_holding_a_source_is_never_replaced(tmp_path: Path) -> None:
    out = river_folder(tmp_path / "out", {"edited.mov": "last run's output, now this run's source"})
    with pytest.raises(OutputError, match="contains the source media"):
        check_output_path(out, sources=[out / "edited.mov"], overwrite=True, directory=True)


def test_a_failed_swap_puts_the_old_folder_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = river_folder(tmp_path / "out")
    before = listing(tmp_path)
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if ".river-tmp-" in self.name:
            raise OSError(5, "Input/output error")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="Input/output error"):
        river_folder(out, {"new.mov": "new"})
    assert listing(tmp_path) == before  # the old folder is back in place, nothing else is left


# -- files ----------------------------------------------------------------------------------------


def test_a_file_may_be_replaced_with_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    out.write_text("old")
    with pytest.raises(OutputError, match="already exists"):
        write_bytes_atomic(out, b"new", overwrite=False)
    write_bytes_atomic(out, b"new", overwrite=True)
    assert out.read_bytes() == b"new" and listing(tmp_path) == ["out.mov"]


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotdot"])
def test_a_source_is_never_replaced(tmp_path: Path, how: str) -> None:
    source = tmp_path / "src" / "clip.mp4"
    source.parent.mkdir()
    source.write_bytes(b"the user's footage")
    out = {
        "same": source,
        "symlink": tmp_path / "link.mp4",
        "hardlink": tmp_path / "hard.mp4",
        "dotdot": tmp_path / "src" / ".." / "src" / "clip.mp4",
    }[how]
    if how == "symlink":
        out.symlink_to(source)
    if how == "hardlink":
        os.link(source, out)
    with (
        pytest.raises(OutputError, match="is the source media"),
        atomic_path(out, sources=[source], overwrite=True) as tmp,
    ):
        tmp.write_bytes(b"render")
    assert source.read_bytes() == b"the user's footage"


def test_write_manifest_lists_nested_folders(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.txt").write_text("c")
    (tmp_path / "d.txt").write_text("d")
    write_manifest(tmp_path)
    assert json.loads((tmp_path / MANIFEST).read_text())["paths"] == ["a/", "a/b/", "a/b/c.txt", "d.txt"]
