"""Query templates: implicit descriptions of a target, the twin-API program that finds it, and the
rules that keep an answer exact and unambiguous.

Each template yields :class:`Draft` s for a scene: the target described as an editor would say it ("the
cup left of the largest plate"), the program that finds it with the helpers of
:mod:`river_core.reasoning.twin_api` (it sets ``target``, and ``target_frames`` when the edit covers only
some of the target's frames) and a robustness rule. The gold answer is what the program computes on
the twin. A draft is dropped when the program finds nothing or several objects, when its answer is the
only object of the category the description names, or when a small change in the measurements could
change the answer:

================  ============================================================================
relation          definition (twin API terms), and the margin a draft must clear
================  ============================================================================
nearest camera    smallest ``depth`` (mean over the frames it is visible in); the runner-up is at
                  least 0.05 farther
largest           largest ``size`` (mean visible area fraction); at least 1.25× the runner-up
leftmost …        smallest mean centroid ``x`` (rightmost: largest; topmost: smallest ``y``;
                  lowest: largest ``y``); at least 0.06 (normalized) ahead of the runner-up
left of, above …  ``left_of(a, b)``: a's centroid x < b's in more than half of the frames both are
                  visible in; for every candidate, the frames that clear it by 0.03 (normalized)
                  decide the vote on their own, whichever way it goes
nearest to        ``nearest_to``: the smallest mean centroid distance over the frames both are
                  visible in; the runner-up at least 1.2× as far
touches           ``touch_frames(a, b)``: frames where both are visible and their bounding boxes
                  intersect or share an edge (margin 0). A frame is a sure miss when the boxes are
                  at least 2 px apart and no nearer object meets either box (it could hide the
                  contact); otherwise the two may touch
touches first     the earliest first touch (last: the latest last touch); every frame in which
                  another candidate may touch comes at least 2 frames after the winner's first
                  touch (last: 2 frames before its last). "whoever": the winner is a person
while touching    the target's frames are its touch frames with the other object; each frame both
                  are visible in must be a touch or a sure miss
appears / enters  the first frame an object is visible in (``first_frame``)
leaves            an object leaves when its last visible frame is before the twin's last frame;
                  leaving first: the earliest ``last_frame``. Enters after X leaves:
                  ``first_frame > last_frame(X)``. Orders need a 2-frame margin to the runner-up
same color        the color word of the attributes (every synthetic object's attributes name it)
================  ============================================================================

Levels count hops: level 1 describes the target directly (one lookup), level 2 goes through one
intermediate object or fact, level 3 through two; level-3 spatial and temporal queries do not name the
target at all ("the object that enters after the dog leaves", "whatever is nearest to the cup left of
the largest plate").
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from river_core.reasoning.twin_api import build_namespace
from river_core.reasoning.twin_data import twin_data
from river_core.twin.schema import TwinDocument
from river_core.twin.synthetic import COLORS

DEPTH_MARGIN: Final = 0.05
SIZE_RATIO: Final = 1.25
POSITION_MARGIN: Final = 0.06
RELATION_MARGIN: Final = 0.03
NEAREST_RATIO: Final = 1.2
FRAME_MARGIN: Final = 2
TOUCH_CLEAR_PX: Final = 2.0

COLOR_WORDS: Final = tuple(sorted(COLORS))
_COLOR_LIST = "[" + ", ".join(f'"{c}"' for c in COLOR_WORDS) + "]"
# (phrase, twin API helper, spatial key, sign of "holds": left of means a smaller x)
RELATIONS: Final = (
    ("left of", "left_of", "x", -1),
    ("right of", "right_of", "x", 1),
    ("above", "above", "y", -1),
    ("below", "below", "y", 1),
)
# (phrase in "the leftmost cup", helper, spatial key, sign: -1 = the smallest value wins)
POSITIONS: Final = (
    ("leftmost", "leftmost", "x", -1),
    ("rightmost", "rightmost", "x", 1),
    ("topmost", "topmost", "y", -1),
    ("lowest", "bottommost", "y", 1),
)


@dataclass(frozen=True)
class Draft:
    """A target description for one scene, with the program that resolves it.

    ``when`` restricts the edit in time ("while the person in red touches it"); ``named`` is the
    target's category when the description names it (the answer must then not be the only one);
    ``robust`` checks the margins once the target is known.
    """

    what: str
    program: str
    slots: dict[str, str]
    named: str | None = None
    when: str = ""
    robust: Callable[[int], bool] = field(default=lambda target: True, compare=False)


@dataclass(frozen=True)
class Answer:
    target: int
    frames: list[int]


class SceneFacts:
    """The twin of one scene, the helpers on it, and what the templates ask often."""

    def __init__(self, doc: TwinDocument) -> None:
        self.doc = doc
        self.ns = build_namespace(twin_data(doc))
        self.info = {o["id"]: self.ns["object_info"](o["id"]) for o in self.ns["objects"]()}
        self.color = {i: _color_word(info["attributes"]) for i, info in self.info.items()}
        self.ids_of = self.ns["categories"]()
        self.last = self.ns["frames"]()[-1]
        self._states = {i: {t["frame"]: t for t in self.ns["track"](i)} for i in self.info}

    def category(self, i: int) -> str:
        return str(self.info[i]["category"])

    def several(self, category: str) -> bool:
        return len(self.ids_of.get(category, [])) >= 2

    def phrase(self, i: int) -> str:
        """A description naming exactly object ``i``: "the ball", "the red cup", "the person in red"."""
        category = self.category(i)
        if not self.several(category):
            return f"the {category}"
        if category == "person":
            return f"the person in {self.color[i]}"
        return f"the {self.color[i]} {category}"

    def finder(self, i: int) -> str:
        """Code that finds object ``i`` by its :meth:`phrase`."""
        category = self.category(i)
        if not self.several(category):
            return f'find("{category}")[0]'
        return f'find("{category}", "{self.color[i]}")[0]'

    def run(self, program: str) -> Answer | None:
        """Run a template's program on the twin (our own code: in process, output discarded)."""
        env = dict(self.ns)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(program, "<template>", "exec"), env)
        target = env.get("target")
        if not isinstance(target, int) or isinstance(target, bool) or target not in self.info:
            return None
        frames = env.get("target_frames")
        if frames is None:
            return Answer(target, sorted(self._states[target]))
        if not isinstance(frames, list) or not frames or not set(frames) <= set(self._states[target]):
            return None
        return Answer(target, sorted(set(frames)))

    # -- measurements for the robustness rules ---------------------------------------------------

    def covisible(self, a: int, b: int) -> list[int]:
        return sorted(set(self._states[a]) & set(self._states[b]))

    def overlap_px(self, a: int, b: int, frame: int) -> float:
        """How far the boxes of a and b overlap in ``frame``, in pixels (the smaller of the two axes;
        negative: the gap between them)."""
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = (
            self._states[a][frame]["bbox"],
            self._states[b][frame]["bbox"],
        )
        video = self.doc.video
        gx = (min(ax1, bx1) - max(ax0, bx0)) * video.width
        gy = (min(ay1, by1) - max(ay0, by0)) * video.height
        return min(gx, gy)

    def may_touch(self, a: int, b: int, frame: int) -> bool:
        """Whether a and b might touch in ``frame`` as far as the twin can tell: their boxes come within
        TOUCH_CLEAR_PX, or a nearer third object meets the box of either, so it may hide the part of it
        that touches (a visible box is the box of the visible pixels only)."""
        if self.overlap_px(a, b, frame) > -TOUCH_CLEAR_PX:
            return True
        return self.maybe_hidden(a, frame, besides=b) or self.maybe_hidden(b, frame, besides=a)

    def maybe_hidden(self, i: int, frame: int, besides: int) -> bool:
        """Whether an object nearer the camera than ``i`` (other than ``besides``) meets its box in
        ``frame``: then part of ``i`` may be hidden and its visible box cut short."""
        depth = self._states[i][frame]["depth"]
        return any(
            j not in (i, besides)
            and frame in self._states[j]
            and self._states[j][frame]["depth"] < depth
            and self.overlap_px(i, j, frame) >= 0
            for j in self._states
        )

    def value(self, i: int, key: str, frame: int) -> float:
        return float(self._states[i][frame][key])

    def margin(self, ids: list[int], key: str, sign: int) -> float:
        """How far the best of ``ids`` by mean ``key`` is ahead of the runner-up (inf when alone); with
        ``sign`` -1 the smallest value is the best, with 1 the largest."""
        ranked = sorted(-sign * self.info[i][key] for i in ids)
        return math.inf if len(ranked) < 2 else ranked[1] - ranked[0]


