"""Reinforcement learning of the reasoner (paper §3.2): tasks with exact answers, and what makes them.

- :mod:`river_core.rl.tasks`: the task format (one JSON object per line, with a JSON Schema): a twin or
  media range, an implicit query, its level (reasoning hops) and category, and the gold answer (target
  ids per frame span, the edit, and the twin-API program that computes the targets).
- :mod:`river_core.rl.synth`: tasks generated from synthetic scenes whose twin is known exactly
  (``river data synth``).

The paper's RVEBench is not public; this format is our reference for training and evaluation data.
"""
