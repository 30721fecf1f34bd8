"""Shared behaviour of every backend: cache lookup, bounded concurrency, accounting.

A backend only knows how to answer one request (`SingleRequestBackend.complete`), with its SDK's
own retry policy; engines that batch internally may also offer `complete_batch`. `CachedModel`
wraps either into the batch `LanguageModel` protocol.
"""

from __future__ import annotations

import logging
import threading
from itertools import islice
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from pipeline.lm.base import ChatRequest, ChatResult, ProgressFn, request_key
from pipeline.lm.cache import ResponseCache
from pipeline.lm.journal import SendJournal
from pipeline.lm.workers import Commit, WorkerPool

log = logging.getLogger(__name__)
Pending = tuple[int, ChatRequest, str]  # (position in the batch, request, its cache key)


class SingleRequestBackend(Protocol):
    """The part that differs per provider."""

    kind: str  # "openai", "anthropic", "vllm", ... (part of the cache key)
    model: str
    endpoint: str

    def complete(self, request: ChatRequest) -> ChatResult:
        """Answer one request; raise BackendUnavailable when the endpoint itself is unusable."""
        ...

    def close(self) -> None: ...


@dataclass
class RequestStats:
    """Counts for the run log: how much was answered from the cache and how much was sent."""

    requested: int = 0
    cache_hits: int = 0
    sent: int = 0  # requests handed to the backend, each counted once
    retries: int = 0  # extra attempts after transient failures (429, 5xx, timeouts)
    succeeded: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class CachedModel:
    """A `LanguageModel` made of a backend, a response cache and a bounded worker pool."""

    def __init__(
        self,
        backend: SingleRequestBackend,
        cache: ResponseCache | None,
        max_concurrency: int = 4,
        name: str | None = None,
        batch_size: int = 256,
    ):
        self.backend = backend
        self.cache = cache
        self.max_concurrency = max(1, max_concurrency)
        self.name = name or backend.model
        self.batch_size = batch_size
        self.stats = RequestStats()

    @property
    def endpoint(self) -> str:
        return self.backend.endpoint

    def key(self, request: ChatRequest) -> str:
        return request_key(self.backend.kind, self.backend.model, request)

    def generate(
        self, requests: Sequence[ChatRequest], progress: ProgressFn | None = None
    ) -> list[ChatResult]:
        results: list[ChatResult | None] = [None] * len(requests)
        # Identical requests in one batch (say, judge questions about two identical answers) are
        # sent once, and every copy gets that answer.
        copies: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            copies.setdefault(self.key(request), []).append(i)
        hits = self.cache.get_many(list(copies)) if self.cache else {}
        unanswered: dict[int, str] = {}  # first position of each request to send -> its key
        for key, group in copies.items():
            hit = hits.get(key)
            if hit is None:
                unanswered[group[0]] = key
            for i in group:
                results[i] = hit
        done = sum(r is not None for r in results)
        self.stats.add(requested=len(requests), cache_hits=done)
        if progress:
            progress(done, len(requests))
        if unanswered:
            log.info("%s: %d cached, sending %d to %s", self.name, done, len(unanswered), self.endpoint)
            batched = hasattr(self.backend, "complete_batch")
            answer = self._answer_batched if batched else self._answer_pooled
            todo = [(i, requests[i], key) for i, key in unanswered.items()]
            for first, result in answer(todo):
                group = copies[unanswered[first]]
                for i in group:
                    results[i] = result
                done += len(group)
                if progress:
                    progress(done, len(requests))
        return [r for r in results if r is not None]

    def _answer_pooled(self, todo: list[Pending]) -> Iterator[tuple[int, ChatResult]]:
        """One request per worker thread; yields results in completion order.

        Workers take requests from one queue and put answers on another. A worker journals the
        request it takes as sent before it sends it, and stores the answer it got in the same
        group commit as the next request it takes (shared with the workers committing meanwhile),
        so an answer is durable before anyone sees it, up to a second round of requests can wait
        in the queue without being counted as sent, and no worker waits for this thread. This
        thread wakes for whatever answers have arrived, counts them and tops the queue up; memory
        stays flat however many requests a stage sends."""
        workers = min(self.max_concurrency, len(todo))
        pool = WorkerPool(self.backend.complete, workers, self.name, self._commit_hook())
        window = 2 * workers
        queue = iter(todo)
        try:
            pool.submit(list(islice(queue, window)))
            while pool.in_flight:
                answers, failure = pool.finished()
                self._count(answers)
                pool.submit(list(islice(queue, window - pool.in_flight)))
                yield from ((i, result) for i, _, result in answers)
                if failure is not None:
                    raise failure
        finally:
            pool.shutdown()

    def _commit_hook(self) -> Commit[str] | None:
        """What the pool's workers call to journal the key they send and store the answer they got."""
        if self.cache is None:
            return None
        journal, model = SendJournal(self.cache, self.backend.model), self.backend.model

        def commit(sending: str | None, answered: tuple[str, ChatResult] | None) -> None:
            journal.write([sending] if sending is not None else [],
                          [(answered[0], model, answered[1])] if answered is not None else [])  # fmt: skip

        return commit

    def _answer_batched(self, todo: list[Pending]) -> Iterator[tuple[int, ChatResult]]:
        """Engines that batch internally (vLLM offline) get chunks, not threads."""
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            self._store([], chunk)
            answers = self.backend.complete_batch([request for _, request, _ in chunk])  # type: ignore[attr-defined]
            answered = [(i, key, result) for (i, _, key), result in zip(chunk, answers)]
            self._store(answered, [])
            yield from ((i, result) for i, _, result in answered)

    def _store(self, answered: list[tuple[int, str, ChatResult]], sending: list[Pending]) -> None:
        """Account for fresh answers and, in one transaction, make them durable (before anyone
        uses them) and journal the requests about to be sent (before they go)."""
        self._count(answered)
        if self.cache is not None:
            model = self.backend.model
            self.cache.record([(key, model, result) for _, key, result in answered], [key for _, _, key in sending], model)

    def _count(self, answered: list[tuple[int, str, ChatResult]]) -> None:
        """Add fresh answers to the stats (they reach the caller marked as not from the cache)."""
        counts = {"sent": 0, "retries": 0, "succeeded": 0, "failed": 0, "prompt_tokens": 0, "completion_tokens": 0}
        for _, _, result in answered:
            result.cached = False
            counts["sent"] += 1
            counts["retries"] += max(0, result.attempts - 1)
            counts["succeeded" if result.ok else "failed"] += 1
            counts["prompt_tokens"] += result.prompt_tokens or 0
            counts["completion_tokens"] += result.completion_tokens or 0
        if answered:
            self.stats.add(**counts)

    def close(self) -> None:
        self.backend.close()
