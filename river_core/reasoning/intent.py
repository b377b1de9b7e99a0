"""Whether a request asks for an instant operation (blur, pixelate, mask out, recolor, highlight,
matte) rather than a new look the video model must paint.

The reasoner works out *what* and *when*; *how* is often said in the query's verb. "Blur whoever
touches the ball last" must blur that person, frame by frame, exactly inside their mask: repainting
them with a diffusion model as "a blurred person" would leave a recognisable, regenerated face. So a
plan's look-changing operations become the instant operation the query (or the edit's new
attributes, e.g. ``"blurred"``) names; real appearance changes ("look like bronze") stay generative.

>>> instant_intent("blur whoever touches the ball last")
InstantIntent(kind='blur', color=None)
>>> instant_intent("make the car red")
InstantIntent(kind='recolor', color='red')
>>> instant_intent("make the animal she is playing with look like bronze") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

_WORDS: Final = {
    # kind: pattern of the words that ask for it (matched case-insensitively, on word boundaries)
    "matte": r"mattes?|rotoscop\w*|roto|(?:alpha|a) (?:matte|mask) (?:of|for)|mask (?:of|for)",
    "highlight": r"highlight\w*|outlin\w*|spotlight\w*",
    "mask_out": r"(?:mask|black|block|cover|paint)(?:s|ed|ing)? (?:\w+ ){0,3}?out|blackout|redact\w*|"
    r"cover(?:s|ed|ing)? (?:up|over)",
    "pixelate": r"pixel+at\w*|pixeli[sz]\w*|mosaic\w*|censor\w*",
    "blur": r"blur\w*|defocus\w*|out of focus",
}
# Redaction hides its targets: a plan that removes them for such a query redacts them instead.
REDACTION: Final = ("blur", "pixelate", "mask_out")
_MATERIAL = re.compile(r"\b(?:look(?:s|ing)? like|like an?|made of|into an?|statue|as if)\b", re.I)
_RECOLOR_VERB = r"recolou?r\w*|colou?r(?:s|ed|ing)?|paint\w*|tint\w*|dye\w*|turn\w*|make|makes|chang\w*"


@dataclass(frozen=True)
class InstantIntent:
    """The instant operation a text asks for, with its color where it takes one."""

    kind: str
    color: str | None = None


def instant_intent(text: str | None) -> InstantIntent | None:
    """The instant operation ``text`` (a query, or an edit's new attributes) asks for, if any; the
    earliest one in the text when it names several."""
    if not text:
        return None
    found: list[tuple[int, InstantIntent]] = []
    for kind, words in _WORDS.items():
        match = re.search(rf"\b(?:{words})\b", text, re.IGNORECASE)
        if match:
            found.append((match.start(), InstantIntent(kind)))
    recolor = _recolor(text)
    if recolor is not None:
        found.append(recolor)
    return min(found, key=lambda item: item[0])[1] if found else None


def _recolor(text: str) -> tuple[int, InstantIntent] | None:
    """``recolor the car red``, ``paint the door blue``, ``change the color of the car to #ff0000``,
    ``make the car red``: a verb, then a CSS color ending the clause; not a material ("look like gold")."""
    if _MATERIAL.search(text):
        return None
    colors = "|".join(sorted((re.escape(c) for c in _css_colors()), key=len, reverse=True))
    clause = re.compile(
        rf"\b(?:{_RECOLOR_VERB})\b[^.;!?]*?(?:\b(?P<name>{colors})\b|(?P<hex>#[0-9a-f]{{6}}\b|#[0-9a-f]{{3}}\b))"
        r"\s*(?:$|[.,;!?]|\band\b)",
        re.IGNORECASE,
    )
    match = clause.search(text)
    if not match:
        return None
    color = (match.group("name") or match.group("hex")).lower()
    return match.start(), InstantIntent("recolor", color)


@cache
def _css_colors() -> tuple[str, ...]:
    from PIL import ImageColor

    return tuple(ImageColor.colormap)
