"""A fixed set of worker threads fed through a queue, for blocking SDK calls.

Cheaper per request than an executor with one Future each and `wait(FIRST_COMPLETED)` re-armed
over the whole window: a worker hands its answer to a queue, and the consumer wakes once for
everything that finished meanwhile. A worker also makes its records durable itself (`commit`):
the answer it got and the request it takes next go in one call, before the answer is handed on
and before the next request is sent, so a request costs one wait for a commit, not two.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, TypeVar

from pipeline.lm.base import ChatRequest, ChatResult

T = TypeVar("T")
Job = tuple[int, ChatRequest, T]  # (position, request, a tag returned with the answer)
Commit = Callable[[T | None, tuple[T, ChatResult] | None], None]  # (tag sending, (tag, result) answered)
_STOP = None


class WorkerPool(Generic[T]):
    """`workers` threads calling `answer(request)`; `finished()` blocks for the next answers."""

    def __init__(self, answer: Callable[[ChatRequest], ChatResult], workers: int, name: str,
                 commit: Commit[T] | None = None):  # fmt: skip
        """`commit(sending, answered)` makes durable the tag of the request about to be sent
        and/or a (tag, result) just answered (the journal and the response cache)."""
        self._answer = answer
        self._commit = commit
        self._jobs: queue.SimpleQueue[Job[T] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[int, T, ChatResult | BaseException]] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self.in_flight = 0
        self._threads = [threading.Thread(target=self._work, name=f"lm-{name}-{n}", daemon=True)
                         for n in range(max(1, workers))]  # fmt: skip
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        job = self._take(self._jobs.get())
        while job is not None:
            i, request, tag = job
            outcome = self._send(request)
            following = self._next_now()
            answered = (tag, outcome) if isinstance(outcome, ChatResult) else None
            try:
                self._record(following[2] if following is not None else None, answered)
            except BaseException as exc:
                self._fail(i, tag, exc)
                return
            self._done.put((i, tag, outcome))
            job = following if following is not None else self._take(self._jobs.get())

    def _take(self, job: Job[T] | None) -> Job[T] | None:
        """`job`, journaled, or the next one that can be (None at the stop mark). While shutting
        down, requests are drained unsent and unjournaled."""
        while job is not _STOP:
            assert job is not None
            if not self._cancelled.is_set():
                try:
                    self._record(job[2], None)
                    return job
                except BaseException as exc:
                    self._fail(job[0], job[2], exc)
            job = self._jobs.get()
        return None

    def _fail(self, i: int, tag: T, exc: BaseException) -> None:
        """A record that could not be made durable: the consumer raises `exc`; nothing more is sent."""
        self._done.put((i, tag, exc))
        self._cancelled.set()

    def _send(self, request: ChatRequest) -> ChatResult | BaseException:
        """A journaled request is sent even while shutting down: the journal says it was."""
        try:
            return self._answer(request)
        except BaseException as exc:  # handed to the consumer, raised there
            return exc

    def _next_now(self) -> Job[T] | None:
        """The next request if one is waiting (None for none or for the stop mark, left queued)."""
        if self._cancelled.is_set():
            return None
        try:
            job = self._jobs.get_nowait()
        except queue.Empty:
            return None
        if job is _STOP:
            self._jobs.put(_STOP)
            return None
        return job

    def _record(self, sending: T | None, answered: tuple[T, ChatResult] | None) -> None:
        if self._commit is not None and (sending is not None or answered is not None):
            self._commit(sending, answered)

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
