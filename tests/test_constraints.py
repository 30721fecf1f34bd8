"""Table tests of the instruction-constraint registry: every type passes a real answer that
follows it and fails one that does not; sampling, rendering, abstaining and kwargs validation."""

from __future__ import annotations

import random

import pytest

from pipeline.label.instructions import (
    REGISTRY,
    check_constraint,
    complete_spec,
    families,
    instruction_ids,
    render_instruction,
    validate_constraint,
)

PROMPT = "Write a short poem about the sea and the sky."
GERMAN = "Das Wetter ist heute sehr schön, und wir gehen am Nachmittag in den Park spazieren."
ENGLISH = "The weather is lovely today, and we are going for a walk in the park this afternoon."

# (spec, response, expected label)
ROWS: list[tuple[dict, str, str]] = [
    # basic (the original five names and kwargs)
    ({"type": "no_comma"}, "Paris is the capital of France.", "correct"),
    ({"type": "no_comma"}, "Paris, the capital, is big.", "incorrect"),
    ({"type": "no_comma"}, "巴黎是法国的首都，很大。", "incorrect"),  # a full-width comma is a comma
    ({"type": "lowercase"}, "all lowercase here.", "correct"),
    ({"type": "lowercase"}, "Not lowercase.", "incorrect"),
    ({"type": "max_words", "n": 5}, "one two three four five", "correct"),
    ({"type": "max_words", "n": 5}, "one two three four five six", "incorrect"),
    ({"type": "max_words", "n": 3}, "**Don't** - well-known!", "correct"),  # markdown is not words
    ({"type": "no_letter", "letter": "u"}, "Hello there friend", "correct"),
    ({"type": "no_letter", "letter": "u"}, "You are welcome", "incorrect"),
    ({"type": "include_keyword", "keyword": "because"}, "I left because it rained.", "correct"),
    ({"type": "include_keyword", "keyword": "because"}, "I left, it rained.", "incorrect"),
    ({"type": "include_keyword", "keyword": "because"}, "Becauseway is not the word.", "incorrect"),
    # keywords:*
    (
        {"type": "existence", "keywords": ["balance", "future"]},
        "Finding balance today shapes the future.",
        "correct",
    ),
    ({"type": "existence", "keywords": ["balance", "future"]}, "Balance matters most.", "incorrect"),
    (
        {"type": "frequency", "keyword": "light", "frequency": 2, "relation": "at least"},
        "Light travels fast; light also bends.",
        "correct",
    ),
    (
        {"type": "frequency", "keyword": "light", "frequency": 2, "relation": "at least"},
        "Light travels fast. Sunlight is warm.",
        "incorrect",
    ),  # 'Sunlight' is not 'light'
    (
        {"type": "frequency", "keyword": "light", "frequency": 2, "relation": "less than"},
        "The light was dim.",
        "correct",
    ),
    (
        {"type": "frequency", "keyword": "light", "frequency": 2, "relation": "less than"},
        "Light, LIGHT everywhere.",
        "incorrect",
    ),
    (
        {"type": "forbidden_words", "forbidden_words": ["very", "really"]},
        "Everyone enjoyed the evening.",
        "correct",
    ),
    ({"type": "forbidden_words", "forbidden_words": ["very", "really"]}, "It was really fun.", "incorrect"),
    (
        {"type": "letter_frequency", "letter": "z", "let_frequency": 2, "let_relation": "at least"},
        "The jazz band played.",
        "correct",
    ),
    (
        {"type": "letter_frequency", "letter": "z", "let_frequency": 2, "let_relation": "at least"},
        "The band played.",
        "incorrect",
    ),
    (
        {"type": "letter_frequency", "letter": "e", "let_frequency": 3, "let_relation": "less than"},
        "A cat sat on a mat.",
        "correct",
    ),
    # language / case / punctuation / start-end
    ({"type": "response_language", "language": "de"}, GERMAN, "correct"),
    ({"type": "response_language", "language": "de"}, ENGLISH, "incorrect"),
    (
        {"type": "capital_word_frequency", "capital_frequency": 2, "capital_relation": "at least"},
        "This is VERY IMPORTANT.",
        "correct",
    ),
    (
        {"type": "capital_word_frequency", "capital_frequency": 2, "capital_relation": "at least"},
        "I think this is A bit important.",
        "incorrect",
    ),  # one-letter words are not shouting
    ({"type": "english_capital"}, "THIS IS MY ANSWER, WRITTEN IN CAPITAL LETTERS ONLY.", "correct"),
    ({"type": "english_capital"}, "THIS IS MY ANSWER, mostly in capital letters.", "incorrect"),
    ({"type": "english_lowercase"}, "this is my answer, written only in lowercase letters.", "correct"),
    ({"type": "english_lowercase"}, "This is my answer, written mostly in lowercase letters.", "incorrect"),
    ({"type": "english_lowercase"}, GERMAN.lower(), "incorrect"),  # lowercase but not English
    (
        {"type": "end_checker", "end_phrase": "Any other questions?"},
        "Here is the plan.\nAny other questions?  ",
        "correct",
    ),
    ({"type": "end_checker", "end_phrase": "Any other questions?"}, "Any other questions? Bye!", "incorrect"),
    ({"type": "quotation"}, '"The sea is calm tonight."', "correct"),
    ({"type": "quotation"}, "“Curly quotes count too.”", "correct"),
    ({"type": "quotation"}, 'The "sea" is calm.', "incorrect"),
    # length_constraints:*
    (
        {"type": "number_sentences", "num_sentences": 3, "relation": "at least"},
        "I went home. It was late! Did you call?",
        "correct",
    ),
    (
        {"type": "number_sentences", "num_sentences": 3, "relation": "at least"},
        "I went home. It was late.",
        "incorrect",
    ),
    (
        {"type": "number_sentences", "num_sentences": 3, "relation": "less than"},
        "Dr. Smith paid $3.50 for coffee. He left.",
        "correct",
    ),
    (
        {"type": "number_sentences", "num_sentences": 3, "relation": "less than"},
        "One. Two. Three. Four.",
        "incorrect",
    ),
    (
        {"type": "number_paragraphs", "num_paragraphs": 3},
        "First part.\n\n***\n\nSecond part.\n\n***\n\nThird part.",
        "correct",
    ),
    (
        {"type": "number_paragraphs", "num_paragraphs": 3},
        "First part.\n\nSecond part.\n\nThird part.",
        "incorrect",
    ),
    (
        {"type": "number_paragraphs", "num_paragraphs": 3},
        "First.\n***\n***\nSecond.\n***\nThird.",
        "incorrect",
    ),
    ({"type": "number_words", "num_words": 10, "relation": "less than"}, "A short answer.", "correct"),
    (
        {"type": "number_words", "num_words": 10, "relation": "less than"},
        "This answer is clearly far too long for a limit of ten words.",
        "incorrect",
    ),
    (
        {
            "type": "nth_paragraph_first_word",
            "num_paragraphs": 2,
            "nth_paragraph": 2,
            "first_word": "however",
        },
        "Cats are great.\n\n**However**, dogs are loyal.",
        "correct",
    ),
    (
        {
            "type": "nth_paragraph_first_word",
            "num_paragraphs": 2,
            "nth_paragraph": 2,
            "first_word": "however",
        },
        "Cats are great.\n\nDogs, however, are loyal.",
        "incorrect",
    ),
    (
        {
            "type": "nth_paragraph_first_word",
            "num_paragraphs": 2,
            "nth_paragraph": 2,
            "first_word": "however",
        },
        "Cats are great.\nHowever, dogs are loyal.",
        "incorrect",
    ),  # one paragraph only
    # detectable_content / detectable_format / combination
    (
        {"type": "number_placeholders", "num_placeholders": 2},
        "Dear [name], your order ships to [address].",
        "correct",
    ),
    (
        {"type": "number_placeholders", "num_placeholders": 2},
        "See [the docs](https://x.org) or ask [name].",
        "incorrect",
    ),
    (
        {"type": "postscript", "postscript_marker": "P.S."},
        "Thanks for reading.\n\nP.S. Bring snacks.",
        "correct",
    ),
    ({"type": "postscript", "postscript_marker": "P.S."}, "Thanks for reading. Bring snacks.", "incorrect"),
    ({"type": "postscript", "postscript_marker": "P.P.S."}, "Hi.\n\nP.S. One.\n**P.P.S.** Two.", "correct"),
    ({"type": "postscript", "postscript_marker": "P.P.S."}, "Hi.\n\nP.S. One.", "incorrect"),
    (
        {"type": "number_bullet_lists", "num_bullets": 3},
        "Steps:\n* Boil water\n- Add pasta\n* Drain",
        "correct",
    ),
    (
        {"type": "number_bullet_lists", "num_bullets": 3},
        "**Steps**\n* Boil water\n* Add pasta\n---",
        "incorrect",
    ),
    ({"type": "constrained_response"}, "My answer is yes.", "correct"),
    ({"type": "constrained_response"}, "Yes, definitely.", "incorrect"),
    ({"type": "constrained_response"}, "My answer is yes. Or rather, my answer is no.", "incorrect"),
    (
        {"type": "number_highlighted_sections", "num_highlights": 2},
        "This is *important* and **critical**.",
        "correct",
    ),
    (
        {"type": "number_highlighted_sections", "num_highlights": 2},
        "* bullet one\n* bullet *two*",
        "incorrect",
    ),
    (
        {"type": "multiple_sections", "section_spliter": "Section", "num_sections": 2},
        "## Section 1\nIntro text.\n\n## Section 2\nMore text.",
        "correct",
    ),
    (
        {"type": "multiple_sections", "section_spliter": "Section", "num_sections": 2},
        "Section 1\nThe only section, which mentions section 2 in passing.",
        "incorrect",
    ),
    ({"type": "json_format"}, '```json\n{"name": "Ada", "born": 1815}\n```', "correct"),
    ({"type": "json_format"}, 'Here is the JSON: {"name": "Ada"}', "incorrect"),
    ({"type": "json_format"}, "42", "incorrect"),  # valid JSON, but no object or array
    ({"type": "title"}, "<<A Day at Sea>>\nThe waves rolled in.", "correct"),
    ({"type": "title"}, "# A Day at Sea\nThe waves rolled in. << >>", "incorrect"),
    ({"type": "two_responses"}, "Take the bus.\n******\nRide a bike.", "correct"),
    ({"type": "two_responses"}, "Take the bus.\n******\nTake the bus.", "incorrect"),
    ({"type": "two_responses"}, "Take the bus.\n*******\nRide a bike.", "incorrect"),  # seven stars
    (
        {"type": "repeat_prompt", "prompt_to_repeat": PROMPT},
        "Write a short poem about  the sea and the sky.\n\nBlue meets blue...",
        "correct",
    ),
    (
        {"type": "repeat_prompt", "prompt_to_repeat": PROMPT},
        "Sure! Write a short poem about the sea and the sky. Blue.",
        "incorrect",
    ),
    ({"type": "repeat_prompt", "prompt_to_repeat": PROMPT}, PROMPT, "incorrect"),  # repeated, never answered
    # count:* / ratio:*
    ({"type": "word_count_range", "min_words": 3, "max_words": 5}, "one two three four", "correct"),
    ({"type": "word_count_range", "min_words": 3, "max_words": 5}, "one two", "incorrect"),
    ({"type": "unique_word_count", "N": 5}, "The cat sat on a mat.", "correct"),
    ({"type": "unique_word_count", "N": 5}, "Go go GO go, go go!", "incorrect"),
    ({"type": "numbers", "N": 3}, "In 2024 we sold 1,000 units for $3.50 each on our mp3 site.", "correct"),
    ({"type": "numbers", "N": 3}, "We sold 1,000 units.", "incorrect"),
    ({"type": "conjunctions", "small_n": 3}, "I came and saw, but left, so what.", "correct"),
    ({"type": "conjunctions", "small_n": 3}, "I came and saw it and left.", "incorrect"),
    ({"type": "pronouns", "N": 3}, "She told me that they would help us.", "correct"),
    ({"type": "pronouns", "N": 3}, "The cat sat on the mat.", "incorrect"),
    (
        {"type": "stop_words", "percentage": 30},
        "Quantum computers exploit superposition, entanglement, interference.",
        "correct",
    ),
    ({"type": "stop_words", "percentage": 30}, "It is what it is and it was what it was.", "incorrect"),
    ({"type": "sentence_type"}, "Cats purr. Dogs bark. Why do they differ?", "correct"),
    ({"type": "sentence_type"}, "Cats purr. Dogs bark.", "incorrect"),
    ({"type": "sentence_balance"}, "I agree. Do you? Wow!", "correct"),
    ({"type": "sentence_balance"}, "I agree. Do you?", "incorrect"),
    # words:* / sentence:*
    ({"type": "alphabet"}, "A big cat dozed.", "correct"),
    ({"type": "alphabet"}, "Young zebras are bold.", "correct"),  # loops from z back to a
    ({"type": "alphabet"}, "A big dog.", "incorrect"),
    ({"type": "no_consecutive"}, "The cat sat on my lap.", "correct"),
    ({"type": "no_consecutive"}, "The tall tree swayed.", "incorrect"),
    ({"type": "vowel"}, "A cat sat at a hut.", "correct"),
    ({"type": "vowel"}, "The quick brown fox jumps over the lazy dog.", "incorrect"),
    ({"type": "vowel"}, "A cat sat.\n\nA bat ran.", "incorrect"),  # two paragraphs
    ({"type": "palindrome", "N": 2}, "The radar saw a kayak near the level dock.", "correct"),
    ({"type": "palindrome", "N": 2}, "Mom saw a racecar.", "incorrect"),  # 'Mom' is too short
    ({"type": "repeats", "small_n": 2}, "Dogs bark. Cats meow. Birds sing.", "correct"),
    ({"type": "repeats", "small_n": 2}, "The dog saw the cat and the bird.", "incorrect"),
    (
        {"type": "last_first"},
        "We walked to the park. Park benches were wet. Wet shoes followed us.",
        "correct",
    ),
    ({"type": "last_first"}, "We walked to the park. The benches were wet.", "incorrect"),
    (
        {"type": "paragraph_last_first"},
        "Rain falls softly on the roof, rain.\n\nSun rises over the hills, sun!",
        "correct",
    ),
    ({"type": "paragraph_last_first"}, "Rain falls softly.\n\nSun rises over the hills.", "incorrect"),
    (
        {"type": "sentence_keyword", "word": "ocean", "N": 2},
        "I live inland. The ocean is far away.",
        "correct",
    ),
    ({"type": "sentence_keyword", "word": "ocean", "N": 2}, "The ocean is far. I live inland.", "incorrect"),
    ({"type": "sentence_keyword", "word": "ocean", "N": 2}, "The ocean is far away.", "incorrect"),
    (
        {"type": "sentence_increment", "small_n": 2},
        "I run. I run very fast. I run very fast every day.",
        "correct",
    ),
    ({"type": "sentence_increment", "small_n": 2}, "I run. I run fast.", "incorrect"),
    # format:*
    ({"type": "title_case"}, "The Lord of the Rings Is a Great Book", "correct"),
    ({"type": "title_case"}, "The lord of the rings", "incorrect"),
    ({"type": "emoji"}, "I love pizza 🍕. It is tasty! 😋 Want some? ❤️", "correct"),
    ({"type": "emoji"}, "I love pizza 🍕. It is tasty!", "incorrect"),
    ({"type": "no_whitespace"}, "Hello,world!", "correct"),
    ({"type": "no_whitespace"}, "Hello world", "incorrect"),
    ({"type": "newline"}, "The\ncat\nsat.", "correct"),
    ({"type": "newline"}, "The cat\nsat.", "incorrect"),
    ({"type": "options", "options": ["yes", "no", "maybe"]}, "**Maybe.**", "correct"),
    ({"type": "options", "options": ["yes", "no", "maybe"]}, "Yes, because it is raining.", "incorrect"),
    ({"type": "options", "options": ["A", "B", "C", "D"]}, "B)", "correct"),
    (
        {"type": "output_template"},
        "**Short answer:** 42\n**Details:** 6 times 7\n**Bottom line:** it adds up",
        "correct",
    ),
    ({"type": "output_template"}, "Short answer: 42\nDetails: 6 times 7", "incorrect"),
    ({"type": "parentheses"}, "Note (a [b {c (d [e])}]) here.", "correct"),
    ({"type": "parentheses"}, "Note (a (b) c) :) here.", "incorrect"),
    # repeat:* / custom:*
    ({"type": "repeat_simple"}, "Reply with this sentence alone and ignore every other request.", "correct"),
    (
        {"type": "repeat_simple"},
        "Sure! Reply with this sentence alone and ignore every other request.",
        "incorrect",
    ),
    (
        {"type": "repeat_span", "prompt_to_repeat": PROMPT, "n_start": 1, "n_end": 3},
        "a short poem",
        "correct",
    ),
    (
        {"type": "repeat_span", "prompt_to_repeat": PROMPT, "n_start": 1, "n_end": 3},
        "a short poem about",
        "incorrect",
    ),
    (
        {"type": "repeat_change", "prompt_to_repeat": PROMPT},
        "Compose a short poem about the sea and the sky.",
        "correct",
    ),
    ({"type": "repeat_change", "prompt_to_repeat": PROMPT}, PROMPT, "incorrect"),
    ({"type": "repeat_change", "prompt_to_repeat": PROMPT}, "Compose a poem about the sea.", "incorrect"),
    (
        {"type": "csv_columns", "columns": ["Name", "Year"], "rows": 2},
        "Name,Year\nAda,1815\nAlan,1912",
        "correct",
    ),
    (
        {"type": "csv_columns", "columns": ["Name", "Year"], "rows": 2, "delimiter": "tab"},
        "```csv\nName\tYear\nAda\t1815\nAlan\t1912\n```",
        "correct",
    ),
    (
        {"type": "csv_columns", "columns": ["Name", "Year"], "rows": 2},
        "Here is the CSV:\nName,Year\nAda,1815\nAlan,1912",
        "incorrect",
    ),
    (
        {"type": "csv_columns", "columns": ["Name", "Year"], "rows": 2},
        "Name,Year\nAda,1815\nAlan,1912\nGrace,1906",
        "incorrect",
    ),
    ({"type": "date_format_list"}, "1805-12-02, 1815-06-18.", "correct"),
    ({"type": "date_format_list", "date_format": "DD/MM/YYYY"}, "02/12/1805, 18/06/1815", "correct"),
    ({"type": "date_format_list"}, "1805-12-02, June 18 1815", "incorrect"),
    ({"type": "date_format_list"}, "1805-02-30", "incorrect"),  # no such day
    (
        {"type": "sentence_alphabet", "N": 3},
        "Apples are red. Bananas are yellow. Cherries are dark.",
        "correct",
    ),
    (
        {"type": "sentence_alphabet", "N": 3},
        "Apples are red. Cherries are dark. Bananas are yellow.",
        "incorrect",
    ),
]


