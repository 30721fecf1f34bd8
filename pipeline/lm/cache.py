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
        with self._lock:
            row = self._db.execute("SELECT result FROM responses WHERE key = ?", (key,)).fetchone()
        return ChatResult.from_json(row[0]) if row else None

    def put(self, key: str, model: str, result: ChatResult) -> None:
        if not result.ok:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, result) VALUES (?, ?, ?)",
                (key, model, result.to_json()),
            )
            self._db.commit()

    def note_sent(self, keys: list[str], model: str) -> None:
        """Journal requests about to be sent (before they go: a crash mid-request still shows)."""
        now = time.time()
        with self._lock:
            self._db.executemany("INSERT INTO sent (key, model, at) VALUES (?, ?, ?)", [(k, model, now) for k in keys])
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
