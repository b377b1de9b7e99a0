"""Model profiles: which checkpoint each twin-builder stage loads.

A literal table (greppable, no registry machinery). ``paper`` names the checkpoints of the RIVER
paper's stack, loaded with ``from_pretrained`` from the Hugging Face cache or a local directory;
``tiny`` builds the same classes from tiny configs in code with a fixed seed (no download: tests,
CI and the offline demo; its outputs are meaningless). Any role can point at a local directory.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Literal

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.twin.stages import ROLES, ModelSpec, Role, Stage

Profile = Literal["paper", "tiny"]
PROFILES: tuple[Profile, ...] = ("paper", "tiny")

# Depth Anything V2: only the Small checkpoint is Apache-2.0 (Base/Large are CC-BY-NC-4.0), so the
# product default is Small; point "depth" at another checkpoint if your use allows it.
PAPER_MODELS: dict[Role, ModelSpec] = {
    "detector": ModelSpec("google/owlv2-base-patch16-ensemble", license="Apache-2.0"),
    "tracker": ModelSpec("facebook/sam2.1-hiera-large", license="Apache-2.0"),
    "depth": ModelSpec("depth-anything/Depth-Anything-V2-Small-hf", license="Apache-2.0"),
    "describer": ModelSpec("Qwen/Qwen2.5-VL-7B-Instruct", license="Apache-2.0"),
}

BACKENDS: dict[Role, str] = {
    "detector": "river_core.twin.backends.owlv2",
    "tracker": "river_core.twin.backends.sam2",
    "depth": "river_core.twin.backends.depth_anything",
    "describer": "river_core.twin.backends.qwen_vl",
}


def model_specs(profile: Profile, overrides: Mapping[Role, str] | None = None) -> dict[Role, ModelSpec]:
    """The checkpoint per role for ``profile``; ``overrides`` maps a role to an id or a local path."""
    if profile not in PROFILES:
        raise RiverError(f"profile {profile!r} is not one of: {', '.join(PROFILES)}")
    specs = dict(PAPER_MODELS) if profile == "paper" else {role: ModelSpec(f"tiny:{role}") for role in ROLES}
    for role, model_id in (overrides or {}).items():
        if role not in ROLES:
            raise RiverError(f"model role {role!r} is not one of: {', '.join(ROLES)}")
        specs[role] = ModelSpec(model_id)
    return specs


def load_stage(role: Role, spec: ModelSpec, plan: DevicePlan, *, seed: int = 0) -> Stage:
    """Load ``role``'s backend: the tiny build for ``tiny:*`` ids, else ``from_pretrained``."""
    backend = importlib.import_module(BACKENDS[role])
    if spec.model_id.startswith("tiny:"):
        return backend.tiny(seed=seed, plan=plan)
    return backend.load(spec, plan)