def _color_word(text: str) -> str:
    words = [w for w in text.split() if w in COLORS]
    return words[0] if words else ""


# -- level 1 ---------------------------------------------------------------------------------------


def l1_semantic_attribute(s: SceneFacts) -> Iterator[Draft]:
    """Level 1, semantic: "the red cup", "the person in red": category and color."""
    for category, ids in s.ids_of.items():
        if len(ids) < 2:
            continue
        for i in ids:
            color = s.color[i]
            program = (
                f'found = find("{category}", "{color}")\n'
                f'print("{category} described as {color}:", found)\n'
                "target = found[0] if len(found) == 1 else None\n"
            )
            yield Draft(s.phrase(i), program, {"category": category, "color": color}, named=category)


def l1_spatial_depth(s: SceneFacts) -> Iterator[Draft]:
    """Level 1, spatial: "the object nearest the camera", "the plate farthest from the camera"."""
    for category in [None, *[c for c in s.ids_of if s.several(c)]]:
        ids = s.ids_of[category] if category else list(s.info)
        noun, arg = (category, f'"{category}"') if category else ("object", "")
        for extreme, helper, sign, words in (
            ("nearest", "closest_to_camera", -1, "nearest the camera"),
            ("farthest", "farthest_from_camera", 1, "farthest from the camera"),
        ):
            program = f'target = {helper}({arg})\nprint("the {noun} {words}:", target)\n'
            margin = s.margin(ids, "mean_depth", sign)
            yield Draft(
                f"the {noun} {words}",
                program,
                {"category": noun, "extreme": extreme},
                named=category,
                robust=_const(margin >= DEPTH_MARGIN),
            )


