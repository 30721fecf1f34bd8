"""Batch mode against a loopback server speaking both batch protocols, through the official SDKs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.core.config import ModelConfig
from pipeline.lm import ChatRequest, ModelPool
from pipeline.lm.batch import BatchStore
from tests.batch_server import BatchServer

KEY = "sk-batch-secret-4242"


@pytest.fixture()
def server():
    with BatchServer() as srv:
        yield srv


def model(srv: BatchServer, backend: str) -> ModelConfig:
    return ModelConfig(name=f"{backend}-batch", backend=backend, model="m-1", base_url=srv.url + ("/v1" if backend == "openai" else ""),
                       api_key_env="RB_TEST_BATCH_KEY", batch=True, batch_poll_s=0.01, max_retries=1)  # fmt: skip


def ask(texts: list[str]) -> list[ChatRequest]:
    return [ChatRequest.from_messages([{"role": "system", "content": "be brief"}, {"role": "user", "content": t}],
                                      max_tokens=16) for t in texts]  # fmt: skip


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("RB_TEST_BATCH_KEY", KEY)


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_batch_answers_errors_and_rerun(server, tmp_path, backend):
    cfg = model(server, backend)
    texts = [f"q{i}" for i in range(6)] + ["q FAIL_ONCE", "q FAIL always", "q BAD request", "q0"]
    with ModelPool([cfg], tmp_path / "cache.sqlite", tmp_path, tmp_path / "batches") as pool:
        results = pool.get(cfg.name).generate(ask(texts))
        stats = pool.stats()[cfg.name].as_dict()
    assert [r.text for r in results[:6]] == [f"echo: q{i}" for i in range(6)]
    assert results[9].text == "echo: q0"  # a duplicate is sent once and answered twice
    assert results[6].ok and results[6].attempts == 2  # errored once, resubmitted once
    assert not results[7].ok and "injected fail" in results[7].error and results[7].attempts == 2
    assert not results[8].ok and "injected bad" in results[8].error and results[8].attempts == 1  # not retried
    assert stats["sent"] == 9 and stats["retries"] == 2 and stats["failed"] == 2
    assert stats["prompt_tokens"] > 0 and stats["completion_tokens"] > 0
    assert len(server.created) == 2  # the first batch, then one with the two retryable errors
    saved = BatchStore(tmp_path / "batches").all()
    assert [b.batch_id for b in saved] == server.created and all(b.state == "collected" for b in saved)
    before = dict(server.submitted)
    with ModelPool([cfg], tmp_path / "cache.sqlite", tmp_path, tmp_path / "batches") as pool:
        again = pool.get(cfg.name).generate(ask(texts[:7]))
    assert all(r.cached for r in again) and dict(server.submitted) == before  # a rerun sends nothing


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_expired_batch_keeps_partial_answers(server, tmp_path, backend):
    cfg = model(server, backend)
    server.expire_next = True
    with ModelPool([cfg], tmp_path / "cache.sqlite", tmp_path, tmp_path / "batches") as pool:
        results = pool.get(cfg.name).generate(ask([f"e{i}" for i in range(8)]))
    assert all(r.ok for r in results)
    # Only the expired half went out again.
    assert len(server.created) == 2 and sorted(server.submitted.values()) == [1] * 4 + [2] * 4
    assert [r.attempts for r in results].count(2) == 4


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_batches_split_at_provider_limits(server, tmp_path, backend, monkeypatch):
    from pipeline.lm.batch import batch_provider

    cls = type(batch_provider(model(server, backend)))
    monkeypatch.setattr(cls, "max_requests", 3)
    cfg = model(server, backend)
    with ModelPool([cfg], tmp_path / "cache.sqlite", tmp_path, tmp_path / "batches") as pool:
        results = pool.get(cfg.name).generate(ask([f"s{i}" for i in range(7)]))
    assert all(r.ok for r in results) and len(server.created) == 3


DRIVER = """
import json, sys
from pipeline.core.config import ModelConfig
from pipeline.lm import ModelPool
from tests.test_batch_api import ask
cfg = ModelConfig.model_validate_json(sys.argv[1])
with ModelPool([cfg], sys.argv[2] + "/cache.sqlite", sys.argv[2], sys.argv[2] + "/batches") as pool:
    out = pool.get(cfg.name).generate(ask([f"k{i}" for i in range(5)]))
print(json.dumps([r.text for r in out]))
"""


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_kill_while_polling_then_resume_submits_nothing(server, tmp_path, backend):
    cfg = model(server, backend)
    server.polls_to_end = 10**9  # stays in progress until the test lets it end
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    args = [sys.executable, "-c", DRIVER, cfg.model_dump_json(), str(tmp_path)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = BatchStore(tmp_path / "batches")
    while not store.all() or not any(ev == "polled" for ev in store.all()[0].events):
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)  # a pause between reads of the file, not a threshold
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(server.created) == 1 and store.all()[0].state == "open"
    server.polls_to_end = 1
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == [f"echo: k{i}" for i in range(5)]
    assert len(server.created) == 1 and set(server.submitted.values()) == {1}  # nothing resubmitted
    assert store.all()[0].state == "collected"


def test_keys_stay_out_of_batch_files(server, tmp_path):
    for backend in ("openai", "anthropic"):
        cfg = model(server, backend)
        with ModelPool([cfg], tmp_path / "cache.sqlite", tmp_path, tmp_path / "batches") as pool:
            pool.get(cfg.name).generate(ask(["secret check"]))
    assert any(KEY in h for h in server.headers_seen)  # it did travel, in headers only
    assert not any(KEY.encode() in body for body in server.bodies_seen)
    assert not any(KEY.encode() in data for data in server.files.values())
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_ctrl_c_leaves_batches_running_and_says_how_to_resume(server, tmp_path, caplog):
    from pipeline.lm.batch import BatchModel, batch_provider
    from pipeline.lm.cache import ResponseCache

    cfg = model(server, "anthropic")
    server.polls_to_end = 10**9

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    cache = ResponseCache(tmp_path / "cache.sqlite")
    runner = BatchModel(batch_provider(cfg), cache, BatchStore(tmp_path / "batches"), cfg.name, sleep=interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.generate(ask(["still running"]))
    (saved,) = BatchStore(tmp_path / "batches").all()
    assert saved.state == "open" and server.anthropic[saved.batch_id]["processing_status"] == "in_progress"
    assert saved.batch_id in caplog.text and "rb batches cancel" in caplog.text and "resume" in caplog.text
    runner.close()
    cache.close()


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_a_refused_key_stops_with_a_message_naming_model_and_endpoint(tmp_path, backend):
    from pipeline.lm import BackendUnavailable

    with BatchServer(api_key="sk-the-right-one") as srv:
        cfg = model(srv, backend)
        with ModelPool([cfg], tmp_path / "cache.sqlite", tmp_path, tmp_path / "batches") as pool:
            with pytest.raises(BackendUnavailable, match="credentials refused \\(HTTP 401\\)") as refused:
                pool.get(cfg.name).generate(ask(["hello"]))
    assert srv.url in str(refused.value) and KEY not in str(refused.value) and srv.created == []
