"""The original simple constraints, kept with their names and kwargs so existing configs work.

Their kwargs differ from IFEval's (max_words has one bound `n`, include_keyword one keyword),
so they carry their own `basic:` ids rather than borrowing an IFEval id they do not match.
"""

from __future__ import annotations

from pipeline.label.constraints import banks, text
from pipeline.label.constraints.base import Constraint, Kwargs, Param, Verdict, int_param, simple_sampler


def _lowercase(response: str, _: Kwargs) -> Verdict:
    if not text.cased_letters(response):
        return None, "no cased letters to check"
    upper = [c for c in response if c.isupper()]
    return not upper, f"{len(upper)} uppercase letter(s)"


def _max_words(response: str, kw: Kwargs) -> Verdict:
    n = len(text.words(response))
    return n <= kw["n"], f"{n} words (limit {kw['n']})"


def _no_letter(response: str, kw: Kwargs) -> Verdict:
    if not any(ch.isalpha() for ch in response):
        return None, "no letters at all: avoiding one proves nothing"
    count = response.lower().count(kw["letter"].lower())
    return count == 0, f"letter {kw['letter']!r} appears {count} time(s)"


def _include_keyword(response: str, kw: Kwargs) -> Verdict:
    found = text.count_word(response, kw["keyword"]) > 0
    return found, f"keyword {kw['keyword']!r} {'present' if found else 'absent'}"


CONSTRAINTS = [
    Constraint(
        "lowercase",
        "basic:lowercase",
        lambda kw: "Your entire response must be in lowercase letters; no capital letters are allowed.",
        _lowercase,
        source="basic",
    ),
    Constraint(
        "max_words",
        "basic:max_words",
        lambda kw: f"Answer in at most {kw['n']} words.",
        _max_words,
        (int_param("n", 1, 5000),),
        simple_sampler(n=lambda r: r.choice((10, 20, 30, 50, 75, 100))),
        source="basic",
    ),
    Constraint(
        "no_letter",
        "basic:no_letter",
        lambda kw: f"Answer without using the letter '{kw['letter']}' anywhere in your response.",
        _no_letter,
        (Param("letter", "str", pattern=r"[A-Za-z]"),),
        simple_sampler(letter=lambda r: r.choice("abcdfghklmnpuwy")),
        source="basic",
    ),
    Constraint(
        "include_keyword",
        "basic:include_keyword",
        lambda kw: f"Include the word '{kw['keyword']}' in your response.",
        _include_keyword,
        (Param("keyword", "str"),),
        simple_sampler(keyword=lambda r: r.choice(banks.KEYWORDS)),
        source="basic",
    ),
]
