"""Evaluation datasets: our task format and reasoning-segmentation benchmarks, read into one shape.

:func:`load_dataset` takes

- **a task file** (``*.jsonl``, :mod:`river_core.rl.tasks`) or a folder holding ``test.jsonl`` /
  ``val.jsonl`` / ``train.jsonl`` (what ``river data synth`` writes; ``split`` picks one). Gold: the
  target ids and their frames; gold masks are the twin's masks of those ids.
- **a ReVOS / MeViS folder** in its published layout: ``meta_expressions.json`` (or one
  ``meta_expressions*.json``) with ``{"videos": {VIDEO: {"expressions": {EID: {"exp", "obj_id",
  "anno_id"[, "type_id"]}}, "frames": [NAME, …]}}}``, ``mask_dict.json`` mapping each ``anno_id`` to one
  COCO RLE (or null) per listed frame, and ``JPEGImages/VIDEO/NAME.jpg``. Gold: the union of the
  expression's masks per frame; there are no gold twin ids, so target-set metrics do not apply
  (J&F and temporal IoU do). Those benchmarks have no levels or categories; we map ReVOS's
  ``type_id`` 1 (reasoning) to level 3 and 0 (referring) to level 1, MeViS expressions (motion) to
  level 1, temporal, and ReVOS's to semantic. The frames become a lossless clip (FFV1) on first use.

RVEBench-style data (the paper's benchmark is not public): write one task line per query in our format
(``river data schema``), with ``{"media": CLIP, "range": "START:END"}`` as the source and the gold target
ids of the twin ``river twin build`` makes of that range — see ``river_core/eval/README.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import numpy as np

from river_core.errors import RiverError
from river_core.rl.tasks import SPLITS, MediaSource, Task, TwinSource, read_tasks

REVOS_RATE: Final = Fraction(30)
"""Frame rate given to image-sequence clips (the benchmarks publish frames, not a rate)."""


BUNDLED: Final = "bundled"
BUNDLED_RANGE: Final = "30:63"
BUNDLED_QUERIES: Final = (
    ("blur the biggest thing in the shot", {"op": "blur"}),
    ("recolor the biggest thing in the shot green", {"op": "recolor", "color": "green"}),
    (
        "make the biggest thing in the shot look like bronze",
        {"op": "appearance", "prompt": "look like bronze"},
    ),
)


class DatasetError(RiverError, ValueError):
    """A dataset that cannot be read; the message says what is wrong and how to fix it."""


@dataclass
class EvalTask:
    """One query to evaluate, whatever layout it came from.

    ``gold_ids`` / ``gold_frames`` are None when the gold is masks only (ReVOS/MeViS); ``gold_masks``
    (frame → COCO RLE dict of the union of the targets) is set only for those, since for our tasks it
    is read from the twin."""

    id: str
    query: str
    level: int
    category: str
    base: Path
    task: Task | None = None
    gold_ids: list[int] | None = None
    gold_frames: dict[int, set[int]] | None = None
    gold_masks: dict[int, dict[str, Any]] | None = None
    media: Path | None = None
    range: str | None = None
    frames_dir: Path | None = None
    frame_names: list[str] = field(default_factory=list)

    @property
    def twin(self) -> Path | None:
        return self.task.twin_path(self.base) if self.task is not None else None

    @property
    def all_gold_frames(self) -> set[int]:
        if self.gold_frames is not None:
            return set().union(*self.gold_frames.values()) if self.gold_frames else set()
        return {f for f, rle in (self.gold_masks or {}).items() if rle is not None}


@dataclass
class EvalDataset:
    name: str
    layout: str
    path: Path
    tasks: list[EvalTask]


def load_dataset(path: Path | str, *, split: str = "test", profile: str = "tiny") -> EvalDataset:
    """Read ``path`` (see the module docstring) into :class:`EvalTask`\\ s; ``"bundled"`` is
    :func:`bundled_dataset` (its gold needs the twin ``profile`` builds)."""
    if str(path) == BUNDLED:
        return bundled_dataset(profile)
    path = Path(path)
    if not path.exists():
        raise DatasetError(
            f"dataset {str(path)!r} does not exist; give a task file (.jsonl), a `river data synth` folder "
            "or a ReVOS/MeViS folder with meta_expressions.json"
        )
    if path.is_file():
        if path.suffix != ".jsonl":
            raise DatasetError(f"{path}: a dataset file is a task file (.jsonl); see `river data schema`")
        return _our_tasks(path, path.stem)
    metas = sorted(path.glob("meta_expressions*.json"))
    if metas:
        return _revos(path, metas, split)
    task_file = path / f"{split}.jsonl"
    if split not in SPLITS:
        raise DatasetError(f"--split {split!r} is not one of {', '.join(SPLITS)}")
    if task_file.is_file():
        return _our_tasks(task_file, f"{path.name}/{split}")
    raise DatasetError(
        f"{path}: no {split}.jsonl and no meta_expressions.json; expected a `river data synth` folder, "
        "a ReVOS/MeViS folder, or pass a task file"
    )


def _our_tasks(path: Path, name: str) -> EvalDataset:
    tasks = read_tasks(path)  # TaskFormatError (a RiverError) names every bad line
    base = path.parent
    out = []
    for t in tasks:
        media = rng = None
        if isinstance(t.source, MediaSource):
            media, rng = _resolve(base, t.source.media), t.source.range
        elif isinstance(t.source, TwinSource) and not (base / t.source.twin).is_file():
            raise DatasetError(f"{path}: task {t.id}: its twin {base / t.source.twin} is missing")
        frames = {g.id: {f for r in g.frames for f in range(r.start, r.end)} for g in t.gold.targets}
        out.append(
            EvalTask(
                t.id,
                t.query,
                t.level,
                t.category,
                base,
                task=t,
                gold_ids=[g.id for g in t.gold.targets],
                gold_frames=frames,
                media=media,
                range=rng,
            )
        )
    return EvalDataset(name, "tasks", path, out)


def _resolve(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def _revos(folder: Path, metas: list[Path], split: str) -> EvalDataset:
    if (folder / "meta_expressions.json").is_file():
        meta_path = folder / "meta_expressions.json"
    else:
        named = [m for m in metas if split in m.stem] or metas
        if len(named) > 1:
            raise DatasetError(
                f"{folder}: several meta_expressions files ({', '.join(m.name for m in named)}); "
                "pick one with --split (a word in its name)"
            )
        meta_path = named[0]
    meta = _read_json(meta_path)
    masks_path = folder / "mask_dict.json"
    if not masks_path.is_file():
        raise DatasetError(
            f"{folder}: mask_dict.json is missing; the gold masks of the expressions live there"
        )
    mask_dict = _read_json(masks_path)
    videos = meta.get("videos") if isinstance(meta, dict) else None
    if not isinstance(videos, dict):
        raise DatasetError(
            f'{meta_path}: expected {{"videos": {{VIDEO: {{"expressions": …, "frames": …}}}}}}'
        )
    has_types = any("type_id" in e for v in videos.values() for e in v.get("expressions", {}).values())
    layout = "revos" if has_types else "mevis"
    tasks = []
    for video, entry in sorted(videos.items()):
        frames = [str(f) for f in entry.get("frames", [])]
        frames_dir = folder / "JPEGImages" / video
        if not frames or not frames_dir.is_dir():
            raise DatasetError(f"{meta_path}: video {video!r} has no frames list or no JPEGImages/{video}/")
        for eid, exp in sorted(entry.get("expressions", {}).items(), key=lambda kv: str(kv[0])):
            anno = [str(a) for a in exp.get("anno_id", [])]
            missing = [a for a in anno if a not in mask_dict]
            if missing or not anno or not str(exp.get("exp", "")).strip():
                raise DatasetError(
                    f"{meta_path}: {video}/{eid}: needs a non-empty `exp` and `anno_id`s found in "
                    f"mask_dict.json (missing: {missing or 'no anno_id'})"
                )
            gold: dict[int, dict[str, Any]] = {}
            for k in range(len(frames)):
                rles = [mask_dict[a][k] for a in anno if k < len(mask_dict[a]) and mask_dict[a][k]]
                if rles:
                    gold[k] = _union(rles)
            reasoning = exp.get("type_id") == 1
            tasks.append(
                EvalTask(
                    _task_id(f"{video}-{eid}"),
                    " ".join(str(exp["exp"]).split()),
                    3 if reasoning else 1,
                    "temporal" if layout == "mevis" else "semantic",
                    folder,
                    gold_masks=gold,
                    frames_dir=frames_dir,
                    frame_names=frames,
                    range=f"0:{len(frames)}",
                )
            )
    return EvalDataset(f"{folder.name}/{meta_path.stem}", layout, meta_path, tasks)


def _task_id(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def _union(rles: list[dict[str, Any]]) -> dict[str, Any]:
    from river_core.twin.masks import decode_mask, encode_mask

    masks = [decode_mask(_rle(r)) for r in rles]
    return encode_mask(np.logical_or.reduce(masks))


def _rle(r: dict[str, Any]) -> dict[str, Any]:
    counts = r["counts"]
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": counts}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read it as JSON ({exc})") from None


def image_sequence_clip(task: EvalTask, cache: Path) -> Path:
    """The clip of an image-sequence task (FFV1, lossless), written once under ``cache``."""
    from PIL import Image

    from river_core.media.encode import MediaWriter
    from river_core.media.rational import Timecode

    assert task.frames_dir is not None
    out = cache / f"{task.frames_dir.name}.mkv"
    if out.is_file():
        return out
    images = []
    for name in task.frame_names:
        found = [p for p in (task.frames_dir / f"{name}.jpg", task.frames_dir / name) if p.is_file()]
        if not found:
            raise DatasetError(f"{task.frames_dir}: frame {name!r} (.jpg) is missing")
        images.append(np.asarray(Image.open(found[0]).convert("RGB")))
    h, w = images[0].shape[:2]
    cache.mkdir(parents=True, exist_ok=True)
    # Written under a name of this process, then renamed: workers converting the same video at once
    # each write their own (identical) file and the rename is atomic.
    tmp = cache / f".{out.stem}.{os.getpid()}.mkv"
    with MediaWriter(
        tmp,
        "ffv1",
        width=w,
        height=h,
        rate=REVOS_RATE,
        timecode=Timecode(0, REVOS_RATE),
        audio=[],
        overwrite=True,
    ) as writer:
        for rgb in images:
            writer.write_video(rgb)
    tmp.replace(out)
    return out


def bundled_dataset(profile: str = "tiny") -> EvalDataset:
    """Three tasks on frames 30–62 of the clip bundled with the package, to exercise rendering: blur,
    recolor (instant) and a new look (generative) of "the biggest thing in the shot". Their gold is the
    object with the largest mean size in the twin ``profile`` builds for each query (the pipeline finds
    the same twin in the cache). With ``tiny`` the twin comes from random tiny models: a smoke dataset
    for the rendered metrics, not a benchmark."""
    from river_core.media.rational import FrameRange, frames_to_ranges
    from river_core.samples import bundled_sample
    from river_core.twin.build import build_twin

    media = bundled_sample()
    tasks = []
    for k, (query, edit) in enumerate(BUNDLED_QUERIES):
        twin = build_twin(media, FrameRange.parse(BUNDLED_RANGE), query, profile=profile).twin  # type: ignore[arg-type]
        sizes: dict[int, list[float]] = {}
        for entry in twin.frames:
            for o in entry.objects:
                sizes.setdefault(o.id, []).append(o.spatial.size)
        if not sizes:
            raise DatasetError(
                f"the {profile} twin of the bundled clip has no objects; no gold for {query!r}"
            )
        target = max(sizes, key=lambda i: (sum(sizes[i]) / len(sizes[i]), -i))
        frames = sorted(f for f, _ in twin.track(target))
        raw = {
            "id": f"bundled-{k}",
            "scene": "bundled",
            "split": "test",
            "source": {"media": str(media), "range": BUNDLED_RANGE},
            "query": query,
            "level": 1,
            "category": "spatial",
            "template": "bundled_largest",
            "gold": {
                "targets": [{"id": target, "frames": [r.to_json() for r in frames_to_ranges(frames)]}],
                "edit": edit,
                "program": "target = largest()",
            },
        }
        task = Task.model_validate(raw)
        tasks.append(
            EvalTask(
                task.id,
                query,
                1,
                "spatial",
                media.parent,
                task=task,
                gold_ids=[target],
                gold_frames={target: set(frames)},
                media=media,
                range=BUNDLED_RANGE,
            )
        )
    return EvalDataset(f"bundled ({profile})", "tasks", media, tasks)
