"""Embedding as shards: a long text list (a prompt pool, an eval set) encoded by the build's
executor, each shard its own texts, so ingest's near-duplicate pass, decontamination and the
release's re-check spread their encoding over a cluster.

Texts go to shards by a hash of their content (the same text always lands in the same shard);
each shard writes its vectors and row numbers, then its marker, under the run directory's
`.embed/<hash of the list>/`, so an encoding cut short resumes with the shards that finished.
The driver puts the rows back in order; the caller's embedding cache then keeps the whole list.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from pipeline.core.config import BuildConfig
from pipeline.core.io import write_table
from pipeline.core.run_location import run_url
from pipeline.core.store import RunStore
from pipeline.decontam.embed import Embedder, EmbeddingError, content_hash, save_vectors
from pipeline.exec import executor_for
from pipeline.exec.shards import ShardJob, finished, shard_of

MIN_SHARDED_TEXTS = 2_000  # fewer texts encode faster in place than a model load per shard
Progress = Callable[[str, int, int], None]


class ShardedEmbedder(Embedder):
    """An `Embedder` that hands long lists to the build's executor (when it has several shards
    and is not this process); short lists, and local builds, encode here."""

    def __init__(self, cfg: BuildConfig, base_dir: Path, run_dir: Path, progress: Progress | None = None):
        emb = cfg.embeddings
        super().__init__(emb.model, emb.batch_size, progress, emb.precision, emb.device, emb.backend)
        self.cfg, self.base_dir, self.run_dir = cfg, base_dir, run_dir

    def _sharded(self, count: int) -> bool:
        settings = self.cfg.executor
        return settings.resolved_kind() != "local" and settings.resolved_shards() > 1 and count >= MIN_SHARDED_TEXTS

    def encode(self, texts: Sequence[str], what: str = "texts") -> np.ndarray:
        if not self._sharded(len(texts)):
            return super().encode(texts, what)
        digest = content_hash(texts)
        work = self.run_dir / ".embed" / digest
        url = run_url(self.cfg)
        store_url = f"{url}/.embed/{digest}" if url else ""
        inputs = work / "texts.parquet"
        write_table(pl.DataFrame({"row": range(len(texts)), "text": list(texts)}), inputs)
        if store_url:
            RunStore.open(store_url).write_bytes("texts.parquet", inputs.read_bytes())
        count = self.cfg.executor.resolved_shards()
        key = hashlib.sha256(f"{self.key}\n{digest}".encode()).hexdigest()[:24]
        # Workers run the backend this process chose, so every shard's vectors come from one path.
        emb = self.cfg.embeddings.model_copy(update={"backend": self.backend})
        config_json = self.cfg.model_copy(update={"embeddings": emb}).model_dump_json()
        jobs = [ShardJob(stage="embed", index=i, count=count, work=f"{__name__}:encode_work",
                         config_json=config_json, base_dir=str(self.base_dir), run_dir=str(work),
                         run_id=what, upstream=(("texts", "texts.parquet"),), key=key, cache_dir=str(work / "lm"),
                         store_url=store_url) for i in range(count)]  # fmt: skip
        todo = [job for job in jobs if finished(job) is None]
        executor_for(self.cfg.executor).run(todo, _NoModels, self.progress, lambda job, summary: None)
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        for job in jobs:
            if finished(job) is None:
                raise RuntimeError(f"embedding shard {job.name} of {what}: reported done but its part is missing")
            rows = pl.read_parquet(job.part_dir / "rows.parquet")["row"].to_numpy()
            part = np.load(job.part_dir / "vectors.npy")
            if vectors.shape[1] == 0 and part.shape[1]:
                vectors = np.zeros((len(texts), part.shape[1]), dtype=np.float32)
            if len(rows):
                vectors[rows] = part
        shutil.rmtree(work, ignore_errors=True)
        return vectors


class _NoModels:
    """Encoding shards send no LM request: the executor's model pool stays empty."""

    def __enter__(self) -> "_NoModels":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def get(self, name: str) -> Any:
        raise RuntimeError("an embedding shard has no language models")

    def stats(self) -> dict[str, Any]:
        return {}


def encode_work(job: ShardJob, pool: Any, progress: Progress | None) -> dict[str, Any]:
    """One shard: encode the texts whose hash falls in it, and keep their row numbers."""
    cfg = BuildConfig.model_validate_json(job.config_json)
    frame = pl.read_parquet(job.input("texts"))
    mine = frame.filter(pl.Series([shard_of(t, job.count) == job.index for t in frame["text"]]))
    emb = cfg.embeddings
    embedder = Embedder(emb.model, emb.batch_size, progress, emb.precision, emb.device, emb.backend)
    if emb.backend != "auto" and embedder.backend != emb.backend:
        raise EmbeddingError(f"embedding shard: this worker cannot run backend {emb.backend!r} (it would use "
                             f"{embedder.backend!r}, and the shards' vectors would differ); install onnxruntime "
                             f"and onnx here, or set embeddings.backend: torch")  # fmt: skip
    vectors = embedder.encode(mine["text"].to_list(), f"{job.run_id} shard {job.index + 1}/{job.count}")
    save_vectors(job.part_dir / "vectors.npy", vectors)
    write_table(mine.select("row"), job.part_dir / "rows.parquet")
    return {"in": mine.height, "kept": mine.height}
