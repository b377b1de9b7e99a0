"""Send to timeline from the panel's Resolve source: the clips Resolve hands over (issue 9's reading and
selection), one job through a fast real server, the render placed by issue 9's Placer over the original
— against the fake Resolve that follows Blackmagic's README and Resolve's known failure modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.client import RiverClient, state_name
from host_plugins.panel.send import send_result
from host_plugins.panel.source import SourceError, media_source, resolve_source
from tests.host_plugins.resolve.test_commands import scene_cut


def test_a_resolve_clip_is_placed_on_a_track_above_the_original(resolve_env, scene_server: Path) -> None:
    _world, tl, (_a, b) = scene_cut(resolve_env, scene_server)
    tl.select([b])
    before = [tl.items(t) for t in (1, 2)]
    source = resolve_source(mode="selected")
    (clip,) = source.clips
    assert (source.kind, clip.frames, source.host_context["selection"]) == ("resolve", (16, 25), "selected")
    assert source.project == "resolve:Demo" and source.label == "Demo / Cut"
    spec = source.spec(clip, settings={"targets": ["1"], "op": "blur", "format": "ffv1", "output": "p/1"})
    with RiverClient.connect(start=False) as client:
        job = client.wait(client.submit(spec).id, timeout=120)
    assert state_name(job.state) == "SUCCEEDED", job.error.message
    sent = send_result(source, clip, spec, job, label="blur 1", place="track")
    assert "placed in Resolve on track V3" in sent.where
    assert [tl.items(t) for t in (1, 2)] == before  # the originals are untouched
    (placed,) = tl.items(3)
    s = tl.start_frame
    assert (placed["start"], placed["end"]) == (s + 35, s + 44) and placed["source_start"] == 0
    with pytest.raises(SourceError, match="opened on a media file"):
        send_result(media_source(scene_server, "0:5"), clip, spec, job, label="x")


def test_no_resolve_running_is_one_line(resolve_env) -> None:
    with pytest.raises(SourceError) as caught:
        resolve_source()
    assert "\n" not in str(caught.value) and "Resolve" in str(caught.value)
