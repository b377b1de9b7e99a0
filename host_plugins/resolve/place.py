"""Lay finished renders into Resolve without destroying anything.

Every render is imported into a ``RIVER`` bin (``ImportMedia`` fills the *current* folder, so the bin is
made current first and the editor's folder restored after). ``track`` placement puts it on a free video
track above the original — a track RIVER made, or an empty one; one is added when none is free — with
``AppendToTimeline`` at the exact absolute record frame (``endFrame`` exclusive), then reads the track
back: Resolve drops an overlapping placement silently and its return value proves nothing. ``take``
placement adds it as a take of the original item (which stays take 1). Each result gets a timeline marker
(the query, the job id; custom data: the provenance path), a clip color, and its provenance in the media
pool item's metadata. No existing item is moved, trimmed, recolored or deleted.

Handles go stale when the editor switches projects while jobs run: everything is looked up again
(:meth:`Placer.fresh`) right before it is changed, and a different project stops the placement loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_plugins.otio.layback import RIVER, is_river_track
from host_plugins.resolve.api import ResolveError, call, has
from host_plugins.resolve.timeline import ResolveItem, ResolveTimeline, item_id, track_items

PLACES = ("track", "take")
CLIP_COLOR = "Violet"  # one of SetClipColor's sixteen names
MARKER_COLOR = "Purple"  # one of the timeline marker colors
BIN = RIVER


@dataclass
class Placement:
    """One render as laid into Resolve."""

    clip: str
    job_id: str
    media: str
    how: str  # "track" or "take"
    track: int | None = None  # 1-based video track (track placement)
    take: int | None = None  # take index (take placement)
    record: tuple[int, int] = (0, 0)  # absolute record frames, end exclusive
    source: tuple[int, int] = (0, 0)  # frames of the render used, end exclusive
    marker_frame: int | None = None  # timeline marker, frames from the timeline's start
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "clip": self.clip,
            "job_id": self.job_id,
            "media": self.media,
            "place": self.how,
            "track": self.track,
            "take": self.take,
            "record_frames": list(self.record),
            "source_frames": list(self.source),
            "marker_frame": self.marker_frame,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Render:
    """A finished job, in the terms the placement needs."""

    item: ResolveItem  # the original
    clip: str
    media: Path  # the rendered movie; its frame 0 is media frame ``rendered[0]`` of the original's file
    rendered: tuple[int, int]
    source: tuple[int, int]  # the original's media frames (end exclusive)
    record: tuple[int, int]  # the original's record frames from the timeline's start (end exclusive)
    job_id: str
    label: str  # the query, or "blur dog"
    provenance_path: str
    host: dict[str, str]  # product, version, project, timeline


class Placer:
    """Places renders into the timeline RIVER read, re-checking Resolve's state before each change."""

    def __init__(self, resolve: Any, tl: ResolveTimeline) -> None:
        self.resolve = resolve
        self.tl = tl
        self.added_tracks: list[int] = []

    # -- state ------------------------------------------------------------------------------

    def fresh(self) -> tuple[Any, Any, Any]:
        """(project, timeline, media pool) now, checked to be the ones RIVER read; the timeline made
        current (AppendToTimeline only fills the current one)."""
        manager = call(self.resolve, "GetProjectManager", what="the project manager")
        project = call(manager, "GetCurrentProject", allow_none=True)
        if project is None:
            raise ResolveError(f"no project is open now: reopen {self.tl.project_name!r} and run again")
        pid = str(project.GetUniqueId()) if has(project, "GetUniqueId") else ""
        pname = str(call(project, "GetName"))
        if (self.tl.project_id and pid and pid != self.tl.project_id) or pname != self.tl.project_name:
            raise ResolveError(
                f"the open project is now {pname!r}, not {self.tl.project_name!r}: reopen "
                f"{self.tl.project_name!r} (its renders are kept) and run again"
            )
        current = project.GetCurrentTimeline()
        timeline = self._find_timeline(project, current)
        if timeline is not current and not project.SetCurrentTimeline(timeline):
            raise ResolveError(
                f"cannot make timeline {self.tl.timeline_name!r} current again: open it and run again"
            )
        return project, timeline, call(project, "GetMediaPool")

    def _find_timeline(self, project: Any, current: Any) -> Any:
        def same(t: Any) -> bool:
            tid = str(t.GetUniqueId()) if has(t, "GetUniqueId") else ""
            if self.tl.timeline_id and tid:
                return tid == self.tl.timeline_id
            return str(t.GetName()) == self.tl.timeline_name

        if current is not None and same(current):
            return current
        for i in range(1, int(call(project, "GetTimelineCount")) + 1):
            t = project.GetTimelineByIndex(i)
            if t is not None and same(t):
                return t
        raise ResolveError(
            f"timeline {self.tl.timeline_name!r} is gone from project {self.tl.project_name!r}"
        )

    def find_item(self, timeline: Any, item: ResolveItem) -> Any:
        """The original item's live handle (the one read earlier may be stale)."""
        for handle in track_items(timeline, item.track):
            if item.unique_id and item_id(handle) == item.unique_id:
                return handle
            if (
                not item.unique_id
                and int(handle.GetStart()) == item.start
                and int(handle.GetEnd()) == item.end
            ):
                return handle
        raise ResolveError(
            f"{item.name!r} is no longer on V{item.track} at frame {item.start}: it was moved or deleted "
            "while RIVER worked; its render is kept"
        )

    # -- the RIVER bin --------------------------------------------------------------------------

    def river_bin(self, media_pool: Any) -> Any:
        root = call(media_pool, "GetRootFolder")
        for folder in root.GetSubFolderList() or []:
            if str(folder.GetName()) == BIN:
                return folder
        made = media_pool.AddSubFolder(root, BIN)
        if made is None or str(made.GetName()) != BIN:
            raise ResolveError(f"cannot make the {BIN!r} bin in the media pool (AddSubFolder refused)")
        return made

    def import_render(self, media_pool: Any, path: Path) -> Any:
        """Import ``path`` into the RIVER bin (made current for the import, then the editor's folder back)."""
        folder = self.river_bin(media_pool)
        before = media_pool.GetCurrentFolder()
        if not media_pool.SetCurrentFolder(folder):
            raise ResolveError(f"cannot open the {BIN!r} bin to import into it")
        try:
            imported = media_pool.ImportMedia([str(path)]) or []
        finally:
            if before is not None:
                media_pool.SetCurrentFolder(before)
        match = [m for m in imported if _same_file(m, path)]
        if not match:  # Resolve imports a file once: a render placed again is already in the bin
            match = [m for m in (folder.GetClipList() or []) if _same_file(m, path)]
        if not match:
            raise ResolveError(
                f"Resolve did not import {path} (is the file readable from Resolve's machine?)"
            )
        mpi = match[0]
        in_bin = {_mpi_id(m) for m in (folder.GetClipList() or [])}
        if _mpi_id(mpi) not in in_bin:
            raise ResolveError(f"{path.name} was imported outside the {BIN!r} bin")
        return mpi

    # -- placing ----------------------------------------------------------------------------------

    def place(self, render: Render, how: str) -> Placement:
        if how not in PLACES:
            raise ValueError(f"place {how!r}: use track or take")
        _, timeline, media_pool = self.fresh()
        mpi = self.import_render(media_pool, render.media)
        s = render.source[0] - render.rendered[0]
        e = render.source[1] - render.rendered[0]
        start = self.tl.start_frame + render.record[0]
        end = self.tl.start_frame + render.record[1]
        placement = Placement(
            clip=render.clip,
            job_id=render.job_id,
            media=str(render.media),
            how=how,
            record=(start, end),
            source=(s, e),
        )
        if how == "take":
            placement.take = self._as_take(timeline, render, mpi, s, e)
        else:
            item, placement.track = self._on_track(timeline, media_pool, render, mpi, s, e, start, end)
            if not item.SetClipColor(CLIP_COLOR):
                placement.notes.append(f"clip color {CLIP_COLOR} refused")
        placement.marker_frame = self._marker(timeline, render, placement)
        placement.notes += self._tag(mpi, render)
        return placement

    def _on_track(
        self, timeline: Any, media_pool: Any, render: Render, mpi: Any, s: int, e: int, start: int, end: int
    ) -> tuple[Any, int]:
        tried: list[str] = []
        for attempt in range(2):
            track = self.free_track(timeline, render.item.track, start, end, force_new=attempt > 0)
            info = {
                "mediaPoolItem": mpi,
                "startFrame": s,
                "endFrame": e,
                "mediaType": 1,
                "trackIndex": track,
                "recordFrame": start,
            }
            before = {_item_key(h) for h in track_items(timeline, track)}
            media_pool.AppendToTimeline([info])  # its answer proves nothing: read the track back
            placed = [
                h for h in track_items(timeline, track) if _item_key(h) not in before and _same_mpi(h, mpi)
            ]
            if not placed:
                tried.append(f"V{track}")
                continue
            item = placed[0]
            got = (int(item.GetStart()), int(item.GetEnd()))
            if got != (start, end):
                raise ResolveError(
                    f"Resolve placed {render.media.name} on V{track} at frames {got[0]}:{got[1]}, not "
                    f"{start}:{end} (record of {render.clip!r}); check the timeline's frame rate against "
                    "the render's and place it by hand"
                )
            return item, track
        raise ResolveError(
            f"Resolve dropped {render.media.name} at frames {start}:{end} on {' and '.join(tried)} "
            f"(it drops overlapping placements silently); the render is in the {BIN!r} bin"
        )

    def free_track(self, timeline: Any, above: int, start: int, end: int, *, force_new: bool = False) -> int:
        """A video track above ``above`` free over ``[start, end)``: one named RIVER… or empty, unlocked;
        else a new one on top named ``RIVER`` (``RIVER 2``, …)."""
        count = int(call(timeline, "GetTrackCount", "video"))
        if not force_new:
            for t in range(above + 1, count + 1):
                if has(timeline, "GetIsTrackLocked") and timeline.GetIsTrackLocked("video", t):
                    continue
                spans = [(int(h.GetStart()), int(h.GetEnd())) for h in track_items(timeline, t)]
                name = str(timeline.GetTrackName("video", t) or "") if has(timeline, "GetTrackName") else ""
                if spans and not is_river_track(name):
                    continue  # the editor's track: RIVER does not fill its gaps
                if all(b <= start or a >= end for a, b in spans):
                    return t
        if not timeline.AddTrack("video"):
            raise ResolveError("Resolve refused to add a video track for the RIVER results")
        new = int(call(timeline, "GetTrackCount", "video"))
        if new != count + 1:
            raise ResolveError(f"adding a video track left {new} tracks, expected {count + 1}")
        names = (
            {str(timeline.GetTrackName("video", t) or "") for t in range(1, new)}
            if has(timeline, "GetTrackName")
            else set()
        )
        name = next(n for n in (RIVER, *(f"{RIVER} {k}" for k in range(2, 1000))) if n not in names)
        if has(timeline, "SetTrackName"):
            timeline.SetTrackName("video", new, name)
        self.added_tracks.append(new)
        return new

    def _as_take(self, timeline: Any, render: Render, mpi: Any, s: int, e: int) -> int:
        original = self.find_item(timeline, render.item)
        before = int(original.GetTakesCount() or 0) if has(original, "GetTakesCount") else 0
        if not call(original, "AddTake", mpi, s, e, what=f"AddTake on {render.clip!r}", allow_none=True):
            raise ResolveError(f"Resolve refused to add {render.media.name} as a take of {render.clip!r}")
        count = int(call(original, "GetTakesCount"))
        expected = max(before, 1) + 1
        if count != expected:
            raise ResolveError(f"{render.clip!r} has {count} takes after AddTake, expected {expected}")
        first = original.GetTakeByIndex(1) or {}
        last = original.GetTakeByIndex(count) or {}
        if not _same_mpi_obj(last.get("mediaPoolItem"), mpi):
            raise ResolveError(f"take {count} of {render.clip!r} is not the render {render.media.name}")
        if render.item.file_path and not _same_file(first.get("mediaPoolItem"), Path(render.item.file_path)):
            raise ResolveError(f"take 1 of {render.clip!r} is no longer the original clip")
        return count

    def _marker(self, timeline: Any, render: Render, placement: Placement) -> int | None:
        a, b = render.record
        note = f"RIVER job {render.job_id}: {render.label}"
        for frame in range(a, b):  # AddMarker refuses a frame that already has a marker: take the next
            if timeline.AddMarker(
                frame, MARKER_COLOR, render.label[:120], note, b - frame, render.provenance_path
            ):
                return frame
        placement.notes.append(f"no marker: every frame of {render.clip!r} already has one")
        return None

    def _tag(self, mpi: Any, render: Render) -> list[str]:
        notes = []
        fields = {
            "RIVER Job": render.job_id,
            "RIVER Query": render.label,
            "RIVER Provenance": render.provenance_path,
            "RIVER Source": render.item.file_path,
            "RIVER Host": f"{render.host.get('product', '')} {render.host.get('version', '')}".strip(),
        }
        for key, value in fields.items():
            if not mpi.SetThirdPartyMetadata(key, str(value)):
                notes.append(f"metadata {key!r} refused")
        comment = f"RIVER job {render.job_id} · {render.label} · {render.provenance_path}"
        if not mpi.SetMetadata("Comments", comment):
            notes.append("metadata 'Comments' refused")
        if not mpi.SetClipColor(CLIP_COLOR):
            notes.append(f"media pool clip color {CLIP_COLOR} refused")
        return notes


def _item_key(handle: Any) -> tuple[str, int, int]:
    return item_id(handle), int(handle.GetStart()), int(handle.GetEnd())


def _mpi_id(mpi: Any) -> str:
    if mpi is None:
        return ""
    if has(mpi, "GetUniqueId"):
        return str(mpi.GetUniqueId())
    return str(mpi.GetMediaId()) if has(mpi, "GetMediaId") else str(mpi.GetClipProperty("File Path"))


def _same_file(mpi: Any, path: Path) -> bool:
    if mpi is None:
        return False
    got = str(mpi.GetClipProperty("File Path") or "")
    return bool(got) and (got == str(path) or Path(got).resolve() == Path(path).resolve())


def _same_mpi_obj(a: Any, b: Any) -> bool:
    return a is not None and b is not None and _mpi_id(a) == _mpi_id(b)


def _same_mpi(handle: Any, mpi: Any) -> bool:
    return _same_mpi_obj(handle.GetMediaPoolItem() if has(handle, "GetMediaPoolItem") else None, mpi)
