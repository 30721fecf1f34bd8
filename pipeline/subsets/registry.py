"""The subset registry: the built-in subsets in release order, and any a user registers.

Registering a subset class also registers its config model, so `subsets: {KEY: ...}` in a
config validates against it. The stages look subsets up here and never name one.
"""

from __future__ import annotations

from pipeline.core.config import BuildConfig
from pipeline.core.subset_config import register_subset_config
from pipeline.subsets.base import Subset
from pipeline.subsets.factuality import Factuality
from pipeline.subsets.focus import Focus
from pipeline.subsets.math import Math
from pipeline.subsets.precise_if import PreciseIF
from pipeline.subsets.safety import Safety
from pipeline.subsets.ties import Ties

_SUBSETS: dict[str, type[Subset]] = {}


def register(subset_class: type[Subset]) -> type[Subset]:
    """Add a subset (usable as a class decorator); registering the same class again is a no-op."""
    key = subset_class.key
    if _SUBSETS.get(key, subset_class) is not subset_class:
        raise ValueError(f"subset {key!r} is already registered by {_SUBSETS[key].__qualname__}")
    register_subset_config(key, subset_class.config_class)
    _SUBSETS[key] = subset_class
    return subset_class


def registered() -> dict[str, type[Subset]]:
    return dict(_SUBSETS)


def enabled(cfg: BuildConfig) -> dict[str, Subset]:
    """The config's subsets, bound to their configs, in release order."""
    return {key: _SUBSETS[key](gen, cfg) for key, gen in cfg.subsets.items()}


def release_names() -> dict[str, str]:
    """Config key -> the release's `subset` column ("precise_if" -> "Precise IF")."""
    return {key: cls.release_name for key, cls in _SUBSETS.items()}


for _builtin in (Factuality, PreciseIF, Math, Safety, Focus, Ties):
    register(_builtin)
