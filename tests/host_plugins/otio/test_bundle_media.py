"""Media inside OTIO bundles: an .otiod's relative paths start at its own folder; an .otioz (a zip)
says how to unpack it, since a file inside a zip cannot be rendered from."""

from __future__ import annotations

import shutil
import zipfile
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from host_plugins.otio.clips import map_clips
from host_plugins.otio.read import read_timeline
from host_plugins.otio.relink import MediaFinder
from tests.host_plugins.otio.timelines import Shot, media_timeline

NTSC = Fraction(30000, 1001)


def test_an_otiod_finds_its_media_in_its_own_folder_and_an_otioz_says_how_to_unpack(
    tmp_path: Path, sample_clip: Path
) -> None:
    footage = tmp_path / "footage" / "dog.mp4"
    footage.parent.mkdir()
    shutil.copy2(sample_clip, footage)
    timeline = media_timeline(footage, [Shot("dog A", start=20, length=17)], rate=NTSC, media_frames=90)
    project = tmp_path / "project"
    project.mkdir()
    bundle = project / "cut.otioz"
    otio.adapters.write_to_file(timeline, str(bundle))
    footage.unlink()  # only the bundle's copy is left

    loaded = read_timeline(bundle)
    (entry,) = map_clips(loaded, MediaFinder(loaded.media_folder)).entries
    assert not entry.editable and "inside the .otioz bundle" in (entry.skip or "")
    assert "python -m zipfile -e cut.otioz cut.otiod" in (entry.skip or "")

    with zipfile.ZipFile(bundle) as z:  # as the reason says
        z.extractall(project / "cut.otiod")
    unpacked = read_timeline(project / "cut.otiod")
    assert unpacked.media_folder == (project / "cut.otiod").resolve()
    (entry,) = map_clips(unpacked, MediaFinder(unpacked.media_folder)).entries
    assert entry.editable, entry.skip
    assert entry.media is not None and Path(entry.media).parent.parent == (project / "cut.otiod").resolve()
    assert entry.source == (20, 37)