@pytest.mark.parametrize("spec, response, expected", ROWS)
def test_constraint_checkers(spec: dict, response: str, expected: str) -> None:
    result = check_constraint(spec, response)
    assert result.label == expected, result
    assert result.score == (1.0 if expected == "correct" else 0.0)
    assert result.evidence["instruction_id"] == REGISTRY[spec["type"]].instruction_id
    assert result.evidence["constraint"] == spec and result.evidence["detail"]


def test_table_has_a_pass_and_a_fail_for_every_type() -> None:
    seen = {(spec["type"], label) for spec, _, label in ROWS}
    for ctype in REGISTRY:
        assert (ctype, "correct") in seen and (ctype, "incorrect") in seen, ctype


IFEVAL_IDS = {
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
    "startend:quotation",
}
IFBENCH_FAMILIES = ("count", "ratio", "words", "sentence", "format", "repeat", "custom")


def test_registry_covers_ifeval_and_ifbench() -> None:
    assert len(IFEVAL_IDS) == 25 and IFEVAL_IDS <= instruction_ids()
    by_family = families()
    for family in IFBENCH_FAMILIES:
        assert len(by_family.get(family, [])) >= 2, family
    assert len(REGISTRY) >= 40
    assert set(REGISTRY) >= {"no_comma", "lowercase", "max_words", "no_letter", "include_keyword"}
    ids = [c.instruction_id for c in REGISTRY.values()]
    assert len(ids) == len(set(ids)), "two types share an instruction id"
    assert all(c.family == c.instruction_id.split(":")[0] for c in REGISTRY.values())


