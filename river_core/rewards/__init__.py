"""Rewards over rollouts (paper §3.2): the structured rewards R_token, R_exec, R_dt as pure functions
(:mod:`~river_core.rewards.structured`) and the MLLM judge's R_perf (:mod:`~river_core.rewards.judge`,
its backends and ``--judge`` specs in :mod:`~river_core.rewards.judges`)."""
