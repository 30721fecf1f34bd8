"""A response cache per shard, merged into the build's cache by key when its stage ends.

Workers of a cluster never write one SQLite file together (SQLite over a network filesystem
is not safe to share between writers): a shard writes its answers and its journal of sent
requests to its own file and reads the build's cache (`base`) for answers from earlier runs.
A shard that runs again after its worker died reopens its own file, so every request that had
finished is answered from there and only the ones in flight are sent again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeline.lm.base import ChatResult
from pipeline.lm.cache import ResponseCache, lookup


class ShardCache(ResponseCache):
    """Writes go to this shard's file; lookups fall back to the build's cache, read-only."""

    def __init__(self, path: str | Path, base: str | Path):
        super().__init__(path)
        self.base = Path(base)
        self._base_db: sqlite3.Connection | None = None

    def _base(self) -> sqlite3.Connection | None:
        if self._base_db is None and self.base.is_file():
            self._base_db = sqlite3.connect(f"{self.base.resolve().as_uri()}?mode=ro", uri=True,
                                            check_same_thread=False, timeout=60)  # fmt: skip
        return self._base_db

    def get_many(self, keys: list[str]) -> dict[str, ChatResult]:
        found = super().get_many(keys)
        missing = [k for k in keys if k not in found]
        base = self._base() if missing else None
        if base is not None:
            with self._lock:
                found.update(lookup(base, missing))
        return found

    def close(self) -> None:
        with self._lock:
            if self._base_db is not None:
                self._base_db.close()
                self._base_db = None
        super().close()


def merge_shard_caches(cache_path: Path, shard_files: list[Path]) -> int:
    """Fold shard caches into the build's cache (answers by key, every journal row), then delete
    them; returns the answers added. Run by one process (the driver) after the shards finished."""
    cache = ResponseCache(cache_path)
    cache.close()  # creates the file and its tables when this is the first build
    db = sqlite3.connect(cache_path, timeout=60)
    added = 0
    try:
        for path in shard_files:
            if not path.is_file():
                continue
            db.execute("ATTACH DATABASE ? AS shard", (str(path),))
            before = db.total_changes
            db.execute("INSERT OR IGNORE INTO responses SELECT key, model, result FROM shard.responses")
            added += db.total_changes - before
            db.execute("INSERT INTO sent SELECT key, model, at FROM shard.sent")
            db.execute("DELETE FROM shard.sent")  # a merge cut short and run again counts no send twice
            db.commit()
            db.execute("DETACH DATABASE shard")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    finally:
        db.close()
    return added
