"""Table tests of the labelers: (input, expected) rows of real cases.

The instruction-constraint checkers have their own tables in tests/test_constraints.py.
"""

from __future__ import annotations

import pytest

from pipeline.label.math import label_math

MATH_WITH_REFERENCE = [
    ("The answer is 42.", "42", "correct"),
    ("17 + 25 = 42", "42", "correct"),
    ("So we get \\boxed{42}", "42", "correct"),
    ("The answer is 41.", "42", "incorrect"),
    ("I am not sure.", "42", "incorrect"),
    ("The answer is 0.5", "1/2", "correct"),
    ("The answer is $\\frac{1}{2}$", "0.5", "correct"),
    ("It is 225.", "225", "correct"),
    ("15 squared is 15*15 = 225, so 225.", "225", "correct"),
    ("The result is 224", "225", "incorrect"),
    ("What is 4 + 9? paying\nWhat is 3 + 10", "13", "incorrect"),  # restated sum, not an answer
    ("7 + 6 equals 13, so the answer is 7.", "13", "incorrect"),  # the stated final answer counts
    ("The answer is -3.", "-3", "correct"),
    ("x = 2/3", "2/3", "correct"),
]


@pytest.mark.parametrize("completion, reference, expected", MATH_WITH_REFERENCE)
def test_math_against_reference(completion: str, reference: str, expected: str) -> None:
    (result,) = label_math([completion], reference)
    assert result.label == expected, result


def test_math_majority_vote_is_gold_without_reference() -> None:
    results = label_math(["The answer is 7", "7", "I think 8", "answer: 7", "no idea"], None)
    assert [r.label for r in results] == ["correct", "correct", "incorrect", "correct", "incorrect"]
    assert results[0].evidence["gold_source"] == "majority" and results[0].evidence["votes"] == 3


def test_math_abstains_on_tied_majority() -> None:
    results = label_math(["The answer is 7", "The answer is 8"], None)
    assert {r.label for r in results} == {"abstain"}


def test_bounded_math_grading_matches_in_process_and_abstains_past_the_limit() -> None:
    from pipeline.label.math_worker import label_math_bounded

    groups = [(["The answer is 7", "7", "I think 8"], None), (["It is 225.", "224"], "225"), ([], "1")]
    bounded = label_math_bounded(groups, time_limit_s=60)
    assert [[r.label for r in g] for g in bounded] == [[r.label for r in label_math(*g)] for g in groups]
    # A limit nothing can meet: every answer abstains with the reason, and the next pool still works.
    late = label_math_bounded(groups[:2], time_limit_s=0.0001)
    assert {r.label for g in late for r in g} == {"abstain"}
    assert "did not finish within" in late[0][0].reasoning
    assert len(late[1]) == 2
