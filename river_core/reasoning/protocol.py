"""The rollout protocol: the tags, and the one parser of rollouts used by inference, rewards and training.

A rollout is what the reasoner LLM writes after the prompt, with the runtime's results spliced in::

    <think> which animal is she playing with? measure who is closest to her </think>
    <execute> print(nearest_to(1, category="animal")) </execute>
    <results> 3 </results>                      <- injected by the runtime, never generated
    <think> object 3, the dog </think>
    <edit> {"objects": [{"id": 3, "category": "dog", "attributes": "a bronze statue of a dog"}]} </edit>

The grammar is ``think (execute results think?)* edit`` with nothing but whitespace between blocks.
:func:`parse_rollout` never raises on bad text: it returns the turns it could read and a list of
``problems`` (missing, misordered, duplicated or unclosed tags, text outside blocks, too many execute
rounds, results the model wrote itself). A rollout is well formed when there are no problems.

The DeepSeek-R1 chat template opens the assistant turn with ``<think>\\n``, so completions usually lack
the opening tag: the parser treats a rollout that starts inside a think block (a ``</think>`` before any
opening tag) as pre-filled.

>>> parse_rollout("plan</think><execute>print(1)</execute><results>1</results><edit>{}</edit>").problems
()
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

THINK: Final = "think"
EXECUTE: Final = "execute"
RESULTS: Final = "results"
EDIT: Final = "edit"
TAGS: Final = (THINK, EXECUTE, RESULTS, EDIT)
# Every opening and closing tag, e.g. "<think>", "</think>": the tiny tokenizer adds them as tokens.
TAG_STRINGS: Final = tuple(s for t in TAGS for s in (f"<{t}>", f"</{t}>"))
# Where generation pauses: the runtime runs the code (or validates the edit) before resuming.
STOP_STRINGS: Final = ("</execute>", "</edit>")
# The DeepSeek-R1 template opens the assistant turn with this: completions lack the opening tag.
THINK_PREFILL: Final = "<think>\n"
# The paper's budget of tool rounds is not stated; four covers RVEBench's three-hop queries.
DEFAULT_MAX_EXECUTE_ROUNDS: Final = 4

Source = Literal["prefill", "generated", "injected"]
Tag = Literal["think", "execute", "results", "edit"]

_TAG_RE = re.compile(r"<(/?)(think|execute|results|edit)>")
# Tag-like text in untrusted output (sandbox stdout, footage text), spaces and case included.
_TAG_LIKE_RE = re.compile(r"<(\s*/?\s*(?:think|execute|results|edit)\s*)>", re.IGNORECASE)


@dataclass(frozen=True)
class Segment:
    """A piece of a rollout and who wrote it: the template (prefill), the model, or the runtime."""

    source: Source
    text: str


@dataclass(frozen=True)
class Turn:
    """One tagged block. ``body`` is the raw text between the tags; ``start``/``end`` are offsets of
    the whole block (tags included) in the rollout text. ``injected`` is True when the runtime, not the
    model, wrote it. An unclosed block runs to the end of the text with ``closed=False``."""

    tag: Tag
    body: str
    start: int
    end: int
    closed: bool = True
    injected: bool = False

    @property
    def content(self) -> str:
        """The body without surrounding whitespace."""
        return self.body.strip()


@dataclass(frozen=True)
class ParsedRollout:
    """A rollout split into turns, with every protocol problem found (empty = well formed)."""

    text: str
    turns: tuple[Turn, ...]
    problems: tuple[str, ...]
    prefilled: bool = False

    @property
    def well_formed(self) -> bool:
        return not self.problems

    def blocks(self, tag: Tag) -> list[Turn]:
        """The turns with ``tag``, in order."""
        return [t for t in self.turns if t.tag == tag]

    @property
    def code_blocks(self) -> list[str]:
        """The code of every closed ``<execute>`` block, in order."""
        return [t.body for t in self.turns if t.tag == EXECUTE and t.closed]

    @property
    def edit(self) -> Turn | None:
        """The last closed ``<edit>`` block, or None."""
        edits = [t for t in self.turns if t.tag == EDIT and t.closed]
        return edits[-1] if edits else None

    @property
    def thinking(self) -> str:
        """All think blocks joined: the explanation an editor reads."""
        return "\n\n".join(t.content for t in self.turns if t.tag == THINK)


@dataclass
class _Walk:
    turns: list[Turn] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def neutralize(text: str) -> str:
    """Untrusted text (sandbox output, footage text) with protocol tags defused.

    ``<results>`` inside a program's output would otherwise close the injected block early and let
    footage text pose as the model's own turn. Only tag-like sequences change (``<`` becomes
    ``&lt;``), so ordinary comparisons such as ``a < b`` read as written.
    """
    return _TAG_LIKE_RE.sub(lambda m: f"&lt;{m.group(1)}&gt;", text)


def results_block(text: str) -> str:
    """The text the runtime injects after an execute block, with ``text`` neutralized."""
    return f"\n<results>\n{neutralize(text).rstrip()}\n</results>\n"


def parse_segments(
    segments: Iterable[Segment],
    *,
    require_execute: bool = True,
    max_execute_rounds: int | None = DEFAULT_MAX_EXECUTE_ROUNDS,
) -> ParsedRollout:
    """Parse a rollout recorded as segments: results blocks must lie in injected segments."""
    parts = list(segments)
    text = "".join(s.text for s in parts)
    spans: list[tuple[int, int]] = []
    at = 0
    for seg in parts:
        if seg.source == "injected":
            spans.append((at, at + len(seg.text)))
        at += len(seg.text)
    return parse_rollout(
        text,
        injected_spans=spans,
        require_execute=require_execute,
        max_execute_rounds=max_execute_rounds,
    )


def parse_rollout(
    text: str,
    *,
    prefilled: bool | None = None,
    injected_spans: Sequence[tuple[int, int]] | None = None,
    require_execute: bool = True,
    max_execute_rounds: int | None = DEFAULT_MAX_EXECUTE_ROUNDS,
) -> ParsedRollout:
    """Split ``text`` into turns and list every protocol problem.

    ``prefilled``: whether the chat template already opened ``<think>`` (None = detect: the text has a
    ``</think>`` before any opening tag). ``injected_spans``: character ranges the runtime wrote; when
    given, a results block outside them is a problem (the model may not invent results) and a block of
    another kind inside them is too. When None (a saved plain-text rollout) results blocks are taken as
    injected. ``require_execute``: the paper's R_token asks for all four tag pairs, so at least one
    execute/results round. ``max_execute_rounds``: more rounds than this is a problem.
    """
    if prefilled is None:
        first = _TAG_RE.search(text)
        prefilled = first is not None and first.group(0) == "</think>"
    offset = 0
    if prefilled and not text.lstrip().startswith("<think>"):
        # Parse as if the template's opening tag were there; offsets stay those of `text`.
        offset = len("<think>")
        text_for_walk = "<think>" + text
    else:
        text_for_walk = text
    walk = _walk(text_for_walk, offset, injected_spans)
    problems = walk.problems
    problems += _order_problems(walk.turns, require_execute, max_execute_rounds)
    return ParsedRollout(text=text, turns=tuple(walk.turns), problems=tuple(problems), prefilled=prefilled)


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, max(index, 0)) + 1


def _snippet(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _walk(text: str, offset: int, injected_spans: Sequence[tuple[int, int]] | None) -> _Walk:
    """Read blocks left to right; a tag inside a block of another kind is a problem, not a new block."""
    out = _Walk()
    original = text[offset:]

    def where(i: int) -> str:
        return f"line {_line(original, i - offset)}"

    def injected(start: int, end: int) -> bool:
        if injected_spans is None:
            return False
        a, b = start - offset, end - offset
        return any(s <= a and b <= e for s, e in injected_spans)

    pos = 0
    open_tag: str | None = None
    open_at = body_at = 0
    for match in _TAG_RE.finditer(text):
        closing, tag = match.group(1) == "/", match.group(2)
        if open_tag is None:
            gap = text[pos : match.start()]
            if gap.strip():
                out.problems.append(f"{where(pos)}: text outside any block: {_snippet(gap)}")
            if closing:
                out.problems.append(f"{where(match.start())}: </{tag}> closes a block that was never opened")
                pos = match.end()
                continue
            open_tag, open_at, body_at = tag, match.start(), match.end()
            continue
        if closing and tag == open_tag:
            start, end = max(open_at - offset, 0), match.end() - offset
            out.turns.append(
                Turn(
                    tag=open_tag,  # type: ignore[arg-type]
                    body=text[body_at : match.start()],
                    start=start,
                    end=end,
                    injected=injected(open_at, match.end()) if open_at >= offset else False,
                )
            )
            open_tag, pos = None, match.end()
            continue
        shown = f"</{tag}>" if closing else f"<{tag}>"
        out.problems.append(f"{where(match.start())}: {shown} inside an open <{open_tag}> block")
    if open_tag is not None:
        out.problems.append(f"{where(open_at)}: <{open_tag}> is never closed")
        out.turns.append(
            Turn(
                tag=open_tag,  # type: ignore[arg-type]
                body=text[body_at:],
                start=max(open_at - offset, 0),
                end=len(text) - offset,
                closed=False,
            )
        )
    elif text[pos:].strip():
        out.problems.append(f"{where(pos)}: text after the last block: {_snippet(text[pos:])}")
    if injected_spans is not None:
        for turn in out.turns:
            if turn.tag == RESULTS and not turn.injected:
                out.problems.append(
                    f"line {_line(original, turn.start)}: the model wrote a <results> block itself; "
                    "results come only from running the code"
                )
            elif turn.tag != RESULTS and injected(turn.start + offset, turn.end + offset):
                out.problems.append(f"line {_line(original, turn.start)}: <{turn.tag}> inside injected text")
    return out


def _order_problems(turns: Sequence[Turn], require_execute: bool, max_rounds: int | None) -> list[str]:
    """Check ``think (execute results think?)* edit``."""
    problems: list[str] = []
    tags = [t.tag for t in turns]
    if not tags:
        return [
            "no tagged blocks: a rollout is <think>…</think>, <execute>…</execute>, <results>, <edit>…</edit>"
        ]
    if tags[0] != THINK:
        problems.append(f"the rollout starts with <{tags[0]}>; it must start with <think>")
    edits = tags.count(EDIT)
    if edits == 0:
        problems.append("no <edit> block: the rollout must end with the edited twin in <edit>…</edit>")
    elif edits > 1:
        problems.append(f"{edits} <edit> blocks; exactly one is allowed, at the end")
    elif tags[-1] != EDIT:
        problems.append(f"<{tags[-1]}> after <edit>; the edit must be the last block")
    rounds = tags.count(EXECUTE)
    if require_execute and rounds == 0:
        problems.append("no <execute> block: check the twin with code before editing")
    if max_rounds is not None and rounds > max_rounds:
        problems.append(f"{rounds} execute rounds; at most {max_rounds} are allowed")
    for i, tag in enumerate(tags):
        prev = tags[i - 1] if i else None
        nxt = tags[i + 1] if i + 1 < len(tags) else None
        if tag == EXECUTE and nxt != RESULTS:
            problems.append(f"<execute> #{tags[: i + 1].count(EXECUTE)} is not followed by <results>")
        if tag == RESULTS and prev != EXECUTE:
            problems.append(f"<results> #{tags[: i + 1].count(RESULTS)} does not follow an <execute> block")
        if tag == THINK and prev == THINK:
            problems.append(f"two <think> blocks in a row (#{tags[: i + 1].count(THINK)}); merge them")
        if tag == EXECUTE and prev not in (THINK, RESULTS):
            problems.append(f"<execute> #{tags[: i + 1].count(EXECUTE)} must follow <think> or <results>")
    return problems
