"""IFEval instructions about length and layout: sentences, words, paragraphs, start and end."""

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
    draw_relation,
    holds,
    int_param,
    plural,
    relation_param,
    simple_sampler,
)

# length_constraints:*


def _number_sentences(response: str, kw: Kwargs) -> Verdict:
    n = len(text.sentences(response))
    return holds(n, kw["relation"], kw["num_sentences"]), (
        f"{n} sentence(s) (needs {kw['relation']} {kw['num_sentences']})"
    )


def _number_words(response: str, kw: Kwargs) -> Verdict:
    n = len(text.words(response))
    return holds(n, kw["relation"], kw["num_words"]), f"{n} words (needs {kw['relation']} {kw['num_words']})"


def _number_paragraphs(response: str, kw: Kwargs) -> Verdict:
    parts, empty_inside = text.divider_paragraphs(response)
    if empty_inside:
        return False, "an empty paragraph between two *** dividers"
    detail = f"{len(parts)} paragraph(s) split by *** (needs {kw['num_paragraphs']})"
    return len(parts) == kw["num_paragraphs"], detail


def _nth_first_word(response: str, kw: Kwargs) -> Verdict:
    parts = text.paragraphs(response)
    if len(parts) != kw["num_paragraphs"]:
        return False, f"{len(parts)} paragraph(s) (needs {kw['num_paragraphs']})"
    first = text.first_word(parts[kw["nth_paragraph"] - 1]) or ""
    ok = first.lower() == kw["first_word"].lower()
    return ok, f"paragraph {kw['nth_paragraph']} starts with {first!r} (needs {kw['first_word']!r})"


def _nth_cross(kw: Kwargs) -> str | None:
    if kw["nth_paragraph"] > kw["num_paragraphs"]:
        return f"nth_paragraph {kw['nth_paragraph']} > num_paragraphs {kw['num_paragraphs']}"
    return None


# startend:*


def _end_checker(response: str, kw: Kwargs) -> Verdict:
    tail = response.rstrip()
    ok = tail.lower().endswith(kw["end_phrase"].lower())
    return ok, f"ends with {tail[-len(kw['end_phrase']) - 10 :]!r} (needs {kw['end_phrase']!r})"


def _quotation(response: str, _: Kwargs) -> Verdict:
    body = response.strip()
    wrapped = (
        len(body) >= 2 and ((body[0], body[-1]) in {('"', '"'), ("“", "”")}) and bool(body[1:-1].strip())
    )
    return wrapped, f"starts with {body[:1]!r}, ends with {body[-1:]!r}"


# samplers


def _s_nth(rng: random.Random, ctx: SampleContext) -> Kwargs:
    num = ctx.value("num_paragraphs", lambda: rng.randint(2, 5))
    return {
        "num_paragraphs": num,
        "nth_paragraph": ctx.value("nth_paragraph", lambda: rng.randint(1, num)),
        "first_word": ctx.value("first_word", lambda: rng.choice(banks.FIRST_WORDS)),
    }


_REL = relation_param()

CONSTRAINTS = [
    Constraint(
        "number_sentences",
        "length_constraints:number_sentences",
        lambda kw: f"Your answer must have {kw['relation']} {plural(kw['num_sentences'], 'sentence')}.",
        _number_sentences,
        (int_param("num_sentences", 1, 50), _REL),
        counted_relation("num_sentences", "relation", 2, 10),
    ),
    Constraint(
        "number_paragraphs",
        "length_constraints:number_paragraphs",
        lambda kw: (
            f"Split your answer into exactly {kw['num_paragraphs']} paragraphs, with a line "
            "containing only *** between consecutive paragraphs."
        ),
        _number_paragraphs,
        (int_param("num_paragraphs", 1, 10),),
        simple_sampler(num_paragraphs=lambda r: r.randint(2, 5)),
    ),
    Constraint(
        "number_words",
        "length_constraints:number_words",
        lambda kw: f"Your answer must be {kw['relation']} {kw['num_words']} words long.",
        _number_words,
        (int_param("num_words", 1, 2000), _REL),
        simple_sampler(
            num_words=lambda r: r.choice((25, 40, 50, 80, 100, 150, 200, 300)), relation=draw_relation
        ),
    ),
    Constraint(
        "nth_paragraph_first_word",
        "length_constraints:nth_paragraph_first_word",
        lambda kw: (
            f"Write exactly {kw['num_paragraphs']} paragraphs separated by blank lines, and begin "
            f"paragraph number {kw['nth_paragraph']} with the word {kw['first_word']!r}."
        ),
        _nth_first_word,
        (
            int_param("num_paragraphs", 1, 10),
            int_param("nth_paragraph", 1, 10),
            Param("first_word", "str", pattern=r"[^\W_][\w'-]*"),
        ),
        _s_nth,
        _nth_cross,
    ),
    Constraint(
        "end_checker",
        "startend:end_checker",
        lambda kw: f'End your answer with the exact phrase "{kw["end_phrase"]}" and write nothing after it.',
        _end_checker,
        (Param("end_phrase", "str"),),
        simple_sampler(end_phrase=lambda r: r.choice(banks.END_PHRASES)),
    ),
    Constraint(
        "quotation",
        "startend:quotation",
        lambda kw: (
            "Put your whole answer inside one pair of double quotation marks: the opening mark "
            "comes first and the closing mark last."
        ),
        _quotation,
    ),
]
