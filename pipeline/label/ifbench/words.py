"""IFBench `words:*` instructions: rules on every word, or on words at given places.

"Word" follows each official checker: mostly whitespace pieces after deleting ASCII punctuation
(so "don't" is one word "dont" and "well-known" is "wellknown"), NLTK tokens where the official code
tokenizes with NLTK, punkt sentences where it splits sentences.
"""

from __future__ import annotations

import string
from collections import Counter
from itertools import pairwise

import syllapy

from pipeline.label.ifbench import text
from pipeline.label.ifbench.base import (
    FALSY,
    GIVEN,
    NEGATIVE,
    PUNCT,
    TRIM,
    IFBenchInstruction,
    Kwargs,
    drop_punct,
    fixed,
)
from pipeline.label.ifbench.vocabulary import random_keyword

LETTERS = string.ascii_lowercase
CONSONANTS = frozenset("bcdfghjklmnpqrstvwxyz")
VOWELS = frozenset("aeiou")
PRIMES = frozenset({2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97})


def _alphabet(response: str, kw: Kwargs) -> bool:
    pieces = drop_punct(response).strip(TRIM).split()
    if not pieces:
        return False
    letter = pieces[0][0].lower()
    if letter not in LETTERS:  # a first word starting with a digit or a non-Latin letter fails
        return False
    for piece in pieces[1:]:
        piece = piece.strip(TRIM).lower()
        if not piece:
            continue
        letter = LETTERS[(LETTERS.index(letter) + 1) % 26]
        if piece[0] != letter:
            return False
    return True


def _vowel(response: str, kw: Kwargs) -> bool:
    # one line only (any inner newline fails), and at most three of a e i o u in it
    lines = response.strip().split("\n")
    return len(lines) == 1 and len(VOWELS.intersection(lines[0].lower())) <= 3


def _has_cluster(piece: str) -> bool:
    return any(a in CONSONANTS and b in CONSONANTS for a, b in pairwise(piece))


def _consonants(response: str, kw: Kwargs) -> bool:
    # whitespace pieces with their punctuation: "Strength," passes, "a" and "I" fail
    return all(_has_cluster(piece) for piece in response.lower().strip().split())


def _palindrome(response: str, kw: Kwargs) -> bool:
    pieces = drop_punct(response).lower().split()
    return sum(1 for p in pieces if p == p[::-1] and len(p) >= 5) >= 10


def _prime_lengths(response: str, kw: Kwargs) -> bool:
    return all(len(piece) in PRIMES for piece in drop_punct(response).split())


def _start_verb(response: str, kw: Kwargs) -> bool:
    toks = text.tokens(response)
    return len(toks) > 0 and "VB" in text.first_tag(toks)


def _repeats(response: str, kw: Kwargs) -> bool:
    limit = kw["small_n"]
    counts = Counter(drop_punct(response.lower()).split())
    return all(count <= limit for count in counts.values())


def _odd_even_syllables(response: str, kw: Kwargs) -> bool:
    parities = [syllapy.count(p) % 2 for p in drop_punct(response).lower().split() if p.strip()]
    return all(a != b for a, b in pairwise(parities))


def _last_first(response: str, kw: Kwargs) -> bool:
    found = text.sentences(response)
    for this, following in pairwise(found):
        last = this.rstrip(TRIM).split()
        first = following.lstrip(TRIM).split()
        if not last or not first or last[-1].lower() != first[0].lower():
            return False
    return True


def _paragraph_last_first(response: str, kw: Kwargs) -> bool:
    # every non-empty line is a paragraph; its first and last pieces (lower case) must be equal
    for line in response.split("\n"):
        pieces = line.strip().lower().strip(TRIM).split()
        if pieces and pieces[0] != pieces[-1]:
            return False
    return True


def _no_consecutive(response: str, kw: Kwargs) -> bool:
    pieces = drop_punct(response.lower()).split()
    return all(a[0] != b[0] for a, b in pairwise(pieces))


