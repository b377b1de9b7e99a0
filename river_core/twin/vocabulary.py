"""The detector's text queries: the "just-in-time" vocabulary of a twin.

Three sources, in priority order: the noun phrases of the editor's query ("blur whoever touches the
ball last" → person, ball), the objects a vision-language model lists on the keyframes, and a
configurable default list. The twin records the vocabulary it used.

The query parser is a small heuristic, not a tagger (no tagger model can be downloaded here and a
query is one sentence): it takes the words after determiners and possessives up to a function word,
people words map to "person", and any known category mentioned anywhere is taken.

>>> query_phrases("make the animal she is playing with look like bronze")
['animal', 'person']
>>> query_phrases("blur whoever touches the red ball last")
['red ball', 'ball', 'person']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

DEFAULT_VOCABULARY: tuple[str, ...] = (
    "person", "face", "dog", "cat", "bird", "horse", "car", "bicycle", "motorcycle", "bus", "truck",
    "boat", "ball", "cup", "bottle", "phone", "laptop", "chair", "table", "bag", "hat", "sign",
)  # fmt: skip

# Words that start a noun phrase: what follows them (up to a function word) is the phrase.
_DETERMINERS = {
    "the", "a", "an", "this", "that", "these", "those", "her", "his", "their", "its", "my", "your",
    "our", "every", "each", "any", "some", "all", "both", "other", "another",
}  # fmt: skip
# Words that end a phrase (function words, common verbs of edit requests, adverbs of time/place).
_STOP = {
    "is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "do", "does", "did",
    "and", "or", "but", "with", "without", "of", "in", "on", "at", "to", "from", "by", "for", "into",
    "onto", "over", "under", "near", "behind", "before", "after", "while", "when", "where", "who",
    "whom", "whose", "which", "that", "than", "then", "as", "like", "look", "looks", "make", "makes",
    "turn", "turns", "change", "blur", "pixelate", "remove", "replace", "add", "recolor", "color",
    "colour", "paint", "give", "put", "it", "she", "he", "they", "them", "her", "him", "last", "first",
    "left", "right", "top", "bottom", "most", "more", "less", "very", "so", "too", "not", "no",
    "playing", "holding", "touching", "touches", "holds", "plays", "wearing", "wears", "sitting",
    "standing", "walking", "running", "jumping", "moving", "closest", "nearest", "farthest", "furthest",
    "biggest", "smallest", "largest", "leftmost", "rightmost", "up", "down", "out", "off", "again",
}  # fmt: skip
# Words that describe the look an edit asks for: at the end of a phrase they are the target
# ("make the mug blue"), not part of the object's name.
_LOOKS = {
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "black", "white", "gray", "grey",
    "brown", "gold", "golden", "silver", "bronze", "copper", "metal", "metallic", "wooden", "glass",
    "marble", "stone", "shiny", "matte", "glossy", "transparent", "invisible", "bright", "dark",
    "darker", "brighter", "bigger", "smaller", "larger", "older", "younger", "blurry", "neon",
}  # fmt: skip
_NUMBERS = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "single", "both",
}  # fmt: skip
# Not objects on screen: the viewpoint and the medium.
_NOT_OBJECTS = {"camera", "frame", "video", "clip", "shot", "scene", "screen", "image", "picture", "viewer"}
_PEOPLE = {
    "person", "people", "man", "men", "woman", "women", "boy", "girl", "child", "children", "kid", "kids",
    "baby", "guy", "lady", "player", "someone", "somebody", "anyone", "whoever", "who", "she", "he",
    "her", "him", "they", "pedestrian", "driver", "rider", "dancer", "juggler",
}  # fmt: skip
_IRREGULAR = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "feet": "foot", "teeth": "tooth", "leaves": "leaf", "knives": "knife",
}  # fmt: skip
_MAX_PHRASE_WORDS = 3


def singular(word: str) -> str:
    """A light singularizer for category matching ("boxes" → "box", "cups" → "cup")."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + repl
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def query_phrases(query: str, known: Iterable[str] = DEFAULT_VOCABULARY) -> list[str]:
    """Noun phrases of an editing query, most specific first, each followed by its head noun."""
    words = re.findall(r"[a-z][a-z'-]*", query.lower())
    phrases: list[str] = []
    for i, word in enumerate(words):
        if word not in _DETERMINERS:
            continue
        phrase: list[str] = []
        for nxt in words[i + 1 :]:
            if nxt in _STOP or nxt in _DETERMINERS or nxt.endswith("ing") or len(phrase) == _MAX_PHRASE_WORDS:
                break
            if nxt not in _NUMBERS and not nxt.isdigit():
                phrase.append(nxt)
        while len(phrase) > 1 and phrase[-1] in _LOOKS:
            phrase.pop()
        if phrase and phrase[-1] not in _NOT_OBJECTS and phrase[-1] not in _LOOKS:
            phrase[-1] = singular(phrase[-1])
            phrases.append(" ".join(phrase))
            phrases.append(phrase[-1])
    known_set = set(known)
    phrases += [singular(w) for w in words if singular(w) in known_set and singular(w) not in _PEOPLE]
    if any(w in _PEOPLE for w in words):
        phrases.append("person")
    return unique([p for p in phrases if p not in _PEOPLE or p == "person"])


def build_vocabulary(
    query: str | None,
    described: Sequence[str] = (),
    defaults: Sequence[str] = DEFAULT_VOCABULARY,
    *,
    limit: int = 24,
) -> list[str]:
    """The detector's queries: the query's phrases, then the VLM's objects, then the defaults."""
    from_query = query_phrases(query, defaults) if query else []
    cleaned = [clean_phrase(p) for p in described]
    return unique([*from_query, *[c for c in cleaned if c], *defaults])[:limit]


def clean_phrase(text: str) -> str:
    """A short lower-case noun phrase from free text ("A red cup." → "red cup"), or ""."""
    words = re.findall(r"[a-z][a-z'-]*", text.lower())
    while words and words[0] in _DETERMINERS:
        words = words[1:]
    if not words or len(words) > _MAX_PHRASE_WORDS + 1:
        return ""
    words[-1] = singular(words[-1])
    return " ".join(words)


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats or blanks."""
    seen: dict[str, None] = {}
    for item in items:
        if item and item not in seen:
            seen[item] = None
    return list(seen)
