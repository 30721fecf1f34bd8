"""The Ray actors a cluster build shares: one request gate per API model (max_concurrency and the
request rate held across every worker), one long-lived engine per local model (vLLM or
llama.cpp, loaded once, fed by every shard), and a board where shards post their progress."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import ray

from pipeline.core.config import ModelConfig
from pipeline.lm.base import ChatRequest, ChatResult
from pipeline.lm.gate import Gate


@ray.remote(num_cpus=0)
class GateActor:
    """A `Gate` behind an async actor: waiting callers cost a coroutine each, not a thread."""

    def __init__(self, limit: int, per_minute: float | None):
        self.gate = Gate(limit, per_minute)
        self._freed: asyncio.Event | None = None

    async def acquire(self, holder: str, want: int = 1) -> int:
        """Wait for a free permit, then grant up to `want` to this holder; returns how many."""
        if self._freed is None:
            self._freed = asyncio.Event()
        while True:
            granted, delay = self.gate.take_many(holder, want)
            if granted:
                break
            self._freed.clear()
            await self._freed.wait()
        if delay > 0:
            await asyncio.sleep(delay)
        return granted

    async def release(self, holder: str, count: int = 1) -> None:
        self.gate.release_many(holder, count)
        if self._freed is not None:
            self._freed.set()

    async def reclaim(self, holder: str) -> int:
        count = self.gate.reclaim(holder)
        if count and self._freed is not None:
            self._freed.set()
        return count

    async def stats(self) -> dict[str, int]:
        return self.gate.stats()


class RemoteGate:
    """A worker's lease on a model's gate actor (the `GateLike` GatedBackend takes).

    Permits come from the actor in blocks (as many as this worker's threads are waiting for) and
    go back to it when no thread of this worker has wanted one for RETURN_AFTER_S: a busy worker
    hands a finished request's permit straight to its next request, with no call to the actor.
    The actor counts every permit under this worker's holder name, so a worker that dies has them
    all reclaimed."""

    RETURN_AFTER_S = 0.01

    def __init__(self, actor: Any):
        self.actor = actor
        self._cond = threading.Condition()
        self._free = 0  # permits this worker holds and no request uses
        self._waiting = 0  # threads of this worker waiting for a permit
        self._fetching = False
        self._holder = ""
        self._closed = False
        self._returner: threading.Thread | None = None

    def _spare(self) -> int:
        """Free permits no thread here can take now: while a fetch is waiting at the actor, the
        threads waiting here exclude the fetching one (it can only be served by the actor)."""
        return max(0, self._free - (self._waiting - self._fetching))

    def _return_idle(self) -> None:
        """Hand back permits no request of this worker took within RETURN_AFTER_S."""
        while True:
            time.sleep(self.RETURN_AFTER_S)
            with self._cond:
                idle = self._spare()
                self._free -= idle
                stop = self._closed
            if idle:
                self.actor.release.remote(self._holder, idle)
            if stop:
                return

    def acquire(self, holder: str = "") -> None:
        with self._cond:
            self._holder = holder
            if self._returner is None:
                self._returner = threading.Thread(target=self._return_idle, name="gate-lease", daemon=True)
                self._returner.start()
            self._waiting += 1
            try:
                while self._free == 0:
                    if self._fetching:
                        self._cond.wait()
                        continue
                    self._fetching = True
                    want = self._waiting
                    self._cond.release()
                    try:
                        granted = ray.get(self.actor.acquire.remote(holder, want))
                    finally:
                        self._cond.acquire()
                        self._fetching = False
                    self._free += granted
                    self._cond.notify_all()
                self._free -= 1
            finally:
                self._waiting -= 1

    def release(self, holder: str = "") -> None:
        with self._cond:
            if self._fetching and self._waiting - 1 <= self._free:
                keep = False  # only the fetch at the actor wants one: the actor must see it freed
            else:
                keep = True  # for a thread waiting here, or this worker's next request
                self._free += 1
                self._cond.notify()
        if not keep:
            self.actor.release.remote(holder)

    def close(self) -> None:
        """The shard is done: every permit it still holds goes back."""
        with self._cond:
            self._closed = True
            idle, self._free = self._free, 0
        if idle:
            self.actor.release.remote(self._holder, idle)
        if self._returner is not None:
            self._returner.join()


@ray.remote
class EngineActor:
    """One model's backend (a vLLM engine, a llama.cpp server), built on first use and kept for
    the build; shards call it concurrently (the actor's max_concurrency threads)."""

    def __init__(self, model_json: str, models_dir: str):
        self._cfg = ModelConfig.model_validate_json(model_json)
        self._models_dir = models_dir
        self._backend: Any = None
        self._lock = threading.Lock()
        self.loads = 0

    def _get(self) -> Any:
        with self._lock:
            if self._backend is None:
                from pathlib import Path

                from pipeline.lm.pool import build_backend

                self._backend = build_backend(self._cfg, Path(self._models_dir))
                self.loads += 1
            return self._backend

    def describe(self) -> dict[str, Any]:
        backend = self._get()
        return {"kind": backend.kind, "model": backend.model, "endpoint": backend.endpoint,
                "batched": hasattr(backend, "complete_batch"), "loads": self.loads, "pid": os.getpid()}  # fmt: skip

    def complete(self, request: ChatRequest) -> ChatResult:
        return self._get().complete(request)

    def complete_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        return self._get().complete_batch(requests)

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None


class EngineProxy:
    """A worker's backend that forwards to a model's engine actor (same kind and model, so the
    cache keys are the ones a local build makes)."""

    def __init__(self, actor: Any):
        self.actor = actor
        info = ray.get(actor.describe.remote())
        self.kind, self.model, self.endpoint = info["kind"], info["model"], info["endpoint"]

    def complete(self, request: ChatRequest) -> ChatResult:
        return ray.get(self.actor.complete.remote(request))

    def close(self) -> None:
        pass  # the engine outlives the shard


class BatchEngineProxy(EngineProxy):
    """For engines that batch internally (vLLM): the runner sends chunks, not single requests."""

    def complete_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        return ray.get(self.actor.complete_batch.remote(requests))


@ray.remote(num_cpus=0)
class ProgressBoard:
    """Latest progress per (shard, label), read by the driver while it waits."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[int, int]] = {}

    async def post(self, shard: str, label: str, done: int, total: int) -> None:
        self.rows[(shard, label)] = (done, total)

    async def take(self) -> list[tuple[str, str, int, int]]:
        rows = [(s, label, d, t) for (s, label), (d, t) in self.rows.items()]
        self.rows.clear()
        return rows


class BoardReporter:
    """A shard's progress callback: posts at most every `every_s` seconds, and every finish."""

    def __init__(self, board: Any, shard: str, every_s: float = 1.0):
        self.board, self.shard, self.every_s = board, shard, every_s
        self._last: dict[str, float] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last.get(label, 0.0) >= self.every_s:
            self._last[label] = now
            self.board.post.remote(self.shard, label, done, total)
