"""IFBench count:* and ratio:* instructions: word, number, conjunction, pronoun counts and
stop-word / sentence-type ratios."""

from __future__ import annotations

import random
import re

from pipeline.label.constraints import text
from pipeline.label.constraints.base import (
    Constraint,
    Kwargs,
    SampleContext,
    Verdict,
    int_param,
    plural,
    simple_sampler,
)

# A number: digits with optional thousands separators or a decimal part ("1,000", "3.14"); digits
# glued to letters ("v2", "mp3") are not numbers in prose.
_NUMBER = re.compile(r"(?<![^\W\d_])(?<![\d.,])\d+(?:[.,]\d+)*(?![^\W\d_])")
MIN_RATIO_WORDS = 5  # a stop-word share of fewer words says nothing about the writing


def _word_range(response: str, kw: Kwargs) -> Verdict:
    n = len(text.words(response))
    return kw["min_words"] <= n <= kw["max_words"], f"{n} words (needs {kw['min_words']}-{kw['max_words']})"


def _range_cross(kw: Kwargs) -> str | None:
    return (
        f"min_words {kw['min_words']} > max_words {kw['max_words']}"
        if kw["min_words"] > kw["max_words"]
        else None
    )


def _unique_words(response: str, kw: Kwargs) -> Verdict:
    n = len({w.casefold() for w in text.words(response)})
    return n >= kw["N"], f"{n} unique words (needs {kw['N']}+)"


def _numbers(response: str, kw: Kwargs) -> Verdict:
    found = _NUMBER.findall(response)
    return len(found) == kw["N"], f"{len(found)} number(s) {found[:8]} (needs exactly {kw['N']})"


def _conjunctions(response: str, kw: Kwargs) -> Verdict:
    used = sorted({w.lower() for w in text.words(response)} & set(text.CONJUNCTIONS))
    detail = f"{len(used)} different coordinating conjunctions {used} (needs {kw['small_n']}+)"
    return len(used) >= kw["small_n"], detail


def _pronouns(response: str, kw: Kwargs) -> Verdict:
    n = sum(1 for w in text.words(response) if w.lower() in text.PRONOUNS)
    return n >= kw["N"], f"{n} pronoun(s) (needs {kw['N']}+)"


def _stop_words(response: str, kw: Kwargs) -> Verdict:
    found = text.words(response)
    if len(found) < MIN_RATIO_WORDS:
        return None, f"only {len(found)} word(s): too few for a stop-word ratio"
    share = 100 * sum(1 for w in found if w.lower() in text.STOP_WORDS) / len(found)
    detail = f"stop words are {share:.1f}% of {len(found)} words (limit {kw['percentage']}%)"
    return share <= kw["percentage"], detail


def _sentence_marks(response: str) -> tuple[dict[str, int], int]:
    """Counts of sentences ending in '.', '?', '!', and how many end in none of them."""
    counts = {".": 0, "?": 0, "!": 0}
    unmarked = 0
    for sentence in text.sentences(response):
        mark = text.sentence_end_mark(sentence)
        if mark is None:
            unmarked += 1
        else:
            counts[mark] += 1
    return counts, unmarked


def _sentence_type(response: str, _: Kwargs) -> Verdict:
    counts, unmarked = _sentence_marks(response)
    if not counts["."] and not counts["?"]:
        return None, f"no declarative or interrogative sentence found ({unmarked} unpunctuated)"
    ok = counts["?"] > 0 and counts["."] == 2 * counts["?"]
    return ok, f"{counts['.']} declarative, {counts['?']} interrogative (needs 2:1)"


def _sentence_balance(response: str, _: Kwargs) -> Verdict:
    counts, unmarked = _sentence_marks(response)
    if not any(counts.values()):
        return None, f"no punctuated sentence found ({unmarked} unpunctuated)"
    ok = counts["."] == counts["?"] == counts["!"]
    return (
        ok,
        f"{counts['.']} declarative, {counts['?']} interrogative, {counts['!']} exclamatory (needs equal)",
    )


def _s_range(rng: random.Random, ctx: SampleContext) -> Kwargs:
    low = ctx.value("min_words", lambda: rng.randrange(40, 301, 10))
    high = ctx.value("max_words", lambda: low + max(5, rng.randint(low // 10, low // 5)))
    return {"min_words": low, "max_words": high}


CONSTRAINTS = [
    Constraint(
        "word_count_range",
        "count:word_count_range",
        lambda kw: f"Your answer must be between {kw['min_words']} and {kw['max_words']} words long.",
        _word_range,
        (int_param("min_words", 1, 5000), int_param("max_words", 1, 5000)),
        _s_range,
        _range_cross,
        source="ifbench",
    ),
    Constraint(
        "unique_word_count",
        "count:unique_word_count",
        lambda kw: f"Use {kw['N']} or more distinct words in your answer.",
        _unique_words,
        (int_param("N", 1, 2000),),
        simple_sampler(N=lambda r: r.randrange(20, 151, 5)),
        source="ifbench",
    ),
    Constraint(
        "numbers",
        "count:numbers",
        lambda kw: f"Your answer must contain exactly {plural(kw['N'], 'number')} written with digits.",
        _numbers,
        (int_param("N", 0, 100),),
        simple_sampler(N=lambda r: r.randint(1, 6)),
        source="ifbench",
    ),
    Constraint(
        "conjunctions",
        "count:conjunctions",
        lambda kw: (
            f"Use at least {plural(kw['small_n'], 'different coordinating conjunction')} (for, and, nor, "
            "but, or, yet, so) in your answer."
        ),
        _conjunctions,
        (int_param("small_n", 1, 7),),
        simple_sampler(small_n=lambda r: r.randint(2, 5)),
        source="ifbench",
    ),
    Constraint(
        "pronouns",
        "count:pronouns",
        lambda kw: (
            f"Use at least {plural(kw['N'], 'personal pronoun')} "
            "(such as I, you, she, they, us) in your answer."
        ),
        _pronouns,
        (int_param("N", 1, 200),),
        simple_sampler(N=lambda r: r.randint(5, 25)),
        source="ifbench",
    ),
    Constraint(
        "stop_words",
        "ratio:stop_words",
        lambda kw: (
            f"Keep common function words (the, is, and, of, ...) to at most {kw['percentage']}% of "
            "all the words in your answer."
        ),
        _stop_words,
        (int_param("percentage", 1, 100),),
        simple_sampler(percentage=lambda r: r.randrange(20, 61, 5)),
        source="ifbench",
    ),
    Constraint(
        "sentence_type",
        "ratio:sentence_type",
        lambda kw: (
            "Write exactly twice as many statements as questions (for example 4 statements and 2 questions)."
        ),
        _sentence_type,
        source="ifbench",
    ),
    Constraint(
        "sentence_balance",
        "ratio:sentence_balance",
        lambda kw: (
            "Use the same number of statements, questions and exclamations, with at least one of each."
        ),
        _sentence_balance,
        source="ifbench",
    ),
]
