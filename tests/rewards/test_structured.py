"""The paper's structured rewards on hand-written rollouts."""

from __future__ import annotations

import pytest

from river_core.reasoning.protocol import parse_rollout
from river_core.rewards.structured import r_dt, r_exec, r_token, structured_reward

EDIT = '{"objects": [{"id": 3, "category": "dog", "attributes": "a bronze dog"}]}'
GOOD = (
    "find the dog</think>\n<execute>print(find(category='dog'))</execute>\n<results>[3]</results>\n"
    f"<think>object 3</think>\n<edit>{EDIT}</edit>"
)


@pytest.mark.parametrize(
    ("text", "outcomes", "expected"),
    [
        # Everything right: 0 + 0 + 0.5.
        (GOOD, [True], (0.0, 0.0, 0.5)),
        # The code failed: R_exec only.
        (GOOD, [False], (0.0, -0.5, 0.5)),
        # No execute block: the paper asks for all four tag pairs.
        (f"x</think><edit>{EDIT}</edit>", [], (-1.0, 0.0, 0.5)),
        # Misordered: results before execute.
        (f"x</think><results>1</results><execute>1</execute><edit>{EDIT}</edit>", [True], (-1.0, 0.0, 0.5)),
        # Unclosed edit: format and edit both fail.
        (f"x</think><execute>1</execute><results>1</results><edit>{EDIT}", [True], (-1.0, 0.0, -0.5)),
        # Edit is not JSON.
        ("x</think><execute>1</execute><results>1</results><edit>{'id': 3}</edit>", [True], (0.0, 0.0, -0.5)),
        # Edit drops a required field.
        (
            'x</think><execute>1</execute><results>1</results><edit>{"objects": [{"id": 3}]}</edit>',
            [True],
            (0.0, 0.0, -0.5),
        ),
        # Edit changes a field's type.
        (
            "x</think><execute>1</execute><results>1</results>"
            '<edit>{"objects": [{"id": "3", "category": "dog", "attributes": "x"}]}</edit>',
            [True],
            (0.0, 0.0, -0.5),
        ),
        # Two execute rounds, the second failed.
        (
            "x</think><execute>1</execute><results>1</results><execute>2</execute><results>e</results>"
            f"<edit>{EDIT}</edit>",
            [True, False],
            (0.0, -0.5, 0.5),
        ),
        # Nothing at all.
        ("", [], (-1.0, 0.0, -0.5)),
    ],
)
def test_rewards_follow_the_paper(
    text: str, outcomes: list[bool], expected: tuple[float, float, float]
) -> None:
    parsed = parse_rollout(text)
    reward = structured_reward(parsed, outcomes)
    assert (reward.r_token, reward.r_exec, reward.r_dt) == expected
    assert reward.total == sum(expected)
    # The pure sub-reward functions agree with the combined one.
    assert (r_token(parsed), r_exec(outcomes), r_dt(parsed)) == expected
    # Every penalty carries its reason.
    assert ("token" in reward.problems) == (expected[0] < 0)
    assert ("exec" in reward.problems) == (expected[1] < 0)
    assert ("dt" in reward.problems) == (expected[2] < 0)


def test_outcomes_must_match_the_execute_blocks() -> None:
    with pytest.raises(ValueError, match="2 execute blocks"):
        structured_reward(
            parse_rollout(
                GOOD.replace("</results>", "</results><execute>2</execute><results>2</results>", 1)
            ),
            [True],
        )
