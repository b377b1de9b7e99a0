"""`--select all` (or a clip, range or marker selection) on a timeline RIVER already edited chooses the
editor's clips, not RIVER's results again; `track:RIVER` chooses those."""

from __future__ import annotations

from pathlib import Path

import pytest

from host_plugins.otio.layback import lay_back
from host_plugins.otio.select import SelectionError, parse_selector, select
from host_plugins.otio.write import write_timeline
from tests.host_plugins.otio.synthetic import mapped, results_for

DATA = Path(__file__).parent / "data"


def test_all_leaves_rivers_own_clips_and_track_river_takes_them(tmp_path: Path) -> None:
    loaded, clip_map = mapped(DATA / "simple_cut.otio", tmp_path)
    originals = [e.name for e in clip_map.editable]
    laid = lay_back(loaded, results_for(clip_map.editable, tmp_path))
    edited = write_timeline(laid, tmp_path / "edited.otio", source=loaded).path
    _, again = mapped(edited, tmp_path)

    everything = select(again, [parse_selector("all")])
    assert [e.name for e in everything.chosen] == originals
    assert {e.name for e in everything.skipped} >= {f"{n} (RIVER)" for n in originals}
    assert all("track:RIVER" in e.skip for e in everything.skipped if e.name.endswith("(RIVER)"))

    river = select(again, [parse_selector("track:RIVER")])
    assert [e.name for e in river.chosen] == [f"{n} (RIVER)" for n in originals]
    with pytest.raises(SelectionError, match="made by RIVER"):
        select(again, [parse_selector(f"clip:{originals[0]} (RIVER)")])
