"""Send a result to the timeline: Resolve's placement (issue 9) or a new timeline file (issue 8).

Qt-free; the panel runs these off the UI thread. Nothing of the editor's is modified: the timeline
file is written to a new path (never the input), and Resolve gets a new track (or take) over the
original, which stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.v1 import bridge_pb2
from host_plugins.otio.batch import finished
from host_plugins.panel.source import Source, SourceClip, SourceError

__all__ = ["Sent", "default_timeline_out", "send_result"]


@dataclass
class Sent:
    """Where the result went, in one line for the editor."""

    where: str
    path: Path | None = None


def default_timeline_out(source: Source) -> Path:
    """``cut.otio`` → ``cut_river.otio`` beside it (``_river2`` … when taken)."""
    assert source.timeline_path is not None
    path = source.timeline_path
    out = path.with_name(f"{path.stem}_river{path.suffix}")
    n = 2
    while out.exists():
        out = path.with_name(f"{path.stem}_river{n}{path.suffix}")
        n += 1
    return out


def send_result(
    source: Source,
    clip: SourceClip,
    spec: bridge_pb2.EditSpec,
    job: bridge_pb2.Job,
    *,
    label: str,
    capabilities: bridge_pb2.Capabilities | None = None,
    out: Path | None = None,
    place: str = "track",
    overwrite: bool = False,
) -> Sent:
    """Lay ``job``'s result over ``clip``: in Resolve (``source.kind == "resolve"``; ``place`` track or
    take) or into a new timeline file ``out`` (timeline sources). SourceError says why it cannot."""
    if job.state != bridge_pb2.JOB_STATE_SUCCEEDED:
        raise SourceError(f"job {job.id} has not succeeded; only a finished render goes to the timeline")
    if source.kind == "media":
        raise SourceError(
            f"the panel was opened on a media file, so there is no timeline to send to; the render is "
            f"{job.results.media} — open the panel from Resolve or on a timeline file to lay it back"
        )
    clip_job = source.clip_job(clip, spec, job)
    try:
        done = finished(clip_job, capabilities=capabilities, query=spec.query or None)
    except ValueError as exc:
        raise SourceError(str(exc)) from None
    if source.kind == "resolve":
        return _to_resolve(source, clip, job, done, label, place)
    return _to_file(source, clip, job, done, label, out, overwrite)


def _to_resolve(
    source: Source, clip: SourceClip, job: bridge_pb2.Job, done: Any, label: str, place: str
) -> Sent:
    from host_plugins.resolve.api import ResolveError
    from host_plugins.resolve.place import Placer, Render

    app, tl, host = source.resolve
    e = clip.entry
    assert e is not None and e.source is not None
    render = Render(
        item=tl.item_of(e), clip=e.name, media=done.media, rendered=done.rendered, source=e.source,
        record=e.record, job_id=job.id, label=label, provenance_path=done.provenance_path, host=host,
    )  # fmt: skip
    try:
        placement = Placer(app, tl).place(render, place)
    except (ValueError, ResolveError) as exc:
        raise SourceError(str(exc)) from None
    where = f"track V{placement.track}" if placement.how == "track" else f"take {placement.take}"
    notes = f" ({'; '.join(placement.notes)})" if placement.notes else ""
    return Sent(
        where=f"placed in Resolve on {where} over {placement.clip}{notes}", path=Path(placement.media)
    )


def _to_file(
    source: Source,
    clip: SourceClip,
    job: bridge_pb2.Job,
    done: Any,
    label: str,
    out: Path | None,
    overwrite: bool,
) -> Sent:
    from host_plugins.otio.layback import RenderedClip, lay_back
    from host_plugins.otio.read import TimelineError
    from host_plugins.otio.write import check_output, write_timeline

    assert source.clip_map is not None and source.timeline_path is not None and clip.entry is not None
    out = out or default_timeline_out(source)
    loaded = source.clip_map.loaded
    result = RenderedClip(
        entry=clip.entry, media=done.media, rendered=done.rendered, job_id=job.id, label=label,
        provenance=done.provenance, provenance_path=done.provenance_path, matte=done.matte,
    )  # fmt: skip
    try:
        check_output(source.timeline_path, out, overwrite=overwrite, source=loaded)
        written = write_timeline(lay_back(loaded, [result]), out, source=loaded, overwrite=overwrite)
    except (TimelineError, ValueError) as exc:
        raise SourceError(str(exc)) from None
    notes = f" ({'; '.join(written.notes)})" if written.notes else ""
    return Sent(where=f"wrote {written.path}{notes}", path=written.path)