def _position_kwargs(kw: Kwargs) -> tuple[str, int, int]:
    keyword, n, m = kw["keyword"], kw["n"], kw["m"]
    return keyword.strip(), n, m


def _keywords_specific_position(response: str, kw: Kwargs) -> bool:
    keyword, n, m = _position_kwargs(kw)
    found = text.sentences(response)
    if len(found) < n:
        return False
    # NLTK tokens with at least one letter or digit: punctuation tokens are not words here
    toks = [t for t in text.tokens(found[int(n) - 1]) if any(ch.isalnum() for ch in t)]
    return len(toks) >= m and toks[int(m) - 1].lower() == keyword.lower()


def _describe_specific_position(kw: Kwargs) -> str:
    keyword, n, m = _position_kwargs(kw)
    return SPECIFIC_POSITION_TEXT.format(keyword=keyword, n=n, m=m)


SPECIFIC_POSITION_TEXT = "Include keyword {keyword} in the {n}-th sentence, as the {m}-th word of that sentence."
WORDS_POSITION_TEXT = (
    "The second word in your response and the second to last word in your response should be the word {keyword}."
)


def _words_position(response: str, kw: Kwargs) -> bool:
    keyword = kw["keyword"]
    keyword = keyword.strip().lower()
    toks = text.tokens(response)
    if len(toks) < 2:
        return False
    if toks[-1] in PUNCT:  # a final punctuation token (a substring of string.punctuation) is skipped
        return len(toks) >= 3 and toks[1].lower() == toks[-3].lower() == keyword
    return toks[1].lower() == toks[-2].lower() == keyword


INSTRUCTIONS = [
    fixed("words:alphabet",
          "Each word must start with the next letter of the alphabet, looping back to 'A' after 'Z'.", _alphabet),
    fixed("words:vowel", "Write a paragraph using words that contain only three types of vowels.", _vowel),
    fixed("words:consonants",
          "Ensure each word in your response has at least one consonant cluster (two or more consonants together).",
          _consonants),
    fixed("words:palindrome", "Include at least 10 single-word palindromes, each at least 5 characters long.",
          _palindrome),
    fixed("words:prime_lengths", "Use only words with lengths that are prime numbers.", _prime_lengths),
    fixed("words:start_verb", "The response must start with a verb.", _start_verb),
    IFBenchInstruction(
        "words:repeats", ("small_n",), "The response should not repeat any word more than {small_n} times.",
        _repeats, lambda rng, prompt: {"small_n": rng.randint(1, 5)}, redraw={"small_n": NEGATIVE}),
    fixed("words:odd_even_syllables", "Alternate between words with odd and even numbers of syllables.",
          _odd_even_syllables),
    fixed("words:last_first", "The last word of each sentence must become the first word of the next sentence.",
          _last_first),
    fixed("words:paragraph_last_first",
          "Each paragraph must end with the same word it started with, separate paragraphs with a newline.",
          _paragraph_last_first),
    fixed("words:no_consecutive", "No two consecutive words can share the same first letter.", _no_consecutive),
    IFBenchInstruction(
        "words:keywords_specific_position", ("keyword", "n", "m"), SPECIFIC_POSITION_TEXT,
        _keywords_specific_position,
        lambda rng, prompt: {"keyword": random_keyword(rng), "n": rng.randint(20, 30), "m": rng.randint(30, 40)},
        _describe_specific_position, redraw={"keyword": FALSY, "n": FALSY, "m": FALSY}),
    IFBenchInstruction(
        "words:words_position", ("keyword",), WORDS_POSITION_TEXT, _words_position,
        lambda rng, prompt: {"keyword": random_keyword(rng)},
        lambda kw: WORDS_POSITION_TEXT.format(keyword=kw["keyword"].strip()), redraw={"keyword": GIVEN}),
]
