"""``build_twin``: a clip range and a query in, a twin out — from the cache when it can be.

This is what ``river twin build`` and the pipeline call. It resolves the profile's checkpoints, looks
the build up in the twin cache (a hit loads no model and imports no torch), and otherwise runs
:class:`~river_core.twin.builder.TwinBuilder` and stores the result. :class:`WarmStages` keeps a
profile's stages loaded between builds (a pipeline that serves many jobs), and the cache still works
with them: the key names their checkpoints.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
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
    stages: WarmStages | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> BuildOutcome:
    """The twin of ``frame_range`` of ``media`` for ``query`` with ``profile``'s models.

    ``models`` points roles at other checkpoints (an id or a local directory); ``stages`` are warm
    stages to borrow (their profile, checkpoints and seed replace ``profile``, ``models`` and
    ``seed``; they stay loaded afterwards); ``stage_loader`` replaces model loading altogether
    (tests: such builds are not cached, the key cannot describe them).
    """
    started = time.monotonic()
    media = Path(media)
    info = probe(media)
    frame_range = frame_range or FrameRange(0, info.frame_count)
    frame_range.check_within(info.frame_count)
    if stages is not None:
        profile, seed, device, dtype = stages.profile, stages.seed, stages.device, stages.dtype
        specs = dict(stages.specs)
    else:
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
    keep_warm = stages is not None
    if stages is not None:
        notes.update(device=stages.plan.device, dtype=stages.plan.dtype)
        stage_loader, cacheable = stages, use_cache
    elif stage_loader is None:
        from river_core.devices import choose_device  # imports torch: only on a cache miss

        plan = choose_device(device, dtype)
        notes.update(device=plan.device, dtype=plan.dtype)
        stage_loader = partial(_load_profile_stage, specs=specs, plan=plan, seed=seed)
        cacheable = use_cache
    else:
        cacheable = False  # a custom loader's stages are not described by the key
    builder = TwinBuilder(
        stage_loader, settings, progress=progress, cancel=cancel, keep_warm=keep_warm, build_notes=notes
    )
    try:
        twin = builder.build(media, frame_range, query, content_hash=digest)
    finally:
        if not keep_warm:
            builder.close()
    if cacheable:
        store.put(key, twin)
    return BuildOutcome(twin, False, key, time.monotonic() - started)


def video_at(video: VideoInfo, media: Path) -> VideoInfo:
    """``video`` naming ``media``: a cached twin of the same content found at another path."""
    return video.model_copy(update={"path": str(Path(media).resolve())})


def _load_profile_stage(role: Role, *, specs: Mapping[Role, ModelSpec], plan: DevicePlan, seed: int) -> Stage:
    return load_stage(role, specs[role], plan, seed=seed)


class WarmStages:
    """A profile's twin stages, each loaded at most once (when a build first needs it) and kept
    until :meth:`close`: a pipeline serving many jobs builds every twin with the same loaded models.

    Call it with a role to get the stage (it is a :data:`~river_core.twin.builder.StageLoader`);
    ``loads`` counts the loads per role.
    """

    def __init__(
        self,
        profile: Profile = "paper",
        *,
        models: Mapping[Role, str] | None = None,
        device: str | None = None,
        dtype: str | None = None,
        seed: int = 0,
    ) -> None:
        self.profile, self.device, self.dtype, self.seed = profile, device, dtype, seed
        self.specs: dict[Role, ModelSpec] = model_specs(profile, models)
        self.loads: Counter[str] = Counter()
        self._stages: dict[Role, Stage] = {}
        self._plan: DevicePlan | None = None
        self._lock = threading.Lock()

    @property
    def plan(self) -> DevicePlan:
        """Where the stages run (choosing it imports torch)."""
        if self._plan is None:
            from river_core.devices import choose_device

            self._plan = choose_device(self.device, self.dtype)
        return self._plan

    def __call__(self, role: Role) -> Stage:
        with self._lock:
            if role not in self._stages:
                self._stages[role] = load_stage(role, self.specs[role], self.plan, seed=self.seed)
                self.loads[role] += 1
            return self._stages[role]

    @property
    def loaded(self) -> list[Role]:
        return sorted(self._stages)

    def close(self) -> None:
        """Free every loaded stage."""
        with self._lock:
            for stage in self._stages.values():
                stage.close()
            self._stages.clear()
