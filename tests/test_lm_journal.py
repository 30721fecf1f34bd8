"""The response cache's group commits (sent requests and answers) and the request keys the response cache is indexed by."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from pipeline.lm.base import ChatRequest, ChatResult, request_key
from pipeline.lm.cache import ResponseCache
from pipeline.lm.journal import SendJournal


def test_request_keys_are_the_ones_existing_caches_hold() -> None:
    """Keys computed by an earlier version (asdict-based params): a change here would make every
    user's response cache miss and resend everything."""
    plain = ChatRequest.from_messages([{"role": "user", "content": "héllo"}])
    sampled = ChatRequest.from_messages(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}],
        temperature=0.7, seed=3, sample_index=2, stop=["\n", "END"], logprobs=True, max_tokens=9,
    )  # fmt: skip
    schema = ChatRequest.from_messages([{"role": "user", "content": "j"}], json_schema='{"type":"object"}')
    assert request_key("openai", "m", plain) == "383909e0dbca9d1215a867f749d8e5d0d2d9968855cb6715ef60c997c0d6b298"
    assert request_key("openai", "m", sampled) == "b2ff56066c5019458e30b3e57ad5087242eb6e9874ae15981684916f38c8de69"
    assert request_key("openai", "m", schema) == "b928bac9e826593ee1b6f0461902ab049c5156fcf46dbd618814508947eb6214"


class SlowCache(ResponseCache):
    """A real cache whose commits take a while, so marks pile up behind a running commit."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.commits: list[int] = []

    def record(self, answers: list[tuple[str, str, ChatResult]], sending: list[str], model: str) -> None:
        time.sleep(0.01)
        super().record(answers, sending, model)
        self.commits.append(len(sending))
        assert sending or answers


def test_every_mark_returns_only_once_its_key_is_committed(tmp_path: Path) -> None:
    cache = SlowCache(tmp_path / "cache.sqlite")
    journal = SendJournal(cache, "m")
    early: list[str] = []

    def worker(n: int) -> None:
        for i in range(20):
            key = f"k{n}-{i}"
            journal.write([key], [])
            with sqlite3.connect(cache.path) as reader:  # another connection, as after a crash
                if not reader.execute("SELECT 1 FROM sent WHERE key = ?", (key,)).fetchone():
                    early.append(key)

    def consumer() -> None:  # answers share the workers' commits
        for i in range(50):
            key = f"answer-{i}"
            journal.write([], [(key, "m", ChatResult(text=str(i)))])
            if cache.get(key) is None or ResponseCache(cache.path).get(key) is None:
                early.append(key)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    threads.append(threading.Thread(target=consumer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker never got its commit"
    assert early == []
    sends = cache.sends()
    assert len(sends) == 640 and set(sends.values()) == {1}
    # Group commits: far fewer commits than marks, and every commit covered at least one key.
    assert sum(cache.commits) == 640 and len(cache.commits) < 320
    assert all(cache.get(f"answer-{i}").text == str(i) for i in range(50))


class BrokenOnce(ResponseCache):
    def __init__(self, path: Path):
        super().__init__(path)
        self.fail = True

    def record(self, answers: list[tuple[str, str, ChatResult]], sending: list[str], model: str) -> None:
        if self.fail:
            self.fail = False
            raise sqlite3.OperationalError("disk I/O error")
        super().record(answers, sending, model)


def test_a_failed_commit_raises_in_the_worker_that_would_have_sent(tmp_path: Path) -> None:
    cache = BrokenOnce(tmp_path / "cache.sqlite")
    journal = SendJournal(cache, "m")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        journal.write(["a"], [])
    journal.write(["b"], [])  # the next batch commits normally
    assert cache.sends() == {"b": 1}
