"""IFBench kwargs are drawn within the official ranges, reproducibly, and their checkers accept them.

The ranges below are the official code's own draws (allenai/IFBench db69a6f, `build_description`
when a kwarg is missing): the official code draws from the global `random`; ours from the rng given.
"""

from __future__ import annotations

import random

import pytest

from pipeline.label.ifbench.registry import INSTRUCTIONS, KwargsIncomplete, TaggerUnavailable, tagger_available
from pipeline.label.ifbench.keywords import WORD_LIST

PROMPT = "Explain, in plain words, why the sky looks blue at noon and red at sunset."
RESPONSES = ("The sky is blue because air scatters short waves. At sunset light goes further!",
             "Scattering.", "日本語 の 答え です 😀")
INTS = {  # id -> kwarg -> inclusive official range
    "count:unique_word_count": {"N": (100, 500)},
    "ratio:stop_words": {"percentage": (1, 100)},
    "count:conjunctions": {"small_n": (2, 6)},
    "count:person_names": {"N": (1, 50)},
    "ratio:overlap": {"percentage": (1, 100)},
    "count:numbers": {"N": (1, 6)},
    "count:words_japanese": {"N": (1, 30)},
    "words:repeats": {"small_n": (1, 5)},
    "sentence:keyword": {"N": (1, 20)},
    "count:pronouns": {"N": (1, 25)},
    "sentence:increment": {"small_n": (1, 5)},
    "words:keywords_specific_position": {"n": (20, 30), "m": (30, 40)},
    "count:word_count_range": {"min_words": (100, 500)},
    "repeat:repeat_span": {"n_start": (0, len(PROMPT) - 2), "n_end": (1, len(PROMPT) - 1)},
}
CHOICES = {
    "format:list": {"sep": {"...", "SEPARATOR", "!?!?", "-"}},
    "format:options": {"options": {"yes/no/maybe", "I know or I don't know", "a), b), c), d)"}},
    "sentence:keyword": {"word": set(WORD_LIST)},
    "words:keywords_specific_position": {"keyword": set(WORD_LIST)},
    "words:words_position": {"keyword": set(WORD_LIST)},
    "count:keywords_multiple": {f"keyword{i}": set(WORD_LIST) for i in range(1, 6)},
}
FROM_PROMPT = {"ratio:overlap": "reference_text", "repeat:repeat_change": "prompt_to_repeat",
               "repeat:repeat_span": "prompt_to_repeat"}


def _draws(iid: str, n: int = 300) -> list[dict]:
    return [INSTRUCTIONS[iid].sample_kwargs(random.Random(seed), PROMPT) for seed in range(n)]


@pytest.mark.parametrize("iid", sorted(INSTRUCTIONS))
def test_sampled_kwargs_are_reproducible_and_leave_the_global_random_alone(iid):
    state = random.getstate()
    first = INSTRUCTIONS[iid].sample_kwargs(random.Random(7), PROMPT)
    random.seed(12345)  # a different global state must not change what the rng gives
    assert INSTRUCTIONS[iid].sample_kwargs(random.Random(7), PROMPT) == first
    random.setstate(state)
    assert set(first) == set(INSTRUCTIONS[iid].kwarg_names)


@pytest.mark.parametrize("iid", sorted(INSTRUCTIONS))
def test_sampled_kwargs_lie_in_the_official_ranges(iid):
    draws = _draws(iid)
    for key, (low, high) in INTS.get(iid, {}).items():
        values = [d[key] for d in draws]
        assert all(isinstance(v, int) and low <= v <= high for v in values), key
        if high - low <= 10:  # a small range is covered end to end
            assert set(values) == set(range(low, high + 1)), key
    for key, allowed in CHOICES.get(iid, {}).items():
        values = {d[key] for d in draws}
        assert values <= allowed, key
        assert len(values) == len(allowed) or len(values) > 100, key  # not stuck on one value
    if iid in FROM_PROMPT:
        assert all(d[FROM_PROMPT[iid]] == PROMPT for d in draws)
    if iid == "count:word_count_range":  # the official range is made small: 5% to 10% above min
        assert all(int(d["min_words"] * 0.05) <= d["max_words"] - d["min_words"] <= int(d["min_words"] * 0.1)
                   for d in draws)
    if iid == "repeat:repeat_span":
        assert all(d["n_start"] < d["n_end"] for d in draws)


