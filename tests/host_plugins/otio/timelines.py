"""Timelines built in code for the tests: clips of a real media file at exact record positions."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from tests.test_import_boundaries import BLOCKER, ROOT

# What a host-only install (`river-nle[host]`) lacks: the engine's libraries.
HOST_ONLY = "torch,numpy,PIL,pydantic,scipy,transformers,diffusers,skimage,pycocotools"
_RUN_RIVER = """
from river_core.cli import main
code = main(sys.argv[2:])
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not leaked, leaked
sys.exit(code)
"""


def host_only(*argv: str) -> tuple[int, str, str]:
    """``river ARGV`` in a fresh interpreter where the engine's libraries cannot be imported."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER + _RUN_RIVER, HOST_ONLY, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return done.returncode, done.stdout, done.stderr


def rt(frames: int | Fraction, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(float(frames), float(rate))


def tr(start: int, duration: int, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start, rate), rt(duration, rate))


@dataclass(frozen=True)
class Shot:
    """``gap`` record frames of nothing, then ``length`` frames of the media from file frame ``start``."""

    name: str
    start: int
    length: int
    gap: int = 0


def media_timeline(
    media: Path,
    shots: list[Shot],
    *,
    rate: Fraction,
    media_frames: int,
    media_start: int = 0,
    global_start: int = 0,
    url: str | None = None,
    name: str = "RIVER test cut",
) -> otio.schema.Timeline:
    """One video track placing ``shots`` of ``media`` (whose start timecode is ``media_start`` frames)
    on a ``rate`` timeline that starts at ``global_start``; timeline rate = media rate."""
    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = rt(global_start, rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for shot in shots:
        if shot.gap:
            track.append(otio.schema.Gap(source_range=tr(0, shot.gap, rate)))
        ref = otio.schema.ExternalReference(
            target_url=url or media.resolve().as_uri(), available_range=tr(media_start, media_frames, rate)
        )
        source = tr(media_start + shot.start, shot.length, rate)
        track.append(otio.schema.Clip(name=shot.name, media_reference=ref, source_range=source))
    timeline.tracks.append(track)
    return timeline
