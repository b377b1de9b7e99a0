"""FCPXML 1.9 and later (what Final Cut Pro writes now) name each asset's file in a <media-rep> child:
read, its clips are mapped to the same media and frames as the 1.8 form (asset src=) of the same cut."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from host_plugins.otio.clips import map_clips
from host_plugins.otio.read import read_timeline
from host_plugins.otio.relink import MediaFinder

FRAME = "1001/30000s"


def fcpxml(version: str, media: Path) -> str:
    src = media.resolve().as_uri()
    head = '<asset id="r2" name="dog" start="0s" duration="90090/30000s" hasVideo="1" format="r1"'
    if version == "1.8":
        asset = f'{head} src="{src}"/>'
    else:
        asset = f'{head}><media-rep kind="original-media" src="{src}"/></asset>'

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="{version}">
 <resources>
  <format id="r1" name="FFVideoFormat720p2997" frameDuration="{FRAME}" width="1280" height="720"/>
  {asset}
 </resources>
 <library><event name="e"><project name="p{version}">
  <sequence format="r1" duration="27027/30000s" tcStart="0s">
   <spine>
    <asset-clip ref="r2" offset="0s" name="dog A" start="20020/30000s" duration="17017/30000s"/>
    <asset-clip ref="r2" offset="17017/30000s" name="dog B" start="61061/30000s" duration="9009/30000s"/>
   </spine>
  </sequence>
 </project></event></library>
</fcpxml>
"""


def test_an_fcpxml_1_9_media_rep_names_the_file_as_1_8s_asset_src_does(
    tmp_path: Path, sample_clip: Path
) -> None:
    media = tmp_path / "dog.mp4"
    shutil.copy2(sample_clip, media)
    mapped = {}
    for version in ("1.8", "1.9"):
        path = tmp_path / f"cut{version.replace('.', '')}.fcpxml"
        path.write_text(fcpxml(version, media))
        loaded = read_timeline(path)
        entries = map_clips(loaded, MediaFinder(loaded.media_folder)).entries
        assert all(e.editable for e in entries), [e.skip for e in entries]
        mapped[version] = [(e.name, e.record, e.source, str(e.media)) for e in entries]
    assert mapped["1.9"] == mapped["1.8"]
    assert [m[:3] for m in mapped["1.9"]] == [("dog A", (0, 17), (20, 37)), ("dog B", (17, 26), (61, 70))]
    assert re.search(r"dog\.mp4$", mapped["1.9"][0][3])
