"""The chunked search returns exactly what a brute-force comparison does, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.decontam import similarity
from pipeline.decontam.overlap import canonical, ngrams, overlap


def unit(rows: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similarity, "QUERY_CHUNK", 7)


def test_top_k_matches_brute_force(small_chunks: None) -> None:
    queries, keys = unit(30, 16, 1), unit(50, 16, 2)
    keys[40] = keys[3]  # an exact tie: the lower index must come first
    queries[5] = keys[3]
    got = similarity.top_k(queries, keys, 4)
    sims = queries @ keys.T
    for row in range(len(queries)):
        order = sorted(range(len(keys)), key=lambda j: (-sims[row, j], j))[:4]
        assert got.indices[row].tolist() == order
        np.testing.assert_allclose(got.scores[row], sims[row, order], rtol=1e-5)
    assert got.indices[5][:2].tolist() == [3, 40]


def test_top_k_with_fewer_keys_than_k() -> None:
    got = similarity.top_k(unit(2, 8, 3), unit(2, 8, 4), 3)
    assert (got.indices[:, 2] == -1).all() and np.isneginf(got.scores[:, 2]).all()
    empty = similarity.top_k(unit(2, 8, 3), unit(0, 8, 4), 3)
    assert (empty.indices == -1).all()


def test_earlier_pairs_above_matches_brute_force(small_chunks: None) -> None:
    vectors = unit(40, 8, 5)
    vectors[20] = vectors[2]
    vectors[33] = vectors[2]
    threshold = 0.6
    sims = vectors @ vectors.T
    expected = [(i, j) for i in range(40) for j in range(i) if sims[i, j] >= threshold]
    got = similarity.earlier_pairs_above(vectors, threshold)
    assert [(i, j) for i, j, _ in got] == expected
    assert (33, 2) in [(i, j) for i, j, _ in got] and (33, 20) in [(i, j) for i, j, _ in got]


@pytest.mark.parametrize(
    "a, b, n, expected",
    [
        ("The cat sat on the mat today.", "the CAT sat on the mat, today", 3, 1.0),
        ("Please help: the cat sat on the mat today", "the cat sat on the mat today", 3, 1.0),  # prefix added
        ("the cat sat on the", "the cat sat on the mat today", 3, 1.0),  # truncated copy
        ("a b c d e", "v w x y z", 2, 0.0),
        ("a b c d e", "a b c x y", 2, 0.5),  # 2 of the 4 bigrams of either text
        ("short", "short", 5, 1.0),
        ("", "anything", 3, 0.0),
    ],
)
def test_ngram_overlap(a: str, b: str, n: int, expected: float) -> None:
    assert overlap(ngrams(a, n), ngrams(b, n)) == pytest.approx(expected)


def test_canonical_form() -> None:
    assert canonical("  Héllo,   WORLD!! ") == "héllo world"
