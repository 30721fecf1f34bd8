"""The OpenAI-compatible backend against a real llama.cpp server, and the local backend's engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.lm import CachedModel, ChatRequest, ResponseCache
from pipeline.lm.local import LlamaCppServer, LocalBackend
from pipeline.lm.openai_compat import OpenAICompatBackend
from pipeline.lm.retry import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent


def ask(text: str, **params: object) -> ChatRequest:
    return ChatRequest.from_messages([{"role": "user", "content": text}], **params)


def test_chat_with_usage_logprobs_and_seed(smollm2_server: LlamaCppServer, tmp_path: Path) -> None:
    backend = OpenAICompatBackend("smollm2", base_url=smollm2_server.base_url, api_key_env=None)
    request = ask("Name a fruit.", temperature=1.0, max_tokens=16, seed=11, logprobs=True)
    first = backend.complete(request)
    assert first.ok and first.text.strip()
    assert first.finish_reason in ("stop", "length")
    assert first.prompt_tokens and first.completion_tokens
    assert first.logprobs and len(first.logprobs) == first.completion_tokens
    # Same seed, same sample; the server honours the seed.
    assert backend.complete(request).text == first.text
    capped = backend.complete(ask("Count from one to fifty in words.", max_tokens=5))
    assert capped.finish_reason == "length" and capped.completion_tokens == 5


def test_cached_model_over_llama_sends_each_request_once(smollm2_server: LlamaCppServer, tmp_path: Path) -> None:
    backend = OpenAICompatBackend("smollm2", base_url=smollm2_server.base_url, api_key_env=None)
    batch = [ask("Say hi.", temperature=1.0, max_tokens=8, seed=k, sample_index=k) for k in range(3)]
    model = CachedModel(backend, ResponseCache(tmp_path / "c.sqlite"), max_concurrency=2)
    seen: list[tuple[int, int]] = []
    model.generate(batch, progress=lambda done, total: seen.append((done, total)))
    assert model.stats.sent == 3 and seen[-1] == (3, 3)
    model.generate(batch)
    assert model.stats.sent == 3 and model.stats.cache_hits == 3


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_local_backend_starts_on_first_miss_and_stops_by_pid(tmp_path: Path) -> None:
    backend = LocalBackend("smollm2-local", "package:smollm2-135m-instruct", ROOT / "models", retry=RetryPolicy(max_retries=0))
    model = CachedModel(backend, ResponseCache(tmp_path / "c.sqlite"))
    request = ask("Say yes.", max_tokens=4)
    assert backend.server is None  # nothing started before it is needed
    model.generate([request])
    assert backend.server is not None and backend.server.process is not None
    pid = backend.server.process.pid
    assert _alive(pid)
    model.close()
    assert not _alive(pid)
    # A fully cached rerun never starts an engine.
    again = LocalBackend("smollm2-local", "package:smollm2-135m-instruct", ROOT / "models")
    CachedModel(again, ResponseCache(tmp_path / "c.sqlite")).generate([request])
    assert again.server is None


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    from pipeline.lm import BackendUnavailable

    backend = LocalBackend("ghost", str(tmp_path / "nope.gguf"), tmp_path)
    with pytest.raises(BackendUnavailable, match="nope.gguf"):
        backend.complete(ask("hi"))
