"""One model's request gate: at most `limit` requests at once and at most `per_minute` started a
minute, however many threads, shards or worker processes send them.

A process holds its gate itself; on a Ray cluster one actor holds it for every worker (see
pipeline.exec.ray_cluster). Permits are taken in a holder's name (a shard's run), so the driver can
hand back the permits of a worker that died holding them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Protocol

from pipeline.lm.base import ChatRequest, ChatResult


class Gate:
    """Thread-safe; `acquire` blocks until a permit is free and the rate allows a start."""

    def __init__(self, limit: int, per_minute: float | None = None):
        self.limit = max(1, limit)
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._next_start = 0.0
        self._cond = threading.Condition()
        self._held: Counter[str] = Counter()
        self.active = 0
        self.peak = 0
        self.started = 0

    def take(self, holder: str = "") -> float | None:
        """A permit now, if one is free: the seconds to wait before starting (the rate), or None."""
        with self._cond:
            return self._take(holder)

    def take_many(self, holder: str, want: int) -> tuple[int, float]:
        """Up to `want` permits at once for one holder (a worker leasing a block): how many, and
        the wait before the first may start. A rate-limited gate grants one at a time (each start
        has its own slot)."""
        with self._cond:
            granted, delay = 0, 0.0
            for _ in range(1 if self._interval else max(1, want)):
                got = self._take(holder)
                if got is None:
                    break
                granted, delay = granted + 1, delay if granted else got
            return granted, delay

    def release_many(self, holder: str, count: int) -> None:
        for _ in range(count):
            self.release(holder)

    def _take(self, holder: str) -> float | None:
        if self.active >= self.limit:
            return None
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.started += 1
        self._held[holder] += 1
        now = time.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + self._interval
        return start - now

    def acquire(self, holder: str = "") -> None:
        with self._cond:
            while (delay := self._take(holder)) is None:
                self._cond.wait()
        if delay > 0:  # the rate: a permit holder waits for its start slot outside the lock
            time.sleep(delay)

    def release(self, holder: str = "") -> None:
        with self._cond:
            if self._held[holder] <= 0:
                return  # reclaimed already (its holder was declared dead)
            self._held[holder] -= 1
            self.active -= 1
            self._cond.notify()

    def reclaim(self, holder: str) -> int:
        """Free every permit `holder` still has (its worker died); returns how many."""
        with self._cond:
            count = self._held.pop(holder, 0)
            self.active -= count
            self._cond.notify_all()
        return count

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"limit": self.limit, "active": self.active, "peak": self.peak, "started": self.started}


class GateLike(Protocol):
    def acquire(self, holder: str = "") -> None: ...

    def release(self, holder: str = "") -> None: ...


class GatedBackend:
    """A backend whose every request passes `gate` (same kind, model and endpoint, so the cache
    keys are the ones the ungated backend makes)."""

    def __init__(self, backend: object, gate: GateLike, holder: str = ""):
        self.backend = backend
        self.gate = gate
        self.holder = holder
        self.kind = backend.kind  # type: ignore[attr-defined]
        self.model = backend.model  # type: ignore[attr-defined]
        self.endpoint = backend.endpoint  # type: ignore[attr-defined]

    def complete(self, request: ChatRequest) -> ChatResult:
        self.gate.acquire(self.holder)
        try:
            return self.backend.complete(request)  # type: ignore[attr-defined]
        finally:
            self.gate.release(self.holder)

    def close(self) -> None:
        self.backend.close()  # type: ignore[attr-defined]
        if hasattr(self.gate, "close"):
            self.gate.close()  # a lease on a shared gate hands back what it holds
