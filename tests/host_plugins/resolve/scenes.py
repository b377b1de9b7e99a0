"""Resolve projects for the plugin tests, built with the fake's builder API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Cut:
    world: Any
    project: Any
    timeline: Any
    ids: dict[str, str]

    @property
    def start(self) -> int:
        return int(self.timeline.start_frame)


def dog_cut(
    fw: Any,
    media: Path,
    *,
    version: tuple = (21, 0, 4, 7, ""),
    v2_media: Path | None = None,
    video_tracks: int = 2,
    install: bool = True,
) -> Cut:
    """'Cut' at 29.97, 01:00:00:00: V1 "dog A" = media frames 20:40 at record +10 (a source offset),
    V2 "dog B" = frames 61:70 at record +35, V1 a title at +50 (no file), V2 a compound clip at +60."""
    world = fw.World(version=version)
    project = world.add_project("Demo")
    media_a = project.add_media(str(media), folder="Footage")
    media_b = project.add_media(str(v2_media), folder="Footage") if v2_media else media_a
    tl = project.add_timeline("Cut", rate="29.97", start_timecode="01:00:00:00", video_tracks=video_tracks)
    s = tl.start_frame
    ids = {
        "a": tl.place(media_a, track=1, record=s + 10, source_start=20, source_end=40),
        "b": tl.place(media_b, track=2, record=s + 35, source_start=61, source_end=70),
        "title": tl.add_title(track=1, record=s + 50, duration=10),
        "compound": tl.add_compound(track=2, record=s + 60, duration=8),
    }
    if install:
        fw.install(world)
    return Cut(world, project, tl, ids)


def originals(cut: Cut, tracks: tuple[int, ...] = (1, 2)) -> dict[int, list[dict]]:
    """Every item of the original tracks, all properties: compared before and after a placement."""
    return {t: cut.timeline.items(t) for t in tracks}