def l1_spatial_size(s: SceneFacts) -> Iterator[Draft]:
    """Level 1, spatial: "the largest plate", "the smallest cup"."""
    for category in [c for c in s.ids_of if s.several(c)]:
        sizes = sorted(s.info[i]["mean_size"] for i in s.ids_of[category])
        for extreme in ("largest", "smallest"):
            ratio = sizes[-1] / sizes[-2] if extreme == "largest" else sizes[1] / sizes[0]
            program = f'target = {extreme}("{category}")\nprint("the {extreme} {category}:", target)\n'
            yield Draft(
                f"the {extreme} {category}",
                program,
                {"category": category, "extreme": extreme},
                named=category,
                robust=_const(ratio >= SIZE_RATIO),
            )


def l1_spatial_position(s: SceneFacts) -> Iterator[Draft]:
    """Level 1, spatial: "the leftmost cup", "the lowest plate": mean centroid position."""
    for category in [c for c in s.ids_of if s.several(c)]:
        for word, helper, key, sign in POSITIONS:
            margin = s.margin(s.ids_of[category], f"mean_{key}", sign)
            program = f'target = {helper}("{category}")\nprint("the {word} {category}:", target)\n'
            yield Draft(
                f"the {word} {category}",
                program,
                {"category": category, "position": word},
                named=category,
                robust=_const(margin >= POSITION_MARGIN),
            )


def l1_temporal_appears_last(s: SceneFacts) -> Iterator[Draft]:
    """Level 1, temporal: "the object that appears last", "the cat that appears last"."""
    for category in [None, *[c for c in s.ids_of if s.several(c)]]:
        ids = s.ids_of[category] if category else list(s.info)
        noun = category or "object"
        pool = f'find("{category}")' if category else ""
        firsts = [s.info[i]["first_frame"] for i in ids]
        program = (
            f'order = appearance_order({pool})\nprint("{noun}s by first frame:", order)\ntarget = order[-1]\n'
        )
        yield Draft(
            f"the {noun} {_that(noun)} appears last",
            program,
            {"category": noun},
            named=category,
            robust=_const(max(firsts) > s.ns["frames"]()[0] and _ahead(firsts, -1)),
        )