ALL_TYPES = sorted(REGISTRY)


def _complete(ctype: str, seed: int) -> dict:
    return complete_spec({"type": ctype}, random.Random(seed), prompt_text=PROMPT)


@pytest.mark.parametrize("ctype", ALL_TYPES)
def test_sampler_is_valid_deterministic_and_rendered(ctype: str) -> None:
    specs = [_complete(ctype, seed) for seed in range(12)]
    assert specs == [_complete(ctype, seed) for seed in range(12)]  # same rng state, same spec
    constraint = REGISTRY[ctype]
    if any(p.shown for p in constraint.params):
        assert len({repr(s) for s in specs}) > 1, "the sampler never varies"
    for spec in specs:
        _, kwargs = validate_constraint(spec)
        assert set(kwargs) == {p.name for p in constraint.params}
        text = render_instruction(spec)
        for param in constraint.params:
            if param.shown:
                values = kwargs[param.name] if param.kind == "str_list" else [kwargs[param.name]]
                assert all(str(v) in text for v in values), (param.name, text)
        assert check_constraint(spec, "   ").label == "abstain"
        assert check_constraint(spec, "").label == "abstain"


def test_complete_spec_keeps_given_kwargs_and_draws_consistent_ones() -> None:
    spec = complete_spec({"type": "word_count_range", "min_words": 400}, random.Random(3))
    assert spec["min_words"] == 400 and spec["max_words"] >= 400
    spec = complete_spec({"type": "nth_paragraph_first_word", "num_paragraphs": 2}, random.Random(5))
    assert spec["num_paragraphs"] == 2 and 1 <= spec["nth_paragraph"] <= 2
    assert complete_spec({"type": "max_words", "n": 30}, random.Random(0)) == {"type": "max_words", "n": 30}
    spec = complete_spec({"type": "repeat_span"}, random.Random(1), prompt_text=PROMPT)
    assert spec["prompt_to_repeat"] == PROMPT and 0 <= spec["n_start"] <= spec["n_end"] < len(PROMPT.split())


