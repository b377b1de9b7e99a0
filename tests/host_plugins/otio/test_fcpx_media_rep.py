"""FCPXML 1.9 and later (what Final Cut Pro writes now) name each asset's file in a <media-rep> child:
read, its clips are mapped to the same media and frames as the 1.8 form (asset src=) of the same cut."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from host_plugins.otio.clips import map_clips
from host_plugins.otio.read import LoadedTimeline, read_timeline
from host_plugins.otio.relink import MediaFinder
from host_plugins.otio.write import write_timeline

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


CONNECTED = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
 <resources>
  <format id="r1" name="FFVideoFormat720p2997" frameDuration="1001/30000s" width="1280" height="720"/>
  <format id="r2" name="FFVideoFormat720p25" frameDuration="100/2500s" width="320" height="240"/>
  <asset id="r3" name="ntsc" start="0s" duration="90090/30000s" hasVideo="1" format="r1" src="file:///m/ntsc.mov"/>
  <asset id="r4" name="pal" start="36000s" duration="3s" hasVideo="1" format="r2" src="file:///m/pal.mov"/>
 </resources>
 <library><event name="e"><project name="p">
  <sequence format="r1" duration="55055/30000s" tcStart="0s">
   <spine>
    <asset-clip ref="r3" offset="0s" name="A" start="10010/30000s" duration="20020/30000s">
     <asset-clip ref="r4" lane="1" offset="15015/30000s" name="top" start="36001s" duration="{top}"/>
    </asset-clip>
    <gap name="Gap" offset="20020/30000s" duration="5005/30000s" start="3600s"/>
    <asset-clip ref="r3" offset="25025/30000s" name="B" start="40040/30000s" duration="30030/30000s"/>
   </spine>
  </sequence>
 </project></event></library>
</fcpxml>
"""


def test_a_connected_clip_of_another_rate_sits_where_final_cut_shows_it(tmp_path: Path) -> None:
    """A 25p clip connected 5 frames into a 29.97 clip that starts 10 frames into its media: at record
    frame 5 (the adapter counted its offset at 25 fps and its parent's at 29.97: minutes away)."""
    for n, top in enumerate(("10010/30000s", "2/5s")):  # 10 NTSC frames long; 10 PAL frames long
        path = tmp_path / f"connected{n}.fcpxml"
        path.write_text(CONNECTED.replace("{top}", top))
        loaded = read_timeline(path)
        records = placed(loaded)
        assert records["A"] == (0, 20) and records["B"] == (25, 55)
        assert records["top"][0] == 5
        # written as FCPXML and read again, nothing moved
        written = write_timeline(loaded.timeline, tmp_path / f"written{n}.fcpxml", source=loaded)
        assert placed(read_timeline(written.path)) == records


def placed(loaded: LoadedTimeline) -> dict[str, tuple[int, int]]:
    return {e.name: e.record for e in map_clips(loaded, MediaFinder(loaded.media_folder)).entries}
