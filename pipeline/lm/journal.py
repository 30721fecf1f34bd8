"""The journal of sent requests, written by the worker about to send, with group commits.

A worker records a request's key the moment it takes the request off the queue, and sends only
once that record is durable. Keys handed in while a commit runs form the next batch; when the
commit ends, its own workers are woken (and nobody else), and one worker of the next batch is
woken to commit it. So requests may wait in a queue without being counted as sent, a commit
costs one wake-up per request it covers, and a killed run's journal holds exactly what was on
its way.
"""

from __future__ import annotations

import threading

from pipeline.lm.cache import ResponseCache


class _Batch:
    """Keys waiting for one commit, and the workers waiting on it."""

    def __init__(self, lock: threading.Lock):
        self.keys: list[str] = []
        self.woken = threading.Condition(lock)
        self.done = False
        self.needs_leader = False  # the commit before ended; one waiter must commit this batch
        self.error: BaseException | None = None


class SendJournal:
    def __init__(self, cache: ResponseCache, model: str):
        self._cache, self._model = cache, model
        self._lock = threading.Lock()
        self._open = _Batch(self._lock)  # where new keys go
        self._committing = False

    def mark(self, key: str) -> None:
        """Return once `key` is journaled as sent (raise if the journal cannot be written)."""
        with self._lock:
            batch = self._open
            batch.keys.append(key)
            if self._committing:
                while not (batch.done or batch.needs_leader):
                    batch.woken.wait()
                if batch.done:
                    if batch.error is not None:
                        raise batch.error
                    return
                batch.needs_leader = False
            self._committing = True
            self._open = _Batch(self._lock)
        self._commit(batch)
        if batch.error is not None:
            raise batch.error

    def _commit(self, batch: _Batch) -> None:
        try:
            self._cache.record([], batch.keys, self._model)
        except BaseException as exc:
            batch.error = exc
        with self._lock:
            batch.done = True
            batch.woken.notify_all()
            following = self._open
            if following.keys:
                following.needs_leader = True
                following.woken.notify()
            else:
                self._committing = False