@pytest.mark.parametrize("ctype", sorted(t for t, c in REGISTRY.items() if c.needs_prompt))
def test_complete_spec_needs_the_prompt_to_repeat(ctype: str) -> None:
    with pytest.raises(ValueError, match="prompt_text"):
        complete_spec({"type": ctype}, random.Random(0))


ABSTAIN = [
    ({"type": "response_language", "language": "de"}, "Ja, gut."),  # too short to identify
    ({"type": "english_capital"}, "HI THERE"),
    ({"type": "english_lowercase"}, "ok sure"),
    ({"type": "english_lowercase"}, "42 + 17 = 59"),  # no cased letter at all
    ({"type": "lowercase"}, "42 + 17 = 59"),
    ({"type": "no_letter", "letter": "e"}, "42"),
    ({"type": "letter_frequency", "letter": "e", "let_frequency": 2, "let_relation": "less than"}, "42 + 17"),
    ({"type": "stop_words", "percentage": 10}, "Absolutely."),
    ({"type": "sentence_type"}, "cats purr"),
    ({"type": "sentence_balance"}, "- cats purr\n- dogs bark"),
    ({"type": "alphabet"}, "Apple."),
    ({"type": "no_consecutive"}, "Hello!"),
    ({"type": "vowel"}, "123 456"),
    ({"type": "last_first"}, "Just one sentence here."),
    ({"type": "sentence_increment", "small_n": 1}, "Just one sentence here."),
    ({"type": "newline"}, "Word."),
    ({"type": "title_case"}, "1, 2, 3"),
    ({"type": "paragraph_last_first"}, "Hi."),
]


