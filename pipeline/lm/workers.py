"""A fixed set of worker threads fed through a queue, for blocking SDK calls.

Cheaper per request than an executor with one Future each and `wait(FIRST_COMPLETED)` re-armed
over the whole window: a worker hands its answer to a queue, and the consumer wakes once for
everything that finished meanwhile.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, TypeVar

from pipeline.lm.base import ChatRequest, ChatResult

T = TypeVar("T")
Job = tuple[int, ChatRequest, T]  # (position, request, a tag returned with the answer)
_STOP = None


class WorkerPool(Generic[T]):
    """`workers` threads calling `answer(request)`; `finished()` blocks for the next answers."""

    def __init__(self, answer: Callable[[ChatRequest], ChatResult], workers: int, name: str,
                 before: Callable[[T], None] | None = None):  # fmt: skip
        """`before(tag)` runs in the worker right before each request is sent (the journal)."""
        self._answer = answer
        self._before = before
        self._jobs: queue.SimpleQueue[Job[T] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[int, T, ChatResult | BaseException]] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self.in_flight = 0
        self._threads = [threading.Thread(target=self._work, name=f"lm-{name}-{n}", daemon=True)
                         for n in range(max(1, workers))]  # fmt: skip
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not _STOP:
            i, request, tag = job
            if self._cancelled.is_set():
                continue  # shutting down: never start a request nobody will read
            try:
                if self._before is not None:
                    self._before(tag)
                outcome: ChatResult | BaseException = self._answer(request)
            except BaseException as exc:  # handed to the consumer, raised there
                outcome = exc
            self._done.put((i, tag, outcome))

    def submit(self, jobs: list[Job[T]]) -> None:
        for job in jobs:
            self._jobs.put(job)
        self.in_flight += len(jobs)

    def finished(self) -> tuple[list[tuple[int, T, ChatResult]], BaseException | None]:
        """Every answer available now (blocks until there is one), and the first exception a
        request raised meanwhile, for the consumer to raise after keeping the answers."""
        arrived = [self._done.get()]
        while True:
            try:
                arrived.append(self._done.get_nowait())
            except queue.Empty:
                break
        self.in_flight -= len(arrived)
        answers = [(i, tag, out) for i, tag, out in arrived if not isinstance(out, BaseException)]
        failure = next((out for _, _, out in arrived if isinstance(out, BaseException)), None)
        return answers, failure

    def shutdown(self) -> None:
        """Start nothing new, let requests already on the wire finish, and stop the threads."""
        self._cancelled.set()
        for _ in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join()
