"""Timelines built in code for the layback tests: clips of fake (empty) media files at exact record
positions, so that relinking finds real files and nothing is ever decoded (MediaFinder(probe=False))."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PureWindowsPath
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from host_plugins.otio.clips import ClipEntry, ClipMap, map_clips
from host_plugins.otio.layback import RenderedClip
from host_plugins.otio.rational import rt, time_range
from host_plugins.otio.read import LoadedTimeline, read_timeline
from host_plugins.otio.relink import MediaFinder


@dataclass(frozen=True)
class Clip:
    """``length`` record frames of a media file at ``mult`` × the timeline's rate whose start timecode is
    ``tc_hours``:00:00:00, with ``head``/``tail`` spare record frames of media around the used part."""

    length: int
    mult: int = 1
    tc_hours: int = 1
    head: int = 0
    tail: int = 0
    in_timeline_rate: bool = False  # the source range written at the timeline's rate (as FCP7 XML does)


@dataclass(frozen=True)
class Gap:
    length: int


@dataclass(frozen=True)
class Dissolve:
    """Between two clips: ``before`` frames before the cut (in_offset), ``after`` after it (out_offset)."""

    before: int
    after: int


Piece = Clip | Gap | Dissolve


@dataclass(frozen=True)
class Spec:
    rate: Fraction
    tracks: tuple[tuple[Piece, ...], ...]
    start_hours: int = 0


def build(spec: Spec, folder: Path) -> otio.schema.Timeline:
    """The timeline ``spec`` describes; each clip's media is an empty file ``folder/t{track}_{item}.mov``."""
    rate = spec.rate
    timeline = otio.schema.Timeline(name="synthetic")
    timeline.global_start_time = rt(round(rate) * 3600 * spec.start_hours, rate)
    for t, pieces in enumerate(spec.tracks):
        track = otio.schema.Track(name=f"V{t + 1}", kind=otio.schema.TrackKind.Video)
        for i, piece in enumerate(pieces):
            if isinstance(piece, Gap):
                track.append(otio.schema.Gap(source_range=time_range(0, piece.length, rate)))
            elif isinstance(piece, Dissolve):
                track.append(
                    otio.schema.Transition(
                        name="Cross Dissolve",
                        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                        in_offset=rt(piece.before, rate),
                        out_offset=rt(piece.after, rate),
                    )
                )
            else:
                track.append(_clip(piece, rate, folder / f"t{t}_{i}.mov", name=f"shot {t}.{i}"))
        timeline.tracks.append(track)
    return timeline


def _clip(piece: Clip, rate: Fraction, media: Path, *, name: str) -> otio.schema.Clip:
    media.touch()
    m = piece.mult
    media_rate = rate * m
    media_start = round(media_rate) * 3600 * piece.tc_hours
    frames = (piece.head + piece.length + piece.tail) * m
    ref = otio.schema.ExternalReference(
        target_url=media.as_uri(), available_range=time_range(media_start, frames, media_rate)
    )
    start = media_start + piece.head * m
    if piece.in_timeline_rate:
        assert start % m == 0
        source = time_range(start // m, piece.length, rate)
    else:
        source = time_range(start, piece.length * m, media_rate)
    return otio.schema.Clip(name=name, media_reference=ref, source_range=source)


def fake_media_for(timeline: otio.schema.Timeline, folder: Path) -> None:
    """An empty file in ``folder`` named after every file a timeline's clips name, to relink to."""
    for clip in timeline.find_clips():
        url = getattr(clip.media_reference, "target_url", "") or ""
        # (a clip without a file reference is relinked by its name when that names a movie)
        for target in (url, clip.name if "." in clip.name else ""):
            name = PureWindowsPath(unquote(urlparse(target).path) if "://" in target else target).name
            if name:
                (folder / name).touch()


def mapped(path: Path, folder: Path, *, rate: Fraction | None = None) -> tuple[LoadedTimeline, ClipMap]:
    """``path`` read and mapped with media relinked by name in ``folder`` (fake files made there)."""
    loaded = read_timeline(path, rate=rate)
    fake_media_for(loaded.timeline, folder)
    return loaded, map_clips(loaded, MediaFinder(folder, [folder], probe=False))


def results_for(entries: list[ClipEntry], folder: Path, *, matte: bool = False) -> list[RenderedClip]:
    """A fake finished job per entry (rendered = its render range), with a provenance.json written."""
    done = []
    for e in entries:
        movie = folder / f"river_{e.number}.mov"
        movie.touch()
        provenance = folder / f"provenance_{e.number}.json"
        provenance.write_text(f'{{"job_id": "job{e.number}", "query": "blur {e.number}"}}', encoding="utf-8")
        matte_movie = folder / f"river_{e.number}_matte.mov" if matte else None
        if matte_movie is not None:
            matte_movie.touch()
        assert e.render is not None
        done.append(
            RenderedClip(
                entry=e,
                media=movie,
                rendered=e.render,
                job_id=f"job{e.number}",
                label=f"blur {e.number}",
                provenance={"job_id": f"job{e.number}", "query": f"blur {e.number}", "n": e.number},
                provenance_path=str(provenance),
                matte=matte_movie,
            )
        )
    return done
