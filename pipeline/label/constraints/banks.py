"""Word and phrase banks the samplers draw from.

Keywords are common, topic-neutral words so a constraint can be met on almost any prompt;
a keyword that cannot fit the topic would make every answer a failure and teach nothing.
"""

from __future__ import annotations

import random

KEYWORDS = tuple(
    (
        "balance future simple history example important detail reason change community quality "
        "journey challenge practice light moment system creative energy pattern careful question "
        "experience value"
    ).split()
)

FORBIDDEN = tuple(
    (
        "very really thing just actually basically good great important however also many help need make like"
    ).split()
)

END_PHRASES = (
    "That covers everything.",
    "Thanks for reading!",
    "I hope this answers your question.",
    "Happy to help further.",
    "End of answer.",
)

LETTERS = "abcdefghijklmnoprstuwy"  # skip q, v, x, z: too rare to ask "at least N"

FIRST_WORDS = ("first", "however", "finally", "overall", "next", "in", "the", "this", "another")

OPTION_SETS = (
    ("yes", "no", "maybe"),
    ("agree", "disagree", "unsure"),
    ("A", "B", "C", "D"),
    ("true", "false"),
)

CSV_COLUMNS = (
    ("Name", "Category", "Year"),
    ("Country", "Capital", "Population"),
    ("Item", "Price", "Quantity"),
    ("Step", "Action", "Duration", "Notes"),
    ("Term", "Definition"),
)


def keywords(rng: random.Random, n: int, bank: tuple[str, ...] = KEYWORDS) -> list[str]:
    return rng.sample(list(bank), n)