def l1_temporal_leaves_first(s: SceneFacts) -> Iterator[Draft]:
    """Level 1, temporal: "the object that leaves first": the earliest last frame among those that leave."""
    for category in [None, *[c for c in s.ids_of if s.several(c)]]:
        ids = s.ids_of[category] if category else list(s.info)
        noun = category or "object"
        pool = f'find("{category}")' if category else '[o["id"] for o in objects()]'
        program = (
            f"end = frames()[-1]\n"
            f"leaving = sorted((last_frame(i), i) for i in {pool} if last_frame(i) < end)\n"
            f'print("{noun}s that leave, by last frame:", leaving)\n'
            "target = leaving[0][1] if leaving else None\n"
        )
        lasts = [s.info[i]["last_frame"] for i in ids if s.info[i]["last_frame"] < s.last]
        yield Draft(
            f"the {noun} {_that(noun)} leaves first",
            program,
            {"category": noun},
            named=category,
            robust=_const(_ahead(lasts, 1)),
        )


def _that(noun: str) -> str:
    return "who" if noun == "person" else "that"


def _const(value: bool) -> Callable[[int], bool]:
    """A robustness rule that does not depend on the answer."""
    return lambda target: value


def _ahead(values: list[int], sign: int) -> bool:
    """Whether the smallest (sign 1) or largest (sign -1) of ``values`` leads by FRAME_MARGIN."""
    ranked = sorted(sign * v for v in values)
    return len(ranked) < 2 or ranked[1] - ranked[0] >= FRAME_MARGIN


# -- level 2 ---------------------------------------------------------------------------------------


def _color_of(anchor_code: str) -> str:
    return (
        f"anchor = {anchor_code}\n"
        f"colors = {_COLOR_LIST}\n"
        'color = [w for w in object_info(anchor)["attributes"].split() if w in colors][0]\n'
        'print("object", anchor, "is", color)\n'
    )


def l2_semantic_same_color(s: SceneFacts) -> Iterator[Draft]:
    """Level 2, semantic: "the cup that is the same color as the ball": the anchor's color, then the
    object of the category with it."""
    anchors = [i for i in s.info if not s.several(s.category(i))]
    for anchor in anchors:
        for category in [c for c in s.ids_of if s.several(c)]:
            program = _color_of(s.finder(anchor)) + _found_one(f'find("{category}", color)', category)
            what = (
                f"the person wearing the color of {s.phrase(anchor)}"
                if category == "person"
                else f"the {category} that is the same color as {s.phrase(anchor)}"
            )
            yield Draft(what, program, {"category": category, "anchor": s.category(anchor)}, named=category)


def _found_one(expression: str, noun: str) -> str:
    return (
        f"found = {expression}\n"
        f'print("{noun} candidates:", found)\n'
        "target = found[0] if len(found) == 1 else None\n"
    )


def _relation_drafts(s: SceneFacts) -> Iterator[tuple[Draft, str]]:
    """The cup left of the largest plate, and the code that leaves it in ``found`` (for reuse)."""
    for category, anchor_category in (("cup", "plate"), ("plate", "cup")):
        if not (s.several(category) and s.several(anchor_category)):
            continue
        for extreme in ("largest", "smallest"):
            anchor = s.ns[extreme](anchor_category)
            sizes = sorted(s.info[i]["mean_size"] for i in s.ids_of[anchor_category])
            ratio = sizes[-1] / sizes[-2] if extreme == "largest" else sizes[1] / sizes[0]
            for phrase, helper, key, sign in RELATIONS:
                code = (
                    f'anchor = {extreme}("{anchor_category}")\n'
                    f'found = [i for i in find("{category}") if {helper}(i, anchor)]\n'
                    f'print("{extreme} {anchor_category}:", anchor, "; {category}s {phrase} it:", found)\n'
                )
                clear = ratio >= SIZE_RATIO and all(
                    _relation_clear(s, c, anchor, key, sign) for c in s.ids_of[category]
                )
                slots = {
                    "category": category,
                    "relation": phrase,
                    "anchor_extreme": extreme,
                    "anchor_category": anchor_category,
                }
                draft = Draft(
                    f"the {category} {phrase} the {extreme} {anchor_category}",
                    code + "target = found[0] if len(found) == 1 else None\n",
                    slots,
                    named=category,
                    robust=_const(clear),
                )
                yield draft, code


def _relation_clear(s: SceneFacts, a: int, b: int, key: str, sign: int) -> bool:
    """Whether the majority vote of a relation between a and b is decided by frames that clear it by
    RELATION_MARGIN, whichever way it goes."""
    frames = s.covisible(a, b)
    diffs = [sign * (s.value(a, key, f) - s.value(b, key, f)) for f in frames]
    holds = sum(d >= RELATION_MARGIN for d in diffs)
    fails = sum(d <= -RELATION_MARGIN for d in diffs)
    return bool(frames) and (holds * 2 > len(frames) or (len(frames) - fails) * 2 <= len(frames))


