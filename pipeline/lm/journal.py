"""The journal of sent requests, written by the worker about to send, with group commits.

A worker records a request's key the moment it takes the request off the queue, and sends only
once that record is durable; every worker waiting meanwhile is covered by the same commit (the
first of them to find no commit running makes it). So requests may wait in a queue without being
counted as sent, and a killed run's journal holds exactly what was on its way.
"""

from __future__ import annotations

import threading

from pipeline.lm.cache import ResponseCache


class SendJournal:
    def __init__(self, cache: ResponseCache, model: str):
        self._cache, self._model = cache, model
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._queued = 0  # records handed in so far
        self._durable = 0  # records committed so far
        self._committing = False
        self._error: BaseException | None = None

    def mark(self, key: str) -> None:
        """Return once `key` is journaled as sent (raise if the journal cannot be written)."""
        with self._cond:
            self._pending.append(key)
            self._queued += 1
            mine = self._queued
            while self._durable < mine:
                if self._error is not None:
                    raise self._error
                if self._committing:
                    self._cond.wait()
                    continue
                batch, upto = self._pending, self._queued
                self._pending, self._committing = [], True
                self._cond.release()
                try:
                    self._cache.record([], batch, self._model)
                except BaseException as exc:
                    self._error = exc
                finally:
                    self._cond.acquire()
                    self._committing = False
                    if self._error is None:
                        self._durable = upto
                    self._cond.notify_all()
