"""Load a release to evaluate: a parquet file, a Hub-layout folder, or a Hub dataset id."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.core.records import RB2_SCHEMA

Row = dict[str, Any]
REQUIRED = ("id", "prompt", "chosen", "rejected", "subset")


class DatasetError(ValueError):
    """A release that cannot be read or is not in the RB2 layout; the message names it."""


def load_release(spec: str, split: str = "test") -> list[Row]:
    """Rows of a release. `spec` is a .parquet file, a folder (Hub layout or parquet files), or a
    Hub dataset id such as `allenai/reward-bench-2`, optionally `@REVISION` (read with `datasets`)."""
    path = Path(spec)
    if path.is_file() and path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    elif path.is_dir() or ("/" in spec and not path.exists() and not spec.startswith((".", "/"))):
        import datasets

        # A local folder is read through a fresh cache: `datasets` keys its cache of local folders
        # by folder name, and served another run's `hub/` folder here. A validator must see disk.
        try:
            if path.is_dir():
                with tempfile.TemporaryDirectory(prefix="rb-datasets-") as cache_dir:
                    rows = list(datasets.load_dataset(str(spec), split=split, cache_dir=cache_dir))
            else:
                repo, _, revision = spec.partition("@")  # `ORG/NAME@v1`: a version tag or commit
                rows = list(datasets.load_dataset(repo, split=split, revision=revision or None))
        except Exception as exc:  # datasets raises many types; the user needs the spec and the cause
            raise DatasetError(f"{spec}: cannot load split {split!r}: {type(exc).__name__}: {exc}") from None
    else:
        raise DatasetError(f"{spec}: not a .parquet file, a dataset folder or a Hub dataset id")
    check_rows(spec, rows)
    return rows


def check_rows(spec: str, rows: list[Row]) -> None:
    if not rows:
        raise DatasetError(f"{spec}: no rows")
    missing = [c for c in REQUIRED if c not in rows[0]]
    if missing:
        raise DatasetError(f"{spec}: not in the RB2 schema, missing columns {missing} "
                           f"(expected {', '.join(RB2_SCHEMA.names)})")  # fmt: skip
    ids = [str(r["id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{spec}: duplicate ids")
    for r in rows:
        if not r["chosen"] or not isinstance(r["chosen"], list) or not isinstance(r["rejected"], list):
            raise DatasetError(f"{spec}: row {r['id']}: chosen and rejected must be lists, chosen non-empty")


def read_score_file(path: Path, rows: list[Row]) -> list[list[float]]:
    """Scores from a JSONL file: one `{"id": ..., "scores": [...]}` per dataset row, chosen first.

    Every problem is reported with its line; all of them are collected before raising."""
    expected = {str(r["id"]): len(r["chosen"]) + len(r["rejected"]) for r in rows}
    found: dict[str, list[float]] = {}
    problems: list[str] = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                row_id, scores = str(record["id"]), record["scores"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                problems.append(f"line {number}: expected {{\"id\": ..., \"scores\": [...]}} ({type(exc).__name__})")
                continue
            if row_id not in expected:
                problems.append(f"line {number}: id {row_id!r} is not in the dataset")
            elif row_id in found:
                problems.append(f"line {number}: id {row_id!r} repeated")
            elif not isinstance(scores, list) or len(scores) != expected[row_id]:
                problems.append(f"line {number}: id {row_id!r} needs {expected[row_id]} scores")
            elif not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
                problems.append(f"line {number}: id {row_id!r} has non-numeric scores")
            else:
                found[row_id] = [float(s) for s in scores]
    absent = [i for i in expected if i not in found]
    if absent:
        problems.append(f"{len(absent)} dataset ids have no scores (first: {absent[:3]})")
    if problems:
        raise DatasetError(f"{path}: " + "; ".join(problems[:20]))
    return [found[str(r["id"])] for r in rows]
