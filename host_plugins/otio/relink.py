"""Find the file a timeline names, the way an NLE relinks offline media.

A timeline written on another machine names its media there: a ``file://`` URL, a Windows path
(``C:\\Footage\\Day 1\\a.mov``, ``\\\\server\\share\\a.mov``), a macOS volume (``/Volumes/RAID/a.mov``) or a
path relative to the timeline. :class:`MediaFinder` tries, in order,

1. the path as written (after decoding a file URL), when it is a path of this machine;
2. a relative path against the timeline's folder;
3. the file name under the timeline's folder and each search path, recursively — exact name first, then
   ignoring case; among files sharing the name, the one whose folders match the written path's trailing
   folders most (``Day 1/a.mov``) wins, and a tie that the facts below do not break is refused.

Each candidate is probed (when PyAV is installed) and must have the rate, frame count and length the
timeline expects; a refused candidate is skipped and the reason kept.

    >>> finder = MediaFinder(Path("/edit/project"), [Path("/mnt/footage")])  # doctest: +SKIP
    >>> url = "file:///C:/Footage/Day%201/a.mov"
    >>> found = finder.find(url, rate=Fraction(24), frames=240)  # doctest: +SKIP
    >>> found.path, found.how  # doctest: +SKIP
    (PosixPath('/mnt/footage/Day 1/a.mov'), 'by name in /mnt/footage')
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlsplit

from host_plugins.otio.probe import MediaFacts, MediaProbeError, probe_media

__all__ = ["MediaFinder", "Relinked"]


@dataclass(frozen=True)
class Relinked:
    path: Path | None  # the file found, or None
    how: str  # "as written", "file URL", "relative to the timeline", "by name in DIR", …; '' when not found
    reason: str  # '' when found; else one line: what was tried and why each candidate was refused
    facts: MediaFacts | None  # None when not probed (probing off, PyAV missing) or not found
    verified: bool  # the file was probed and met every expectation given


_SHOWN = 4  # refusals spelled out in a reason before "…and N more"
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: "C:" is a drive
_URL_DRIVE = re.compile(r"^/?([A-Za-z])[:|](?=/|$)")  # file:///C:/x, file:///C|/x (old Netscape form)


@dataclass(frozen=True)
class _Target:
    """What the timeline wrote, decoded."""

    path: PurePath | None  # PurePosixPath or PureWindowsPath by how it is written; None: not a file
    is_url: bool
    why_not: str = ""  # why `path` is None


def _pure_path(text: str) -> PurePath:
    windows = bool(re.match(r"^[A-Za-z]:", text)) or "\\" in text
    return PureWindowsPath(text) if windows else PurePosixPath(text)


def _decode(target: str) -> _Target:
    text = target.strip()
    scheme = _URL_SCHEME.match(text)
    if scheme is None:
        return _Target(_pure_path(text), is_url=False) if text else _Target(None, False, "names no file")
    if scheme.group(1).lower() != "file":
        return _Target(None, is_url=True, why_not=f"not a file URL ({scheme.group(1)}:)")
    parts = urlsplit(text)
    host, path = unquote(parts.netloc), unquote(parts.path)
    if re.fullmatch(r"[A-Za-z]:", host):  # file://C:/x — malformed but common
        host, path = "", f"/{host}{path}"
    if drive := _URL_DRIVE.match(path):
        path = f"{drive.group(1)}:{path[drive.end() :]}"
        return _Target(PureWindowsPath(path), is_url=True)
    if host and host.lower() != "localhost":  # file://server/share/a.mov is \\server\share\a.mov
        return _Target(PureWindowsPath(f"//{host}{path}"), is_url=True)
    if not path:
        return _Target(None, is_url=True, why_not="names no file")
    return _Target(_pure_path(path), is_url=True)


def _is_native(path: PurePath) -> bool:
    return isinstance(path, PureWindowsPath) == (os.name == "nt")


@dataclass
class _NameIndex:
    """Every file under one folder by name and by case-folded name (hidden folders skipped)."""

    exact: dict[str, list[str]] = field(default_factory=dict)
    folded: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, root: Path) -> _NameIndex:
        # os.scandir hands back full paths as strings: no Path per file, for trees of 100,000 files.
        index = cls()
        folders = [os.fspath(root)]
        while folders:
            try:
                with os.scandir(folders.pop()) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError:  # unreadable folder: searched no further, as an NLE would
                continue
            for entry in entries:
                if entry.name.startswith("."):  # .Trashes, ._a.mov (AppleDouble), .DS_Store
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file():
                    index.exact.setdefault(entry.name, []).append(entry.path)
                    index.folded.setdefault(entry.name.casefold(), []).append(entry.path)
        return index


@dataclass
class _Search:
    """One find(): the expectation, what was tried, and the files already checked."""

    rate: Fraction | None
    frames: int | None
    min_frames: int | None
    probe: bool
    tried: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def check(self, path: Path) -> tuple[bool, MediaFacts | None]:
        """Whether `path` may be the media; a refusal is recorded in `tried`."""
        self.seen.add(os.path.realpath(path))
        if not self.probe:
            return True, None
        try:
            facts = probe_media(path)
        except MediaProbeError as exc:
            self.tried.append(str(exc))
            return False, None
        if facts is None:  # PyAV is not installed: accept unverified
            return True, None
        problems = []
        if self.rate is not None and facts.rate != self.rate:
            problems.append(f"{facts.rate} fps, expected {self.rate}")
        if self.frames is not None and facts.frames != self.frames:
            problems.append(f"{facts.frames} frames, expected {self.frames}")
        if self.min_frames is not None and facts.frames < self.min_frames:
            problems.append(f"{facts.frames} frames, the clip uses {self.min_frames}")
        if problems:
            self.tried.append(f"{path}: {', '.join(problems)}")
            return False, None
        return True, facts

    def found(self, path: Path, how: str, facts: MediaFacts | None) -> Relinked:
        return Relinked(path=path, how=how, reason="", facts=facts, verified=facts is not None)

    def refused(self, target: str, *lead: str) -> Relinked:
        return Relinked(path=None, how="", reason=f"{target}: {_one_line([*lead, *self.tried])}", facts=None,
                        verified=False)  # fmt: skip


def _one_line(items: Sequence[str], shown: int = _SHOWN) -> str:
    items = [" ".join(item.split()) for item in items]  # a reason stays on one line
    if len(items) > shown + 1:
        return "; ".join([*items[:shown], f"…and {len(items) - shown} more"])
    return "; ".join(items)


def _trailing_match(written: PurePath, candidate: str) -> int:
    """How many folders above the file name the candidate shares with the written path, from the end."""
    theirs = [p.casefold() for p in written.parts[1 if written.anchor else 0 : -1]]
    ours = [p.casefold() for p in Path(candidate).parts[:-1]]
    count = 0
    for a, b in zip(reversed(theirs), reversed(ours), strict=False):
        if a != b:
            break
        count += 1
    return count


def _check_exact_number(name: str, value: object, *, positive: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise ValueError(
            f"`{name}` must be exact (an int or a Fraction such as Fraction(30000, 1001)), but is {value!r}"
        )
    if value < 0 or (positive and value == 0):
        raise ValueError(f"`{name}` must be {'positive' if positive else 'at least 0'}, but is {value!r}")


class MediaFinder:
    """Relinks timeline media; one finder serves a whole timeline.

    The folders are indexed by file name once, on first use, and kept: a finder sees them as they were
    then (make a new finder to see files added later).
    """

    def __init__(
        self, timeline_dir: Path | None = None, search_paths: Sequence[Path] = (), *, probe: bool = True
    ) -> None:
        if isinstance(search_paths, (str, Path)):
            raise ValueError(f"`search_paths` must be a list of folders, but is {search_paths!r}")
        for name, folder in [("timeline_dir", timeline_dir), *(("search_paths", p) for p in search_paths)]:
            if folder is not None and not Path(folder).is_dir():
                raise ValueError(f"`{name}` must be an existing folder, but {str(folder)!r} is not one")
        self.timeline_dir = Path(timeline_dir).absolute() if timeline_dir is not None else None
        self.search_paths = tuple(Path(p).absolute() for p in search_paths)
        self.probe = probe
        self._indexes: dict[Path, _NameIndex] = {}

    def find(
        self,
        target: str,
        *,
        rate: Fraction | None = None,
        frames: int | None = None,
        min_frames: int | None = None,
    ) -> Relinked:
        """Find `target` (a timeline's target URL or path) on this machine.

        `rate` is the media's exact rate, `frames` the media's whole length in frames (the available range
        the timeline recorded), `min_frames` the frames the clip uses; each is checked when given.
        """
        # 1. Check inputs
        if not isinstance(target, str):
            raise ValueError(f"`target` must be a string (a URL or a path), but is {target!r}")
        _check_exact_number("rate", rate, positive=True)
        _check_exact_number("frames", frames, positive=False)
        _check_exact_number("min_frames", min_frames, positive=False)
        search = _Search(Fraction(rate) if rate is not None else None, frames, min_frames, self.probe)

        # 2. Decode what the timeline wrote
        written = _decode(target)
        if written.path is None:
            return search.refused(target, written.why_not)

        # 3. The path as written, when it is a path of this machine
        if written.path.anchor:
            if _is_native(written.path):
                path = Path(written.path)
                if path.is_file():
                    ok, facts = search.check(path)
                    if ok:
                        return search.found(path, "file URL" if written.is_url else "as written", facts)
                else:
                    search.tried.append(f"no file at {path}")
        # 4. A relative path, against the timeline's folder
        elif self.timeline_dir is None:
            search.tried.append("a relative path and no timeline folder to read it against")
        else:
            path = self.timeline_dir.joinpath(*written.path.parts)
            if path.is_file():
                ok, facts = search.check(path)
                if ok:
                    return search.found(path, "relative to the timeline", facts)
            else:
                search.tried.append(f"no file at {path}")

        # 5. By file name under the timeline's folder and the search paths
        return self._find_by_name(target, written.path, search)

    def _roots(self) -> list[Path]:
        roots = [self.timeline_dir] if self.timeline_dir is not None else []
        return list(dict.fromkeys([*roots, *self.search_paths]))

    def _index(self, root: Path) -> _NameIndex:
        if root not in self._indexes:
            self._indexes[root] = _NameIndex.build(root)
        return self._indexes[root]

    def _find_by_name(self, target: str, written: PurePath, search: _Search) -> Relinked:
        name = written.name
        roots = self._roots()
        if not roots:
            search.tried.append("no timeline folder or search path to look in by name")
            return search.refused(target)
        exact = [(root, p) for root in roots for p in self._index(root).exact.get(name, ())]
        named = {p for _, p in exact}
        folded = [
            (root, p)
            for root in roots
            for p in self._index(root).folded.get(name.casefold(), ())
            if p not in named
        ]
        for candidates, how in ((exact, "by name in {}"), (folded, "by name, ignoring case, in {}")):
            result = self._pick(target, written, candidates, how, search)
            if result is not None:
                return result
        if not exact and not folded:
            where = _one_line([str(r) for r in roots], shown=2).replace("; ", ", ")
            search.tried.append(f"no file named {name!r} under {where}")
        return search.refused(target)

    def _pick(
        self,
        target: str,
        written: PurePath,
        candidates: Iterable[tuple[Path, str]],
        how: str,
        search: _Search,
    ) -> Relinked | None:
        """The best candidate that passes its checks, a refusal for a tie, or None to search on."""
        unique: dict[str, tuple[Path, str]] = {}
        for root, path in candidates:
            real = os.path.realpath(path)
            if real not in search.seen and real not in unique:
                unique[real] = (root, path)
        by_score: dict[int, list[tuple[Path, str]]] = {}
        for root, path in unique.values():
            by_score.setdefault(_trailing_match(written, path), []).append((root, path))
        for score in sorted(by_score, reverse=True):
            passed = []
            for root, path in by_score[score]:
                ok, facts = search.check(Path(path))
                if ok:
                    passed.append((root, Path(path), facts))
            if len(passed) == 1:
                root, path, facts = passed[0]
                return search.found(path, how.format(root), facts)
            if len(passed) > 1:
                files = _one_line([str(p) for _, p, _ in passed], shown=3).replace("; ", ", ")
                folders = f"{score} folder{'s' if score != 1 else ''}"
                return search.refused(
                    target,
                    f"ambiguous: {len(passed)} files named {written.name!r} fit equally well ({files}; "
                    f"each shares {folders} with the written path): name the right folder as a search path",
                )
        return None
