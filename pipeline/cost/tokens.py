"""Token counts for the plan: the model's own tokenizer where one is on disk, else an estimate.

OpenAI models: tiktoken, with the encoding file read offline from TIKTOKEN_CACHE_DIR or the copy
llama-index-core (a dependency) ships (cl100k_base, o200k_base). Nothing is downloaded: without
the file, and for Anthropic and local models (no offline tokenizer here), characters / 4.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from pipeline.core.config import ModelConfig

CHARS_PER_TOKEN = 4
ESTIMATE = "≈ characters / 4"
Counter = Callable[[str], int]


def estimate(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


def _cache_dirs() -> list[Path]:
    dirs = [Path(os.environ["TIKTOKEN_CACHE_DIR"])] if os.environ.get("TIKTOKEN_CACHE_DIR") else []
    spec = importlib.util.find_spec("llama_index.core")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "_static" / "tiktoken_cache")
    return dirs


@lru_cache(maxsize=None)
def _encoding(name: str):  # type: ignore[no-untyped-def]
    """The tiktoken encoding `name` if its file is on disk, else None (never a download)."""
    import tiktoken

    url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    key = hashlib.sha1(url.encode()).hexdigest()  # how tiktoken names its cache files
    found = next((d for d in _cache_dirs() if (d / key).is_file()), None)
    if found is None:
        return None
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(found)
    try:
        return tiktoken.get_encoding(name)
    finally:
        if before is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = before


def counter(model: ModelConfig) -> tuple[Counter, str]:
    """A token counter for the model's input text and what it is (for the plan's note)."""
    if model.backend == "openai":
        try:
            import tiktoken

            name = tiktoken.encoding_name_for_model(model.provider_model)
        except (ImportError, KeyError):
            name = None
        encoding = _encoding(name) if name else None
        if encoding is not None:
            # A chat message adds a few tokens of framing (OpenAI's rule of thumb: 3 + 3 per reply).
            return (lambda text: len(encoding.encode(text, disallowed_special=())) + 3), f"tiktoken {name}"
    return estimate, ESTIMATE
