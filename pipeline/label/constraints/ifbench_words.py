"""IFBench words:* and sentence:* instructions: constraints on individual words and on how
sentences relate to each other."""

from __future__ import annotations

import random
import string
import unicodedata

from pipeline.label.constraints import banks, text
from pipeline.label.constraints.base import (
    Constraint,
    Kwargs,
    Param,
    SampleContext,
    Verdict,
    int_param,
    plural,
    simple_sampler,
)

VOWELS = "aeiou"
MAX_VOWEL_KINDS = 3
PALINDROME_MIN_LEN = 5


def _fold(word: str) -> str:
    """Lowercase without accents, so 'École' starts with 'e'."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _alphabet(response: str, _: Kwargs) -> Verdict:
    found = [_fold(w) for w in text.words(response)]
    if len(found) < 2:
        return None, f"{len(found)} word(s): need at least 2 to follow the alphabet"
    if found[0][0] not in string.ascii_lowercase:
        return False, f"first word {found[0]!r} does not start with a letter"
    for i in range(1, len(found)):
        expected = chr((ord(found[i - 1][0]) - ord("a") + 1) % 26 + ord("a"))
        if found[i][0] != expected:
            return False, f"word {i + 1} {found[i]!r} should start with {expected!r}"
    return True, f"all {len(found)} words follow the alphabet"


def _no_consecutive(response: str, _: Kwargs) -> Verdict:
    found = [_fold(w) for w in text.words(response)]
    if len(found) < 2:
        return None, f"{len(found)} word(s): nothing consecutive to compare"
    for a, b in zip(found, found[1:]):
        if a[0] == b[0]:
            return False, f"{a!r} and {b!r} start with the same letter"
    return True, f"no two consecutive words of {len(found)} share a first letter"


def _vowels(response: str, _: Kwargs) -> Verdict:
    folded = _fold(response.strip())
    used = sorted(set(folded) & set(VOWELS))
    if not used:
        return None, "no Latin vowels to count"
    if "\n" in folded:
        return False, "more than one paragraph (line breaks found)"
    return len(used) <= MAX_VOWEL_KINDS, f"vowels used: {''.join(used)} (limit {MAX_VOWEL_KINDS} kinds)"


def _palindromes(response: str, kw: Kwargs) -> Verdict:
    found = [
        w for w in (_fold(w) for w in text.words(response)) if len(w) >= PALINDROME_MIN_LEN and w == w[::-1]
    ]
    return len(found) >= kw["N"], f"{len(found)} palindrome(s) {found[:10]} (needs {kw['N']}+)"


def _repeats(response: str, kw: Kwargs) -> Verdict:
    counts: dict[str, int] = {}
    for w in text.words(response):
        counts[w.casefold()] = counts.get(w.casefold(), 0) + 1
    if not counts:
        return None, "no words"
    word, top = max(counts.items(), key=lambda item: item[1])
    return top <= kw["small_n"], f"most repeated word {word!r} appears {top} time(s) (limit {kw['small_n']})"


def _last_first(response: str, _: Kwargs) -> Verdict:
    units = [text.words(s) for s in text.sentences(response)]
    units = [u for u in units if u]
    if len(units) < 2:
        return None, f"{len(units)} sentence(s): need at least 2 to chain"
    for i, (a, b) in enumerate(zip(units, units[1:]), start=1):
        if a[-1].casefold() != b[0].casefold():
            return False, f"sentence {i} ends with {a[-1]!r} but sentence {i + 1} starts with {b[0]!r}"
    return True, f"{len(units)} sentences chained last word to first word"


def _paragraph_last_first(response: str, _: Kwargs) -> Verdict:
    units = [text.words(p) for p in text.paragraphs(response)]
    units = [u for u in units if u]
    if sum(len(u) for u in units) < 2:
        return None, "fewer than 2 words"
    for i, u in enumerate(units, start=1):
        if u[0].casefold() != u[-1].casefold():
            return False, f"paragraph {i} starts with {u[0]!r} but ends with {u[-1]!r}"
    return True, f"all {len(units)} paragraph(s) start and end with the same word"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _sentence_keyword(response: str, kw: Kwargs) -> Verdict:
    found = text.sentences(response)
    if len(found) < kw["N"]:
        return False, f"only {len(found)} sentence(s), no {_ordinal(kw['N'])} sentence"
    ok = text.count_word(found[kw["N"] - 1], kw["word"]) > 0
    return ok, f"{_ordinal(kw['N'])} sentence {'contains' if ok else 'lacks'} {kw['word']!r}"


def _increment(response: str, kw: Kwargs) -> Verdict:
    lengths = [len(text.words(s)) for s in text.sentences(response)]
    if len(lengths) < 2:
        return None, f"{len(lengths)} sentence(s): need at least 2 to compare"
    steps = [b - a for a, b in zip(lengths, lengths[1:])]
    ok = all(step == kw["small_n"] for step in steps)
    return ok, f"sentence lengths {lengths} (each must grow by {kw['small_n']})"


def _s_sentence_keyword(rng: random.Random, ctx: SampleContext) -> Kwargs:
    return {
        "word": ctx.value("word", lambda: rng.choice(banks.KEYWORDS)),
        "N": ctx.value("N", lambda: rng.randint(1, 5)),
    }


CONSTRAINTS = [
    Constraint(
        "alphabet",
        "words:alphabet",
        lambda kw: (
            "Start every word with the letter that follows the previous word's first letter in "
            "the alphabet (after Z comes A again)."
        ),
        _alphabet,
        source="ifbench",
    ),
    Constraint(
        "no_consecutive",
        "words:no_consecutive",
        lambda kw: "Never let two neighbouring words begin with the same letter.",
        _no_consecutive,
        source="ifbench",
    ),
    Constraint(
        "vowel",
        "words:vowel",
        lambda kw: (
            "Answer in one paragraph whose words, all together, use no more than "
            f"{MAX_VOWEL_KINDS} of the five vowels a, e, i, o, u."
        ),
        _vowels,
        source="ifbench",
    ),
    Constraint(
        "palindrome",
        "words:palindrome",
        lambda kw: (
            f"Use at least {plural(kw['N'], 'palindrome')} (words that read the same backwards) of "
            f"{PALINDROME_MIN_LEN} or more letters."
        ),
        _palindromes,
        (int_param("N", 1, 20),),
        simple_sampler(N=lambda r: r.randint(2, 6)),
        source="ifbench",
    ),
    Constraint(
        "repeats",
        "words:repeats",
        lambda kw: f"Do not use any word more than {plural(kw['small_n'], 'time')}.",
        _repeats,
        (int_param("small_n", 1, 20),),
        simple_sampler(small_n=lambda r: r.randint(2, 5)),
        source="ifbench",
    ),
    Constraint(
        "last_first",
        "words:last_first",
        lambda kw: "Begin every sentence after the first with the word that ended the sentence before it.",
        _last_first,
        source="ifbench",
    ),
    Constraint(
        "paragraph_last_first",
        "words:paragraph_last_first",
        lambda kw: (
            "Separate paragraphs with blank lines, and end each paragraph with the same word it begins with."
        ),
        _paragraph_last_first,
        source="ifbench",
    ),
    Constraint(
        "sentence_keyword",
        "sentence:keyword",
        lambda kw: f"Put the word {kw['word']!r} in the {_ordinal(kw['N'])} sentence of your answer.",
        _sentence_keyword,
        (Param("word", "str", pattern=r"[^\W_][\w'-]*"), int_param("N", 1, 20)),
        _s_sentence_keyword,
        source="ifbench",
    ),
    Constraint(
        "sentence_increment",
        "sentence:increment",
        lambda kw: (
            f"Make each sentence exactly {plural(kw['small_n'], 'word')} longer than the sentence before it."
        ),
        _increment,
        (int_param("small_n", 1, 10),),
        simple_sampler(small_n=lambda r: r.randint(1, 4)),
        source="ifbench",
    ),
]
