"""Table tests of the Precise IF facade: short names mapped onto official ids, the official verdict
as the label, loose verdict and cautions as evidence, sampling, rendering and kwargs validation.

The verdicts themselves are held to the official checkers by tests/test_ifeval_reference.py (IFEval)
and tests/test_ifbench*.py (IFBench); the rows here pin the semantics a reader might not expect,
each as the official code decides it.
"""

from __future__ import annotations

import random

import pytest

from pipeline.label.instructions import (
    ALIASES,
    REGISTRY,
    check_constraint,
    complete_spec,
    families,
    instruction_ids,
    official_constraint,
    render_instruction,
    unavailable,
    validate_constraint,
)

PROMPT = "Write a short poem about the sea and the sky."
GERMAN = "Das Wetter ist heute sehr schön, und wir gehen am Nachmittag in den Park spazieren."
ENGLISH = "The weather is lovely today, and we are going for a walk in the park this afternoon."

# The demo config's short names: (spec, its official form).
SHORT_NAMES = [
    ({"type": "no_comma"}, {"type": "punctuation:no_comma"}),
    ({"type": "max_words", "n": 30}, {"type": "length_constraints:number_words", "num_words": 31, "relation": "less than"}),
    ({"type": "include_keyword", "keyword": "because"}, {"type": "keywords:existence", "keywords": ["because"]}),
    ({"type": "english_lowercase"}, {"type": "change_case:english_lowercase"}),
    ({"type": "end_checker", "end_phrase": "Bye."}, {"type": "startend:end_checker", "end_phrase": "Bye."}),
    ({"type": "no_letter", "letter": "U"}, {"type": "keywords:letter_frequency", "letter": "u", "let_frequency": 1,
                                           "let_relation": "less than"}),
    ({"type": "word_count_range", "min_words": 3.0, "max_words": 5.0},
     {"type": "count:word_count_range", "min_words": 3.0, "max_words": 5.0}),
    ({"type": "lowercase"}, {"type": "rbbench:lowercase"}),  # our own meaning: its own id
]  # fmt: skip


@pytest.mark.parametrize("short, official", SHORT_NAMES)
def test_short_names_map_onto_official_ids_and_kwargs(short: dict, official: dict) -> None:
    assert complete_spec(short, random.Random(0)) == official
    constraint, kwargs = validate_constraint(short)
    assert constraint.instruction_id == official["type"] and {"type": constraint.type, **kwargs} == official
    assert render_instruction(short) == render_instruction(official)


