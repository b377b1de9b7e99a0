"""The state behind the fake ``DaVinciResolveScript`` module, and the builder API tests use to set it up.

Standard library only (PyAV is imported lazily, only to probe a media file whose fps / frame count the
builder or ``ImportMedia`` was not told).

A ``World`` is one running Resolve: its edition and version, its projects (media pool folders and items,
timelines, tracks, items, markers, takes), the current project and the list of every API call made.
Everything is plain JSON-serialisable data (``World.save`` / ``World.load``); the Resolve objects a
script receives live in ``DaVinciResolveScript.py`` and read and write this state.

How a script finds the world (``DaVinciResolveScript.scriptapp``): an in-process world installed with
``install(world)``, else the JSON file named by ``$FAKE_RESOLVE_STATE`` (then every mutating API call
writes the whole state back to that file atomically, and the call log is flushed at exit), else
``None`` (Resolve is not running). The free edition answers ``None`` too: external scripting is
Studio-only.

Known failure modes of real Resolve that the fake reproduces, and where
----------------------------------------------------------------------
1. ``AppendToTimeline`` drops a clipInfo silently when it overlaps an item on its track, targets a
   locked track or a track that does not exist (or has an empty / out-of-media source range), yet still
   returns a TimelineItem for it: a detached "ghost" whose getters answer as if it were placed but which
   never shows in ``GetItemListInTrack``.  -> ``DaVinciResolveScript.MediaPool._append_one`` /
   ``_place_or_ghost``.
2. ``endFrame`` is exclusive: startFrame=s, endFrame=e places e-s media frames (AppendToTimeline and
   AddTake).  -> ``MediaPool._append_one``, ``TimelineItem.AddTake``.
3. Track and take indices are 1-based: trackIndex 0 drops the clip (ghost), ``GetItemListInTrack(t, 0)``
   is None, ``GetTakeByIndex(0)`` is None, ``SelectTakeByIndex(0)`` / ``DeleteTakeByIndex(0)`` are
   False.  -> ``_track()`` helpers in DaVinciResolveScript, ``TimelineItem`` take methods.
4. ``recordFrame`` is ABSOLUTE: recordFrame=0 on a timeline starting at 86400 puts the item at frame 0,
   before the timeline start. A clipInfo without recordFrame goes after the last item of its track
   (or at the timeline start on an empty track).  -> ``MediaPool._append_one``.
5. ``AppendToTimeline`` always targets the project's CURRENT timeline, whatever Timeline object the
   script holds.  -> ``MediaPool.AppendToTimeline`` (reads ``project["current_timeline"]``).
6. ``Timeline.GetSelectedClips`` exists only from 21.0.4: on older versions it is missing from
   ``dir(timeline)`` and calling it returns None like any unknown name.  -> ``Timeline.__dir__`` /
   ``Timeline.GetSelectedClips``, ``World.has_selected_clips_api``.
7. ``hasattr`` misreports: every Resolve object answers any attribute name with a callable that
   returns None; only ``dir(obj)`` lists the real methods.  -> ``_ResolveObject.__getattr__`` /
   ``__dir__``.
8. Handles go stale after a project switch (``ProjectManager.LoadProject`` / ``CreateProject`` of
   another project, or ``World.switch_project``): every method of every object obtained from the old
   project returns None, for good (switching back does not revive them).  -> ``World.epoch`` (bumped
   on each switch) checked by ``_ResolveObject._stale``.
9. ``ImportMedia`` imports into the media pool's CURRENT folder only, returns [] for a path that does
   not exist (or is not media), and returns nothing for a file that is already in the media pool
   (the existing item must be found by its "File Path").  -> ``MediaPool.ImportMedia``,
   ``ProjectState._import_path``.
10. TimelineItem has no position / trim setters (``SetStart`` etc. are unknown names -> None, nothing
    changes); ``AddTake`` keeps the original as take 1 (count 2 after the first AddTake, selection
    stays 1 until ``SelectTakeByIndex(2)``), endFrame exclusive, False on an item without a media pool
    item (titles).  -> ``TimelineItem.AddTake`` and the take methods.
11. Mixed rates: an item whose media fps differs from the timeline rate lasts
    round(source frames × timeline rate / media fps) timeline frames (half rounds up).
    -> ``timeline_frames()`` below.

Other strict choices (not more lenient than Resolve where unsure):
- ``AddMarker`` (timeline) refuses a frame already marked, an unknown color, duration < 1, a negative
  frame or a frame at / past the timeline's end (an empty timeline takes no markers).
- ``SetClipColor`` / ``SetMetadata`` refuse unknown colors / fields and change nothing;
  ``SetMetadata(dict)`` is all-or-nothing.
- ``MediaPool.AddSubFolder`` with a name that already exists in that folder creates a folder with a
  suffixed name ("Name 2", "Name 3", ...): never two bins with one name, and never the name you asked.
- ``CreateEmptyTimeline`` returns None for a name already used, else the new timeline, which becomes
  current. ``AppendToTimeline`` with no current timeline returns [].
- A clipInfo for a "Video + Audio" item without mediaType places (and returns) two items, video on
  video track ``trackIndex`` and audio on audio track ``trackIndex``; the clip is dropped (ghosts)
  unless both fit.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

# One module instance, whatever name it was imported under (``fake_world`` from the Modules folder on
# sys.path, or a package path): DaVinciResolveScript looks the world up in sys.modules["fake_world"].
sys.modules.setdefault("fake_world", sys.modules[__name__])

PRODUCT_STUDIO = "DaVinci Resolve Studio"
PRODUCT_FREE = "DaVinci Resolve"

MARKER_COLORS = (
    "Blue", "Cyan", "Green", "Yellow", "Red", "Pink", "Purple", "Fuchsia",
    "Rose", "Lavender", "Sky", "Mint", "Lemon", "Sand", "Cocoa", "Cream",
)  # fmt: skip
CLIP_COLORS = (
    "Orange", "Apricot", "Yellow", "Lime", "Olive", "Green", "Teal", "Navy",
    "Blue", "Purple", "Violet", "Pink", "Tan", "Beige", "Brown", "Chocolate",
)  # fmt: skip
METADATA_FIELDS = frozenset(
    {
        "Description", "Comments", "Keywords", "People", "Shot", "Scene", "Take", "Angle", "Move",
        "Day / Night", "Environment", "Location", "Good Take", "Camera #", "Roll Card #", "Reel Number",
        "Clip Name", "Sound Roll #", "Audio Notes", "Production Name", "Director", "Producer",
        "Director of Photography", "Camera Operator", "Camera Assistant", "Script Supervisor",
        "Sound Mixer", "Camera Type", "Camera Manufacturer", "Camera Serial #", "Camera ID",
        "Camera Notes", "Lens Type", "Lens Number", "Lens Notes", "Camera FPS", "Shutter Speed",
        "Shutter", "ISO", "White Point (Kelvin)", "White Balance Tint", "Focal Point (mm)", "Distance",
        "Filter", "Date Recorded", "Shoot", "Unit Name", "Program Name", "Episode #", "Episode Name",
        "Synopsis", "Genre", "Title", "Rating", "Slate TC", "Flags", "Clip Color", "Production Company",
        "Editor", "Colorist", "Daylight", "Tone", "Keyword", "Notes",
    }
)  # fmt: skip
MEDIA_KINDS = ("Video", "Video + Audio", "Audio", "Still", "Compound", "Timeline", "Generator")
NO_FILE_KINDS = ("Compound", "Timeline", "Generator")
TIMELINE_RATES = ("23.976", "24", "25", "29.97", "30", "47.952", "48", "50", "59.94", "60", "119.88", "120")
TRACK_TYPES = ("video", "audio", "subtitle")

NTSC = {
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "47.952": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}
_NTSC_NAMES = {v: k for k, v in NTSC.items()}

_INSTALLED: list[World] = []


# --------------------------------------------------------------------------------------------- helpers
def parse_rate(rate: Any) -> Fraction:
    """An exact rate from "23.976" / "29.97 DF" / "24" / 24 / 23.976 / Fraction(24000, 1001)."""
    if isinstance(rate, Fraction):
        return rate
    if isinstance(rate, str):
        text = rate.replace("DF", "").replace("NDF", "").strip()
        if text in NTSC:
            return NTSC[text]
        value = Fraction(text)
    else:
        value = Fraction(rate).limit_denominator(1_000_000)
    if value.denominator != 1:
        n = round(value * 1001 / 1000)
        if abs(value - Fraction(n * 1000, 1001)) < Fraction(1, 1000):
            return Fraction(n * 1000, 1001)
    return value


def rate_string(rate: Fraction) -> str:
    """How Resolve writes a rate: "23.976", "29.97", "24", "12.5"."""
    if rate in _NTSC_NAMES:
        return _NTSC_NAMES[rate]
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def timebase(rate: Fraction) -> int:
    """The (rounded, non-drop) timecode base of a rate: 24 for 23.976, 30 for 29.97."""
    return int(round_half_up(rate))


def round_half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)) // 1)


def tc_to_frames(tc: str, base: int) -> int:
    hh, mm, ss, ff = (int(p) for p in tc.replace(";", ":").split(":"))
    return ((hh * 60 + mm) * 60 + ss) * base + ff


def frames_to_tc(frames: int, base: int, drop: bool = False) -> str:
    ff = frames % base
    total = frames // base
    sep = ";" if drop else ":"
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}{sep}{ff:02d}"


def timeline_frames(media_frames: Any, media_fps: Fraction, timeline_rate: Fraction) -> int:
    """Failure mode 11: media frames shown on a timeline of another rate last this many timeline frames
    (Resolve rounds to a whole frame)."""
    return round_half_up(Fraction(media_frames) * timeline_rate / media_fps)


def probe_media(path: str) -> dict[str, Any]:
    """fps, frame count, kind and resolution of a media file, read with PyAV (imported lazily).
    Raises ValueError when the file is not media."""
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a project dependency
        raise ValueError(f"cannot probe {path}: PyAV is not installed") from exc
    try:
        with av.open(path) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            if video is None and audio is None:
                raise ValueError(f"{path} has no audio or video stream")
            if video is not None:
                rate = video.average_rate or video.guessed_rate or 24
                fps = parse_rate(Fraction(rate))
                frames = int(video.frames or 0)
                if not frames and video.duration and video.time_base:
                    frames = round_half_up(Fraction(video.duration * video.time_base) * fps)
                if not frames and container.duration:
                    frames = round_half_up(Fraction(container.duration, 1_000_000) * fps)
                still = frames <= 1 and Path(path).suffix.lower() in (
                    ".png",
                    ".jpg",
                    ".jpeg",
                    ".tif",
                    ".tiff",
                )
                kind = "Still" if still else ("Video + Audio" if audio is not None else "Video")
                return {
                    "fps": fps,
                    "frames": max(frames, 1),
                    "kind": kind,
                    "width": video.codec_context.width,
                    "height": video.codec_context.height,
                }
            assert audio is not None
            seconds = Fraction(container.duration or 0, 1_000_000)
            return {"fps": Fraction(24), "frames": round_half_up(seconds * 24), "kind": "Audio"}
    except (OSError, av.error.FFmpegError, IndexError, ZeroDivisionError) as exc:  # type: ignore[attr-defined]
        raise ValueError(f"{path} is not media Resolve can import: {exc}") from exc


def install(world: World | None) -> World | None:
    """Make ``world`` the in-process Resolve that ``scriptapp`` returns (None uninstalls)."""
    registry = sys.modules["fake_world"]
    registry._INSTALLED.clear()  # type: ignore[attr-defined]
    if world is not None:
        registry._INSTALLED.append(world)  # type: ignore[attr-defined]
    return world


def uninstall() -> None:
    install(None)


def installed() -> World | None:
    registry = sys.modules["fake_world"]
    return registry._INSTALLED[0] if registry._INSTALLED else None  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------- World
class World:
    """One running Resolve. ``version`` is (major, minor, patch, build, suffix)."""

    def __init__(self, *, version: tuple = (21, 0, 4, 7, ""), product: str = PRODUCT_STUDIO) -> None:
        self.state: dict[str, Any] = {
            "version": list(version),
            "product": product,
            "page": "edit",
            "projects": {},
            "current_project": None,
            "epoch": 0,
            "next_id": 1,
            "calls": [],
        }
        self._path: str | None = None  # set when loaded from $FAKE_RESOLVE_STATE: autosave target

    # ----- identity, persistence
    def new_id(self) -> str:
        n = self.state["next_id"]
        self.state["next_id"] = n + 1
        return f"{n:08x}-f4ce-4000-8000-{n:012x}"

    def save(self, path: str | os.PathLike) -> None:
        """Write the whole state to ``path`` atomically (temp file + os.replace)."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.state, fh, indent=1, sort_keys=True)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> World:
        world = cls.__new__(cls)
        world.state = json.loads(Path(path).read_text(encoding="utf-8"))
        world._path = None
        return world

    def autosave(self) -> None:
        if self._path is not None:
            self.save(self._path)

    # ----- edition
    @property
    def version(self) -> tuple:
        return tuple(self.state["version"])

    @property
    def product(self) -> str:
        return self.state["product"]

    @property
    def is_studio(self) -> bool:
        return self.product == PRODUCT_STUDIO

    def has_selected_clips_api(self) -> bool:
        """Failure mode 6: Timeline.GetSelectedClips exists from 21.0.4."""
        return tuple(int(v) for v in self.state["version"][:3]) >= (21, 0, 4)

    # ----- projects
    @property
    def epoch(self) -> int:
        return self.state["epoch"]

    def add_project(self, name: str) -> ProjectState:
        if name in self.state["projects"]:
            raise ValueError(f"project {name!r} exists")
        root = self.new_id()
        self.state["projects"][name] = {
            "name": name,
            "id": self.new_id(),
            "settings": {"timelineFrameRate": "24", "timelineResolutionWidth": "1920",
                         "timelineResolutionHeight": "1080", "timelinePlaybackFrameRate": "24"},
            "folders": {root: {"id": root, "name": "Master", "parent": None, "clips": [], "subfolders": []}},
            "root_folder": root,
            "current_folder": root,
            "media": {},
            "timelines": [],
            "current_timeline": None,
            "media_pool_id": self.new_id(),
        }  # fmt: skip
        if self.state["current_project"] is None:
            self.state["current_project"] = name
        return ProjectState(self, name)

    def switch_project(self, name: str) -> None:
        """Like the user opening another project: every handle from before goes stale (mode 8)."""
        if name not in self.state["projects"]:
            raise KeyError(name)
        self.state["current_project"] = name
        self.state["epoch"] += 1

    @property
    def current_project(self) -> ProjectState:
        name = self.state["current_project"]
        if name is None:
            raise LookupError("no project")
        return ProjectState(self, name)

    def project(self, name: str) -> ProjectState:
        if name not in self.state["projects"]:
            raise KeyError(name)
        return ProjectState(self, name)

    # ----- call log
    @property
    def calls(self) -> list[tuple]:
        """(ClassName, method, args) of every API call made, args described as plain data (a Resolve
        object as "<Class id>")."""
        return [(c[0], c[1], tuple(c[2])) for c in self.state["calls"]]

    def record(self, cls: str, method: str, args: tuple) -> None:
        self.state["calls"].append([cls, method, [describe(a) for a in args]])

    def calls_to(self, method: str) -> list[tuple]:
        return [c for c in self.calls if c[1] == method]


