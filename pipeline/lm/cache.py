"""Persistent response cache: a rerun of an unchanged config sends zero requests.

SQLite (stdlib) in WAL mode, so several stages or processes can read while one writes, and a
result is durable the moment its request finishes: a killed run loses only unfinished requests.
Failed requests are never stored, so a rerun retries exactly those.

It also keeps a journal of every request handed to a backend (`sent`), across runs: what was
paid for, and the proof that a resumed run re-sent only the requests that had not finished.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from pipeline.lm.base import ChatResult

_LOOKUP_CHUNK = 500  # keys per SELECT (SQLite allows 32766 parameters; smaller chunks stay fast)


def lookup(db: sqlite3.Connection, keys: list[str]) -> dict[str, ChatResult]:
    """The answers stored in `db` among `keys`, a few hundred keys per query."""
    found: dict[str, ChatResult] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"SELECT key, result FROM responses WHERE key IN ({marks})", chunk).fetchall()
        found.update((key, ChatResult.from_json(raw)) for key, raw in rows)
    return found


class ResponseCache:
    """Maps a request key (see `request_key`) to the JSON of its successful `ChatResult`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, result TEXT)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS sent (key TEXT, model TEXT, at REAL)")
        self._db.commit()

    def get(self, key: str) -> ChatResult | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str]) -> dict[str, ChatResult]:
        """The stored answers among `keys` (a stage looks its whole batch up in a few queries)."""
        with self._lock:
            return lookup(self._db, keys)

    def put(self, key: str, model: str, result: ChatResult) -> None:
        self.record([(key, model, result)], [], model)

    def record(self, answers: list[tuple[str, str, ChatResult]], sending: list[str], model: str) -> None:
        """Store answers and journal the requests about to go (`sending`, for `model`) in one
        transaction, so a busy worker pool costs one commit per wake-up, not two per request."""
        rows = [(key, name, result.to_json()) for key, name, result in answers if result.ok]
        if not rows and not sending:
            return
        now = time.time()
        with self._lock:
            if rows:
                self._db.executemany("INSERT OR REPLACE INTO responses (key, model, result) VALUES (?, ?, ?)", rows)
            if sending:
                self._db.executemany("INSERT INTO sent (key, model, at) VALUES (?, ?, ?)", [(k, model, now) for k in sending])
            self._db.commit()

    def sends(self) -> dict[str, int]:
        """How many times each request key was sent, over every run that used this cache."""
        with self._lock:
            rows = self._db.execute("SELECT key, COUNT(*) FROM sent GROUP BY key").fetchall()
        return dict(rows)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
