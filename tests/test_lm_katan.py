"""OpenAI and Anthropic backends, the response cache and retries, against llm-katan on loopback."""

from __future__ import annotations

import pytest

from pipeline.lm import BackendUnavailable, CachedModel, ChatRequest, MissingCredentials, ResponseCache
from pipeline.lm.anthropic_backend import AnthropicBackend
from pipeline.lm.local import free_port
from pipeline.lm.openai_compat import OpenAICompatBackend
from pipeline.lm.retry import RetryPolicy
from tests.servers import katan


def requests(n: int) -> list[ChatRequest]:
    return [
        ChatRequest.from_messages(
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"question {i}"}],
            temperature=0.7, max_tokens=32, seed=i, sample_index=i,
        )  # fmt: skip
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory):
    with katan(tmp_path=tmp_path_factory.mktemp("katan")) as url:
        yield url


def test_openai_backend_records_usage_and_finish_reason(echo_server: str) -> None:
    backend = OpenAICompatBackend("katan-echo", base_url=f"{echo_server}/v1", api_key_env=None)
    result = backend.complete(requests(1)[0])
    assert result.ok and "question 0" in result.text
    assert result.finish_reason == "stop"
    assert result.prompt_tokens and result.completion_tokens


def test_anthropic_backend_speaks_messages_api(echo_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test-not-a-secret")
    backend = AnthropicBackend("katan-echo", base_url=echo_server, api_key_env="TEST_ANTHROPIC_KEY")
    result = backend.complete(requests(1)[0])
    assert result.ok and "question 0" in result.text
    assert result.finish_reason == "end_turn"
    assert result.prompt_tokens and result.completion_tokens


def test_missing_key_names_model_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(MissingCredentials, match="claude-x.*NO_SUCH_KEY_VAR"):
        AnthropicBackend("claude-x", api_key_env="NO_SUCH_KEY_VAR")


def test_cache_makes_rerun_send_nothing(echo_server: str, tmp_path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    backend = OpenAICompatBackend("katan-echo", base_url=f"{echo_server}/v1", api_key_env=None)
    first = CachedModel(backend, cache, max_concurrency=4)
    out1 = first.generate(requests(12))
    assert first.stats.sent == 12 and first.stats.cache_hits == 0
    # A new model object over the same cache file, as in a new process.
    second = CachedModel(backend, ResponseCache(tmp_path / "cache.sqlite"), max_concurrency=4)
    out2 = second.generate(requests(12))
    assert second.stats.sent == 0 and second.stats.cache_hits == 12
    assert [r.text for r in out1] == [r.text for r in out2]
    assert all(r.cached for r in out2)
    # A different sample index is a different request.
    extra = ChatRequest.from_messages([{"role": "user", "content": "question 0"}], sample_index=99)
    second.generate([extra])
    assert second.stats.sent == 1


def test_retries_survive_injected_500s(tmp_path) -> None:
    with katan("--error-rate", "0.3", tmp_path=tmp_path) as url:
        backend = OpenAICompatBackend("katan-echo", base_url=f"{url}/v1", api_key_env=None, retry=RetryPolicy(max_retries=8, initial_wait_s=0.05, max_wait_s=0.5))
        model = CachedModel(backend, None, max_concurrency=4)
        out = model.generate(requests(30))
    assert all(r.ok for r in out), [r.error for r in out if not r.ok]
    assert model.stats.succeeded == 30


def test_exhausted_retries_become_failed_items_and_are_not_cached(tmp_path) -> None:
    with katan("--rate-limit-after", "3", tmp_path=tmp_path) as url:
        backend = OpenAICompatBackend("katan-echo", base_url=f"{url}/v1", api_key_env=None, retry=RetryPolicy(max_retries=1, initial_wait_s=0.05))
        cache = ResponseCache(tmp_path / "c.sqlite")
        model = CachedModel(backend, cache, max_concurrency=1)
        out = model.generate(requests(6))
        ok = [r for r in out if r.ok]
        failed = [r for r in out if not r.ok]
        assert len(ok) == 3 and len(failed) == 3
        assert all("429" in (r.error or "") for r in failed)
        assert len(cache) == 3
        # A rerun retries exactly the failed ones (the server still refuses them).
        again = CachedModel(backend, cache, max_concurrency=1)
        again.generate(requests(6))
        assert again.stats.cache_hits == 3 and again.stats.sent == 3


def test_server_down_fails_fast_naming_model_and_endpoint() -> None:
    port = free_port()  # nothing listens here
    backend = OpenAICompatBackend("gpt-x", base_url=f"http://127.0.0.1:{port}/v1", api_key_env=None, retry=RetryPolicy(max_retries=1, initial_wait_s=0.05))
    model = CachedModel(backend, None)
    with pytest.raises(BackendUnavailable, match=rf"gpt-x.*127\.0\.0\.1:{port}"):
        model.generate(requests(5))


def test_identical_requests_in_a_batch_are_sent_once_and_journaled(echo_server: str, tmp_path) -> None:
    backend = OpenAICompatBackend("katan-echo", base_url=f"{echo_server}/v1", api_key_env=None)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    model = CachedModel(backend, cache, max_concurrency=2)
    out = model.generate(requests(3) + requests(3))
    assert model.stats.sent == 3 and model.stats.requested == 6
    assert [r.text for r in out[:3]] == [r.text for r in out[3:]]
    # The journal holds each request once: what was paid for, across runs.
    assert sorted(cache.sends().values()) == [1, 1, 1]
    CachedModel(backend, cache).generate(requests(4))
    assert sorted(cache.sends().values()) == [1, 1, 1, 1]


def test_every_answer_is_durable_and_journaled_before_it_is_used(echo_server: str, tmp_path) -> None:
    """Answers are grouped into one transaction per wake-up; a reader in another connection (as
    in another process after a crash) must still see each answer committed before the caller
    gets it, and every sent request journaled."""
    import sqlite3

    path = tmp_path / "cache.sqlite"
    backend = OpenAICompatBackend("katan-echo", base_url=f"{echo_server}/v1", api_key_env=None)
    model = CachedModel(backend, ResponseCache(path), max_concurrency=16)
    seen: list[tuple[int, int, int]] = []

    def progress(done: int, total: int) -> None:
        with sqlite3.connect(path) as reader:
            stored = reader.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            journaled = reader.execute("SELECT COUNT(*) FROM sent").fetchone()[0]
        seen.append((done, stored, journaled))

    results = model.generate(requests(200), progress=progress)
    assert all(r.ok for r in results) and model.stats.sent == 200
    assert len(seen) > 2 and seen[-1][0] == 200
    for done, stored, journaled in seen:
        assert stored >= done and journaled >= stored, (done, stored, journaled)
    assert len(ResponseCache(path).sends()) == 200
