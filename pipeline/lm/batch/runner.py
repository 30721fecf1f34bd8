"""A `LanguageModel` that answers through a provider's batch API, with the shared response cache.

Requests already answered come from the cache; requests held by a batch this run saved earlier
(a killed build) are awaited, never resubmitted; the rest go out in batches within the
provider's limits. Errored and expired lines go out again, at most `max_rounds` more times; after
that they are failed results carrying the provider's error. Every answer is cached as it is read.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

from pipeline.lm.base import BackendUnavailable, ChatRequest, ChatResult, ProgressFn, request_key
from pipeline.lm.batch.protocol import BatchProvider, BatchStatus
from pipeline.lm.batch.state import BatchStore, SavedBatch
from pipeline.lm.cache import ResponseCache
from pipeline.lm.runner import RequestStats

log = logging.getLogger(__name__)


def chunks(provider: BatchProvider, items: list[tuple[str, ChatRequest]]) -> list[list[tuple[str, ChatRequest]]]:
    """Split into batches within the provider's request and byte limits."""
    out: list[list[tuple[str, ChatRequest]]] = []
    size = 0
    for cid, request in items:
        line = provider.line_size(cid, request)
        if not out or len(out[-1]) >= provider.max_requests or size + line > provider.max_bytes:
            out.append([])
            size = 0
        out[-1].append((cid, request))
        size += line
    return out