def describe(value: Any) -> Any:
    """A JSON-safe description of an API argument."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    uid = getattr(value, "_uid", None)
    return f"<{type(value).__name__} {uid}>" if uid else repr(value)


# ----------------------------------------------------------------------------------------- ProjectState
class ProjectState:
    """Builder view of one project (reads and writes ``world.state["projects"][name]``)."""

    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.name = name

    @property
    def state(self) -> dict[str, Any]:
        return self.world.state["projects"][self.name]

    # ----- folders
    def _folder_by_name(self, name: str | None, create: bool = True) -> str:
        st = self.state
        root = st["root_folder"]
        if name is None or name == "Master":
            return root
        for fid, f in st["folders"].items():
            if f["name"] == name:
                return fid
        if not create:
            raise KeyError(name)
        return self.new_folder(root, name)

    def new_folder(self, parent: str, name: str) -> str:
        fid = self.world.new_id()
        self.state["folders"][fid] = {
            "id": fid,
            "name": name,
            "parent": parent,
            "clips": [],
            "subfolders": [],
        }
        self.state["folders"][parent]["subfolders"].append(fid)
        return fid

    def folders(self) -> dict[str, list[str]]:
        """{folder name: [media ids]} for every folder (the root is "Master")."""
        return {f["name"]: list(f["clips"]) for f in self.state["folders"].values()}

    # ----- media
    def add_media(
        self,
        path: str | os.PathLike,
        *,
        fps: Any = None,
        frames: int | None = None,
        start_tc: str = "00:00:00:00",
        folder: str | None = None,
        kind: str | None = None,
        width: int = 1920,
        height: int = 1080,
    ) -> str:
        """A media pool item for ``path`` in ``folder`` (None: Master). Unknown fps/frames are probed
        with PyAV. Compound/Timeline/Generator items have an empty "File Path". ``kind`` None: the probed
        kind when probing, else "Video". Returns its id."""
        if kind is not None and kind not in MEDIA_KINDS:
            raise ValueError(f"kind must be one of {MEDIA_KINDS}")
        if fps is None or frames is None:
            info = probe_media(str(path))
            fps = info["fps"] if fps is None else fps
            frames = info["frames"] if frames is None else frames
            width, height = info.get("width", width), info.get("height", height)
            kind = kind or info["kind"]
        kind = kind or "Video"
        return self._new_media(
            path="" if kind in NO_FILE_KINDS else str(path),
            name=Path(str(path)).name,
            fps=parse_rate(fps),
            frames=int(frames),
            start_tc=start_tc,
            folder_id=self._folder_by_name(folder),
            kind=kind,
            width=width,
            height=height,
        )

    def _new_media(self, *, path: str, name: str, fps: Fraction, frames: int, start_tc: str,
                   folder_id: str, kind: str, width: int = 1920, height: int = 1080) -> str:  # fmt: skip
        mid = self.world.new_id()
        self.state["media"][mid] = {
            "id": mid,
            "media_id": self.world.new_id(),
            "name": name,
            "path": path,
            "fps": str(fps),
            "frames": frames,
            "start_tc": start_tc,
            "kind": kind,
            "width": width,
            "height": height,
            "folder": folder_id,
            "metadata": {},
            "third_party": {},
            "clip_color": "",
            "markers": {},
            "marks": {},
            "props": {},
        }
        self.state["folders"][folder_id]["clips"].append(mid)
        return mid

    def _import_path(self, path: str, folder_id: str) -> str | None:
        """ImportMedia of one file (mode 9): None when missing, not media, or already in the pool."""
        p = Path(path)
        if not p.is_file():
            return None
        if any(m["path"] == str(p) for m in self.state["media"].values()):
            return None
        try:
            info = probe_media(str(p))
        except ValueError:
            return None
        return self._new_media(path=str(p), name=p.name, fps=info["fps"], frames=info["frames"],
                               start_tc="00:00:00:00", folder_id=folder_id, kind=info["kind"],
                               width=info.get("width", 1920), height=info.get("height", 1080))  # fmt: skip

    def media_fps(self, media_id: str) -> Fraction:
        return Fraction(self.state["media"][media_id]["fps"])

    def clip_properties(self, media_id: str) -> dict[str, str]:
        """GetClipProperty() of a media pool item: every value a string, as in Resolve."""
        m = self.state["media"][media_id]
        fps = Fraction(m["fps"])
        base = timebase(fps)
        start = tc_to_frames(m["start_tc"], base)
        video = m["kind"] in ("Video", "Video + Audio", "Still", "Compound", "Timeline")
        props = {
            "Clip Name": m["name"],
            "File Name": Path(m["path"]).name if m["path"] else "",
            "File Path": m["path"],
            "FPS": rate_string(fps),
            "Frames": str(m["frames"]),
            "Start TC": m["start_tc"],
            "End TC": frames_to_tc(start + m["frames"], base),
            "Duration": frames_to_tc(m["frames"], base),
            "Start": "0",
            "End": str(m["frames"] - 1),
            "Type": m["kind"],
            "Resolution": f"{m['width']}x{m['height']}" if video else "",
            "Format": Path(m["path"]).suffix.lstrip(".").upper() if m["path"] else "",
            "Audio Ch": "2" if m["kind"] in ("Video + Audio", "Audio") else "0",
            "Clip Color": m["clip_color"],
            "Comments": m["metadata"].get("Comments", ""),
            "Description": m["metadata"].get("Description", ""),
            "Keywords": m["metadata"].get("Keywords", ""),
            "In": "",
            "Out": "",
        }
        props.update(m["props"])
        return props

    def media(self, media_id: str) -> dict[str, Any]:
        """Everything about one media pool item, for asserts."""
        m = self.state["media"][media_id]
        return {
            "id": media_id,
            "name": m["name"],
            "properties": self.clip_properties(media_id),
            "metadata": dict(m["metadata"]),
            "third_party_metadata": dict(m["third_party"]),
            "clip_color": m["clip_color"],
            "folder": self.state["folders"][m["folder"]]["name"],
            "markers": copy.deepcopy(m["markers"]),
            "kind": m["kind"],
        }

    # ----- timelines
    def add_timeline(
        self,
        name: str,
        *,
        rate: str = "24",
        start_timecode: str = "01:00:00:00",
        video_tracks: int = 1,
        audio_tracks: int = 1,
    ) -> TimelineState:
        """A timeline (the first added becomes current). ``rate`` as Resolve writes it, " DF" allowed."""
        if any(t["name"] == name for t in self.state["timelines"]):
            raise ValueError(f"timeline {name!r} exists")
        tid = self._new_timeline(name, rate, start_timecode, video_tracks, audio_tracks)
        if self.state["current_timeline"] is None:
            self.state["current_timeline"] = tid
        return TimelineState(self, tid)

    def _new_timeline(self, name: str, rate: str, start_timecode: str, video: int, audio: int) -> str:
        exact = parse_rate(rate)
        drop = "DF" in rate and "NDF" not in rate
        tid = self.world.new_id()
        # the timeline's own media pool item, in the current folder as Resolve does
        mid = self._new_media(path="", name=name, fps=exact, frames=0, start_tc=start_timecode,
                              folder_id=self.state["current_folder"], kind="Timeline")  # fmt: skip
        self.state["timelines"].append(
            {
                "id": tid,
                "name": name,
                "rate": rate.strip(),
                "drop": drop,
                "start_timecode": start_timecode,
                "start_frame": tc_to_frames(start_timecode, timebase(exact)),
                "tracks": {
                    "video": [self._new_track("Video", i + 1) for i in range(video)],
                    "audio": [self._new_track("Audio", i + 1) for i in range(audio)],
                    "subtitle": [],
                },
                "markers": {},
                "marks": {},
                "selection": [],
                "current_item": None,
                "media_id": mid,
                "settings": {},
            }
        )
        return tid

    @staticmethod
    def _new_track(prefix: str, n: int) -> dict[str, Any]:
        return {"name": f"{prefix} {n}", "locked": False, "enabled": True, "subtype": "", "items": []}

    def timeline_state(self, tid: str) -> dict[str, Any] | None:
        return next((t for t in self.state["timelines"] if t["id"] == tid), None)

    def timeline(self, name: str) -> TimelineState:
        for t in self.state["timelines"]:
            if t["name"] == name:
                return TimelineState(self, t["id"])
        raise KeyError(name)

    @property
    def timelines(self) -> list[TimelineState]:
        return [TimelineState(self, t["id"]) for t in self.state["timelines"]]

    @property
    def current_timeline(self) -> TimelineState | None:
        tid = self.state["current_timeline"]
        return TimelineState(self, tid) if tid else None

    def set_current_timeline(self, name: str) -> None:
        self.state["current_timeline"] = self.timeline(name).id

    def set_current_folder(self, name: str | None) -> None:
        self.state["current_folder"] = self._folder_by_name(name, create=False)


# ---------------------------------------------------------------------------------------- TimelineState
class TimelineState:
    """Builder view of one timeline."""

    def __init__(self, project: ProjectState, tid: str) -> None:
        self.project = project
        self.id = tid

    @property
    def state(self) -> dict[str, Any]:
        t = self.project.timeline_state(self.id)
        if t is None:
            raise LookupError(f"timeline {self.id} is gone")
        return t

    @property
    def name(self) -> str:
        return self.state["name"]

    @property
    def start_frame(self) -> int:
        return self.state["start_frame"]

    @property
    def rate(self) -> Fraction:
        return parse_rate(self.state["rate"])

    def _track(self, track: int, kind: str = "video") -> dict[str, Any]:
        tracks = self.state["tracks"][kind]
        if not 1 <= track <= len(tracks):
            raise ValueError(f"no {kind} track {track}")
        return tracks[track - 1]

    def _insert(self, track: int, item: dict[str, Any], kind: str = "video") -> str:
        t = self._track(track, kind)
        if item["duration"] < 1:
            raise ValueError("an item lasts at least one frame")
        if overlapping(t, item["start"], item["duration"]):
            raise ValueError(f"overlaps an item on {kind} track {track}")
        t["items"].append(item)
        t["items"].sort(key=lambda i: i["start"])
        return item["id"]

    def place(self, media_id: str, *, track: int, record: int, source_start: int, source_end: int,
              kind: str = "video") -> str:  # fmt: skip
        """Builder: media frames [source_start, source_end) of ``media_id`` on track ``track`` at the
        ABSOLUTE frame ``record``. The timeline duration must be whole; raises if it overlaps."""
        media = self.project.state["media"][media_id]
        fps = Fraction(media["fps"])
        exact = Fraction(source_end - source_start) * self.rate / fps
        if exact.denominator != 1:
            raise ValueError(f"{source_end - source_start} frames at {fps} fps is {exact} timeline frames")
        if not 0 <= source_start < source_end <= media["frames"]:
            raise ValueError("source range outside the media")
        item = new_item(self.project.world.new_id(), media["name"], media_id, record, int(exact),
                        source_start, source_end, "clip")  # fmt: skip
        return self._insert(track, item, kind)

    def add_title(self, *, track: int, record: int, duration: int, name: str = "Text+") -> str:
        """An item with no media pool item (GetMediaPoolItem() is None)."""
        item = new_item(self.project.world.new_id(), name, None, record, duration, 0, duration, "title")
        return self._insert(track, item)

    def add_compound(self, *, track: int, record: int, duration: int, name: str = "Compound Clip 1") -> str:
        """An item whose media pool item is of Type "Compound" with an empty File Path."""
        root = self.project.state["root_folder"]
        mid = self.project._new_media(path="", name=name, fps=self.rate, frames=duration,
                                      start_tc="01:00:00:00", folder_id=root, kind="Compound")  # fmt: skip
        item = new_item(self.project.world.new_id(), name, mid, record, duration, 0, duration, "compound")
        return self._insert(track, item)

    def select(self, item_ids: list[str]) -> None:
        self.state["selection"] = list(item_ids)

    def set_current(self, item_id: str | None) -> None:
        self.state["current_item"] = item_id

    def set_marks(self, mark_in: int, mark_out: int) -> None:
        """Timeline in/out marks, offsets from the timeline start, out inclusive."""
        marks = {"in": int(mark_in), "out": int(mark_out)}
        self.state["marks"] = {"video": dict(marks), "audio": dict(marks)}

    def lock_track(self, track: int, locked: bool = True, kind: str = "video") -> None:
        self._track(track, kind)["locked"] = bool(locked)

    def enable_track(self, track: int, enabled: bool = True, kind: str = "video") -> None:
        self._track(track, kind)["enabled"] = bool(enabled)

    def item_snapshot(self, item: dict[str, Any], kind: str, track: int) -> dict[str, Any]:
        out = copy.deepcopy(item)
        out["end"] = item["start"] + item["duration"]
        out["track"] = [kind, track]
        out["left_offset"], out["right_offset"] = offsets(self.project, self.rate, item)
        return out

    def items(self, track: int, kind: str = "video") -> list[dict[str, Any]]:
        """A plain snapshot of each item on a (video) track, in time order."""
        return [self.item_snapshot(i, kind, track) for i in self._track(track, kind)["items"]]

    def item(self, item_id: str) -> dict[str, Any]:
        for kind, tracks in self.state["tracks"].items():
            for n, t in enumerate(tracks, 1):
                for i in t["items"]:
                    if i["id"] == item_id:
                        return self.item_snapshot(i, kind, n)
        raise KeyError(item_id)

    def snapshot(self) -> dict[str, Any]:
        """Everything about the timeline, for before/after equality asserts."""
        st = self.state
        return {
            "name": st["name"],
            "rate": st["rate"],
            "start_frame": st["start_frame"],
            "start_timecode": st["start_timecode"],
            "markers": copy.deepcopy(st["markers"]),
            "marks": copy.deepcopy(st["marks"]),
            "settings": copy.deepcopy(st["settings"]),
            "tracks": {
                kind: [
                    {
                        "name": t["name"],
                        "locked": t["locked"],
                        "enabled": t["enabled"],
                        "items": [self.item_snapshot(i, kind, n) for i in t["items"]],
                    }
                    for n, t in enumerate(tracks, 1)
                ]
                for kind, tracks in st["tracks"].items()
            },
        }


def new_item(iid: str, name: str, media_id: str | None, start: int, duration: int, source_start: Any,
             source_end: Any, kind: str) -> dict[str, Any]:  # fmt: skip
    return {
        "id": iid,
        "name": name,
        "media_id": media_id,
        "kind": kind,  # "clip", "title", "compound"
        "start": int(start),
        "duration": int(duration),
        "source_start": source_start,
        "source_end": source_end,
        "clip_color": "",
        "markers": {},
        "properties": {},
        "takes": [],
        "selected_take": 0,
        "enabled": True,
    }


def overlapping(track: dict[str, Any], start: int, duration: int) -> bool:
    end = start + duration
    return any(i["start"] < end and start < i["start"] + i["duration"] for i in track["items"])


def offsets(project: ProjectState, rate: Fraction, item: dict[str, Any]) -> tuple[int, int]:
    """GetLeftOffset / GetRightOffset: media available before the in point / after the out point, in
    timeline frames."""
    mid = item["media_id"]
    if mid is None or item["kind"] == "title":
        return 0, 0
    media = project.state["media"][mid]
    fps = Fraction(media["fps"])
    left = timeline_frames(item["source_start"], fps, rate)
    right = timeline_frames(max(0, media["frames"] - item["source_end"]), fps, rate)
    return left, right
