"""IFBench `ratio:*` and `sentence:*` instructions: proportions and sentence-by-sentence rules.

Sentences are NLTK punkt sentences (text.sentences), as in the official code; a sentence's type
is the last character of the punkt sentence, untrimmed ("Why?" is a question, "Why? " cannot be).
"""

from __future__ import annotations

import random
import re
import string
from itertools import pairwise

from pipeline.label.ifbench import text
from pipeline.label.ifbench.base import (
    FALSY,
    NEGATIVE,
    IFBenchInstruction,
    Kwargs,
    drop_punct,
    fixed,
    needs_prompt,
)
from pipeline.label.ifbench.vocabulary import random_keyword


def _stop_words(response: str, kw: Kwargs) -> bool:
    percentage = kw["percentage"]
    found = text.words(response)
    if not found:
        return False
    stop = text.stopwords()
    share = (sum(1 for w in found if w.lower() in stop) / len(found)) * 100
    return share <= percentage


def _ends(sentences: list[str], mark: str) -> int:
    return sum(1 for s in sentences if s.endswith(mark))


def _sentence_type(response: str, kw: Kwargs) -> bool:
    found = text.sentences(response)
    return _ends(found, ".") == 2 * _ends(found, "?")


def _sentence_balance(response: str, kw: Kwargs) -> bool:
    found = text.sentences(response)
    return _ends(found, ".") == _ends(found, "?") == _ends(found, "!")


def _trigrams(s: str) -> set[tuple[str, str, str]]:
    """Character trigrams (the official `nltk.ngrams(string, 3)` walks characters)."""
    return set(zip(s, s[1:], s[2:]))


def _overlap(response: str, kw: Kwargs) -> bool:
    reference, percentage = kw.get("reference_text"), kw["percentage"]
    if reference is None:  # the official check raises TypeError: nothing to compare with
        raise ValueError("ratio:overlap needs reference_text")
    mine = _trigrams(response)
    if not mine:
        return False
    share = len(mine & _trigrams(reference)) / len(mine)
    return percentage - 2 <= share * 100 <= percentage + 2


def _sentence_words(response: str, kw: Kwargs) -> bool:
    # three punkt sentences of one length (stripped); the "all different words" part is not checked
    found = text.sentences(response)
    return len(found) == 3 and len({len(s.strip()) for s in found}) == 1


def _alliteration_increment(response: str, kw: Kwargs) -> bool:
    # per sentence: length of runs of neighbours sharing a first character (a run of k words
    # scores k; runs add up); each sentence must score more than the one before
    previous = -1
    for sentence in text.sentences(response):
        pieces = [p.lstrip(string.punctuation + " ") for p in sentence.lower().split()]
        pieces = [p for p in pieces if p]
        score, in_run = 0, False
        for left, right in pairwise(pieces):
            if left[0] == right[0]:
                score += 1 if in_run else 2
                in_run = True
            else:
                in_run = False
        if score <= previous:
            return False
        previous = score
    return True


def _keyword_sentence(response: str, kw: Kwargs) -> bool:
    word, n = kw["word"], kw["N"]
    found = text.sentences(response)
    if len(found) < n:
        return False
    return bool(re.search(rf"\b{re.escape(word)}\b", found[int(n - 1)], re.IGNORECASE))


def _increment(response: str, kw: Kwargs) -> bool:
    step = kw["small_n"]
    counts = [len(drop_punct(s).split()) for s in text.sentences(response)]
    return all(later == earlier + step for earlier, later in pairwise(counts))


def _sample_overlap(rng: random.Random, prompt: str | None) -> dict:
    return {"reference_text": needs_prompt(prompt, "ratio:overlap"), "percentage": rng.randint(1, 100)}


INSTRUCTIONS = [
    IFBenchInstruction(
        "ratio:stop_words", ("percentage",),
        "Ensure that stop words constitute no more than {percentage}% of the total words in your response.",
        _stop_words, lambda rng, prompt: {"percentage": rng.randint(1, 100)}, redraw={"percentage": NEGATIVE}),
    fixed("ratio:sentence_type", "Maintain a 2:1 ratio of declarative to interrogative sentences.",
          _sentence_type),
    fixed("ratio:sentence_balance",
          "Ensure that the ratio of sentence types (declarative, interrogative, exclamatory) is balanced.",
          _sentence_balance),
    IFBenchInstruction(
        "ratio:overlap", ("reference_text", "percentage"),
        "Maintain a trigram overlap of {percentage}% (±2%) with the provided reference text.",
        _overlap, _sample_overlap, redraw={"percentage": NEGATIVE}),
    fixed("ratio:sentence_words",
          "Respond with three sentences, all containing the same number of characters but using all "
          "different words.", _sentence_words),
    fixed("sentence:alliteration_increment",
          "Each sentence must have a longer sequence of consecutive alliterative words than the previous one.",
          _alliteration_increment),
    IFBenchInstruction(
        "sentence:keyword", ("word", "N"),
        'The response must include keyword "{word}" in the {N}-th sentence.',
        _keyword_sentence, lambda rng, prompt: {"word": random_keyword(rng), "N": rng.randint(1, 20)},
        redraw={"word": FALSY, "N": NEGATIVE}),
    IFBenchInstruction(
        "sentence:increment", ("small_n",),
        "Each sentence must contain exactly {small_n} more words than the previous one.",
        _increment, lambda rng, prompt: {"small_n": rng.randint(1, 5)}, redraw={"small_n": NEGATIVE}),
]
