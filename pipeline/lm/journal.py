"""Group commits of the response cache: the journal of sent requests and the answers, together.

A worker records a request's key the moment it takes the request off the queue, and sends only
once that record is durable; it stores the answer it got in the same call as the next key it
takes, and hands the answer on only once it is durable. Whatever is handed in while a commit runs forms the next batch; when the
commit ends, its own waiters are woken (and nobody else), and one waiter of the next batch is woken
to commit it. So one writer serves both kinds of record (a consumer storing answers apart took turns
with the workers on one SQLite lock), a commit costs one wake-up per caller it covers, requests may wait in a queue without being
counted as sent, and a killed run's journal holds exactly what was on its way.
"""

from __future__ import annotations

import threading

from pipeline.lm.base import ChatResult
from pipeline.lm.cache import ResponseCache

Answer = tuple[str, str, ChatResult]  # (key, model, result)


class _Batch:
    """Records waiting for one commit, and the callers waiting on it."""

    def __init__(self, lock: threading.Lock):
        self.sending: list[str] = []
        self.answers: list[Answer] = []
        self.woken = threading.Condition(lock)
        self.done = False
        self.needs_leader = False  # the commit before ended; one waiter must commit this batch
        self.error: BaseException | None = None


class SendJournal:
    def __init__(self, cache: ResponseCache, model: str):
        self._cache, self._model = cache, model
        self._lock = threading.Lock()
        self._open = _Batch(self._lock)  # where new records go
        self._committing = False

    def write(self, sending: list[str], answers: list[Answer]) -> None:
        """Return once the keys in `sending` are journaled and `answers` are stored, together."""
        with self._lock:
            batch = self._open
            batch.sending += sending
            batch.answers += answers
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
            self._cache.record(batch.answers, batch.sending, self._model)
        except BaseException as exc:
            batch.error = exc
        with self._lock:
            batch.done = True
            batch.woken.notify_all()
            following = self._open
            if following.sending or following.answers:
                following.needs_leader = True
                following.woken.notify()
            else:
                self._committing = False
