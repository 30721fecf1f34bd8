"""Shared behaviour of every backend: cache lookup, bounded concurrency, accounting.

A backend only knows how to answer one request (`SingleRequestBackend.complete`), with its SDK's
own retry policy; engines that batch internally may also offer `complete_batch`. `CachedModel`
wraps either into the batch `LanguageModel` protocol.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from pipeline.lm.base import ChatRequest, ChatResult, ProgressFn, request_key
from pipeline.lm.cache import ResponseCache

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
        unanswered: dict[int, str] = {}  # first position of each request to send -> its key
        for key, group in copies.items():
            hit = self.cache.get(key) if self.cache else None
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
        """One request per worker thread; yields results in completion order. Requests are fed
        to the pool as earlier ones finish (a small window, not the whole batch), so memory
        stays flat however many requests a stage sends."""
        queue = iter(todo)
        window = self.max_concurrency * 2
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            running: dict[Future[ChatResult], tuple[int, str]] = {}
            try:
                while True:
                    for i, request, key in islice(queue, window - len(running)):
                        running[pool.submit(self._send, request, key)] = (i, key)
                    if not running:
                        return
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        i, key = running.pop(future)
                        yield i, self._record(key, future.result())
            except BaseException:
                for pending in running:
                    pending.cancel()
                raise

    def _answer_batched(self, todo: list[Pending]) -> Iterator[tuple[int, ChatResult]]:
        """Engines that batch internally (vLLM offline) get chunks, not threads."""
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            if self.cache is not None:
                self.cache.note_sent([key for _, _, key in chunk], self.backend.model)
            answers = self.backend.complete_batch([request for _, request, _ in chunk])  # type: ignore[attr-defined]
            for (i, _, key), result in zip(chunk, answers):
                yield i, self._record(key, result)

    def _send(self, request: ChatRequest, key: str) -> ChatResult:
        if self.cache is not None:
            self.cache.note_sent([key], self.backend.model)
        return self.backend.complete(request)

    def _record(self, key: str, result: ChatResult) -> ChatResult:
        """Account for a fresh answer and make it durable before anyone uses it."""
        result.cached = False
        self.stats.add(
            sent=1,
            retries=max(0, result.attempts - 1),
            succeeded=int(result.ok),
            failed=int(not result.ok),
            prompt_tokens=result.prompt_tokens or 0,
            completion_tokens=result.completion_tokens or 0,
        )
        if self.cache is not None:
            self.cache.put(key, self.backend.model, result)
        return result

    def close(self) -> None:
        self.backend.close()
