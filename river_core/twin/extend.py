"""A twin widened by handles, keeping the ids the editor saw.

An editor picks objects in the twin of the range they chose; handles (extra frames rendered each
side, for trims and transitions) must not change what an id means. Building the twin of the wider
range would renumber its objects (detection keyframes and births move with the range), so
:func:`extend_twin` keeps the chosen range's twin as it is and takes only the handle frames from the
wider twin, each of its objects renamed to the id of the object it is in the chosen range (the
track whose masks overlap it most over the shared frames). An object seen only in the handles gets
a fresh id, above every id of the chosen twin, so it can never be mistaken for a target.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

import numpy as np

from river_core.media.rational import FrameRange
from river_core.twin.masks import decode_mask
from river_core.twin.schema import FrameEntry, TwinDocument, summarize_tracks

MIN_IOU: Final = 0.3  # below this mean overlap two tracks are not the same object
_SHARED_FRAMES: Final = 8  # the shared frames nearest the handles decide which track is which


def extend_twin(core: TwinDocument, wide: TwinDocument) -> TwinDocument:
    """``core`` widened to ``wide``'s range: ``core``'s frames as they are, ``wide``'s other frames
    with their objects renamed to ``core``'s ids. Both must describe the same media and ``wide``
    must contain ``core``'s range."""
    inner, outer = core.video.frame_range, wide.video.frame_range
    if core.video.content_hash != wide.video.content_hash:
        raise ValueError("extend_twin: the twins describe different media")
    if inner.start < outer.start or inner.end > outer.end:
        raise ValueError(f"extend_twin: {outer} does not contain {inner}")
    if inner == outer:
        return core
    rename = match_ids(core, wide)
    fresh = max([*core.object_ids(), *rename.values(), -1]) + 1
    for wid in wide.object_ids():
        if wid not in rename:
            rename[wid] = fresh
            fresh += 1
    frames: list[FrameEntry] = []
    core_frames = {e.index: e for e in core.frames}
    for entry in wide.frames:
        if entry.index in inner:
            frames.append(core_frames.get(entry.index, FrameEntry(index=entry.index, objects=[])))
        else:
            objects = [o.model_copy(update={"id": rename[o.id]}) for o in entry.objects]
            frames.append(entry.model_copy(update={"objects": sorted(objects, key=lambda o: o.id)}))
    video = core.video.model_copy(update={"frame_range": outer, "start_timecode": wide.video.start_timecode})
    notes = list(core.provenance.warnings)
    notes.append(
        f"frames {outer} outside {inner} come from the twin of {outer}, its objects renamed to this "
        "twin's ids (handles)"
    )
    return core.model_copy(
        update={
            "video": video,
            "frames": frames,
            "tracks": summarize_tracks(frames),
            "provenance": core.provenance.model_copy(update={"warnings": notes}),
        }
    )


def match_ids(core: TwinDocument, wide: TwinDocument) -> dict[int, int]:
    """``wide`` id → ``core`` id for the objects that are the same track: the best mean mask IoU
    over the shared frames nearest each end of ``core``'s range, at least :data:`MIN_IOU`, each
    core id used once (greedy, best pair first)."""
    inner = core.video.frame_range
    shared = _shared_frames(inner, {e.index for e in wide.frames} & {e.index for e in core.frames})
    core_masks = _masks(core, shared)
    wide_masks = _masks(wide, shared)
    scores: dict[tuple[int, int], list[float]] = defaultdict(list)
    for f in shared:
        for wid, wmask in wide_masks[f].items():
            for cid, cmask in core_masks[f].items():
                union = np.logical_or(wmask, cmask).sum()
                if union:
                    scores[(wid, cid)].append(float(np.logical_and(wmask, cmask).sum() / union))
    ranked = sorted(
        ((sum(v) / len(shared), wid, cid) for (wid, cid), v in scores.items()),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    rename: dict[int, int] = {}
    used: set[int] = set()
    for score, wid, cid in ranked:
        if score < MIN_IOU or wid in rename or cid in used:
            continue
        rename[wid] = cid
        used.add(cid)
    return rename


def _shared_frames(inner: FrameRange, available: set[int]) -> list[int]:
    frames = sorted(f for f in available if f in inner)
    if len(frames) <= 2 * _SHARED_FRAMES:
        return frames
    return sorted({*frames[:_SHARED_FRAMES], *frames[-_SHARED_FRAMES:]})


def _masks(doc: TwinDocument, frames: list[int]) -> dict[int, dict[int, np.ndarray]]:
    wanted = set(frames)
    out: dict[int, dict[int, np.ndarray]] = {f: {} for f in frames}
    for entry in doc.frames:
        if entry.index in wanted:
            for obj in entry.objects:
                out[entry.index][obj.id] = decode_mask(obj.mask.rle)
    return out