def l2_spatial_relation(s: SceneFacts) -> Iterator[Draft]:
    """Level 2, spatial: "the cup left of the largest plate"."""
    for draft, _code in _relation_drafts(s):
        yield draft


def _touch_drafts(s: SceneFacts) -> Iterator[tuple[Draft, str]]:
    """Whoever touches the ball first/last, and the code that leaves the toucher in ``who``."""
    for ball in s.ids_of.get("ball", [])[:1]:
        for which in ("first", "last"):
            groups: list[tuple[str | None, list[int]]] = [(None, [i for i in s.info if i != ball])]
            if s.several("person"):
                groups.append(("person", s.ids_of["person"]))
            for category, pool in groups:
                code = f"ball = {s.finder(ball)}\n"
                if category:
                    code += f'who = {which}_to_touch(ball, find("{category}"))\n'
                    what = f"the {category} who touches the ball {which}"
                else:
                    code += f"who = {which}_to_touch(ball)\n"
                    what = f"whoever touches the ball {which}"
                code += f'print("{which} to touch the ball:", who)\n'
                draft = Draft(
                    what,
                    code + "target = who\n",
                    {"anchor": "ball", "which": which, "category": category or "anyone"},
                    named=category,
                    robust=functools.partial(_touch_ok, s, ball, pool, which, category),
                )
                yield draft, code


def _touch_ok(
    s: SceneFacts, ball: int, pool: list[int], which: str, category: str | None, target: int
) -> bool:
    """A toucher found among everyone must be a person ("whoever"), and its touch must be clear."""
    return (category is not None or s.category(target) == "person") and _touch_clear(
        s, ball, target, pool, which
    )


def _touch_clear(s: SceneFacts, ball: int, winner: int, pool: list[int], which: str) -> bool:
    """Whether every frame in which another candidate may touch the ball (:meth:`SceneFacts.may_touch`)
    comes FRAME_MARGIN frames after the winner's first touch ("first"), or before its last ("last")."""
    touches = s.ns["touch_frames"](ball, winner)
    if not touches:
        return False
    for other in pool:
        if other in (winner, ball):
            continue
        near = [f for f in s.covisible(ball, other) if s.may_touch(ball, other, f)]
        if which == "first" and any(f < touches[0] + FRAME_MARGIN for f in near):
            return False
        if which == "last" and any(f > touches[-1] - FRAME_MARGIN for f in near):
            return False
    return True


def l2_temporal_touch(s: SceneFacts) -> Iterator[Draft]:
    """Level 2, temporal: "whoever touches the ball last", "the person who touches the ball first"."""
    for draft, _code in _touch_drafts(s):
        yield draft


def l2_temporal_while_touching(s: SceneFacts) -> Iterator[Draft]:
    """Level 2, temporal: "the ball, but only while the person in red touches it": the frames are the
    answer."""
    for ball in s.ids_of.get("ball", [])[:1]:
        for other in s.info:
            if other == ball or not s.ns["touch_frames"](ball, other):
                continue
            program = (
                f"ball = {s.finder(ball)}\n"
                f"who = {s.finder(other)}\n"
                "target_frames = touch_frames(ball, who)\n"
                'print("they touch in frames", target_frames)\n'
                "target = ball\n"
            )
            # Every frame is a sure touch or sure not: none just short of one, where the answer would
            # hang on a pixel, or where a third object may hide where they meet.
            clear = all(
                s.overlap_px(ball, other, f) >= 0 or not s.may_touch(ball, other, f)
                for f in s.covisible(ball, other)
            )
            yield Draft(
                "the ball",
                program,
                {"anchor": "ball", "toucher_category": s.category(other), "toucher_color": s.color[other]},
                when=f"while {s.phrase(other)} touches it",
                robust=_const(clear),
            )


# -- level 3 ---------------------------------------------------------------------------------------


