"""Rewards over rollouts: the paper's structured rewards (R_token, R_exec, R_dt) as pure functions."""
