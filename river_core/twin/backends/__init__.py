"""Model backends for the twin builder's stages (see ``river_core.twin.stages``).

Each module exposes the same three entry points, so ``river_core.twin.profiles`` can load any of
them from a literal table:

- ``load(spec: ModelSpec, plan: DevicePlan) -> Stage`` — the real checkpoint via ``from_pretrained``
  (a Hugging Face id from the cache, or a local directory);
- ``tiny(*, seed: int = 0, plan: DevicePlan) -> Stage`` — the same classes from a tiny config built
  in code with a fixed seed (no download);
- ``paper_config()`` — the paper checkpoint's architecture config, carried in code, for real-size
  random-weight measurements.

Every stage object also has ``save_pretrained(path)``, so that ``load(ModelSpec(str(path)), plan)``
round-trips with identical outputs (tested).
"""