def l3_temporal_enters_after(s: SceneFacts) -> Iterator[Draft]:
    """Level 3, temporal: "the object that enters after the dog leaves"."""
    for anchor in s.info:
        if s.info[anchor]["last_frame"] >= s.last:
            continue
        program = (
            f"anchor = {s.finder(anchor)}\n"
            "gone = last_frame(anchor)\n"
            "later = [i for i in appearance_order() if first_frame(i) > gone]\n"
            'print("last seen in frame", gone, "; entering later:", [(i, first_frame(i)) for i in later])\n'
            "target = later[0] if later else None\n"
        )
        gone = s.info[anchor]["last_frame"]
        firsts = [s.info[i]["first_frame"] for i in s.info if s.info[i]["first_frame"] > gone]
        yield Draft(
            f"the object that enters after {s.phrase(anchor)} leaves",
            program,
            {"anchor_category": s.category(anchor), "anchor_color": s.color[anchor]},
            robust=_const(_ahead(firsts, 1)),
        )


def l3_spatial_nearest_to_relation(s: SceneFacts) -> Iterator[Draft]:
    """Level 3, spatial: "whatever is nearest to the cup left of the largest plate"."""
    for base, code in _relation_drafts(s):
        answer = s.run(base.program)
        if answer is None or not base.robust(answer.target):
            continue
        hub = answer.target
        distances = sorted(d for o in s.info if o != hub and (d := s.ns["distance"](hub, o)) is not None)
        clear = len(distances) >= 2 and distances[1] >= NEAREST_RATIO * distances[0]
        program = code + (
            "hub = found[0]\n"
            "target = nearest_to(hub)\n"
            'print("nearest to", hub, ":", target, "at", round(distance(hub, target), 1), "px")\n'
        )
        slots = {("hub_category" if k == "category" else k): v for k, v in base.slots.items()}
        yield Draft(
            f"whatever is nearest to {base.what}",
            program,
            slots,
            robust=_const(clear),
        )


def l3_semantic_color_of(s: SceneFacts) -> Iterator[Draft]:
    """Level 3, semantic: "the plate that matches the color of whoever touches the ball last" (or of the
    object that appears last): a temporal hop, a color, then a semantic match."""
    chains: list[tuple[str, str, dict[str, str], Callable[[int], bool]]] = []
    for touch, code in _touch_drafts(s):
        if touch.slots["category"] == "anyone":
            chains.append((touch.what, code, touch.slots, touch.robust))
    for late in l1_temporal_appears_last(s):
        if late.slots["category"] == "object":
            code = late.program.replace("target = order[-1]", "who = order[-1]")
            chains.append((late.what, code, {"which": "appears last"}, late.robust))
    for what, code, slots, robust in chains:
        who = s.run(code + "target = who\n")
        if who is None or not robust(who.target):
            continue
        for category in [c for c in ("cup", "plate") if s.several(c)]:
            program = code + _color_of("who") + _found_one(f'find("{category}", color)', category)
            yield Draft(
                f"the {category} that matches the color of {what}",
                program,
                {**slots, "category": category},
                named=category,
                robust=functools.partial(operator.ne, who.target),
            )


@dataclass(frozen=True)
class Template:
    name: str
    level: int
    category: str
    drafts: Callable[[SceneFacts], Iterator[Draft]]


TEMPLATES: Final = tuple(
    Template(f.__name__, int(f.__name__[1]), f.__name__.split("_")[1], f)
    for f in (
        l1_semantic_attribute,
        l1_spatial_depth,
        l1_spatial_size,
        l1_spatial_position,
        l1_temporal_appears_last,
        l1_temporal_leaves_first,
        l2_semantic_same_color,
        l2_spatial_relation,
        l2_temporal_touch,
        l2_temporal_while_touching,
        l3_temporal_enters_after,
        l3_spatial_nearest_to_relation,
        l3_semantic_color_of,
    )
)
"""Every template, by name; the name says its level and category."""


def answers(s: SceneFacts, template: Template) -> list[tuple[Draft, Answer]]:
    """The drafts of ``template`` on the scene that resolve to one robust, non-trivial answer."""
    found = []
    seen: set[str] = set()
    for draft in template.drafts(s):
        key = draft.what + draft.when
        if key in seen:
            continue
        seen.add(key)
        answer = s.run(draft.program)
        if answer is None or not draft.robust(answer.target):
            continue
        if draft.named is not None and (
            s.category(answer.target) != draft.named or not s.several(draft.named)
        ):
            continue
        found.append((draft, answer))
    return found