class BatchModel:
    """Custom id = the request's cache key (64 hex characters, within both providers' limits)."""

    def __init__(self, provider: BatchProvider, cache: ResponseCache, store: BatchStore, name: str,
                 poll_s: float = 30.0, max_rounds: int = 2, sleep: Callable[[float], None] = time.sleep):  # fmt: skip
        self.provider, self.cache, self.store, self.name = provider, cache, store, name
        self.poll_s, self.max_rounds, self._sleep = poll_s, max_rounds, sleep
        self.stats = RequestStats()

    @property
    def endpoint(self) -> str:
        return self.provider.endpoint

    def key(self, request: ChatRequest) -> str:
        return request_key(self.provider.kind, self.provider.model, request)

    def generate(self, requests: Sequence[ChatRequest], progress: ProgressFn | None = None) -> list[ChatResult]:
        try:
            return self._generate(requests, progress)
        except Exception as exc:
            raise self._unavailable(exc) or exc

    def _unavailable(self, exc: Exception) -> BackendUnavailable | None:
        """The SDKs' endpoint-level errors (no connection, refused key) as the error that stops the
        stage with a message naming the model and the endpoint, never the key."""
        status = getattr(exc, "status_code", None)
        where = f"model {self.name!r} at {self.endpoint} (batch API)"
        if type(exc).__name__ == "APIConnectionError":
            return BackendUnavailable(f"{where}: cannot reach it ({type(exc).__name__}); is the server running?")
        if status in (401, 403):
            return BackendUnavailable(f"{where}: credentials refused (HTTP {status})")
        if status == 404:
            return BackendUnavailable(f"{where}: not found (HTTP 404); check base_url and that it offers batches")
        return None

    def _generate(self, requests: Sequence[ChatRequest], progress: ProgressFn | None) -> list[ChatResult]:
        keys = [self.key(r) for r in requests]
        known: dict[str, ChatResult] = self.cache.get_many(list(dict.fromkeys(keys)))
        todo: dict[str, ChatRequest] = {}
        for key, request in zip(keys, requests):
            if key not in known:
                todo.setdefault(key, request)
        self.stats.add(requested=len(requests), cache_hits=sum(k in known for k in keys))
        if progress:
            progress(len(requests) - sum(k in todo for k in keys), len(requests))
        if todo:
            before = len(requests) - sum(k in todo for k in keys)

            def report(n: int) -> None:
                if progress:
                    progress(before + n, len(requests))

            known.update(self._answer(todo, report))
        return [known[k] for k in keys]

    def _answer(self, todo: dict[str, ChatRequest], report: Callable[[int], None]) -> dict[str, ChatResult]:
        saved = [b for b in self.store.open_batches(self.name) if not todo.keys().isdisjoint(b.custom_ids)]
        awaited = {cid for b in saved for cid in b.custom_ids}
        if saved:
            log.info("%s: resuming %d saved batch(es) holding %d requests; nothing of theirs is resubmitted",
                     self.name, len(saved), len(awaited & todo.keys()))  # fmt: skip
        attempts = {cid: 1 for cid in todo}
        running = saved + self._submit([(c, r) for c, r in todo.items() if c not in awaited], first=True)
        answers: dict[str, ChatResult] = {}
        for round_no in range(self.max_rounds + 1):
            self._wait(running, len(todo), answers, report)
            again = self._collect(running, todo, attempts, answers, last=round_no == self.max_rounds)
            if not again:
                break
            log.info("%s: resubmitting %d errored or expired requests (round %d of %d)",
                     self.name, len(again), round_no + 1, self.max_rounds)  # fmt: skip
            for cid in again:
                attempts[cid] += 1
            running = self._submit([(c, todo[c]) for c in again], first=False)
        return answers

    def _submit(self, items: list[tuple[str, ChatRequest]], first: bool) -> list[SavedBatch]:
        batches = []
        for part in chunks(self.provider, items):
            ids = [cid for cid, _ in part]
            label = f"rbbench-{self.name}-{len(self.store.all()) + 1}"
            self.cache.record([], ids, self.provider.model)  # journaled before they go
            batch_id = self.provider.submit(part, label)
            self.store.created(batch_id, self.provider.kind, self.name, ids, label)  # before anything else
            log.info("%s: batch %s created with %d requests", self.name, batch_id, len(ids))
            self.stats.add(**({"sent": len(ids)} if first else {"retries": len(ids)}))
            batches.append(SavedBatch(batch_id, self.provider.kind, self.name, ids, time.time(), label))
        return batches

    def _wait(self, running: list[SavedBatch], total: int, answers: dict[str, ChatResult],
              report: Callable[[int], None]) -> None:  # fmt: skip
        """Poll until every batch has ended. Ctrl-C leaves them running at the provider."""
        seen: dict[str, BatchStatus] = {}
        try:
            while True:
                for batch in running:
                    if batch.batch_id in seen and seen[batch.batch_id].ended:
                        continue
                    status = self.provider.poll(batch.batch_id)
                    if seen.get(batch.batch_id) != status:
                        log.info("%s: batch %s %s %s", self.name, batch.batch_id, status.status, status.counts)
                        self.store.mark(batch.batch_id, "polled", status.status)
                    seen[batch.batch_id] = status
                done = sum(s.counts.get("completed", s.counts.get("succeeded", 0)) for s in seen.values())
                report(min(total, len(answers) + done))
                if all(s.ended for s in seen.values()):
                    return
                self._sleep(self.poll_s)
        except KeyboardInterrupt:
            ids = ", ".join(b.batch_id for b in running)
            log.warning("%s: interrupted; batches %s keep running at the provider. Run the same `rb build` "
                        "again to resume them (nothing is resubmitted), or `rb batches cancel --config FILE` "
                        "to cancel them; `rb batches list --config FILE` shows them.", self.name, ids)  # fmt: skip
            raise

    def _collect(self, running: list[SavedBatch], todo: dict[str, ChatRequest], attempts: dict[str, int],
                 answers: dict[str, ChatResult], last: bool) -> list[str]:  # fmt: skip
        """Cache every answer; return the ids to send again (failed results for the rest)."""
        again: list[str] = []
        for batch in running:
            status = self.provider.poll(batch.batch_id)
            missing = set(batch.custom_ids)
            read: list[tuple[str, str, ChatResult]] = []
            for line in self.provider.results(batch.batch_id, todo):
                missing.discard(line.custom_id)
                if line.result is not None:
                    line.result.cached, line.result.attempts = False, attempts.get(line.custom_id, 1)
                    read.append((line.custom_id, self.provider.model, line.result))
                    if line.custom_id in todo:
                        answers[line.custom_id] = line.result
                        self._count(line.result)
                elif line.custom_id in todo:
                    self._fail(line.custom_id, line.error or "unknown", line.retryable and not last,
                               attempts, answers, again)  # fmt: skip
            self.cache.record(read, [], self.provider.model)  # a batch's answers in one transaction
            why = f"no result line (batch {status.status}{': ' + status.error if status.error else ''})"
            for cid in sorted(missing & todo.keys()):
                self._fail(cid, f"{self.provider.kind} batch: {why}", not last, attempts, answers, again)
            self.store.mark(batch.batch_id, "collected", status.status)
        return again

    def _fail(self, cid: str, error: str, retry: bool, attempts: dict[str, int], answers: dict[str, ChatResult],
              again: list[str]) -> None:  # fmt: skip
        if retry:
            again.append(cid)
            return
        result = ChatResult(error=error, attempts=attempts[cid])
        answers[cid] = result
        self._count(result)

    def _count(self, result: ChatResult) -> None:
        self.stats.add(succeeded=int(result.ok), failed=int(not result.ok),
                       prompt_tokens=result.prompt_tokens or 0, completion_tokens=result.completion_tokens or 0)  # fmt: skip

    def close(self) -> None:
        self.provider.close()
