"""Configs for tests: a repository config with every output and cache moved into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import yaml


def isolated_config(source: Path, tmp: Path) -> Path:
    """A copy of `source` whose outputs, LM cache, embedding cache and annotations live under
    `tmp`, so a test build neither reads nor writes the repository's outputs/."""
    cfg = yaml.safe_load(source.read_text())
    cfg["output_dir"] = str(tmp / "outputs")
    cfg["lm_cache"] = str(tmp / "lm-cache.sqlite")
    cfg["annotations_dir"] = str(tmp / "annotations")
    cfg["embeddings"] = {**(cfg.get("embeddings") or {}), "cache_dir": str(tmp / "embed-cache")}
    path = tmp / source.name
    path.write_text(yaml.safe_dump(cfg))
    return path
