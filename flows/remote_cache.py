"""Prefect's cache records of a remote run, made to work in any local working copy.

Prefect 3.8.8 writes each cache key record (`.prefect/keys/<key>`, JSON) with the absolute path
of its result file, so a record made in one working copy points outside the result folder of
another and Prefect refuses to read it. A record whose path is the bare file name resolves
against the result storage folder of whichever copy reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.io import atomic_write_text
from pipeline.core.store import RunStore
from pipeline.stages.remote_sync import PREFECT_DIR, Log, pull_run


def relocate_cache_records(keys_dir: Path) -> int:
    """Rewrite absolute result paths in the key records under `keys_dir` to file names."""
    moved = 0
    for path in sorted(keys_dir.glob("*")) if keys_dir.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # not a record (or half of one): Prefect treats it as a miss
        key = record.get("storage_key") if isinstance(record, dict) else None
        if isinstance(key, str) and record.get("storage_block_id") is None and Path(key).is_absolute():
            record["storage_key"] = Path(key).name
            atomic_write_text(path, json.dumps(record))
            moved += 1
    return moved


def pull(store: RunStore, run_dir: Path, log: Log) -> list[str]:
    """Bring the finished folders and cache records down, ready for this working copy."""
    folders = pull_run(store, run_dir, log)
    relocate_cache_records(run_dir / PREFECT_DIR / "keys")
    return folders
