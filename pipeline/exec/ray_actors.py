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

    async def acquire(self, holder: str) -> None:
        if self._freed is None:
            self._freed = asyncio.Event()
        while (delay := self.gate.take(holder)) is None:
            self._freed.clear()
            await self._freed.wait()
        if delay > 0:
            await asyncio.sleep(delay)

    async def release(self, holder: str) -> None:
        self.gate.release(holder)
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
    """A worker's handle on a model's gate actor (the `GateLike` GatedBackend takes)."""

    def __init__(self, actor: Any):
        self.actor = actor

    def acquire(self, holder: str = "") -> None:
        ray.get(self.actor.acquire.remote(holder))

    def release(self, holder: str = "") -> None:
        self.actor.release.remote(holder)  # no need to wait: the gate frees the permit in order


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
