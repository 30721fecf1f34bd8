"""Offline NLTK data for the official instruction checkers.

IFEval's sentence counter (and IFBench's) needs NLTK's `punkt_tab` tokenizer; IFBench also needs the
`stopwords` corpus. No NLTK-data package on PyPI ships punkt_tab, and lm-eval downloads it at import
time when it is missing, which fails offline. The PyPI package `llama-index-core` vendors both under
`llama_index/core/_static/nltk_cache/`: we point NLTK at that folder (without importing
llama_index.core, which is slow) before any official checker is imported. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

VENDOR_PACKAGE = "llama_index.core"
NEEDED = ("tokenizers/punkt_tab/english/", "corpora/stopwords/english")


class NLTKDataMissing(RuntimeError):
    """The vendored NLTK data cannot be found: the official checkers cannot run."""


def vendored_dir() -> Path:
    """The folder of NLTK data inside the installed llama-index-core package."""
    try:
        spec = importlib.util.find_spec(VENDOR_PACKAGE)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise NLTKDataMissing(
            "the official instruction checkers need NLTK's punkt_tab data, taken offline from the "
            "llama-index-core package: pip install 'llama-index-core>=0.14,<0.15'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "_static" / "nltk_cache"


@cache
def use_vendored_nltk_data() -> str:
    """Put the vendored folder first on NLTK's search path (once per process) and check that
    every resource the checkers need is there; returns the folder."""
    import nltk

    folder = str(vendored_dir())
    if folder not in nltk.data.path:
        nltk.data.path.insert(0, folder)
    for resource in NEEDED:
        try:
            nltk.data.find(resource)
        except LookupError as err:
            raise NLTKDataMissing(f"NLTK resource {resource!r} not found under {folder}") from err
    return folder