# (spec, response, expected label): each the official verdict, including where it surprises.
ROWS: list[tuple[dict, str, str]] = [
    ({"type": "no_comma"}, "Paris is the capital of France.", "correct"),
    ({"type": "no_comma"}, "Paris, the capital, is big.", "incorrect"),
    ({"type": "no_comma"}, "巴黎是法国的首都，很大。", "correct"),  # official: only the ASCII comma counts
    ({"type": "lowercase"}, "all lowercase here.", "correct"),
    ({"type": "lowercase"}, "Not lowercase.", "incorrect"),
    ({"type": "max_words", "n": 5}, "one two three four five", "correct"),
    ({"type": "max_words", "n": 5}, "one two three four five six", "incorrect"),
    ({"type": "max_words", "n": 3}, "**Don't** - well-known!", "incorrect"),  # \w+ tokens: Don, t, well, known
    ({"type": "no_letter", "letter": "u"}, "Hello there friend", "correct"),
    ({"type": "no_letter", "letter": "u"}, "You are welcome", "incorrect"),
    ({"type": "include_keyword", "keyword": "because"}, "I left because it rained.", "correct"),
    ({"type": "include_keyword", "keyword": "because"}, "I left, it rained.", "incorrect"),
    ({"type": "include_keyword", "keyword": "because"}, "Becauseway is not the word.", "correct"),  # substring
    ({"type": "frequency", "keyword": "light", "frequency": 2, "relation": "at least"},
     "Light travels fast. Sunlight is warm.", "correct"),  # substring, any case
    ({"type": "forbidden_words", "forbidden_words": ["very", "really"]}, "It was really fun.", "incorrect"),
    ({"type": "forbidden_words", "forbidden_words": ["cat"]}, "A category of things.", "correct"),  # whole words
    ({"type": "response_language", "language": "de"}, GERMAN, "correct"),
    ({"type": "response_language", "language": "de"}, ENGLISH, "incorrect"),
    ({"type": "capital_word_frequency", "capital_frequency": 2, "capital_relation": "at least"},
     "I think this is A bit important.", "correct"),  # 'I' and 'A' are capital words
    ({"type": "english_lowercase"}, "this is my answer, written only in lowercase letters.", "correct"),
    ({"type": "english_lowercase"}, GERMAN.lower(), "incorrect"),  # lowercase but not English
    ({"type": "end_checker", "end_phrase": "Any other questions?"}, "Here is the plan.\nAny other questions?  ", "correct"),
    ({"type": "quotation"}, "“Curly quotes do not count.”", "incorrect"),
    ({"type": "nth_paragraph_first_word", "num_paragraphs": 2, "nth_paragraph": 2, "first_word": "however"},
     "Cats are great.\n\n**However**, dogs are loyal.", "incorrect"),  # strict: '**However' is not the word
    ({"type": "number_placeholders", "num_placeholders": 2}, "See [the docs](https://x.org) or ask [name].", "correct"),
    ({"type": "postscript", "postscript_marker": "P.P.S"}, "Hi.\n\nP.S. One.\nP.P.S. Two.", "correct"),
    ({"type": "multiple_sections", "section_spliter": "PARAGRAPH", "num_sections": 2},
     "PARAGRAPH 1\nIntro.\n\nPARAGRAPH 2\nMore.", "correct"),
    ({"type": "json_format"}, "42", "correct"),  # any JSON value
    ({"type": "two_responses"}, "Take the bus.\n*******\nRide a bike.", "correct"),  # 6 stars split, one left over
    ({"type": "repeat_prompt", "prompt_to_repeat": PROMPT}, PROMPT, "correct"),  # repeated is enough
    ({"type": "repeat_prompt", "prompt_to_repeat": PROMPT}, "Sure! " + PROMPT, "incorrect"),
]  # fmt: skip


@pytest.mark.parametrize("spec, response, expected", ROWS)
def test_label_is_the_official_strict_verdict(spec: dict, response: str, expected: str) -> None:
    result = check_constraint(spec, response)
    assert result.label == expected, result
    assert result.score == (1.0 if expected == "correct" else 0.0)
    assert result.evidence["strict"] is (expected == "correct") and result.evidence["loose"] in (True, False)
    assert result.evidence["instruction_id"] == validate_constraint(spec)[0].instruction_id
    assert result.evidence["constraint"] == spec and result.evidence["caution"] == []


def test_loose_verdict_and_cautions_are_evidence_not_labels() -> None:
    result = check_constraint({"type": "no_comma"}, "Sure, here it is:\nNo commas here.")
    assert (result.label, result.evidence["loose"], result.evidence["loose_variant"]) == (
        "incorrect",
        True,
        2,
    )
    cut = check_constraint({"type": "no_comma"}, "no commas so far", "length")
    assert cut.label == "correct" and cut.evidence["caution"] == ["cut-off"] and "cut-off" in cut.reasoning
    assert check_constraint({"type": "no_comma"}, "a, b", "length").label == "incorrect"
    empty = check_constraint({"type": "no_comma"}, "  \n")
    assert empty.label == "incorrect" and empty.evidence["caution"] == ["empty"]  # official: empty fails
    short = check_constraint({"type": "response_language", "language": "de"}, "Ja, gut.")
    assert short.label in ("correct", "incorrect") and short.evidence["caution"] == ["language-unsure"]
    emoji = check_constraint(
        {"type": "response_language", "language": "de"}, "🙂🎉"
    )  # official: undetectable passes
    assert emoji.label == "correct" and emoji.evidence["caution"] == ["language-unsure"]
    assert check_constraint({"type": "response_language", "language": "de"}, GERMAN).evidence["caution"] == []


