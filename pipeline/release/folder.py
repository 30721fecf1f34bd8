"""Publish locally: the release as a Hub-layout folder, ready to commit to a dataset repo.

The folder is README.md (the card, with `configs` in its YAML) plus one parquet file per subset
under data/<config>/; `datasets.load_dataset(folder)` reads the default config (every subset) and
`load_dataset(folder, "math")` one subset. Pushing it is `pipeline.release.hub`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pipeline.release.card import card_context, card_metadata, render_card, subset_data_file
from pipeline.core.config import BuildConfig
from pipeline.core.io import atomic_write_text, write_parquet
from pipeline.core.records import RB2_SCHEMA
from pipeline.core.sources import resolve

Row = dict[str, Any]


def split_by_subset(rows: list[Row]) -> dict[str, list[Row]]:
    """Subsets in order of first appearance (the release is sorted by subset, so concatenating the
    files in this order gives the release back row for row)."""
    parts: dict[str, list[Row]] = {}
    for row in rows:
        parts.setdefault(row["subset"], []).append(row)
    return parts


def write_data_files(folder: Path, rows: list[Row]) -> dict[str, int]:
    """One parquet file per subset in the exact RB2 schema; returns each file's size in bytes."""
    sizes = {}
    for subset, part in split_by_subset(rows).items():
        path = folder / subset_data_file(subset)
        write_parquet(part, path, RB2_SCHEMA)
        sizes[subset_data_file(subset)] = path.stat().st_size
    return sizes


def swap_in(staging: Path, folder: Path) -> None:
    """Replace `folder` by the fully written `staging` folder: a reader never sees a folder with
    part of one version's files and part of another's (stale subset files included)."""
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def staging_folder(folder: Path) -> Path:
    staging = folder.with_name(f".{folder.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def write_release(
    folder: Path, cfg: BuildConfig, rows: list[Row], decisions: list[Row], report: dict[str, Any],
    previous: list[Row] | None = None, spend: list[Row] | None = None,
) -> dict[str, Any]:
    """Write the Hub-layout folder (data files, then the card that describes them) and return the
    card's context. The folder is swapped in whole."""
    context = card_context(cfg, rows, decisions, report, previous, spend)
    staging = staging_folder(folder)
    sizes = write_data_files(staging, rows)
    atomic_write_text(staging / "README.md", render_card(context, card_metadata(cfg, rows, sizes)))
    swap_in(staging, folder)
    return context


def previous_release_path(spec: str, base_dir: Path, output_dir: str) -> Path | None:
    """Where the previous release named by `spec` lies on disk: a version built under the output
    directory, or a release folder or parquet file (relative to `base_dir`); None for a Hub id."""
    for candidate in (base_dir / output_dir / spec / "hub", resolve(spec, base_dir)):
        if candidate.exists():
            return candidate
    return None


def load_previous(spec: str, base_dir: Path, output_dir: str) -> list[Row]:
    """The release a new version is compared with: on disk (see previous_release_path), or a Hub
    dataset id with an optional `@revision` (e.g. a version tag)."""
    from pipeline.evaluate.dataset import load_release

    path = previous_release_path(spec, base_dir, output_dir)
    return load_release(str(path) if path else spec)