@pytest.mark.parametrize("iid", sorted(INSTRUCTIONS))
def test_checkers_and_texts_accept_sampled_kwargs(iid):
    inst = INSTRUCTIONS[iid]
    for kwargs in _draws(iid, 20):
        assert inst.describe(kwargs)
        for response in RESPONSES:
            if iid == "words:start_verb" and not tagger_available():
                with pytest.raises(TaggerUnavailable):
                    inst.check(response, kwargs)
                continue
            assert inst.check(response, kwargs) in (True, False)
        assert inst.check("   \n", kwargs) is False  # the official evaluation fails an empty response


@pytest.mark.parametrize("iid", sorted(FROM_PROMPT))
def test_kwargs_built_from_the_prompt_need_one(iid):
    with pytest.raises(ValueError):
        INSTRUCTIONS[iid].sample_kwargs(random.Random(0), None)


def test_keyword_list_is_the_official_one():
    from pipeline.label.nltk_data import use_vendored_nltk_data

    use_vendored_nltk_data()  # lm-eval's module would otherwise try to download punkt_tab
    from lm_eval.tasks.ifeval.instructions_util import (
        WORD_LIST as OFFICIAL,  # IFEval's list, copied by IFBench
    )

    assert list(WORD_LIST) == list(OFFICIAL)


# Where the official builders draw at random although the kwarg is given (read from db69a6f):
# "None or < 0" for counts, "if not" for these keywords and positions; any absent kwarg draws.
REDRAWN_WHEN = {
    ("count:word_count_range", "min_words"): -1, ("count:word_count_range", "max_words"): -1,
    ("count:unique_word_count", "N"): -1, ("ratio:stop_words", "percentage"): -1,
    ("count:conjunctions", "small_n"): -1, ("count:person_names", "N"): -1, ("ratio:overlap", "percentage"): -1,
    ("count:numbers", "N"): -1, ("count:words_japanese", "N"): -1, ("words:repeats", "small_n"): -1,
    ("sentence:keyword", "N"): -1, ("sentence:keyword", "word"): "", ("count:pronouns", "N"): -1,
    ("sentence:increment", "small_n"): -1, ("words:keywords_specific_position", "keyword"): "",
    ("words:keywords_specific_position", "n"): 0, ("words:keywords_specific_position", "m"): 0,
}
DRAWN_WHEN_ABSENT = {  # kwargs the official builder invents when absent (the others are required)
    iid: set(INSTRUCTIONS[iid].kwarg_names) - {"reference_text", "prompt_to_repeat"} for iid in INSTRUCTIONS
}


@pytest.mark.parametrize("iid", sorted(INSTRUCTIONS))
def test_kwargs_the_official_code_would_draw_are_refused(iid):
    inst = INSTRUCTIONS[iid]
    kwargs = inst.sample_kwargs(random.Random(3), PROMPT)
    assert not inst.draws_at_random(kwargs)
    for name in DRAWN_WHEN_ABSENT[iid]:
        partial = {k: v for k, v in kwargs.items() if k != name}
        assert inst.draws_at_random(partial), name
        assert inst.draws_at_random({**kwargs, name: None}), name
        with pytest.raises(KwargsIncomplete):
            inst.check("Some answer.", partial)
        with pytest.raises(KwargsIncomplete):
            inst.describe(partial)
    for (rid, name), value in REDRAWN_WHEN.items():
        if rid == iid:
            assert inst.draws_at_random({**kwargs, name: value}), name
    for name in set(inst.kwarg_names) - DRAWN_WHEN_ABSENT[iid]:  # required: the official code raises
        with pytest.raises(ValueError):
            inst.check("Some answer.", {k: v for k, v in kwargs.items() if k != name})