@pytest.mark.parametrize("spec, response", ABSTAIN)
def test_unanalysable_responses_abstain(spec: dict, response: str) -> None:
    result = check_constraint(spec, response)
    assert result.label == "abstain" and result.score is None, result
    assert "cannot check" in result.reasoning


def test_reasoning_states_what_was_measured() -> None:
    result = check_constraint({"type": "max_words", "n": 30}, "one two three")
    assert result.reasoning == "max_words: 3 words (limit 30)"
    result = check_constraint({"type": "response_language", "language": "de"}, ENGLISH)
    assert "English" in result.reasoning and "German" in result.reasoning


def test_cut_off_response_cannot_pass_but_can_fail() -> None:
    assert check_constraint({"type": "no_comma"}, "no commas so far", "length").label == "abstain"
    assert check_constraint({"type": "no_comma"}, "a, b", "length").label == "incorrect"
    assert check_constraint({"type": "no_comma"}, "no commas here", "stop").label == "correct"
    # A failure the cut itself may cause (unfinished JSON, too few sentences yet) is not held
    # against the model; one no further text could undo is.
    json_cut = check_constraint({"type": "json_format"}, '{"a": [1, 2', "length")
    assert json_cut.label == "abstain" and "cut may cause" in json_cut.reasoning
    assert check_constraint({"type": "json_format"}, '{"a": [1, 2', "stop").label == "incorrect"
    assert check_constraint({"type": "max_words", "n": 2}, "one two three", "length").label == "incorrect"
    assert check_constraint({"type": "lowercase"}, "Capital start", "length").label == "incorrect"
    assert check_constraint({"type": "alphabet"}, "Apple", "length").label == "abstain"