def test_registry_holds_exactly_the_official_ids() -> None:
    ifeval = {i for i in REGISTRY if REGISTRY[i].source == "ifeval"}
    ifbench = {i for i in REGISTRY if REGISTRY[i].source == "ifbench"}
    assert len(ifeval) == 25 and "detectable_content:postscript" in ifeval
    assert len(ifbench) + len(unavailable()) == 58 and "count:word_count_range" in ifbench
    assert set(unavailable()) <= {"words:start_verb"}  # NLTK's tagger: on no PyPI package
    assert set(REGISTRY) == ifeval | ifbench and all(REGISTRY[i].type == i for i in REGISTRY)
    assert instruction_ids() == set(REGISTRY) | {"rbbench:lowercase"}
    assert "rbbench" in families() and len(families()["keywords"]) == 4
    assert official_constraint("rbbench:lowercase").source == "rbbench"
    # Every official id is also reachable by its last part; no short name shadows an id.
    assert {a.instruction_id for a in ALIASES.values()} >= set(REGISTRY)


@pytest.mark.parametrize("ctype", sorted(REGISTRY))
def test_sampler_is_valid_deterministic_and_rendered(ctype: str) -> None:
    specs = [complete_spec({"type": ctype}, random.Random(seed), prompt_text=PROMPT) for seed in range(6)]
    assert specs == [
        complete_spec({"type": ctype}, random.Random(seed), prompt_text=PROMPT) for seed in range(6)
    ]
    constraint = REGISTRY[ctype]
    shown = [n for n in constraint.kwarg_names if n != "prompt_to_repeat"]
    if shown:
        assert len({repr(s) for s in specs}) > 1, "the sampler never varies"
    for spec in specs:
        _, kwargs = validate_constraint(spec)
        assert spec["type"] == ctype and set(kwargs) <= set(constraint.kwarg_names)
        assert render_instruction(spec).strip()
        assert check_constraint(spec, "").label == "incorrect"


def test_complete_spec_keeps_given_kwargs_and_draws_consistent_ones() -> None:
    for seed in range(10):
        spec = complete_spec({"type": "nth_paragraph_first_word", "num_paragraphs": 2}, random.Random(seed))
        assert spec["num_paragraphs"] == 2 and 1 <= spec["nth_paragraph"] <= 2  # never a 3rd of 2
    spec = complete_spec({"type": "keywords:frequency", "keyword": "sea"}, random.Random(1))
    assert spec["keyword"] == "sea" and spec["relation"] in ("less than", "at least")
    spec = complete_spec({"type": "repeat_prompt"}, random.Random(1), prompt_text=PROMPT)
    assert spec == {"type": "combination:repeat_prompt", "prompt_to_repeat": PROMPT}
    with pytest.raises(ValueError, match="prompt_text"):
        complete_spec({"type": "repeat_prompt"}, random.Random(0))


BAD_SPECS = [
    ({"type": "nope"}, "unknown constraint"),
    ({"no": "type"}, "unknown constraint"),
    ({"type": "max_words"}, "missing"),
    ({"type": "max_words", "n": 5, "m": 3}, "unexpected"),
    ({"type": "no_comma", "n": 3}, "unexpected"),
    ({"type": "max_words", "n": True}, "must be an int"),
    ({"type": "max_words", "n": 0}, "must be an int >= 1"),
    ({"type": "number_words", "num_words": 50}, "missing kwargs \\['relation'\\]"),
    ({"type": "number_words", "num_words": 50, "relation": "more than"}, "refuses"),
    ({"type": "number_words", "num_words": "50", "relation": "at least"}, "refuses"),
    (
        {"type": "letter_frequency", "letter": "#", "let_frequency": 2, "let_relation": "at least"},
        "random draw",
    ),
    (
        {"type": "nth_paragraph_first_word", "num_paragraphs": 2, "nth_paragraph": 3, "first_word": "so"},
        "random draw",
    ),
    ({"type": "response_language", "language": "xx"}, "refuses"),
    ({"type": "no_letter", "letter": "ab"}, "one letter"),
    ({"type": "include_keyword", "keyword": "  "}, "non-empty"),
    ({"type": "include_keyword", "keyword": "(why"}, "refuses"),  # official: a keyword is a regex
]


@pytest.mark.parametrize("spec, message", BAD_SPECS)
def test_kwargs_the_official_code_would_not_take_as_given_are_refused(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_constraint(spec)


def test_large_counts_and_many_keywords_are_official_kwargs() -> None:
    keywords = ["sea", "sky", "wave", "salt", "wind", "gull", "sand"]
    assert (
        check_constraint({"type": "existence", "keywords": keywords}, " ".join(keywords)).label == "correct"
    )
    spec = {"type": "number_words", "num_words": 100000, "relation": "less than"}
    assert check_constraint(spec, "short").label == "correct"
