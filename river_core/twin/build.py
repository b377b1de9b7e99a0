"""``build_twin``: a clip range and a query in, a twin out — from the cache when it can be.

This is what the CLI (``river twin build``) and later the pipeline and the bridge call. It resolves
the profile's checkpoints, looks the build up in the twin cache (a hit loads no model and imports
no torch), and otherwise runs :class:`~river_core.twin.builder.TwinBuilder` and stores the result.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from river_core.devices import DevicePlan
from river_core.media import FrameRange, probe
from river_core.media import content_hash as hash_file
from river_core.progress import CancelToken, ProgressCallback
from river_core.twin.builder import BuildSettings, StageLoader, TwinBuilder
from river_core.twin.cache import TwinCache, cache_key
from river_core.twin.profiles import Profile, load_stage, model_specs
from river_core.twin.schema import TwinDocument, VideoInfo
from river_core.twin.stages import ModelSpec, Role, Stage
from river_core.twin.vocabulary import query_phrases


@dataclass(frozen=True)
class BuildOutcome:
    """A built (or cached) twin and how it was obtained."""

    twin: TwinDocument
    cache_hit: bool
    cache_key: str
    elapsed_s: float


def build_twin(
    media: Path | str,
    frame_range: FrameRange | None = None,
    query: str | None = None,
    *,
    profile: Profile = "paper",
    device: str | None = None,
    dtype: str | None = None,
    models: Mapping[Role, str] | None = None,
    settings: BuildSettings | None = None,
    cache: TwinCache | None = None,
    use_cache: bool = True,
    seed: int = 0,
    stage_loader: StageLoader | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> BuildOutcome:
    """The twin of ``frame_range`` of ``media`` for ``query`` with ``profile``'s models.

    ``models`` points roles at other checkpoints (an id or a local directory); ``stage_loader``
    replaces model loading altogether (tests, servers with warm stages).
    """
    started = time.monotonic()
    media = Path(media)
    info = probe(media)
    frame_range = frame_range or FrameRange(0, info.frame_count)
    frame_range.check_within(info.frame_count)
    specs = model_specs(profile, models)
    settings = settings or BuildSettings.for_profile(profile)
    store = cache or TwinCache()
    digest = store.media_hash(media) if use_cache else hash_file(media)
    key = cache_key(
        {
            "content_hash": digest,
            "range": [frame_range.start, frame_range.end],
            "models": {role: [s.model_id, s.revision] for role, s in sorted(specs.items())},
            "device": device or "auto",
            "dtype": dtype or "auto",
            "seed": seed,
            "settings": settings.to_json(),
            "query": query_phrases(query) if query else [],
            "loader": "custom" if stage_loader else "profile",
        }
    )
    if use_cache and stage_loader is None and (hit := store.get(key)) is not None:
        twin = hit.model_copy(update={"video": video_at(hit.video, media)})
        return BuildOutcome(twin, True, key, time.monotonic() - started)

    notes: dict[str, object] = {"profile": profile, "seed": seed}
    if stage_loader is None:
        from river_core.devices import choose_device  # imports torch: only on a cache miss

        plan = choose_device(device, dtype)
        notes.update(device=plan.device, dtype=plan.dtype)
        stage_loader = partial(_load_profile_stage, specs=specs, plan=plan, seed=seed)
        cacheable = use_cache
    else:
        cacheable = False  # a custom loader's stages are not described by the key
    builder = TwinBuilder(stage_loader, settings, progress=progress, cancel=cancel, build_notes=notes)
    try:
        twin = builder.build(media, frame_range, query, content_hash=digest)
    finally:
        builder.close()
    if cacheable:
        store.put(key, twin)
    return BuildOutcome(twin, False, key, time.monotonic() - started)


def video_at(video: VideoInfo, media: Path) -> VideoInfo:
    """``video`` naming ``media``: a cached twin of the same content found at another path."""
    return video.model_copy(update={"path": str(Path(media).resolve())})


def _load_profile_stage(role: Role, *, specs: Mapping[Role, ModelSpec], plan: DevicePlan, seed: int) -> Stage:
    return load_stage(role, specs[role], plan, seed=seed)
