"""Fake of Blackmagic's ``DaVinciResolveScript`` module (test double; see fake_world.py for the state, the
builder and the list of Resolve failure modes reproduced here).

A script imports it after putting ``$RESOLVE_SCRIPT_API/Modules`` on sys.path and calls
``scriptapp("Resolve")``. Standard library only, plus ``fake_world`` found next to this file.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

if "fake_world" in sys.modules:
    fake_world = sys.modules["fake_world"]
else:
    _spec = importlib.util.spec_from_file_location("fake_world", Path(__file__).with_name("fake_world.py"))
    assert _spec is not None and _spec.loader is not None
    fake_world = importlib.util.module_from_spec(_spec)
    sys.modules["fake_world"] = fake_world
    _spec.loader.exec_module(fake_world)

fw = fake_world
_LOADED: dict[str, tuple[int, Any]] = {}  # $FAKE_RESOLVE_STATE path -> (mtime_ns, World)


def scriptapp(name: str) -> Any:
    """The Resolve (or Fusion) object of the running fake Resolve, or None when it is not running, is the
    free edition (external scripting is Studio-only) or ``name`` is neither "Resolve" nor "Fusion"."""
    world = fw.installed()
    if world is None:
        path = os.environ.get("FAKE_RESOLVE_STATE")
        if not path or not Path(path).is_file():
            return None
        world = _load(path)
    if not world.is_studio:
        return None
    if name == "Resolve":
        return Resolve(world)
    if name == "Fusion":
        return _Dummy(world, "Fusion")
    return None


def _load(path: str) -> Any:
    mtime = Path(path).stat().st_mtime_ns
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    world = fw.World.load(path)
    world._path = path
    _LOADED[path] = (mtime, world)
    atexit.register(_flush, path, world)
    return world


def _flush(path: str, world: Any) -> None:
    """At exit, write the call log of read-only calls made since the last mutating call."""
    if world._path == path and Path(path).exists():
        world.save(path)


def _remember_mtime(world: Any) -> None:
    if world._path is not None:
        _LOADED[world._path] = (Path(world._path).stat().st_mtime_ns, world)


# ------------------------------------------------------------------------------------------ base object
def api(mutating: bool = False) -> Any:
    """Marks a real API method: records the call, answers None on a stale handle (failure mode 8),
    saves the state after a mutating call."""

    def deco(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(self: _ResolveObject, *args: Any) -> Any:
            world = self._w
            world.record(type(self).__name__, fn.__name__, args)
            if self._stale():
                return None
            result = fn(self, *args)
            if mutating:
                world.autosave()
                _remember_mtime(world)
            return result

        wrapper._is_api = True  # type: ignore[attr-defined]
        return wrapper

    return deco


class _ResolveObject:
    """Common behaviour of every object handed to scripts.

    Failure mode 7: ``__getattr__`` answers ANY unknown public name with a callable returning None, so
    ``hasattr(obj, "Anything")`` is True; only ``dir(obj)`` lists the real methods.
    """

    _project_bound = True
    _constants: ClassVar[dict[str, int]] = {}

    def __init__(self, world: Any, project: str | None = None, uid: str | None = None) -> None:
        self._w = world
        self._project = project
        self._epoch = world.epoch
        self._uid = uid

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        world = self._w
        cls = type(self).__name__

        def unknown(*args: Any, **kwargs: Any) -> None:
            world.record(cls, name, args)
            return None

        unknown.__name__ = name
        return unknown

    def _api_names(self) -> list[str]:
        names = [n for n in dir(type(self)) if getattr(getattr(type(self), n, None), "_is_api", False)]
        return sorted(names + list(self._constants))

    def __dir__(self) -> list[str]:
        return self._api_names()

    def __repr__(self) -> str:
        return f"{type(self).__name__} (0x{id(self):x}) [App: 'Resolve' on 127.0.0.1, UUID: {self._uid}]"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._uid == self._uid and other._epoch == self._epoch  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._uid, self._epoch))

    # ----- state access
    def _stale(self) -> bool:
        if not self._project_bound:
            return False
        return self._epoch != self._w.epoch or self._w.state["current_project"] != self._project

    @property
    def _ps(self) -> Any:
        return fw.ProjectState(self._w, self._project)

    @property
    def _pst(self) -> dict[str, Any]:
        return self._w.state["projects"][self._project]


class _Dummy(_ResolveObject):
    """Fusion and other objects the fake does not model: every method answers None."""

    _project_bound = False

    def __init__(self, world: Any, kind: str) -> None:
        super().__init__(world, None, kind)


# ------------------------------------------------------------------------------------------------ Resolve
PAGES = ("media", "photo", "cut", "edit", "fusion", "color", "fairlight", "deliver")
EXPORT_CONSTANTS = {
    "EXPORT_AAF": 0, "EXPORT_DRT": 1, "EXPORT_EDL": 2, "EXPORT_FCP_7_XML": 3, "EXPORT_FCPXML_1_8": 4,
    "EXPORT_FCPXML_1_9": 5, "EXPORT_FCPXML_1_10": 6, "EXPORT_HDR_10_PROFILE_A": 7,
    "EXPORT_HDR_10_PROFILE_B": 8, "EXPORT_TEXT_CSV": 9, "EXPORT_TEXT_TAB": 10,
    "EXPORT_DOLBY_VISION_VER_2_9": 11, "EXPORT_DOLBY_VISION_VER_4_0": 12, "EXPORT_DOLBY_VISION_VER_5_1": 13,
    "EXPORT_OTIO": 14, "EXPORT_ALE": 15, "EXPORT_ALE_CDL": 16,
    "EXPORT_NONE": 100, "EXPORT_AAF_NEW": 101, "EXPORT_AAF_EXISTING": 102, "EXPORT_CDL": 103,
    "EXPORT_SDL": 104, "EXPORT_MISSING_CLIPS": 105,
}  # fmt: skip
MARKER_CONSTANTS = {f"MARKER_{c.upper()}": i for i, c in enumerate(fw.MARKER_COLORS)}


class Resolve(_ResolveObject):
    _project_bound = False
    _constants: ClassVar[dict[str, int]] = {**EXPORT_CONSTANTS, **MARKER_CONSTANTS}

    def __init__(self, world: Any) -> None:
        super().__init__(world, None, "resolve")
        for key, value in self._constants.items():
            object.__setattr__(self, key, value)

    @api()
    def Fusion(self) -> Any:
        return _Dummy(self._w, "Fusion")

    @api()
    def GetProjectManager(self) -> Any:
        return ProjectManager(self._w, None, "project-manager")

    @api()
    def GetMediaStorage(self) -> Any:
        return MediaStorage(self._w, None, "media-storage")

    @api()
    def GetProductName(self) -> str:
        return self._w.product

    @api()
    def GetVersion(self) -> list:
        return list(self._w.state["version"])

    @api()
    def GetVersionString(self) -> str:
        major, minor, patch, build, suffix = self._w.state["version"]
        return f"{major}.{minor}.{patch}{suffix}.{build}"

    @api(mutating=True)
    def OpenPage(self, page: str) -> bool:
        if page not in PAGES:
            return False
        self._w.state["page"] = page
        return True

    @api()
    def GetCurrentPage(self) -> str:
        return self._w.state["page"]


class ProjectManager(_ResolveObject):
    _project_bound = False

    @api()
    def GetCurrentProject(self) -> Any:
        name = self._w.state["current_project"]
        return Project(self._w, name, self._w.state["projects"][name]["id"]) if name else None

    @api(mutating=True)
    def LoadProject(self, name: str) -> Any:
        """Opens another project: every handle from the previous one goes stale (failure mode 8)."""
        if name not in self._w.state["projects"]:
            return None
        if name != self._w.state["current_project"]:
            self._w.switch_project(name)
        return Project(self._w, name, self._w.state["projects"][name]["id"])

    @api(mutating=True)
    def CreateProject(self, name: str, media_location: str | None = None) -> Any:
        """Creates AND opens the project (stales the previous project's handles); None if it exists."""
        if not isinstance(name, str) or not name or name in self._w.state["projects"]:
            return None
        self._w.add_project(name)
        self._w.switch_project(name)
        return Project(self._w, name, self._w.state["projects"][name]["id"])

    @api(mutating=True)
    def SaveProject(self) -> bool:
        return self._w.state["current_project"] is not None

    @api()
    def GetProjectListInCurrentFolder(self) -> list:
        return list(self._w.state["projects"])

    @api()
    def GetCurrentDatabase(self) -> dict:
        return {"DbType": "Disk", "DbName": "Local Database"}


class MediaStorage(_ResolveObject):
    _project_bound = False

    @api()
    def GetMountedVolumeList(self) -> list:
        return ["/"]

    @api()
    def GetSubFolderList(self, folder: str) -> list:
        p = Path(folder)
        return sorted(str(c) for c in p.iterdir() if c.is_dir()) if p.is_dir() else []

    @api()
    def GetFileList(self, folder: str) -> list:
        p = Path(folder)
        return sorted(str(c) for c in p.iterdir() if c.is_file()) if p.is_dir() else []

    @api(mutating=True)
    def AddItemListToMediaPool(self, *items: Any) -> list:
        paths = items[0] if len(items) == 1 and isinstance(items[0], list) else list(items)
        project = self._w.state["current_project"]
        if project is None:
            return []
        pool = MediaPool(self._w, project, "pool")
        return pool._import(paths)


# ------------------------------------------------------------------------------------------------ Project
class Project(_ResolveObject):
    @api()
    def GetName(self) -> str:
        return self._pst["name"]

    @api()
    def GetUniqueId(self) -> str:
        return self._pst["id"]

    @api()
    def GetMediaPool(self) -> Any:
        return MediaPool(self._w, self._project, self._pst["media_pool_id"])

    @api()
    def GetTimelineCount(self) -> int:
        return len(self._pst["timelines"])

    @api()
    def GetTimelineByIndex(self, idx: int) -> Any:
        timelines = self._pst["timelines"]
        if not isinstance(idx, int) or not 1 <= idx <= len(timelines):
            return None
        return Timeline(self._w, self._project, timelines[idx - 1]["id"])

    @api()
    def GetCurrentTimeline(self) -> Any:
        tid = self._pst["current_timeline"]
        return Timeline(self._w, self._project, tid) if tid else None

    @api(mutating=True)
    def SetCurrentTimeline(self, timeline: Any) -> bool:
        if not isinstance(timeline, Timeline) or timeline._stale() or timeline._state() is None:
            return False
        self._pst["current_timeline"] = timeline._uid
        return True

    @api()
    def GetSetting(self, name: str | None = None) -> Any:
        settings = self._pst["settings"]
        if not name:
            return dict(settings)
        return settings.get(name, "")

    @api(mutating=True)
    def SetSetting(self, name: str, value: Any) -> bool:
        settings = self._pst["settings"]
        if name not in settings or not isinstance(value, str):
            return False
        # Resolve fixes the project's timeline rate once a timeline exists
        rate_locked = bool(self._pst["timelines"]) or value.replace(" DF", "") not in fw.TIMELINE_RATES
        if name == "timelineFrameRate" and rate_locked:
            return False
        settings[name] = value
        return True


# ---------------------------------------------------------------------------------------------- MediaPool
class Folder(_ResolveObject):
    def _state(self) -> dict[str, Any] | None:
        return self._pst["folders"].get(self._uid)

    @api()
    def GetName(self) -> str | None:
        f = self._state()
        return f["name"] if f else None

    @api()
    def GetClipList(self) -> list:
        f = self._state()
        return [MediaPoolItem(self._w, self._project, m) for m in f["clips"]] if f else []

    @api()
    def GetSubFolderList(self) -> list:
        f = self._state()
        return [Folder(self._w, self._project, s) for s in f["subfolders"]] if f else []

    @api()
    def GetUniqueId(self) -> str:
        return self._uid  # type: ignore[return-value]

    @api()
    def GetIsFolderStale(self) -> bool:
        return False


class MediaPool(_ResolveObject):
    @api()
    def GetUniqueId(self) -> str:
        return self._uid  # type: ignore[return-value]

    @api()
    def GetRootFolder(self) -> Any:
        return Folder(self._w, self._project, self._pst["root_folder"])

    @api()
    def GetCurrentFolder(self) -> Any:
        return Folder(self._w, self._project, self._pst["current_folder"])

    @api(mutating=True)
    def SetCurrentFolder(self, folder: Any) -> bool:
        if not isinstance(folder, Folder) or folder._stale() or folder._state() is None:
            return False
        self._pst["current_folder"] = folder._uid
        return True

    @api(mutating=True)
    def AddSubFolder(self, folder: Any, name: str) -> Any:
        """A new bin under ``folder``. A name already used there gets a suffix ("Name 2"), see fake_world."""
        if not isinstance(folder, Folder) or folder._stale() or folder._state() is None:
            return None
        if not isinstance(name, str) or not name:
            return None
        siblings = {self._pst["folders"][s]["name"] for s in folder._state()["subfolders"]}  # type: ignore[index]
        final, n = name, 1
        while final in siblings:
            n += 1
            final = f"{name} {n}"
        fid = self._ps.new_folder(folder._uid, final)
        return Folder(self._w, self._project, fid)

    # ----- import
    def _import(self, items: Any) -> list:
        if not isinstance(items, list):
            return []
        folder_id = self._pst["current_folder"]
        created: list = []
        for entry in items:
            path = entry.get("FilePath") if isinstance(entry, dict) else entry
            if not isinstance(path, str):
                continue
            p = Path(path)
            paths = sorted(c for c in p.iterdir() if c.is_file()) if p.is_dir() else [p]
            for one in paths:
                mid = self._ps._import_path(str(one), folder_id)
                if mid is not None:
                    created.append(MediaPoolItem(self._w, self._project, mid))
        return created

    @api(mutating=True)
    def ImportMedia(self, items: Any) -> list:
        """Failure mode 9: into the CURRENT folder only; missing / non-media / already-pooled paths
        give nothing."""
        return self._import(items)

    # ----- timelines
    @api(mutating=True)
    def CreateEmptyTimeline(self, name: str) -> Any:
        pst = self._pst
        if not isinstance(name, str) or not name or any(t["name"] == name for t in pst["timelines"]):
            return None
        tid = self._ps._new_timeline(name, pst["settings"]["timelineFrameRate"], "01:00:00:00", 1, 1)
        pst["current_timeline"] = tid
        return Timeline(self._w, self._project, tid)

    @api(mutating=True)
    def ImportTimelineFromFile(self, path: str, options: dict | None = None) -> Any:
        """Records the call; creates an empty timeline (named by "timelineName", else the file stem) when
        the file exists and the name is free; it becomes current. None otherwise."""
        options = options or {}
        if not isinstance(path, str) or not Path(path).is_file() or not isinstance(options, dict):
            return None
        name = options.get("timelineName") or Path(path).stem
        pst = self._pst
        if any(t["name"] == name for t in pst["timelines"]):
            return None
        tid = self._ps._new_timeline(name, pst["settings"]["timelineFrameRate"], "01:00:00:00", 1, 1)
        pst["current_timeline"] = tid
        return Timeline(self._w, self._project, tid)

    @api(mutating=True)
    def AppendToTimeline(self, *clips: Any) -> Any:
        """Appends to the project's CURRENT timeline (failure mode 5). Three forms: clip1, clip2, ...;
        [clips]; [{clipInfo}, ...]. A clipInfo that cannot be placed is dropped but still answered by
        a ghost item (failure mode 1)."""
        if len(clips) == 1 and isinstance(clips[0], list):
            clips = tuple(clips[0])
        tid = self._pst["current_timeline"]
        if tid is None:
            return []
        tl = fw.TimelineState(self._ps, tid)
        out: list = []
        pending: dict[tuple[str, int], list] = {}
        for clip in clips:
            if isinstance(clip, dict):
                out.extend(self._append_one(tl, clip, pending))
            elif isinstance(clip, MediaPoolItem) and not clip._stale() and clip._state() is not None:
                out.extend(self._append_whole(tl, clip))
        return out

    def _append_whole(self, tl: Any, clip: MediaPoolItem) -> list:
        """The MediaPoolItem forms: whole clip (or its marked range) at the end of the timeline, track 1."""
        media = clip._state()
        marks = media["marks"].get("video") or media["marks"].get("audio")
        start, end = (marks["in"], marks["out"] + 1) if marks else (0, media["frames"])
        ends = [
            i["start"] + i["duration"] for tr in tl.state["tracks"].values() for t in tr for i in t["items"]
        ]
        record = max(ends, default=tl.start_frame)
        info = {
            "mediaPoolItem": clip,
            "startFrame": start,
            "endFrame": end,
            "trackIndex": 1,
            "recordFrame": record,
        }
        return self._append_one(tl, info, {})

    def _append_one(self, tl: Any, info: dict, pending: dict) -> list:
        clip = info.get("mediaPoolItem")
        if not isinstance(clip, MediaPoolItem) or clip._stale() or clip._state() is None:
            return []
        media = clip._state()
        kinds = {
            "Video": ["video"],
            "Still": ["video"],
            "Compound": ["video"],
            "Timeline": ["video"],
            "Generator": ["video"],
            "Audio": ["audio"],
            "Video + Audio": ["video", "audio"],
        }[media["kind"]]
        media_type = info.get("mediaType")
        if media_type == 1:
            kinds = [k for k in kinds if k == "video"]
        elif media_type == 2:
            kinds = [k for k in kinds if k == "audio"]
        if not kinds:
            return []
        start = info.get("startFrame", 0)
        end = info.get("endFrame", media["frames"])  # failure mode 2: exclusive
        track = info.get("trackIndex", 1)
        fps = Fraction(media["fps"])
        duration = fw.timeline_frames(Fraction(end) - Fraction(start), fps, tl.rate)  # failure mode 11
        ok = isinstance(track, int) and 0 <= start < end <= media["frames"] and duration >= 1
        placements = []
        for kind in kinds:
            tracks = tl.state["tracks"][kind]
            record = info.get("recordFrame")
            if (
                ok and 1 <= track <= len(tracks) and record is None
            ):  # failure mode 4: after the track's last item
                last = [i["start"] + i["duration"] for i in tracks[track - 1]["items"]]
                last += [s + d for s, d in pending.get((kind, track), [])]
                record = max(last, default=tl.start_frame)
            record = round(record) if isinstance(record, (int, float)) else tl.start_frame
            item = fw.new_item(
                self._w.new_id(),
                media["name"],
                clip._uid,
                record,
                duration,
                _num(start),
                _num(end),
                "compound" if media["kind"] == "Compound" else "clip",
            )
            placements.append((kind, item))
        fits = ok and all(self._fits(tl, kind, track, item, pending) for kind, item in placements)
        result = []
        for kind, item in placements:
            if fits:
                tl.state["tracks"][kind][track - 1]["items"].append(item)
                tl.state["tracks"][kind][track - 1]["items"].sort(key=lambda i: i["start"])
                pending.setdefault((kind, track), []).append((item["start"], item["duration"]))
                result.append(TimelineItem(self._w, self._project, item["id"], timeline=tl.id))
            else:  # failure mode 1: silently dropped, answered by a detached ghost
                ghost = TimelineItem(self._w, self._project, item["id"], timeline=tl.id)
                ghost._ghost = {"item": item, "kind": kind, "track": track}
                result.append(ghost)
        return result

    @staticmethod
    def _fits(tl: Any, kind: str, track: Any, item: dict, pending: dict) -> bool:
        tracks = tl.state["tracks"][kind]
        if not isinstance(track, int) or not 1 <= track <= len(tracks):  # failure mode 3: 1-based
            return False
        t = tracks[track - 1]
        return not t["locked"] and not fw.overlapping(t, item["start"], item["duration"])


def _num(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# ------------------------------------------------------------------------------------------ MediaPoolItem
def _markers_out(markers: dict) -> dict:
    return {float(k): dict(v) for k, v in sorted(markers.items(), key=lambda kv: float(kv[0]))}


def _add_marker(markers: dict, frame: Any, color: Any, name: Any, note: Any, duration: Any,
                custom: Any, limit: float | None) -> bool:  # fmt: skip
    if not isinstance(frame, (int, float)) or frame < 0 or (limit is not None and frame >= limit):
        return False
    if color not in fw.MARKER_COLORS or not isinstance(duration, (int, float)) or duration < 1:
        return False
    key = str(float(frame))
    if key in markers:
        return False
    markers[key] = {"color": color, "duration": float(duration), "note": str(note or ""),
                    "name": str(name or ""), "customData": str(custom or "")}  # fmt: skip
    return True


class _Markers:
    """Marker methods shared by MediaPoolItem, Timeline and TimelineItem, each of which defines
    ``_marker_store()`` (its markers' dict in the world's state)."""

    _marker_store: Callable[[], dict]

    def _marker_limit(self) -> float | None:
        return None

    @api(mutating=True)
    def AddMarker(
        self, frame: Any, color: Any, name: Any, note: Any, duration: Any, custom: Any = ""
    ) -> bool:
        return _add_marker(
            self._marker_store(), frame, color, name, note, duration, custom, self._marker_limit()
        )

    @api()
    def GetMarkers(self) -> dict:
        return _markers_out(self._marker_store())

    @api()
    def GetMarkerByCustomData(self, custom: str) -> dict:
        for k, v in _markers_out(self._marker_store()).items():
            if v["customData"] == custom:
                return {k: v}
        return {}

    @api()
    def GetMarkerCustomData(self, frame: Any) -> str:
        m = self._marker_store().get(str(float(frame)))
        return m["customData"] if m else ""

    @api(mutating=True)
    def UpdateMarkerCustomData(self, frame: Any, custom: str) -> bool:
        m = self._marker_store().get(str(float(frame)))
        if not m:
            return False
        m["customData"] = str(custom)
        return True

    @api(mutating=True)
    def DeleteMarkerAtFrame(self, frame: Any) -> bool:
        return self._marker_store().pop(str(float(frame)), None) is not None

    @api(mutating=True)
    def DeleteMarkersByColor(self, color: str) -> bool:
        store = self._marker_store()
        doomed = [k for k, v in store.items() if color == "All" or v["color"] == color]
        for k in doomed:
            del store[k]
        return bool(doomed)

    @api(mutating=True)
    def DeleteMarkerByCustomData(self, custom: str) -> bool:
        store = self._marker_store()
        for k, v in sorted(store.items(), key=lambda kv: float(kv[0])):
            if v["customData"] == custom:
                del store[k]
                return True
        return False


class _ClipColor:
    """Clip color methods shared by MediaPoolItem and TimelineItem, each of which defines
    ``_color_owner()`` (its state dict, holding "clip_color")."""

    _color_owner: Callable[[], dict]

    @api()
    def GetClipColor(self) -> str:
        return self._color_owner()["clip_color"]

    @api(mutating=True)
    def SetClipColor(self, color: Any) -> bool:
        if color not in fw.CLIP_COLORS:
            return False
        self._color_owner()["clip_color"] = color
        return True

    @api(mutating=True)
    def ClearClipColor(self) -> bool:
        self._color_owner()["clip_color"] = ""
        return True


class MediaPoolItem(_Markers, _ClipColor, _ResolveObject):
    def _state(self) -> dict[str, Any] | None:
        return self._pst["media"].get(self._uid)

    def _marker_store(self) -> dict:
        return self._state()["markers"]  # type: ignore[index]

    def _marker_limit(self) -> float | None:
        return float(self._state()["frames"])  # type: ignore[index]

    def _color_owner(self) -> dict:
        return self._state()  # type: ignore[return-value]

    @api()
    def GetName(self) -> str:
        return self._state()["name"]  # type: ignore[index]

    @api(mutating=True)
    def SetName(self, name: str) -> bool:
        if not isinstance(name, str) or not name:
            return False
        self._state()["name"] = name  # type: ignore[index]
        return True

    @api()
    def GetMediaId(self) -> str:
        return self._state()["media_id"]  # type: ignore[index]

    @api()
    def GetUniqueId(self) -> str:
        return self._uid  # type: ignore[return-value]

    @api()
    def GetClipProperty(self, key: str | None = None) -> Any:
        props = self._ps.clip_properties(self._uid)
        if not key:
            return props
        return props.get(key, "")

    @api(mutating=True)
    def SetClipProperty(self, key: str, value: Any) -> bool:
        """Only "Clip Name" and the metadata-backed text fields are writable; intrinsic properties
        (File Path, FPS, Frames, ...) are read-only."""
        if not isinstance(value, str):
            return False
        state = self._state()
        if key == "Clip Name":
            state["name"] = value  # type: ignore[index]
            return True
        if key in ("Comments", "Description", "Keywords"):
            state["metadata"][key] = value  # type: ignore[index]
            return True
        return False

    @api()
    def GetMetadata(self, key: str | None = None) -> Any:
        md = self._state()["metadata"]  # type: ignore[index]
        return dict(md) if not key else md.get(key, "")

    @api(mutating=True)
    def SetMetadata(self, key: Any, value: Any = None) -> bool:
        """Known Resolve metadata fields only, string values; a dict is all-or-nothing."""
        pairs = key if isinstance(key, dict) else {key: value}
        if not pairs or any(k not in fw.METADATA_FIELDS or not isinstance(v, str) for k, v in pairs.items()):
            return False
        self._state()["metadata"].update(pairs)  # type: ignore[index]
        return True

    @api()
    def GetThirdPartyMetadata(self, key: str | None = None) -> Any:
        md = self._state()["third_party"]  # type: ignore[index]
        return dict(md) if not key else md.get(key, "")

    @api(mutating=True)
    def SetThirdPartyMetadata(self, key: Any, value: Any = None) -> bool:
        pairs = key if isinstance(key, dict) else {key: value}
        if not pairs or any(not isinstance(k, str) or not isinstance(v, str) for k, v in pairs.items()):
            return False
        self._state()["third_party"].update(pairs)  # type: ignore[index]
        return True

    @api()
    def GetMarkInOut(self) -> dict:
        return json.loads(json.dumps(self._state()["marks"]))  # type: ignore[index]

    @api(mutating=True)
    def SetMarkInOut(self, mark_in: int, mark_out: int, kind: str = "all") -> bool:
        return _set_marks(self._state()["marks"], mark_in, mark_out, kind)  # type: ignore[index]

    @api(mutating=True)
    def ClearMarkInOut(self, kind: str = "all") -> bool:
        return _clear_marks(self._state()["marks"], kind)  # type: ignore[index]


def _set_marks(marks: dict, mark_in: Any, mark_out: Any, kind: str) -> bool:
    if kind not in ("all", "video", "audio") or not isinstance(mark_in, int) or not isinstance(mark_out, int):
        return False
    if mark_in < 0 or mark_out < mark_in:
        return False
    for k in ("video", "audio") if kind == "all" else (kind,):
        marks[k] = {"in": mark_in, "out": mark_out}
    return True


def _clear_marks(marks: dict, kind: str) -> bool:
    if kind not in ("all", "video", "audio"):
        return False
    for k in ("video", "audio") if kind == "all" else (kind,):
        marks.pop(k, None)
    return True


# ----------------------------------------------------------------------------------------------- Timeline
class Timeline(_Markers, _ResolveObject):
    def _state(self) -> dict[str, Any] | None:
        return self._ps.timeline_state(self._uid)

    def _stale(self) -> bool:
        return super()._stale() or self._state() is None

    @property
    def _tl(self) -> Any:
        return fw.TimelineState(self._ps, self._uid)

    def _marker_store(self) -> dict:
        return self._state()["markers"]  # type: ignore[index]

    def _marker_limit(self) -> float | None:
        return float(self._end() - self._state()["start_frame"])  # type: ignore[index]

    def _end(self) -> int:
        st = self._state()
        ends = [i["start"] + i["duration"] for tr in st["tracks"].values() for t in tr for i in t["items"]]  # type: ignore[index]
        return max(ends, default=st["start_frame"])  # type: ignore[index]

    def _track(self, kind: Any, index: Any) -> dict | None:
        tracks = self._state()["tracks"].get(kind) if isinstance(kind, str) else None  # type: ignore[index]
        if tracks is None or not isinstance(index, int) or not 1 <= index <= len(tracks):
            return None  # failure mode 3: 1-based
        return tracks[index - 1]

    def __dir__(self) -> list[str]:
        names = self._api_names()
        if not self._w.has_selected_clips_api():  # failure mode 6
            names.remove("GetSelectedClips")
        return names

    @api()
    def GetName(self) -> str:
        return self._state()["name"]  # type: ignore[index]

    @api(mutating=True)
    def SetName(self, name: str) -> bool:
        if not isinstance(name, str) or any(t["name"] == name for t in self._pst["timelines"]):
            return False
        self._state()["name"] = name  # type: ignore[index]
        return True

    @api()
    def GetUniqueId(self) -> str:
        return self._uid  # type: ignore[return-value]

    @api()
    def GetStartFrame(self) -> int:
        return self._state()["start_frame"]  # type: ignore[index]

    @api()
    def GetEndFrame(self) -> int:
        """Exclusive: the end of the last item on any track (the start frame when empty)."""
        return self._end()

    @api()
    def GetStartTimecode(self) -> str:
        st = self._state()
        return fw.frames_to_tc(st["start_frame"], fw.timebase(self._tl.rate), st["drop"])  # type: ignore[index]

    @api()
    def GetSetting(self, name: str | None = None) -> Any:
        st = self._state()
        settings = {**self._pst["settings"], **st["settings"], "timelineFrameRate": st["rate"]}  # type: ignore[index]
        if not name:
            return settings
        return settings.get(name, "")

    @api(mutating=True)
    def SetSetting(self, name: str, value: Any) -> bool:
        if name == "timelineFrameRate" or not isinstance(value, str) or name not in self._pst["settings"]:
            return False
        self._state()["settings"][name] = value  # type: ignore[index]
        return True

    @api()
    def GetTrackCount(self, kind: str) -> int:
        return len(self._state()["tracks"].get(kind, []))  # type: ignore[index]

    @api(mutating=True)
    def AddTrack(self, kind: str, options: Any = None) -> bool:
        if kind not in fw.TRACK_TYPES:
            return False
        tracks = self._state()["tracks"][kind]  # type: ignore[index]
        prefix = {"video": "Video", "audio": "Audio", "subtitle": "Subtitle"}[kind]
        track = fw.ProjectState._new_track(prefix, len(tracks) + 1)
        if isinstance(options, str) and kind == "audio":
            track["subtype"] = options
        index = options.get("index") if isinstance(options, dict) else None
        if isinstance(index, int) and 1 <= index <= len(tracks):
            tracks.insert(index - 1, track)
        else:
            tracks.append(track)
        return True

    @api(mutating=True)
    def DeleteTrack(self, kind: str, index: int) -> bool:
        track = self._track(kind, index)
        if track is None or track["locked"]:
            return False
        self._state()["tracks"][kind].remove(track)  # type: ignore[index]
        return True

    @api()
    def GetTrackName(self, kind: str, index: int) -> Any:
        track = self._track(kind, index)
        return track["name"] if track else None

    @api(mutating=True)
    def SetTrackName(self, kind: str, index: int, name: str) -> bool:
        track = self._track(kind, index)
        if track is None or not isinstance(name, str):
            return False
        track["name"] = name
        return True

    @api()
    def GetIsTrackLocked(self, kind: str, index: int) -> Any:
        track = self._track(kind, index)
        return track["locked"] if track else None

    @api(mutating=True)
    def SetTrackLock(self, kind: str, index: int, locked: bool) -> bool:
        track = self._track(kind, index)
        if track is None:
            return False
        track["locked"] = bool(locked)
        return True

    @api()
    def GetIsTrackEnabled(self, kind: str, index: int) -> Any:
        track = self._track(kind, index)
        return track["enabled"] if track else None

    @api(mutating=True)
    def SetTrackEnable(self, kind: str, index: int, enabled: bool) -> bool:
        track = self._track(kind, index)
        if track is None:
            return False
        track["enabled"] = bool(enabled)
        return True

    @api()
    def GetItemListInTrack(self, kind: str, index: int) -> Any:
        track = self._track(kind, index)
        if track is None:
            return None
        return [TimelineItem(self._w, self._project, i["id"], timeline=self._uid) for i in track["items"]]

    @api()
    def GetSelectedClips(self) -> Any:
        if not self._w.has_selected_clips_api():  # failure mode 6: unknown before 21.0.4
            return None
        found = {i["id"] for tr in self._state()["tracks"].values() for t in tr for i in t["items"]}  # type: ignore[index]
        return [TimelineItem(self._w, self._project, iid, timeline=self._uid)
                for iid in self._state()["selection"] if iid in found]  # type: ignore[index]  # fmt: skip

    @api()
    def GetCurrentVideoItem(self) -> Any:
        iid = self._state()["current_item"]  # type: ignore[index]
        if iid is None:
            return None
        return TimelineItem(self._w, self._project, iid, timeline=self._uid)

    @api(mutating=True)
    def DeleteClips(self, items: Any, ripple: bool = False) -> bool:
        if not isinstance(items, list):
            return False
        ids = {i._uid for i in items if isinstance(i, TimelineItem) and i._ghost is None and not i._stale()}
        done = False
        for tracks in self._state()["tracks"].values():  # type: ignore[index]
            for t in tracks:
                if t["locked"]:
                    continue
                keep = [i for i in t["items"] if i["id"] not in ids]
                done = done or len(keep) != len(t["items"])
                t["items"] = keep
        return done

    @api()
    def GetMarkInOut(self) -> dict:
        return json.loads(json.dumps(self._state()["marks"]))  # type: ignore[index]

    @api(mutating=True)
    def SetMarkInOut(self, mark_in: int, mark_out: int, kind: str = "all") -> bool:
        return _set_marks(self._state()["marks"], mark_in, mark_out, kind)  # type: ignore[index]

    @api(mutating=True)
    def ClearMarkInOut(self, kind: str = "all") -> bool:
        return _clear_marks(self._state()["marks"], kind)  # type: ignore[index]

    @api()
    def GetMediaPoolItem(self) -> Any:
        return MediaPoolItem(self._w, self._project, self._state()["media_id"])  # type: ignore[index]

    @api()
    def GetCurrentTimecode(self) -> str:
        return self.GetStartTimecode()

    @api(mutating=True)
    def Export(self, file_name: str, export_type: int, export_subtype: Any = None) -> bool:
        """Writes a small file (OTIO: a minimal OpenTimelineIO JSON; others: a text stand-in).
        AAF and EDL need a valid subtype; the folder must exist."""
        c = EXPORT_CONSTANTS
        if export_type not in c.values() or export_type >= c["EXPORT_NONE"]:
            return False
        if export_type == c["EXPORT_AAF"] and export_subtype not in (
            c["EXPORT_AAF_NEW"],
            c["EXPORT_AAF_EXISTING"],
        ):
            return False
        if export_type == c["EXPORT_EDL"] and export_subtype not in (
            c["EXPORT_CDL"], c["EXPORT_SDL"], c["EXPORT_MISSING_CLIPS"], c["EXPORT_NONE"]
        ):  # fmt: skip
            return False
        target = Path(file_name)
        if not isinstance(file_name, str) or not target.parent.is_dir():
            return False
        if export_type == c["EXPORT_OTIO"]:
            target.write_text(json.dumps(self._otio(), indent=2), encoding="utf-8")
        else:
            kind = next(k for k, v in c.items() if v == export_type)
            snap = self._tl.snapshot()
            target.write_text(f"FAKE RESOLVE {kind}\n{json.dumps(snap, indent=1)}\n", encoding="utf-8")
        return True

    def _otio(self) -> dict:
        st = self._state()
        rate = float(self._tl.rate)

        def rt(value: float, r: float = rate) -> dict:
            return {"OTIO_SCHEMA": "RationalTime.1", "rate": r, "value": float(value)}

        tracks = []
        for kind in ("video", "audio"):
            for t in st["tracks"][kind]:  # type: ignore[index]
                children: list = []
                cursor = st["start_frame"]  # type: ignore[index]
                for i in sorted(t["items"], key=lambda x: x["start"]):
                    if i["start"] > cursor:
                        gap = {
                            "OTIO_SCHEMA": "TimeRange.1",
                            "start_time": rt(0),
                            "duration": rt(i["start"] - cursor),
                        }
                        children.append({"OTIO_SCHEMA": "Gap.1", "name": "", "source_range": gap})
                    media = self._pst["media"].get(i["media_id"]) if i["media_id"] else None
                    ref: dict = {"OTIO_SCHEMA": "MissingReference.1"}
                    src = {"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(0), "duration": rt(i["duration"])}
                    if media is not None:
                        mrate = float(Fraction(media["fps"]))
                        ref = {"OTIO_SCHEMA": "ExternalReference.1", "target_url": media["path"],
                               "available_range": {"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(0, mrate),
                                                   "duration": rt(media["frames"], mrate)}}  # fmt: skip
                        src = {"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(i["source_start"], mrate),
                               "duration": rt(i["source_end"] - i["source_start"], mrate)}  # fmt: skip
                    children.append({"OTIO_SCHEMA": "Clip.2", "name": i["name"], "source_range": src,
                                     "media_references": {"DEFAULT_MEDIA": ref},
                                     "active_media_reference_key": "DEFAULT_MEDIA",
                                     "metadata": {"Resolve_OTIO": {}}})  # fmt: skip
                    cursor = max(cursor, i["start"] + i["duration"])
                tracks.append(
                    {
                        "OTIO_SCHEMA": "Track.1",
                        "name": t["name"],
                        "kind": "Video" if kind == "video" else "Audio",
                        "children": children,
                    }
                )
        return {
            "OTIO_SCHEMA": "Timeline.1",
            "name": st["name"],  # type: ignore[index]
            "global_start_time": rt(st["start_frame"]),  # type: ignore[index]
            "metadata": {"Resolve_OTIO": {}},
            "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "", "children": tracks},
        }


# ------------------------------------------------------------------------------------------- TimelineItem
TRANSFORM_DEFAULTS: dict[str, Any] = {
    "Pan": 0.0, "Tilt": 0.0, "ZoomX": 1.0, "ZoomY": 1.0, "ZoomGang": True, "RotationAngle": 0.0,
    "AnchorPointX": 0.0, "AnchorPointY": 0.0, "Pitch": 0.0, "Yaw": 0.0, "FlipX": False, "FlipY": False,
    "CropLeft": 0.0, "CropRight": 0.0, "CropTop": 0.0, "CropBottom": 0.0, "CropSoftness": 0.0,
    "CropRetain": False, "Opacity": 100.0, "Distortion": 0.0, "CompositeMode": 0, "RetimeProcess": 0,
    "Scaling": 0, "ResizeFilter": 0,
}  # fmt: skip
_RANGES = {
    "ZoomX": (0.0, 100.0),
    "ZoomY": (0.0, 100.0),
    "RotationAngle": (-360.0, 360.0),
    "Pitch": (-1.5, 1.5),
    "Yaw": (-1.5, 1.5),
    "Opacity": (0.0, 100.0),
    "Distortion": (-1.0, 1.0),
    "CropSoftness": (-100.0, 100.0),
}


class TimelineItem(_Markers, _ClipColor, _ResolveObject):
    """An item on a timeline track, or (``_ghost``) a dropped AppendToTimeline placement that answers
    its getters as if placed (failure mode 1). No position / trim setters (failure mode 10)."""

    def __init__(self, world: Any, project: str | None, uid: str | None, *, timeline: str) -> None:
        super().__init__(world, project, uid)
        self._timeline = timeline
        self._ghost: dict | None = None

    def _find(self) -> tuple[dict, str, int] | None:
        if self._ghost is not None:
            return self._ghost["item"], self._ghost["kind"], self._ghost["track"]
        tl = self._ps.timeline_state(self._timeline)
        if tl is None:
            return None
        for kind, tracks in tl["tracks"].items():
            for n, t in enumerate(tracks, 1):
                for i in t["items"]:
                    if i["id"] == self._uid:
                        return i, kind, n
        return None

    def _stale(self) -> bool:
        return super()._stale() or self._find() is None

    @property
    def _item(self) -> dict:
        return self._find()[0]  # type: ignore[index]

    @property
    def _rate(self) -> Fraction:
        tl = self._ps.timeline_state(self._timeline)
        return fw.parse_rate(tl["rate"])  # type: ignore[index]

    def _marker_store(self) -> dict:
        return self._item["markers"]

    def _marker_limit(self) -> float | None:
        return float(self._item["duration"])

    def _color_owner(self) -> dict:
        return self._item

    @api()
    def GetName(self) -> str:
        return self._item["name"]

    @api(mutating=True)
    def SetName(self, name: str) -> bool:
        if not isinstance(name, str) or not name:
            return False
        self._item["name"] = name
        return True

    @api()
    def GetUniqueId(self) -> str:
        return self._uid  # type: ignore[return-value]

    @api()
    def GetDuration(self, subframe_precision: bool = False) -> Any:
        d = self._item["duration"]
        return float(d) if subframe_precision else d

    @api()
    def GetStart(self, subframe_precision: bool = False) -> Any:
        s = self._item["start"]
        return float(s) if subframe_precision else s

    @api()
    def GetEnd(self, subframe_precision: bool = False) -> Any:
        e = self._item["start"] + self._item["duration"]
        return float(e) if subframe_precision else e

    @api()
    def GetLeftOffset(self, subframe_precision: bool = False) -> Any:
        left = fw.offsets(self._ps, self._rate, self._item)[0]
        return float(left) if subframe_precision else left

    @api()
    def GetRightOffset(self, subframe_precision: bool = False) -> Any:
        right = fw.offsets(self._ps, self._rate, self._item)[1]
        return float(right) if subframe_precision else right

    @api()
    def GetSourceStartFrame(self) -> Any:
        return self._item["source_start"]

    @api()
    def GetSourceEndFrame(self) -> Any:
        return self._item["source_end"]

    @api()
    def GetSourceStartTime(self) -> float:
        item = self._item
        if item["media_id"] is None:
            return 0.0
        return float(Fraction(item["source_start"]) / self._ps.media_fps(item["media_id"]))

    @api()
    def GetSourceEndTime(self) -> float:
        item = self._item
        if item["media_id"] is None:
            return 0.0
        return float(Fraction(item["source_end"]) / self._ps.media_fps(item["media_id"]))

    @api()
    def GetMediaPoolItem(self) -> Any:
        mid = self._item["media_id"]
        return MediaPoolItem(self._w, self._project, mid) if mid else None

    @api()
    def GetTrackTypeAndIndex(self) -> list:
        _, kind, n = self._find()  # type: ignore[misc]
        return [kind, n]

    @api()
    def GetClipEnabled(self) -> bool:
        return self._item["enabled"]

    @api(mutating=True)
    def SetClipEnabled(self, enabled: bool) -> bool:
        self._item["enabled"] = bool(enabled)
        return True

    @api()
    def GetProperty(self, key: str | None = None) -> Any:
        props = {**TRANSFORM_DEFAULTS, **self._item["properties"]}
        if not key:
            return props
        return props.get(key)

    @api(mutating=True)
    def SetProperty(self, key: Any, value: Any = None) -> bool:
        pairs = key if isinstance(key, dict) else {key: value}
        if not pairs or any(k not in TRANSFORM_DEFAULTS for k in pairs):
            return False
        for k, v in pairs.items():
            default = TRANSFORM_DEFAULTS[k]
            if isinstance(default, bool):
                if not isinstance(v, bool):
                    return False
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                return False
            elif k in _RANGES:
                lo, hi = _RANGES[k]
                v = min(max(float(v), lo), hi)  # "Values beyond the range will be clipped"
            self._item["properties"][k] = v
        return True

    # ----- takes (failure mode 10)
    @api(mutating=True)
    def AddTake(self, clip: Any, start: Any = None, end: Any = None) -> bool:
        item = self._item
        if item["media_id"] is None or item["kind"] == "title":
            return False
        if not isinstance(clip, MediaPoolItem) or clip._stale() or clip._state() is None:
            return False
        media = clip._state()
        start = 0 if start is None else start
        end = media["frames"] if end is None else end  # exclusive
        if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
            return False
        if not 0 <= start < end <= media["frames"]:
            return False
        if not item["takes"]:
            item["takes"] = [{"media_id": item["media_id"], "startFrame": item["source_start"],
                              "endFrame": item["source_end"]}]  # fmt: skip
            item["selected_take"] = 1
        item["takes"].append({"media_id": clip._uid, "startFrame": _num(start), "endFrame": _num(end)})
        return True

    @api()
    def GetTakesCount(self) -> int:
        return len(self._item["takes"])

    @api()
    def GetSelectedTakeIndex(self) -> int:
        return self._item["selected_take"] if self._item["takes"] else 0

    @api()
    def GetTakeByIndex(self, idx: Any) -> Any:
        takes = self._item["takes"]
        if not isinstance(idx, int) or not 1 <= idx <= len(takes):
            return None
        take = takes[idx - 1]
        return {"startFrame": take["startFrame"], "endFrame": take["endFrame"],
                "mediaPoolItem": MediaPoolItem(self._w, self._project, take["media_id"])}  # fmt: skip

    @api(mutating=True)
    def SelectTakeByIndex(self, idx: Any) -> bool:
        item = self._item
        takes = item["takes"]
        if not isinstance(idx, int) or not 1 <= idx <= len(takes):
            return False
        take = takes[idx - 1]
        media = self._pst["media"][take["media_id"]]
        item["selected_take"] = idx
        item["media_id"] = take["media_id"]
        item["name"] = media["name"]
        # the item keeps its place and length; it shows the take from the take's start
        shown = Fraction(item["duration"]) * Fraction(media["fps"]) / self._rate
        item["source_start"] = take["startFrame"]
        item["source_end"] = _num(min(Fraction(take["startFrame"]) + shown, Fraction(take["endFrame"])))
        if isinstance(item["source_end"], Fraction):
            item["source_end"] = float(item["source_end"])
        return True

    @api(mutating=True)
    def DeleteTakeByIndex(self, idx: Any) -> bool:
        item = self._item
        takes = item["takes"]
        if not isinstance(idx, int) or not 1 <= idx <= len(takes) or idx == item["selected_take"]:
            return False
        del takes[idx - 1]
        if idx < item["selected_take"]:
            item["selected_take"] -= 1
        return True

    @api(mutating=True)
    def FinalizeTake(self) -> bool:
        item = self._item
        if not item["takes"]:
            return False
        item["takes"] = []
        item["selected_take"] = 0
        return True
