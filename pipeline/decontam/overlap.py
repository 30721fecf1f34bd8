"""Token forms and lexical overlap: the explainable signals next to embedding cosine.

Texts are compared in a canonical form (NFC, case-folded, punctuation dropped), so edits to
casing, spacing and punctuation do not hide a copy. `masked_tokens` also hides what a template
changes between copies (numbers, number words, units, capitalised names), so a GSM8K problem with
new numbers still reads as the same text. `overlap` is the share of the shorter text's n-grams found
in the other (evidence kept as before); the detector's rules add counts and the longer text's share,
so a short generic eval item inside a long prompt does not count on its own.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

_NON_WORD = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]+")
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand million billion half twice thrice double triple quarter dozen first second third fourth fifth "
    "sixth seventh eighth ninth tenth".split()
)
UNITS = frozenset(
    "cm mm km m meter meters metre metres kilometer kilometers mile miles inch inches foot feet yard yards "
    "centimeter centimeters centimetre centimetres millimeter millimeters millimetre millimetres kilometre "
    "kilometres milliliter milliliters millilitre millilitres "
    "g kg gram grams kilogram kilograms pound pounds lb lbs ounce ounces oz ton tons liter liters litre "
    "litres ml gallon gallons cup cups second seconds minute minutes hour hours day days week weeks month "
    "months year years dollar dollars cent cents euro euros percent mph".split()
)
NUMBER, UNIT, NAME = "#", "%", "@"


def canonical(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


def tokens(text: str) -> list[str]:
    return canonical(text).split()


def masked_tokens(text: str) -> list[str]:
    """Canonical tokens with numbers, number words and units as placeholders, and a capitalised
    word that does not start a sentence (a name, mostly) as another."""
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    last = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        folded = word.casefold()
        between = text[last : match.start()]
        sentence_start = not out or any(c in ".!?\n:" for c in between)
        last = match.end()
        if any(c.isdigit() for c in word) or folded in NUMBER_WORDS:
            out.append(NUMBER)
        elif folded in UNITS:
            out.append(UNIT)
        elif word[0].isupper() and not sentence_start and len(word) > 1 and not word.isupper():
            out.append(NAME)
        else:
            out.append(folded)
    return out


def grams(words: list[str], n: int) -> frozenset[tuple[str, ...]]:
    """Word n-grams; a text shorter than n is one gram of all its words."""
    if not words:
        return frozenset()
    if len(words) < n:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def ngrams(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the canonical text."""
    return grams(tokens(text), n)


def overlap(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def longest_span(a: list[str], b: list[str]) -> tuple[int, int, int]:
    """(length, start in a, start in b) of the longest run of tokens the two share contiguously."""
    if not a or not b:
        return 0, 0, 0
    found = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return found.size, found.a, found.b
