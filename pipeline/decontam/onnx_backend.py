"""The embedding model as a fused ONNX graph run by onnxruntime on CPU, in fp32 or int8.

Why: on a CPU, onnxruntime's BERT fusions (attention, SkipLayerNorm, bias+GELU in one kernel each)
encode faster than the torch fp32 model with the same vectors (cosine 1.0000), and int8 weights in
every MatMul (per output channel: per-tensor scales moved some vectors to cosine 0.87) faster still
(README: decontamination speed; benchmarks/decontam_scale.py measures both). The graph is built once from the
loaded sentence-transformers model and kept on disk, keyed by a hash of the model's weights and
the versions of the tools that built it, so a changed model or toolchain never reuses a stale file.
Mean pooling and L2 normalization are inside the graph; tokenization is sentence-transformers'
own, so the two backends see the same token ids.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

RECIPE = "bert-fused-v1"  # bump when the export, fusion or quantization steps change
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
VARIANTS = ("fp32", "int8")


def runtime_available() -> bool:
    """onnxruntime (and onnx, which its optimizer and quantizer need) import here."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def default_cache_root() -> Path:
    """Built graphs live beside other per-user caches: one build per machine, shared by every run."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rbbench" / "embed-models"


def supported(st_model: Any) -> bool:
    """A BERT encoder followed by mean pooling and normalization: the graph this module builds."""
    names = [type(m).__name__ for m in st_model]
    if names != ["Transformer", "Pooling", "Normalize"]:
        return False
    pooling = st_model[1]
    mode = getattr(pooling, "pooling_mode", None) or (
        "mean" if getattr(pooling, "pooling_mode_mean_tokens", False) else None
    )
    config = getattr(st_model[0].auto_model, "config", None)
    return mode == "mean" and getattr(config, "model_type", None) == "bert"


def weights_hash(st_model: Any) -> str:
    """Names, shapes and bytes of every weight plus the model config: the model's content, wherever
    it was loaded from."""
    digest = hashlib.sha256()
    auto = st_model[0].auto_model
    digest.update(auto.config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(auto.state_dict().items()):
        array = tensor.detach().cpu().contiguous().float().numpy()
        digest.update(f"{name}{tuple(array.shape)}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:20]


def _tool_versions() -> str:
    return ",".join(f"{p}={metadata.version(p)}" for p in ("torch", "onnx", "onnxruntime"))


def graph_path(st_model: Any, variant: str = "int8", cache_root: Path | None = None) -> Path:
    """The built graph for this model, building it first when absent (about 10 s on two cores)."""
    if variant not in VARIANTS:
        raise ValueError(f"ONNX variant {variant!r}: one of {', '.join(VARIANTS)}")
    root = cache_root or default_cache_root()
    key = hashlib.sha256(f"{RECIPE}\n{weights_hash(st_model)}\n{_tool_versions()}".encode()).hexdigest()[:20]
    target = root / f"{RECIPE}-{key}" / f"model-{variant}.onnx"
    if target.is_file():
        return target
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{RECIPE}-{key}.lock")):  # shard workers on one machine build once
        if not target.is_file():
            _build(st_model, target.parent)
    return target


def _build(st_model: Any, folder: Path) -> None:
    """Export to ONNX, fuse the BERT blocks (model-fp32), quantize the MatMul weights to int8
    (model-int8); built in a temporary folder and renamed into place, so a crash never leaves a
    half-built graph."""
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    work.chmod(0o755)  # mkdtemp's 0700 would hide the graphs from other users of a shared cache
    try:
        _export(st_model, work / "exported.onnx")
        _fuse(st_model, work / "exported.onnx", work / "model-fp32.onnx")
        _quantize(work / "model-fp32.onnx", work / "model-int8.onnx")
        (work / "exported.onnx").unlink()
        (work / "recipe.json").write_text(json.dumps({"recipe": RECIPE, "tools": _tool_versions()}))
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Pooled:
    """The transformer, mean pooling over real tokens and L2 normalization, as one traceable module."""

    @staticmethod
    def module(auto_model: Any) -> Any:
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = auto_model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state  # fmt: skip
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2, dim=1)

        return Pooled().eval()


def _export(st_model: Any, path: Path) -> None:
    import copy
    import warnings

    import torch
    from transformers import AutoModel

    source = st_model[0].auto_model
    # Eager attention exports as plain MatMul/Softmax, the pattern onnxruntime's optimizer fuses.
    auto = AutoModel.from_config(copy.deepcopy(source.config), attn_implementation="eager")
    auto.load_state_dict(source.state_dict())
    auto = auto.float().eval()
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    feeds = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"embedding": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(_Pooled.module(auto), feeds, str(path), input_names=list(INPUTS),
                          output_names=["embedding"], dynamic_axes=axes, opset_version=17,
                          dynamo=False, do_constant_folding=True)  # fmt: skip


def _fuse(st_model: Any, source: Path, target: Path) -> None:
    from onnxruntime.transformers import optimizer

    config = st_model[0].auto_model.config
    fused = optimizer.optimize_model(str(source), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=0, use_gpu=False)  # fmt: skip
    fused.save_model_to_file(str(target))


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales: one scale per tensor moved some vectors to cosine 0.87 of fp32.
    # DefaultTensorType: the fused contrib ops have no shape-inference types; their outputs are fp32.
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fmt: skip


class OnnxEncoder:
    """Encodes like `SentenceTransformer.encode` (same tokenization, longest texts first, normalized
    float32 vectors), with the built graph in an onnxruntime session."""

    def __init__(self, st_model: Any, variant: str = "int8", cache_root: Path | None = None,
                 threads: int | None = None):  # fmt: skip
        import onnxruntime as ort

        self.st_model = st_model
        self.path = graph_path(st_model, variant, cache_root)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        # No busy-waiting between ops: on a shared machine spinning threads take the cores others need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def get_sentence_embedding_dimension(self) -> int:
        model = self.st_model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 64, **_: Any) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # as sentence-transformers sorts
        out = np.empty((len(texts), self.get_sentence_embedding_dimension()), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            features = self.st_model.preprocess([texts[i] for i in rows])
            feeds = {name: features[name].numpy().astype(np.int64) for name in INPUTS if name in features}
            if "token_type_ids" not in feeds:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            out[rows] = self.session.run(None, feeds)[0]
        return out