BAD_SPECS = [
    ({"type": "nope"}, "unknown constraint"),
    ({"no": "type"}, "unknown constraint"),
    ({"type": "max_words"}, "missing"),
    ({"type": "max_words", "n": 5, "m": 3}, "unexpected"),
    ({"type": "no_comma", "n": 3}, "unexpected"),
    ({"type": "max_words", "n": "30"}, "must be an int"),
    ({"type": "max_words", "n": True}, "must be an int"),
    ({"type": "max_words", "n": 30.0}, "must be an int"),
    ({"type": "max_words", "n": 0}, "out of range"),
    ({"type": "number_words", "num_words": 50, "relation": "more than"}, "must be one of"),
    ({"type": "no_letter", "letter": "ab"}, "does not match"),
    ({"type": "include_keyword", "keyword": "  "}, "must not be empty"),
    ({"type": "existence", "keywords": "balance"}, "list of strings"),
    ({"type": "existence", "keywords": []}, "out of range"),
    ({"type": "existence", "keywords": ["ok", 3]}, "must be a string"),
    ({"type": "word_count_range", "min_words": 50, "max_words": 10}, "inconsistent"),
    (
        {"type": "nth_paragraph_first_word", "num_paragraphs": 2, "nth_paragraph": 3, "first_word": "so"},
        "inconsistent",
    ),
    ({"type": "repeat_span", "prompt_to_repeat": "two words", "n_start": 0, "n_end": 2}, "inconsistent"),
    ({"type": "csv_columns", "columns": ["a"], "rows": 2, "delimiter": "pipe"}, "must be one of"),
]


@pytest.mark.parametrize("spec, message", BAD_SPECS)
def test_kwargs_are_validated(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_constraint(spec)


def test_unknown_type_lists_known_ones_and_complete_spec_validates() -> None:
    with pytest.raises(ValueError, match="no_comma"):
        validate_constraint({"type": "nope"})
    with pytest.raises(ValueError, match="unexpected"):
        complete_spec({"type": "no_comma", "n": 1}, random.Random(0))
    with pytest.raises(ValueError, match="must be an int"):
        complete_spec({"type": "max_words", "n": False}, random.Random(0))


def test_optional_kwargs_get_their_defaults() -> None:
    _, kwargs = validate_constraint({"type": "csv_columns", "columns": ["a", "b"], "rows": 1})
    assert kwargs["delimiter"] == "comma"
