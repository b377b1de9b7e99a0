"""The helpers model-written ``<execute>`` code calls on the twin, and their reference for the prompt.

This module runs inside the sandbox worker from its source text, so it imports the standard library
only (no ``river_core``, no third-party packages, no file or OS access). :func:`build_namespace`
takes the plain data of :func:`river_core.reasoning.twin_data.twin_data` and returns the names model
code sees: ``twin`` (a private deep copy of the data) and one function per name in :data:`HELPERS`,
bound to their own copy, so model code that edits ``twin`` cannot change what the helpers answer.

Conventions every helper follows (repeated in :func:`api_reference`):

- objects are named by their integer track id, frames by their source frame index;
- ``x``/``y``/``size``/``bbox`` are normalized to [0, 1] with the origin top-left, ``depth`` is
  relative (0 = nearest to the camera, 1 = farthest); distances and speeds are in *pixels* of the
  source video (pixels per second for speeds, using the exact frame rate);
- helpers return plain data only (int, float, str, bool, None, lists, dicts) and ``None`` when there
  is no answer (objects never visible together, no object of a category);
- an unknown id or frame raises a ``LookupError`` subclass whose message lists what exists; an
  argument of the wrong type raises ``TypeError``.

>>> ns = build_namespace(twin_data(doc))                          # doctest: +SKIP
>>> ns["left_of"](1, 2), ns["last_to_touch"](3)                   # doctest: +SKIP
(True, 1)
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction
from typing import Any, Final

# The single source of truth for what model code may call: build_namespace exposes exactly these
# methods of _Twin, and api_reference documents exactly these.
HELPERS: Final = (
    # lookup / semantic
    "objects",
    "object_info",
    "find",
    "categories",
    "frames",
    "objects_in",
    "state",
    "track",
    # spatial
    "left_of",
    "right_of",
    "above",
    "below",
    "closer_than",
    "farther_than",
    "overlaps",
    "distance",
    "nearest_to",
    "largest",
    "smallest",
    "closest_to_camera",
    "farthest_from_camera",
    "leftmost",
    "rightmost",
    "topmost",
    "bottommost",
    # temporal
    "first_frame",
    "last_frame",
    "appearance_order",
    "speed",
    "moving_frames",
    "is_moving",
    "fastest",
    "displacement",
    "touch_frames",
    "first_to_touch",
    "last_to_touch",
    "seconds",
    "seconds_float",
    "frame_at",
)

# Default motion threshold: 5% of the frame diagonal per second (about 3.7 px/frame at 1080p30),
# above the centroid jitter of tracked masks, well below anything a viewer calls moving.
MOVING_DIAGONAL_FRACTION: Final = 0.05
_EPS: Final = 1e-6  # pixels: normalized boxes times width are integers up to float rounding
_MAX_LISTED_IDS: Final = 30
_STOPWORDS: Final = frozenset({"a", "an", "the", "of", "with", "and", "in", "on", "is", "its"})
_IRREGULAR: Final = {
    "people": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "geese": "goose",
    "feet": "foot",
    "teeth": "tooth",
    "knives": "knife",
    "leaves": "leaf",
    "wolves": "wolf",
    "shelves": "shelf",
    "calves": "calf",
    "halves": "half",
    "sheep": "sheep",
    "fish": "fish",
    "deer": "deer",
}


class TwinLookupError(LookupError):
    """Something the model asked for is not in the twin; the message says what is."""


class UnknownObjectError(TwinLookupError):
    """No object has this id."""


class UnknownFrameError(TwinLookupError):
    """The twin does not list this frame."""


def build_namespace(data: dict[str, Any]) -> dict[str, Any]:
    """The names model-written code sees: ``twin`` (a deep copy of ``data``) and the helper functions.

    Every call copies ``data`` twice (one copy for ``twin``, one for the helpers), so namespaces never
    share state. Raises ``TypeError``/``ValueError`` if ``data`` is not the plain twin data.
    """
    return namespace_from_copies(_plain_copy(data, "twin"), _plain_copy(data, "twin"))


def namespace_from_copies(twin: Any, helper_data: Any) -> dict[str, Any]:
    """:func:`build_namespace` over two unshared copies of the plain data that the caller made.

    The sandbox worker parses the data's JSON twice, several times faster than copying it: ``twin``
    becomes the model's ``twin``, ``helper_data`` the helpers' own copy.
    """
    helpers = _Twin(helper_data)
    namespace: dict[str, Any] = {"twin": twin}
    for name in HELPERS:
        namespace[name] = getattr(helpers, name)
    return namespace


def api_reference() -> str:
    """The helper reference for the LLM prompt: conventions, then each helper's signature and summary.

    Built from :data:`HELPERS`, the signatures and the first paragraph of each docstring, so it cannot
    drift from the code. Host side only (it imports ``inspect``).
    """
    import inspect  # the worker never calls this; keep its imports minimal

    lines = [
        "Twin helpers (already defined; `twin` holds the plain data: twin['video'], twin['frames']).",
        "Objects are int track ids, frames are source frame indices. x, y, size, bbox are normalized "
        "to [0, 1], origin top-left; depth is relative, 0 = nearest the camera, 1 = farthest. Distances "
        "are in pixels, speeds in pixels per second. None means no answer. Unknown ids/frames raise "
        "LookupError (the message lists valid ones); wrong argument types raise TypeError.",
        "",
    ]
    for name in HELPERS:
        method = getattr(_Twin, name)
        signature = inspect.signature(method)
        params = []
        for param in list(signature.parameters.values())[1:]:  # drop self
            text = f"{param.name}: {param.annotation}"
            if param.default is not inspect.Parameter.empty:
                text += f" = {param.default!r}"
            params.append(text)
        doc = inspect.getdoc(method) or ""
        summary = " ".join(doc.split("\n\n", 1)[0].split()).replace("``", "")
        lines.append(f"{name}({', '.join(params)}) -> {signature.return_annotation}")
        lines.append(f"    {summary}")
    return "\n".join(lines)


# -- plain data ----------------------------------------------------------------------------------


def _plain_copy(value: Any, where: str) -> Any:
    """A deep copy of JSON-like data (tuples become lists); ``TypeError`` naming the first odd value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings, got {type(key).__name__} {key!r}")
            out[key] = _plain_copy(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain_copy(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where}: twin data must be plain JSON data, got {type(value).__name__}")


def _check_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int such as 3, got {type(value).__name__} {value!r}")
    return value


def _check_str(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{what} must be a string or None, got {type(value).__name__} {value!r}")
    return value


def _singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return [_singular(w) for w in cleaned.split()]


def _category_matches(query: str, category: str) -> bool:
    """Equal up to case and plurals, or the query is the head noun(s) of the category ("car" ~ "red car")."""
    wanted, have = _words(query), _words(category)
    return bool(wanted) and have[len(have) - len(wanted) :] == wanted


def _majority(votes: list[bool]) -> bool | None:
    if not votes:
        return None
    return sum(votes) * 2 > len(votes)


class _Twin:
    """The helpers, bound to one private copy of the twin data."""

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict) or "video" not in data or "frames" not in data:
            raise ValueError("twin data must be a dict with 'video' and 'frames' (see twin_data())")
        video = data["video"]
        self._width = _check_int(video.get("width"), "twin['video']['width']")
        self._height = _check_int(video.get("height"), "twin['video']['height']")
        fps = video.get("fps")
        self._fps = Fraction(fps[0], fps[1]) if fps else Fraction(video["rate"])
        start, end = video.get("frame_range") or [None, None]
        self._by_frame: dict[int, dict[int, dict[str, Any]]] = {}
        self._tracks: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        for entry in sorted(data["frames"], key=lambda e: e["frame"]):
            frame = _check_int(entry["frame"], "twin frame index")
            self._by_frame[frame] = {}
            for obj in entry["objects"]:
                object_id = _check_int(obj["id"], f"object id in frame {frame}")
                self._by_frame[frame][object_id] = obj
                self._tracks.setdefault(object_id, []).append((frame, obj))
        self._frames = list(self._by_frame)
        self._position = {frame: i for i, frame in enumerate(self._frames)}
        self._ids = sorted(self._tracks)
        self._range = (
            start if start is not None else (self._frames[0] if self._frames else 0),
            end if end is not None else (self._frames[-1] + 1 if self._frames else 0),
        )
        self._summaries = {object_id: self._summarize(object_id) for object_id in self._ids}

    # -- checks and small tools ------------------------------------------------------------------

    def _id(self, value: Any, what: str = "object id") -> int:
        object_id = _check_int(value, what)
        if object_id not in self._tracks:
            ids = self._ids[:_MAX_LISTED_IDS]
            more = f" … ({len(self._ids)} in all; objects() lists them)" if len(self._ids) > len(ids) else ""
            raise UnknownObjectError(f"object {object_id} does not exist; ids are {ids}{more}")
        return object_id

    def _frame(self, value: Any) -> int:
        frame = _check_int(value, "frame")
        if frame not in self._by_frame:
            if not self._frames:
                raise UnknownFrameError(f"frame {frame} is not in the twin (it lists no frames)")
            lo, hi = self._frames[0], self._frames[-1]
            if hi - lo + 1 == len(self._frames):
                raise UnknownFrameError(f"frame {frame} is not in the twin (frames {lo}..{hi})")
            raise UnknownFrameError(
                f"frame {frame} is not in the twin ({len(self._frames)} listed frames between {lo} and "
                f"{hi}; frames() lists them)"
            )
        return frame

    def _summarize(self, object_id: int) -> dict[str, Any]:
        hits = self._tracks[object_id]
        return {
            "id": object_id,
            "category": Counter(o["category"] for _, o in hits).most_common(1)[0][0],
            "attributes": Counter(o["attributes"] for _, o in hits).most_common(1)[0][0],
            "first_frame": hits[0][0],
            "last_frame": hits[-1][0],
            "frame_count": len(hits),
        }

    def _candidates(self, category: Any) -> list[int]:
        query = _check_str(category, "category")
        if query is None:
            return list(self._ids)
        return [i for i in self._ids if _category_matches(query, self._summaries[i]["category"])]

    def _px(self, obj: dict[str, Any]) -> tuple[float, float]:
        return obj["x"] * self._width, obj["y"] * self._height

    def _box(self, obj: dict[str, Any]) -> tuple[float, float, float, float]:
        """The bbox in pixels; without one, a square of the object's area centred on its centroid."""
        if obj.get("bbox") is not None:
            x0, y0, x1, y1 = obj["bbox"]
            return x0 * self._width, y0 * self._height, x1 * self._width, y1 * self._height
        x, y = self._px(obj)
        half = math.sqrt(obj["size"] * self._width * self._height) / 2
        return x - half, y - half, x + half, y + half

    def _gaps(self, a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
        """Signed overlaps of two boxes along x and y in pixels (negative: the gap between them)."""
        ax0, ay0, ax1, ay1 = self._box(a)
        bx0, by0, bx1, by1 = self._box(b)
        return min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)

    def _covisible(self, a: int, b: int) -> list[int]:
        return [f for f, _ in self._tracks[a] if b in self._by_frame[f]]

    def _relation(self, a: Any, b: Any, frame: Any, holds: Any) -> bool | None:
        a, b = self._id(a, "a"), self._id(b, "b")
        frames = [self._frame(frame)] if frame is not None else self._covisible(a, b)
        votes = [
            bool(holds(self._by_frame[f][a], self._by_frame[f][b]))
            for f in frames
            if a in self._by_frame[f] and b in self._by_frame[f]
        ]
        return _majority(votes)

    def _value(self, object_id: int, key: str, frame: int | None) -> float | None:
        if frame is None:
            values = [o[key] for _, o in self._tracks[object_id]]
            return sum(values) / len(values)
        obj = self._by_frame[frame].get(object_id)
        return None if obj is None else float(obj[key])

    def _pick(self, category: Any, frame: Any, key: str, sign: int) -> int | None:
        candidates = self._candidates(category)
        at = self._frame(frame) if frame is not None else None
        scored = [(v, i) for i in candidates if (v := self._value(i, key, at)) is not None]
        if not scored:
            return None
        return min(scored, key=lambda s: (sign * s[0], s[1]))[1]

    def _state(self, obj: dict[str, Any]) -> dict[str, Any]:
        bbox = obj.get("bbox")
        return {
            "x": obj["x"],
            "y": obj["y"],
            "depth": obj["depth"],
            "size": obj["size"],
            "bbox": list(bbox) if bbox is not None else None,
        }

    def _step_speeds(self, object_id: int) -> dict[int, float]:
        """Speed in px/s at each frame of the track: from the previous appearance (the first: to the next)."""
        hits = self._tracks[object_id]
        steps = []
        for (f0, o0), (f1, o1) in itertools.pairwise(hits):
            (x0, y0), (x1, y1) = self._px(o0), self._px(o1)
            steps.append(float(Fraction(math.hypot(x1 - x0, y1 - y0)) * self._fps / (f1 - f0)))
        if not steps:
            return {}
        speeds = {hits[0][0]: steps[0]}
        speeds.update({f: s for (f, _), s in zip(hits[1:], steps, strict=True)})
        return speeds

    def _threshold(self, min_speed: Any) -> float:
        if min_speed is None:
            return MOVING_DIAGONAL_FRACTION * math.hypot(self._width, self._height)
        if isinstance(min_speed, bool) or not isinstance(min_speed, (int, float)):
            raise TypeError(f"min_speed must be a number of pixels per second, got {min_speed!r}")
        return float(min_speed)

    def _touches(self, a: int, b: int, margin: float = 0.0) -> list[int]:
        out = []
        for f in self._covisible(a, b):
            gx, gy = self._gaps(self._by_frame[f][a], self._by_frame[f][b])
            if gx >= -margin - _EPS and gy >= -margin - _EPS:
                out.append(f)
        return out

    def _in_range(self, value: Any) -> int:
        frame = _check_int(value, "frame")
        start, end = self._range
        if not start <= frame < end:
            raise UnknownFrameError(f"frame {frame} is outside the twin's range (frames {start}..{end - 1})")
        return frame

    # -- lookup / semantic -------------------------------------------------------------------------

    def objects(self) -> list[dict[str, Any]]:
        """Every object as a summary dict, sorted by id: {id, category, attributes, first_frame, last_frame,
        frame_count}; category and attributes are the most common over its frames, frame_count the
        number of frames it is visible in.
        """
        return [dict(self._summaries[i]) for i in self._ids]

    def object_info(self, id: int) -> dict[str, Any]:
        """One object's summary as in objects(), plus descriptions (its distinct attribute texts, most
        common first) and mean_x, mean_y, mean_depth, mean_size over the frames it is visible in.
        """
        object_id = self._id(id, "id")
        info = dict(self._summaries[object_id])
        hits = self._tracks[object_id]
        info["descriptions"] = [t for t, _ in Counter(o["attributes"] for _, o in hits).most_common()]
        for key in ("x", "y", "depth", "size"):
            info[f"mean_{key}"] = self._value(object_id, key, None)
        return info

    def find(self, category: str | None = None, text: str | None = None) -> list[int]:
        """Sorted ids whose category matches ``category`` and whose category or attribute texts contain
        every word of ``text`` (either may be None; neither: all ids). Case and plurals are ignored
        ("Dogs" finds "dog"), a category also matches its head noun ("car" finds "red car"), and small
        words of text (a, the, with...) are skipped.
        """
        ids = self._candidates(category)
        query = _check_str(text, "text")
        if query is None:
            return ids
        wanted = {w for w in _words(query) if w not in _STOPWORDS}
        found = []
        for object_id in ids:
            have = set(_words(self._summaries[object_id]["category"]))
            for _, obj in self._tracks[object_id]:
                have.update(_words(obj["category"] + " " + obj["attributes"]))
            if wanted <= have:
                found.append(object_id)
        return found

    def categories(self) -> dict[str, list[int]]:
        """Each category (an object's most common one) mapped to the sorted ids of that category."""
        out: dict[str, list[int]] = {}
        for object_id in self._ids:
            out.setdefault(self._summaries[object_id]["category"], []).append(object_id)
        return dict(sorted(out.items()))

    def frames(self) -> list[int]:
        """The frame indices the twin lists, ascending (source frame numbers, not 0-based positions)."""
        return list(self._frames)

    def objects_in(self, frame: int) -> list[int]:
        """The ids visible in ``frame``, sorted."""
        return sorted(self._by_frame[self._frame(frame)])

    def state(self, id: int, frame: int) -> dict[str, Any] | None:
        """Object ``id`` in ``frame`` as {x, y, depth, size, bbox} (bbox [x0, y0, x1, y1] or None), or
        None when it is not visible in that frame.
        """
        object_id, at = self._id(id, "id"), self._frame(frame)
        obj = self._by_frame[at].get(object_id)
        return None if obj is None else self._state(obj)

    def track(self, id: int) -> list[dict[str, Any]]:
        """Object ``id`` in every frame it is visible in: a list of {frame, x, y, depth, size, bbox}."""
        object_id = self._id(id, "id")
        return [{"frame": f, **self._state(o)} for f, o in self._tracks[object_id]]

    # -- spatial -----------------------------------------------------------------------------------

    def left_of(self, a: int, b: int, frame: int | None = None) -> bool | None:
        """Whether a's centroid is left of b's (smaller x) in ``frame``; without frame, whether that holds
        in more than half of the frames where both are visible. None when they are never visible
        together (or either is not visible in ``frame``).
        """
        return self._relation(a, b, frame, lambda p, q: p["x"] < q["x"])

    def right_of(self, a: int, b: int, frame: int | None = None) -> bool | None:
        """Whether a's centroid is right of b's (larger x); frame rule and None as in left_of."""
        return self._relation(a, b, frame, lambda p, q: p["x"] > q["x"])

    def above(self, a: int, b: int, frame: int | None = None) -> bool | None:
        """Whether a's centroid is above b's (smaller y: the origin is top-left); frame rule as in left_of."""
        return self._relation(a, b, frame, lambda p, q: p["y"] < q["y"])

    def below(self, a: int, b: int, frame: int | None = None) -> bool | None:
        """Whether a's centroid is below b's (larger y); frame rule and None as in left_of."""
        return self._relation(a, b, frame, lambda p, q: p["y"] > q["y"])

    def closer_than(self, a: int, b: int, frame: int | None = None) -> bool | None:
        """Whether a is closer to the camera than b (smaller depth); frame rule and None as in left_of."""
        return self._relation(a, b, frame, lambda p, q: p["depth"] < q["depth"])

    def farther_than(self, a: int, b: int, frame: int | None = None) -> bool | None:
        """Whether a is farther from the camera than b (larger depth); frame rule as in left_of."""
        return self._relation(a, b, frame, lambda p, q: p["depth"] > q["depth"])

    def overlaps(self, a: int, b: int, frame: int | None = None) -> bool | None:
        """Whether the bboxes of a and b intersect with positive area (sharing an edge is not enough; see
        touch_frames); frame rule and None as in left_of.

        A missing bbox is approximated by a square of the object's area centred on its centroid.
        """
        return self._relation(a, b, frame, lambda p, q: min(self._gaps(p, q)) > _EPS)

    def distance(self, a: int, b: int, frame: int | None = None) -> float | None:
        """Distance in pixels between the centroids of a and b in ``frame``; without frame, the mean over
        the frames where both are visible. None when they are never visible together (or either is not
        visible in ``frame``).
        """
        a, b = self._id(a, "a"), self._id(b, "b")
        frames = [self._frame(frame)] if frame is not None else self._covisible(a, b)
        dists = []
        for f in frames:
            if a in self._by_frame[f] and b in self._by_frame[f]:
                (ax, ay), (bx, by) = self._px(self._by_frame[f][a]), self._px(self._by_frame[f][b])
                dists.append(math.hypot(ax - bx, ay - by))
        return sum(dists) / len(dists) if dists else None

    def nearest_to(self, id: int, frame: int | None = None, category: str | None = None) -> int | None:
        """The other object (of ``category`` if given) whose centroid is nearest to object ``id``'s: in
        ``frame`` among those visible there, without frame by the smallest distance(id, other), the mean
        over frames where both are visible (objects never seen with it are skipped). None when there is
        no candidate; ties go to the smaller id.
        """
        object_id = self._id(id, "id")
        if frame is not None:
            self._frame(frame)
        scored = []
        for other in self._candidates(category):
            if other != object_id and (d := self.distance(object_id, other, frame)) is not None:
                scored.append((d, other))
        return min(scored)[1] if scored else None

    def largest(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the largest size (area fraction) among objects of ``category`` (all if None): in
        ``frame`` among those visible there, without frame by each object's mean size over the frames
        it is visible in. None when no object matches; ties go to the smaller id.
        """
        return self._pick(category, frame, "size", -1)

    def smallest(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the smallest size; category, frame rule and None as in largest."""
        return self._pick(category, frame, "size", 1)

    def closest_to_camera(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the smallest depth (nearest the camera); frame rule (mean depth) as in largest."""
        return self._pick(category, frame, "depth", 1)

    def farthest_from_camera(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the largest depth (farthest from the camera); frame rule as in largest."""
        return self._pick(category, frame, "depth", -1)

    def leftmost(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the smallest centroid x; frame rule (mean x) as in largest."""
        return self._pick(category, frame, "x", 1)

    def rightmost(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the largest centroid x; frame rule (mean x) as in largest."""
        return self._pick(category, frame, "x", -1)

    def topmost(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the smallest centroid y (highest in the image); frame rule as in largest."""
        return self._pick(category, frame, "y", 1)

    def bottommost(self, category: str | None = None, frame: int | None = None) -> int | None:
        """The id with the largest centroid y (lowest in the image); frame rule as in largest."""
        return self._pick(category, frame, "y", -1)

    # -- temporal ----------------------------------------------------------------------------------

    def first_frame(self, id: int) -> int:
        """The first frame in which object ``id`` is visible."""
        return int(self._summaries[self._id(id, "id")]["first_frame"])

    def last_frame(self, id: int) -> int:
        """The last frame in which object ``id`` is visible."""
        return int(self._summaries[self._id(id, "id")]["last_frame"])

    def appearance_order(self, ids: list[int] | None = None) -> list[int]:
        """``ids`` (all objects if None) sorted by first appearance; ties by id."""
        if ids is None:
            chosen = list(self._ids)
        elif isinstance(ids, (list, tuple, set)):
            chosen = [self._id(i, "each id in ids") for i in ids]
        else:
            raise TypeError(f"ids must be a list of ints or None, got {type(ids).__name__} {ids!r}")
        return sorted(set(chosen), key=lambda i: (self._summaries[i]["first_frame"], i))

    def speed(self, id: int, frame: int | None = None) -> float | None:
        """Centroid speed of object ``id`` in pixels per second: in ``frame``, over the step from its
        previous appearance to ``frame`` (at its first frame, the step to the next one); without frame,
        its path length divided by the time from its first to its last frame. None when it is not
        visible in ``frame`` or is visible in only one frame.
        """
        object_id = self._id(id, "id")
        if frame is not None:
            return self._step_speeds(object_id).get(self._frame(frame))
        hits = self._tracks[object_id]
        if len(hits) < 2:
            return None
        points = [self._px(o) for _, o in hits]
        path = sum(math.hypot(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in itertools.pairwise(points))
        return float(Fraction(path) * self._fps / (hits[-1][0] - hits[0][0]))

    def moving_frames(self, id: int, min_speed: float | None = None) -> list[list[int]]:
        """Runs [start, end] (inclusive) of consecutive listed frames where speed(id, frame) > min_speed
        (pixels per second; None means 5% of the frame diagonal per second). A run breaks where the
        object is not visible; [] when it never moves. The first run's start is when it starts moving.
        """
        threshold = self._threshold(min_speed)
        runs: list[list[int]] = []
        for frame, value in self._step_speeds(self._id(id, "id")).items():
            if value <= threshold:
                continue
            if runs and self._position[frame] == self._position[runs[-1][1]] + 1:
                runs[-1][1] = frame
            else:
                runs.append([frame, frame])
        return runs

    def is_moving(self, id: int, frame: int, min_speed: float | None = None) -> bool | None:
        """Whether speed(id, frame) > min_speed (default as in moving_frames); None when not visible then."""
        threshold = self._threshold(min_speed)
        value = self.speed(id, frame)
        return None if value is None else value > threshold

    def fastest(self, category: str | None = None) -> int | None:
        """The id (of ``category`` if given) with the highest mean speed(id); None when none can move."""
        scored = [(s, i) for i in self._candidates(category) if (s := self.speed(i)) is not None]
        return min(scored, key=lambda s: (-s[0], s[1]))[1] if scored else None

    def displacement(self, id: int) -> float:
        """Straight-line distance in pixels from object ``id``'s centroid in its first frame to its last."""
        hits = self._tracks[self._id(id, "id")]
        (x0, y0), (x1, y1) = self._px(hits[0][1]), self._px(hits[-1][1])
        return math.hypot(x1 - x0, y1 - y0)

    def touch_frames(self, a: int, b: int, margin: float = 0.0) -> list[int]:
        """Ascending frames where the bboxes of a and b touch: they intersect, share an edge, or are at
        most ``margin`` pixels apart ([] when they never touch).

        Edges count because a nearer object hides the pixels it covers, so the visible boxes of two
        objects in contact often just meet.
        """
        a, b = self._id(a, "a"), self._id(b, "b")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise TypeError(f"margin must be a non-negative number of pixels, got {margin!r}")
        return self._touches(a, b, float(margin))

    def first_to_touch(self, target: int, candidates: list[int] | None = None) -> int | None:
        """The id among ``candidates`` (default all others) whose first touch with ``target`` (as in
        touch_frames, margin 0) is earliest; None when none touches it; ties go to the smaller id.
        """
        return self._touch_pick(target, candidates, first=True)

    def last_to_touch(self, target: int, candidates: list[int] | None = None) -> int | None:
        """The id among ``candidates`` (default all others) whose last touch with ``target`` (as in
        touch_frames, margin 0) is latest; None when none touches it; ties go to the smaller id.
        """
        return self._touch_pick(target, candidates, first=False)

    def _touch_pick(self, target: Any, candidates: Any, first: bool) -> int | None:
        object_id = self._id(target, "target")
        if candidates is None:
            pool = [i for i in self._ids if i != object_id]
        elif isinstance(candidates, (list, tuple, set)):
            pool = [self._id(i, "each id in candidates") for i in candidates if i != object_id]
        else:
            raise TypeError(f"candidates must be a list of ids or None, got {candidates!r}")
        scored = []
        for other in set(pool):
            frames = self._touches(object_id, other)
            if frames:
                scored.append((frames[0] if first else -frames[-1], other))
        return min(scored)[1] if scored else None

    def seconds(self, frame: int) -> str:
        """Exact time of ``frame`` from the start of the twin's range, in seconds, as a fraction string:
        "0" for the first frame, "1001/30000" for the next at 29.97 fps. Any frame of the range works,
        listed or not.
        """
        offset = self._in_range(frame) - self._range[0]
        return str(Fraction(offset) / self._fps)

    def seconds_float(self, frame: int) -> float:
        """Approximate time of ``frame`` in seconds from the start of the twin's range, as a float for
        display; seconds() is exact.
        """
        return float(Fraction(self.seconds(frame)))

    def frame_at(self, seconds: float | int | str) -> int:
        """The frame shown at ``seconds`` from the start of the twin's range (the one whose span holds
        that time); ``seconds`` is a number or an exact fraction string like "1001/30000". Raises
        LookupError when the time is outside the twin's range.
        """
        if isinstance(seconds, str):
            try:
                time = Fraction(seconds.strip())
            except ValueError:
                raise TypeError(f"seconds must be a number or a fraction string, got {seconds!r}") from None
            slack = Fraction(0)
        elif isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            if not math.isfinite(seconds):
                raise TypeError(f"seconds must be finite, got {seconds!r}")
            time, slack = Fraction(seconds), Fraction(1, 10**6)  # floats: absorb rounding at a boundary
        else:
            raise TypeError(f"seconds must be a number or a fraction string, got {seconds!r}")
        start, end = self._range
        frame = start + math.floor(time * self._fps + slack)
        if time < 0 or frame >= end:
            raise UnknownFrameError(
                f"time {seconds!r} s is outside the twin (0 to {float((end - start) / self._fps):.3f} s)"
            )
        return frame
