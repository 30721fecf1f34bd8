"""IFBench `count:*` instructions: how many words, names, numbers, pronouns... a response has.

Each checker counts the unit exactly as the official code does (noted per checker), because a
"word" differs between them: `\\w+` runs, whitespace-split pieces, or NLTK tokens.
"""

from __future__ import annotations

import random
import re

from pipeline.label.ifbench import text
from pipeline.label.ifbench.base import (
    GIVEN,
    NEGATIVE,
    TRIM,
    IFBenchInstruction,
    Kwargs,
    drop_punct,
    fixed,
)
from pipeline.label.ifbench.vocabulary import PERSON_NAMES, PRONOUNS, random_keyword

CONJUNCTIONS = ("and", "but", "for", "nor", "or", "so", "yet")
KEYWORD_TIMES = (1, 2, 3, 5, 7)
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # hiragana, katakana, CJK ideographs


def _word_count_range(response: str, kw: Kwargs) -> bool:
    low, high = kw["min_words"], kw["max_words"]
    return low <= len(text.words(response)) <= high


def _sample_word_count_range(rng: random.Random, prompt: str | None) -> dict:
    low = rng.randint(100, 500)
    return {"min_words": low, "max_words": low + rng.randint(int(low * 0.05), int(low * 0.1))}


def _unique_words(response: str, kw: Kwargs) -> bool:
    # whitespace pieces, lower-cased, trimmed of punctuation (an all-punctuation piece counts as "")
    n = kw["N"]
    return len({piece.strip(TRIM) for piece in response.lower().split()}) >= n


def _conjunctions(response: str, kw: Kwargs) -> bool:
    # the official code collects the untrimmed pieces: "and" and "and," count as two conjunctions
    n = kw["small_n"]
    found = {piece for piece in response.split() if piece.strip(TRIM).lower() in CONJUNCTIONS}
    return len(found) >= n


def _person_names(response: str, kw: Kwargs) -> bool:
    n = kw["N"]
    named = [name for name in PERSON_NAMES if re.search(rf"\b{re.escape(name)}\b", response)]
    return len(named) >= n


def _numbers(response: str, kw: Kwargs) -> bool:
    # punctuation is deleted first, so "3.14" and "1,000" are one number each
    n = kw["N"]
    return len(re.findall(r"\d+", drop_punct(response))) == n


def _punctuation(response: str, kw: Kwargs) -> bool:
    if not ("!?" in response or "?!" in response or "‽" in response):
        return False
    rest = response.replace("?!", "", 1)  # the interrobang's own marks do not count for . , ! ? ; :
    if len(rest) == len(response):
        rest = response.replace("!?", "", 1)
    return {".", ",", "!", "?", ";", ":"} <= set(rest)


def _words_japanese(response: str, kw: Kwargs) -> bool:
    # every N-th whitespace piece (trimmed; empty and all-digit pieces are exempt) has a Japanese char
    n = kw["N"]
    for position, piece in enumerate(response.split(), start=1):
        piece = piece.strip(TRIM)
        if position % n == 0 and piece and not piece.isdigit() and not _JAPANESE.search(piece):
            return False
    return True


def _describe_words_japanese(kw: Kwargs) -> str:
    n = kw["N"]
    # the official text drops "word" for 1st/2nd/3rd (and says 11st, 12nd, 13rd)
    suffix = {1: "Every {N}st of", 2: "Every {N}nd of", 3: "Every {N}rd of"}.get(n % 10, "Every {N}th word of")
    return (suffix + " your response must be in Japanese.").format(N=n)


def _pronouns(response: str, kw: Kwargs) -> bool:
    # "/" becomes a space so "she/her" counts twice; NLTK tokens of the lower-cased text
    n = kw["N"]
    toks = text.tokens(response.replace("/", " ").lower())
    return sum(1 for tok in toks if tok in PRONOUNS) >= n


_KEYWORDS = tuple(f"keyword{i}" for i in range(1, 6))


def _keyword_values(kw: Kwargs) -> list[str]:
    return [kw[k].strip() for k in _KEYWORDS]


def _keywords_multiple(response: str, kw: Kwargs) -> bool:
    # plain substring counts, case-insensitive: "cat" is found inside "category"
    lowered = response.lower()
    return all(lowered.count(k.lower()) == times for k, times in zip(_keyword_values(kw), KEYWORD_TIMES))


def _describe_keywords_multiple(kw: Kwargs) -> str:
    return KEYWORDS_MULTIPLE_TEXT.format(**dict(zip(_KEYWORDS, _keyword_values(kw))))


KEYWORDS_MULTIPLE_TEXT = (
    "Include keyword {keyword1} once in your response, keyword {keyword2} twice in your response, "
    "keyword {keyword3} three times in your response, keyword {keyword4} five times in your "
    "response, and keyword {keyword5} seven times in your response."
)


def _n(key: str, low: int, high: int):
    return lambda rng, prompt: {key: rng.randint(low, high)}


INSTRUCTIONS = [
    IFBenchInstruction(
        "count:word_count_range", ("min_words", "max_words"),
        "The response must contain between {min_words} and {max_words} words.",
        _word_count_range, _sample_word_count_range,
        redraw={"min_words": NEGATIVE, "max_words": NEGATIVE}),
    IFBenchInstruction(
        "count:unique_word_count", ("N",), "Use at least {N} unique words in the response.",
        _unique_words, _n("N", 100, 500), redraw={"N": NEGATIVE}),
    IFBenchInstruction(
        "count:conjunctions", ("small_n",),
        "Use at least {small_n} different coordinating conjunctions in the response.",
        _conjunctions, _n("small_n", 2, 6), redraw={"small_n": NEGATIVE}),
    IFBenchInstruction(
        "count:person_names", ("N",),
        "Mention at least {N} different person names in the response, from this list of person names: "
        + ", ".join(PERSON_NAMES) + " .",
        _person_names, _n("N", 1, 50), redraw={"N": NEGATIVE}),
    IFBenchInstruction(
        "count:numbers", ("N",), "Include exactly {N} numbers in the response.",
        _numbers, _n("N", 1, 6), redraw={"N": NEGATIVE}),
    fixed("count:punctuation",
          "Use every standard punctuation mark at least once, including semicolons, colons, and the "
          "interrobang (?!).", _punctuation),
    IFBenchInstruction(
        "count:words_japanese", ("N",), "Every {N}th word of your response must be in Japanese.",
        _words_japanese, _n("N", 1, 30), _describe_words_japanese, redraw={"N": NEGATIVE}),
    IFBenchInstruction(
        "count:pronouns", ("N",), "The response should include at least {N} pronouns.",
        _pronouns, _n("N", 1, 25), redraw={"N": NEGATIVE}),
    IFBenchInstruction(
        "count:keywords_multiple", _KEYWORDS, KEYWORDS_MULTIPLE_TEXT,
        _keywords_multiple,
        lambda rng, prompt: {k: random_keyword(rng) for k in _KEYWORDS},
        _describe_keywords_multiple, redraw=dict.fromkeys(_KEYWORDS, GIVEN)),
]
