"""Exact cosine search over normalized embeddings, with bounded memory.

No approximate index: exactness means a rerun finds exactly the same matches. Top-k search uses
faiss's exact inner-product index (its blocked BLAS search with a heap is as fast as the bare
matmul here, while torch.topk over the same blocks costs ~50% more: benchmarks/decontam_scale.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import torch

QUERY_CHUNK = 256  # rows per block in the pairwise scan: 256 x 100k float32 is 100 MiB


@dataclass(frozen=True)
class Neighbors:
    scores: np.ndarray  # (n_queries, k) cosine, best first
    indices: np.ndarray  # (n_queries, k) key row numbers; -1 where fewer than k keys exist


def _contiguous(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def top_k(queries: np.ndarray, keys: np.ndarray, k: int) -> Neighbors:
    """The k most similar keys of every query (exact). Equal scores are ordered by key index."""
    n = len(queries)
    if n == 0 or len(keys) == 0:
        return Neighbors(np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64))
    index = faiss.IndexFlatIP(keys.shape[1])
    index.add(_contiguous(keys))
    scores, indices = index.search(_contiguous(queries), k)
    scores = np.where(indices < 0, -np.inf, scores).astype(np.float32)
    order = np.lexsort((np.where(indices < 0, np.iinfo(np.int64).max, indices), -scores), axis=-1)
    return Neighbors(np.take_along_axis(scores, order, 1), np.take_along_axis(indices, order, 1))


def earlier_pairs_above(vectors: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Every pair (i, j, cosine) with j < i and cosine >= threshold, sorted by i then j."""
    pairs: list[tuple[int, int, float]] = []
    all_t = torch.from_numpy(_contiguous(vectors))
    with torch.inference_mode():
        for q0 in range(0, len(vectors), QUERY_CHUNK):
            q = all_t[q0 : q0 + QUERY_CHUNK]
            block = q @ all_t[: q0 + len(q)].T  # only earlier rows and this chunk
            # Within the chunk's own square, keep j < i: mask the diagonal and above, in place.
            square = block[:, q0:]
            square.masked_fill_(torch.ones_like(square, dtype=torch.bool).triu(), -float("inf"))
            hits = torch.nonzero(block >= threshold)
            values = block[hits[:, 0], hits[:, 1]].tolist()
            pairs.extend((q0 + r, c, v) for (r, c), v in zip(hits.tolist(), values))
    pairs.sort(key=lambda p: (p[0], p[1]))
    return pairs
