"""What the panel edits: the clip(s) handed over by Resolve, a media file and a range, or a timeline
file with a selection (issue 8's reader and selector). Qt-free, so it is tested and reused alone.

Every clip becomes a :class:`SourceClip`: the media file, the half-open range of its frames to edit
(frame 0 = the file's first frame), the exact rate, the source timecode of the range's first frame,
and — for timelines — the :class:`ClipEntry` the result is laid back over.

    >>> source = media_source(Path("dog.mp4"), "0:17")
    >>> source.clips[0].header()
    'dog.mp4 · 00:00:00:00–00:00:00:17 (17 frames) · 29.97 fps · 1280×720'
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from bridge.client import RiverClient
from bridge.v1 import bridge_pb2
from host_plugins.otio.batch import ClipJob, clip_specs, slug
from host_plugins.otio.clips import ClipEntry, ClipMap
from host_plugins.otio.probe import MediaFacts, MediaProbeError, probe_media
from host_plugins.otio.rational import parse_timecode, rate_text, timecode

__all__ = ["Source", "SourceClip", "SourceError", "media_source", "parse_range", "timeline_source"]


class SourceError(Exception):
    """A source the panel cannot edit; ``str()`` is one line saying what is wrong and how to fix it."""


@dataclass(frozen=True)
class SourceClip:
    """One clip to edit: ``frames`` of ``path`` (half-open, 0 = the file's first frame)."""

    name: str
    path: Path
    frames: tuple[int, int]
    rate: Fraction
    start_frame: int = 0  # the file's start timecode as a frame count at `rate`
    drop_frame: bool = False
    size: tuple[int, int] | None = None
    entry: ClipEntry | None = None  # the timeline item (timeline and Resolve sources)
    host_item: Any = None  # the NLE's own item (Resolve), for placing the result

    @property
    def count(self) -> int:
        return self.frames[1] - self.frames[0]

    def timecode(self, frame: int) -> str:
        """The source timecode of file frame ``frame``."""
        return timecode(self.start_frame + frame, self.rate, drop_frame=self.drop_frame)

    def range_tc(self) -> str:
        """``00:00:01:00–00:00:02:00`` (out exclusive, as an editor's out point after the last frame)."""
        return f"{self.timecode(self.frames[0])}–{self.timecode(self.frames[1])}"

    def header(self) -> str:
        size = f" · {self.size[0]}×{self.size[1]}" if self.size else ""
        return f"{self.name} · {self.range_tc()} ({self.count} frames) · {fps_text(self.rate)} fps{size}"


@dataclass
class Source:
    """What the panel was opened on: ``kind`` is media, timeline or resolve."""

    kind: str
    label: str
    clips: list[SourceClip]
    project: str = ""  # the query history is kept per project
    host_context: dict[str, str] = field(default_factory=dict)
    clip_map: ClipMap | None = None  # timeline sources: to lay the results back
    timeline_path: Path | None = None
    skipped: list[str] = field(default_factory=list)  # clips the selection matched but cannot edit
    resolve: Any = None  # Resolve sources: (app, ResolveTimeline, host) for placing results

    def spec(
        self,
        clip: SourceClip,
        *,
        query: str | None = None,
        settings: dict[str, Any] | None = None,
        folder: str = "",
    ) -> bridge_pb2.EditSpec:
        """The EditSpec of one job on ``clip``: its media, range, rate and timecode, the source's host
        context, and ``settings`` (targets, op, prompt, confirm, render, …: ``RiverClient.edit_spec``)."""
        settings = dict(settings or {})
        folder = folder or slug(f"panel_{self.label}")
        if clip.entry is not None:
            output = settings.pop("output", "")
            (job,) = clip_specs(
                [clip.entry], kind=settings.pop("kind", "edit"), folder=folder, settings=settings,
                query=query, host_context=self.host_context,
            )  # fmt: skip
            if output:  # the caller's folder (one per run and stage) instead of the per-clip default
                job.spec.output = output
            return job.spec
        context = {
            **self.host_context,
            "clip": clip.name,
            "source_frames": f"{clip.frames[0]}:{clip.frames[1]}",
        }
        return RiverClient.edit_spec(
            clip.path,
            kind=settings.pop("kind", "edit"),
            frames=clip.frames,
            rate=(clip.rate.numerator, clip.rate.denominator),
            timecode=clip.timecode(clip.frames[0]),
            query=query,
            host_context=context,
            **settings,
        )

    def clip_job(self, clip: SourceClip, spec: bridge_pb2.EditSpec, job: bridge_pb2.Job) -> ClipJob:
        """Issue 8's view of a finished job on a timeline clip (to lay it back or place it)."""
        if clip.entry is None:
            raise SourceError(f"{clip.name} is not a clip of a timeline; there is no timeline to send it to")
        return ClipJob(clip.entry, spec, job)


def fps_text(rate: Fraction) -> str:
    """A rate as an editor reads it: 30000/1001 → ``29.97``, 24000/1001 → ``23.976``, 25 → ``25``
    (display only: time itself stays a fraction)."""
    if rate.denominator == 1001:
        return f"{float(rate):.2f}" if rate.numerator % 3000 == 0 else f"{float(rate):.3f}"
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


# -- media files -----------------------------------------------------------------------------------

_FRAMES = re.compile(r"^\s*(\d*)\s*:\s*(\d*)\s*$")


def parse_range(text: str, facts: MediaFacts) -> tuple[int, int]:
    """A range as an editor types it, against the file: ``30:120``, ``275:``, ``:17`` (frames, 0 = the
    file's first; half-open) or ``01:00:01:00-01:00:02:10`` (source timecode, out exclusive)."""
    text = (text or "").strip()
    if not text:
        return 0, facts.frames
    match = _FRAMES.match(text)
    if match is not None:
        start = int(match.group(1)) if match.group(1) else 0
        end = int(match.group(2)) if match.group(2) else facts.frames
    elif "-" in text:
        a, _, b = text.partition("-")
        try:
            start = parse_timecode(a, facts.rate) - facts.start_frame
            end = parse_timecode(b, facts.rate) - facts.start_frame
        except ValueError as exc:
            raise SourceError(f"--range {text}: {exc}; give frames START:END or timecode TC-TC") from None
    else:
        raise SourceError(
            f"--range {text!r}: give frames START:END (e.g. 0:17, 30:, :48) or timecode TC-TC "
            "(e.g. 01:00:01:00-01:00:02:00)"
        )
    if not 0 <= start < end <= facts.frames:
        raise SourceError(
            f"--range {text}: frames {start}:{end} are not inside {facts.path.name}'s 0:{facts.frames} "
            f"({facts.frames} frames at {rate_text(facts.rate)} fps)"
        )
    return start, end


def media_size(path: Path) -> tuple[int, int] | None:
    """The video's width and height (None when PyAV is not installed)."""
    try:
        import av  # lazily: the host side imports without PyAV
    except ImportError:
        return None
    try:
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            return int(stream.codec_context.width), int(stream.codec_context.height)
    except (av.FFmpegError, OSError, IndexError):
        return None


def probe(path: Path) -> MediaFacts:
    """What the file is, or a SourceError naming the file and the fix."""
    if not path.exists():
        raise SourceError(f"{path}: no such file; check the path (or the drive it is on)")
    try:
        facts = probe_media(path)
    except MediaProbeError as exc:
        raise SourceError(f"{exc}; open a video file (mov, mp4, mxf, mkv …)") from None
    if facts is None:
        raise SourceError("PyAV is not installed; install the panel extra: pip install 'river-nle[panel]'")
    return facts


def media_source(path: Path, range_text: str = "", *, project: str = "") -> Source:
    """A media file and a range of it (default: all of it)."""
    path = Path(path).expanduser()
    facts = probe(path)
    frames = parse_range(range_text, facts)
    clip = SourceClip(
        name=path.name,
        path=Path(os.path.abspath(path)),  # noqa: PTH100 — through the user's symlinks, as the host sees it
        frames=frames,
        rate=facts.rate,
        start_frame=facts.start_frame,
        drop_frame=";" in facts.timecode,
        size=media_size(path),
    )
    return Source(
        kind="media",
        label=path.name,
        clips=[clip],
        project=project or str(path.parent),
        host_context={"host": "river panel", "media": str(path)},
    )


# -- timelines -------------------------------------------------------------------------------------


def timeline_source(
    path: Path,
    selectors: Sequence[str] = ("all",),
    *,
    rate: Fraction | None = None,
    search_paths: Sequence[Path] = (),
) -> Source:
    """A timeline file (any format issue 8 reads) and a selection (``clip:NAME``, ``track:V1``,
    ``range:TC-TC``, ``marker:NAME``, ``all``)."""
    from host_plugins.otio.clips import map_clips
    from host_plugins.otio.read import TimelineError, read_timeline
    from host_plugins.otio.relink import MediaFinder
    from host_plugins.otio.select import parse_selector, select

    path = Path(path).expanduser()
    try:
        loaded = read_timeline(path, rate=rate, search_paths=[Path(d).resolve() for d in search_paths])
        finder = MediaFinder(loaded.media_folder, [Path(d).resolve() for d in search_paths])
        clip_map = map_clips(loaded, finder)
        selection = select(clip_map, [parse_selector(s) for s in selectors or ("all",)])
    except TimelineError as exc:
        raise SourceError(str(exc)) from None
    return from_selection(
        "timeline",
        path.name,
        clip_map,
        selection.chosen,
        selection.skipped,
        project=str(path),
        host_context={"host": "river panel", "timeline": str(path)},
        timeline_path=path,
    )


def from_selection(
    kind: str,
    label: str,
    clip_map: ClipMap,
    chosen: Sequence[ClipEntry],
    skipped: Sequence[ClipEntry],
    *,
    project: str,
    host_context: dict[str, str],
    timeline_path: Path | None = None,
    items: Sequence[Any] = (),
) -> Source:
    """A Source over issue 8's selected clips (``items``: the NLE's own item of each, when it has one)."""
    clips = []
    for i, e in enumerate(chosen):
        assert e.media is not None and e.render is not None and e.media_rate is not None, e
        facts = e.facts
        clips.append(
            SourceClip(
                name=e.name or e.media.name,
                path=e.media,
                frames=e.render,
                rate=e.media_rate,
                start_frame=e.media_start,
                drop_frame=bool(facts and ";" in facts.timecode),
                size=media_size(e.media),
                entry=e,
                host_item=items[i] if i < len(items) else None,
            )
        )
    notes = [f"{e.track_label} {e.name!r}: {e.skip}" for e in skipped]
    if not clips:
        why = "; ".join(notes[:4]) or "the selection matched no clip"
        raise SourceError(f"{label}: nothing to edit ({why}); select other clips")
    return Source(
        kind=kind,
        label=label,
        clips=clips,
        project=project,
        host_context=host_context,
        clip_map=clip_map,
        timeline_path=timeline_path,
        skipped=notes,
    )


# -- Resolve ---------------------------------------------------------------------------------------


def resolve_source(resolve: Any = None, *, mode: str = "auto", search_paths: Sequence[Path] = ()) -> Source:
    """The clips selected in Resolve's current timeline (issue 9's reading and selection rules):
    ``mode`` auto | selected | current | inout. ``resolve``: the object a script inside Resolve has."""
    from host_plugins.resolve.api import ResolveError
    from host_plugins.resolve.commands import _host_context
    from host_plugins.resolve.connect import describe, find_resolve
    from host_plugins.resolve.timeline import read_timeline, selection

    try:
        app = find_resolve(resolve)
        tl = read_timeline(app, search_paths=tuple(Path(d).resolve() for d in search_paths))
        sel, how = selection(app, tl, mode)
        host = describe(app)
    except ResolveError as exc:
        raise SourceError(str(exc)) from None
    source = from_selection(
        "resolve",
        f"{tl.project_name} / {tl.timeline_name}",
        tl.clip_map,
        sel.chosen,
        sel.skipped,
        project=f"resolve:{tl.project_name}",
        host_context=_host_context(tl, host, how),
        items=[tl.item_of(e) for e in sel.chosen],
    )
    source.resolve = (app, tl, host)
    return source
