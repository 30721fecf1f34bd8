"""Word lists the official IFBench checkers use, reproduced as data.

From allenai/IFBench (Apache-2.0): the 50 person names of `count:person_names`, the pronouns of
`count:pronouns`; the keyword list is in keywords.py.
"""

from __future__ import annotations

import random

from pipeline.label.ifbench.keywords import WORD_LIST

PERSON_NAMES = (
    "Emma", "Liam", "Sophia", "Jackson", "Olivia", "Noah", "Ava", "Lucas", "Isabella", "Mason",
    "Mia", "Ethan", "Charlotte", "Alexander", "Amelia", "Benjamin", "Harper", "Leo", "Zoe", "Daniel",
    "Chloe", "Samuel", "Lily", "Matthew", "Grace", "Owen", "Abigail", "Gabriel", "Ella", "Jacob",
    "Scarlett", "Nathan", "Victoria", "Elijah", "Layla", "Nicholas", "Audrey", "David", "Hannah",
    "Christopher", "Penelope", "Thomas", "Nora", "Andrew", "Aria", "Joseph", "Claire", "Ryan",
    "Stella", "Jonathan",
)

PRONOUNS = frozenset({
    # personal
    "i", "me", "we", "us", "you", "he", "him", "she", "her", "it", "they", "them",
    # possessive
    "my", "mine", "our", "ours", "your", "yours", "his", "hers", "its", "their", "theirs",
    # reflexive
    "myself", "ourselves", "yourself", "yourselves", "himself", "herself", "itself", "themselves",
    # demonstrative, interrogative, relative
    "this", "that", "these", "those", "who", "whom", "whose", "which", "what",
    "whoever", "whomever", "whatever", "whichever",
    # indefinite
    "anybody", "anyone", "anything", "everybody", "everyone", "everything",
    "nobody", "nothing", "somebody", "someone", "something",
    "each", "either", "neither", "both", "all", "some", "any", "none",
})


def random_keyword(rng: random.Random) -> str:
    """One keyword drawn uniformly, as the official `generate_keywords(1)` draws it."""
    return rng.choice(WORD_LIST)
