"""The paper's structured rewards (§3.2) as pure functions over a parsed rollout.

``R_struct = R_token + R_exec + R_dt``:

- ``R_token``: 0 if every required tag pair (think, execute, results, edit) appears, closed, in the
  protocol's order; otherwise −1. The order and the edge cases are the rollout parser's
  (:func:`river_core.reasoning.protocol.parse_rollout`), the one parser shared with inference.
- ``R_exec``: 0 if every ``<execute>`` block ran without a syntax or runtime error, otherwise −0.5.
  A sandbox refusal (a gated import, a timeout) is a failure too. With no execute block there is
  nothing that failed: 0 (R_token already charges the missing block).
- ``R_dt``: +0.5 if the ``<edit>`` body is valid JSON with every required field of each object
  instance, typed as in the original; −0.5 otherwise (also when there is no edit).

>>> from river_core.reasoning.protocol import parse_rollout
>>> r = parse_rollout("ok</think><execute>print(1)</execute><results>1</results>"
...                   '<edit>{"objects": [{"id": 1, "category": "dog", "attributes": "red"}]}</edit>')
>>> structured_reward(r, [True]).total
0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from river_core.reasoning.edits import edit_schema_problems
from river_core.reasoning.protocol import ParsedRollout

TOKEN_OK: Final = 0.0
TOKEN_BAD: Final = -1.0
EXEC_OK: Final = 0.0
EXEC_BAD: Final = -0.5
DT_OK: Final = 0.5
DT_BAD: Final = -0.5


def r_token(rollout: ParsedRollout) -> float:
    """0 when the rollout is well formed under the protocol, −1 otherwise."""
    return TOKEN_OK if rollout.well_formed else TOKEN_BAD


def r_exec(outcomes: Sequence[bool]) -> float:
    """0 when every execute block ran cleanly (``outcomes[i]`` = block i succeeded), −0.5 otherwise."""
    return EXEC_OK if all(outcomes) else EXEC_BAD


def r_dt(rollout: ParsedRollout) -> float:
    """+0.5 when the edit is parseable JSON preserving the twin's schema, −0.5 otherwise."""
    edit = rollout.edit
    return DT_OK if not edit_schema_problems(edit.body if edit else None) else DT_BAD


@dataclass(frozen=True)
class StructuredReward:
    """The three sub-rewards, their sum, and the reasons behind every penalty (for logs)."""

    r_token: float
    r_exec: float
    r_dt: float
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.r_token + self.r_exec + self.r_dt

    def to_json(self) -> dict[str, Any]:
        return {
            "r_token": self.r_token,
            "r_exec": self.r_exec,
            "r_dt": self.r_dt,
            "r_struct": self.total,
            "problems": self.problems,
        }


def structured_reward(
    rollout: ParsedRollout, outcomes: Sequence[bool], errors: Sequence[str | None] = ()
) -> StructuredReward:
    """All three sub-rewards of one rollout given how its execute blocks ran.

    ``outcomes`` has one entry per closed execute block (see ``rollout.code_blocks``); ``errors``
    optionally carries each block's error message for the problem list.
    """
    if len(outcomes) != len(rollout.code_blocks):
        raise ValueError(
            f"`outcomes` has {len(outcomes)} entries but the rollout has {len(rollout.code_blocks)} "
            "execute blocks; run every block once"
        )
    edit = rollout.edit
    dt_problems = edit_schema_problems(edit.body if edit else None)
    exec_problems = [
        f"execute #{i + 1}: {errors[i] if i < len(errors) and errors[i] else 'failed'}"
        for i, ok in enumerate(outcomes)
        if not ok
    ]
    problems = {
        name: found
        for name, found in (
            ("token", list(rollout.problems)),
            ("exec", exec_problems),
            ("dt", dt_problems),
        )
        if found
    }
    return StructuredReward(
        r_token=r_token(rollout),
        r_exec=r_exec(outcomes),
        r_dt=DT_OK if not dt_problems else DT_BAD,
        problems=problems,
    )
