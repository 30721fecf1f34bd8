"""IFEval instructions about wording: keywords, letters, language, letter case and commas."""

from __future__ import annotations

import random

from pipeline.label.constraints import banks, text
from pipeline.label.constraints.base import (
    Constraint,
    Kwargs,
    Param,
    SampleContext,
    Verdict,
    counted_relation,
    holds,
    int_param,
    plural,
    relation_param,
    simple_sampler,
)
from pipeline.label.constraints.language import LANGUAGES, is_language

# keywords:*


def _existence(response: str, kw: Kwargs) -> Verdict:
    missing = [k for k in kw["keywords"] if text.count_word(response, k) == 0]
    return not missing, f"missing keywords {missing}" if missing else f"all of {kw['keywords']} present"


def _frequency(response: str, kw: Kwargs) -> Verdict:
    n = text.count_word(response, kw["keyword"])
    return holds(n, kw["relation"], kw["frequency"]), (
        f"{kw['keyword']!r} appears {n} time(s) (needs {kw['relation']} {kw['frequency']})"
    )


def _forbidden(response: str, kw: Kwargs) -> Verdict:
    used = [w for w in kw["forbidden_words"] if text.count_word(response, w)]
    return not used, f"forbidden words used: {used}" if used else "no forbidden word used"


def _letter_frequency(response: str, kw: Kwargs) -> Verdict:
    if not any("a" <= ch <= "z" for ch in response.lower()):
        return None, "no Latin letters to count"
    n = response.lower().count(kw["letter"].lower())
    return holds(n, kw["let_relation"], kw["let_frequency"]), (
        f"letter {kw['letter']!r} appears {n} time(s) (needs {kw['let_relation']} {kw['let_frequency']})"
    )


# language / case


def _response_language(response: str, kw: Kwargs) -> Verdict:
    return is_language(response, kw["language"])


def _case_and_english(response: str, upper: bool) -> Verdict:
    """All cased letters in one case, and English; the case is checked first since it needs no
    guessing, and a response with no cased letter at all cannot be judged."""
    letters = text.cased_letters(response)
    if not letters:
        return None, "no cased letters to check"
    wrong = sum(ch.islower() if upper else ch.isupper() for ch in letters)
    if wrong:
        return False, f"{wrong} {'lowercase' if upper else 'uppercase'} letter(s)"
    ok, detail = is_language(response.lower(), "en")
    return ok, f"case ok; {detail}"


def _capital_words(response: str, kw: Kwargs) -> Verdict:
    n = sum(1 for w in text.words(response) if sum(c.isalpha() for c in w) >= 2 and w.isupper())
    return holds(n, kw["capital_relation"], kw["capital_frequency"]), (
        f"{n} all-capital word(s) (needs {kw['capital_relation']} {kw['capital_frequency']})"
    )


def _no_comma(response: str, _: Kwargs) -> Verdict:
    count = response.count(",") + response.count("，")
    return count == 0, f"{count} comma(s)"


# samplers


def _s_existence(rng: random.Random, ctx: SampleContext) -> Kwargs:
    return {"keywords": ctx.value("keywords", lambda: banks.keywords(rng, rng.randint(1, 3)))}


def _s_frequency(rng: random.Random, ctx: SampleContext) -> Kwargs:
    keyword = ctx.value("keyword", lambda: rng.choice(banks.KEYWORDS))
    return {"keyword": keyword, **counted_relation("frequency", "relation", 1, 4)(rng, ctx)}


def _s_letter(rng: random.Random, ctx: SampleContext) -> Kwargs:
    letter = ctx.value("letter", lambda: rng.choice(banks.LETTERS))
    return {"letter": letter, **counted_relation("let_frequency", "let_relation", 2, 12)(rng, ctx)}


_REL = relation_param()
_WORD = Param("keyword", "str", pattern=r"[^\W_][\w' -]*")

CONSTRAINTS = [
    Constraint(
        "existence",
        "keywords:existence",
        lambda kw: (
            f"Make sure your answer uses each of these words: {', '.join(repr(k) for k in kw['keywords'])}."
        ),
        _existence,
        (Param("keywords", "str_list", low=1, high=5, pattern=r"[^\W_][\w' -]*"),),
        _s_existence,
    ),
    Constraint(
        "frequency",
        "keywords:frequency",
        lambda kw: (
            f"Use the word {kw['keyword']!r} {kw['relation']} "
            f"{plural(kw['frequency'], 'time')} in your answer."
        ),
        _frequency,
        (_WORD, int_param("frequency", 1, 20), _REL),
        _s_frequency,
    ),
    Constraint(
        "forbidden_words",
        "keywords:forbidden_words",
        lambda kw: (
            "Your answer must not contain any of these words: "
            f"{', '.join(repr(w) for w in kw['forbidden_words'])}."
        ),
        _forbidden,
        (Param("forbidden_words", "str_list", low=1, high=6, pattern=r"[^\W_][\w' -]*"),),
        simple_sampler(forbidden_words=lambda r: banks.keywords(r, r.randint(2, 4), banks.FORBIDDEN)),
    ),
    Constraint(
        "letter_frequency",
        "keywords:letter_frequency",
        lambda kw: (
            f"The letter {kw['letter']!r} (upper or lower case) must occur {kw['let_relation']} "
            f"{plural(kw['let_frequency'], 'time')} in your answer."
        ),
        _letter_frequency,
        (
            Param("letter", "str", pattern=r"[A-Za-z]"),
            int_param("let_frequency", 1, 100),
            relation_param("let_relation"),
        ),
        _s_letter,
    ),
    Constraint(
        "response_language",
        "language:response_language",
        lambda kw: (
            f"Write your whole answer in {LANGUAGES[kw['language']]} (ISO code {kw['language']}) "
            "and use no other language."
        ),
        _response_language,
        (Param("language", "choice", choices=tuple(LANGUAGES)),),
        simple_sampler(language=lambda r: r.choice([c for c in LANGUAGES if c != "en"])),
    ),
    Constraint(
        "capital_word_frequency",
        "change_case:capital_word_frequency",
        lambda kw: (
            f"Write {kw['capital_relation']} {plural(kw['capital_frequency'], 'word')} entirely in capital "
            "letters (LIKE THIS) in your answer."
        ),
        _capital_words,
        (int_param("capital_frequency", 1, 50), relation_param("capital_relation")),
        counted_relation("capital_frequency", "capital_relation", 1, 10),
    ),
    Constraint(
        "english_capital",
        "change_case:english_capital",
        lambda kw: "Answer in English only, with every letter in uppercase.",
        lambda r, kw: _case_and_english(r, upper=True),
    ),
    Constraint(
        "english_lowercase",
        "change_case:english_lowercase",
        lambda kw: (
            "Answer in English only, with every letter in lowercase; do not use a single capital letter."
        ),
        lambda r, kw: _case_and_english(r, upper=False),
    ),
    Constraint(
        "no_comma", "punctuation:no_comma", lambda kw: "Do not use any commas in your response.", _no_comma
    ),
]
