"""The NLTK-based text units the official IFBench checkers count: sentences, tokens, words, tags.

Why NLTK: the official checkers split sentences with `nltk.sent_tokenize` (punkt_tab), tokenize
with `nltk.word_tokenize`, count words with `RegexpTokenizer(r"\\w+")`, stop words from NLTK's
English list, and `words:start_verb` asks NLTK's averaged perceptron tagger. Same tools, same
counts. Data is found offline: punkt_tab and stopwords from the llama-index-core package (see
pipeline/label/nltk_data.py); the tagger from any NLTK data folder that holds it (no PyPI package
ships it) -- without it `words:start_verb` raises TaggerUnavailable instead of guessing.
"""

from __future__ import annotations

import re
from functools import cache

from pipeline.label.nltk_data import use_vendored_nltk_data

TAGGER_RESOURCE = "taggers/averaged_perceptron_tagger_eng/"
_WORD = re.compile(r"\w+")


class TaggerUnavailable(LookupError):
    """NLTK's averaged perceptron tagger is not on this machine: `words:start_verb` cannot be decided."""


@cache
def _nltk():
    use_vendored_nltk_data()
    import nltk

    return nltk


def sentences(text: str) -> list[str]:
    """Sentences as the official `split_into_sentences` gives them (NLTK punkt, English)."""
    return _nltk().sent_tokenize(text)


def tokens(text: str) -> list[str]:
    """Tokens of `nltk.word_tokenize` (Treebank-style: "don't" -> "do", "n't"; "." alone)."""
    return _nltk().word_tokenize(text)


def words(text: str) -> list[str]:
    """The `\\w+` runs the official `count_words` counts (apostrophes and hyphens split words)."""
    return _WORD.findall(text)


@cache
def stopwords() -> frozenset[str]:
    """NLTK's English stop words (lower case)."""
    return frozenset(_nltk().corpus.stopwords.words("english"))


def tagger_available() -> bool:
    """Whether NLTK's averaged perceptron tagger (needed by `words:start_verb`) can be loaded offline."""
    try:
        _tagger()
    except TaggerUnavailable:
        return False
    return True


@cache
def _tagger():
    nltk = _nltk()
    try:
        nltk.data.find(TAGGER_RESOURCE)
    except LookupError as err:
        raise TaggerUnavailable(
            "words:start_verb needs NLTK's 'averaged_perceptron_tagger_eng' data, which no PyPI "
            "package ships: copy that NLTK data package into a folder on NLTK_DATA "
            "(taggers/averaged_perceptron_tagger_eng/)"
        ) from err
    from nltk.tag.perceptron import PerceptronTagger

    return PerceptronTagger(lang="eng")


def first_tag(toks: list[str]) -> str:
    """The tag `nltk.pos_tag(toks)` gives the first token. The perceptron sees two tokens of right
    context, so tagging the first three tokens gives the same first tag as tagging them all."""
    return _tagger().tag(toks[:3])[0][1]
