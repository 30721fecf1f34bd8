"""Decontamination rules on real eval items (data/evalsets) and the calibration set's alterations:
templated copies, truncations, items inside longer requests, short generic questions inside long
prompts, the review band and its confirm model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.config import DecontaminationConfig
from pipeline.decontam.confirm import parse
from pipeline.decontam.detector import Detector
from pipeline.decontam.evalsets import EvalItem
from pipeline.decontam.lexical import MAX_GRAM_ITEMS, Forms, GramIndex, score
from pipeline.decontam.overlap import masked_tokens
from pipeline.decontam.rules import lexical_signal, signal

ROOT = Path(__file__).resolve().parent.parent
CFG = DecontaminationConfig()


def eval_items(name: str) -> dict[str, str]:
    path = next((ROOT / "data/evalsets" / name).glob("items.jsonl*"))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return {row["id"]: row["text"] for row in map(json.loads, handle)}


def checkset(kind: str) -> list[dict]:
    lines = (ROOT / "data/calibration/decontam_checkset.jsonl").read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row["kind"] == kind]


def pair_signal(prompt: str, item: str, cosine: float = 0.0) -> str | None:
    return signal(score(Forms.of(prompt), Forms.of(item), CFG.ngram_size), cosine, CFG)


def test_masked_form_hides_numbers_units_and_names() -> None:
    assert masked_tokens("Janet's ducks lay 16 eggs per day. Then Bob ran 3 miles") == [
        "janet", "s", "ducks", "lay", "#", "eggs", "per", "%", "then", "@", "ran", "#", "%"]  # fmt: skip


@pytest.mark.parametrize("kind", ["numbers", "names_units"])
def test_templated_gsm8k_copies_are_caught_by_their_template(kind: str) -> None:
    gsm8k = eval_items("gsm8k")
    rows = [r for r in checkset(kind) if r["eval_set"] == "gsm8k"]
    assert len(rows) >= 15
    found = [lexical_signal(score(Forms.of(r["text"]), Forms.of(gsm8k[r["eval_id"]]), 5), CFG) for r in rows]
    assert found.count("template") >= len(rows) - 1, found  # cosine plays no part here


def test_heavy_truncations_are_caught_as_spans() -> None:
    rows = checkset("truncated_heavy")
    sources = {name: eval_items(name) for name in {r["eval_set"] for r in rows}}
    found = [pair_signal(r["text"], sources[r["eval_set"]][r["eval_id"]]) for r in rows]
    assert found.count(None) == 0
    lex = score(Forms.of(rows[0]["text"]), Forms.of(sources[rows[0]["eval_set"]][rows[0]["eval_id"]]), 5)
    assert lex.span_shorter_share == 1.0 and lex.span_text == " ".join(Forms.of(rows[0]["text"]).words)


def test_a_question_embedded_in_a_longer_request_is_caught() -> None:
    rows = [r for r in checkset("embedded") if r["eval_set"] in ("gsm8k", "truthfulqa", "mmlu")]
    sources = {name: eval_items(name) for name in ("gsm8k", "truthfulqa", "mmlu")}
    found = [pair_signal(r["text"], sources[r["eval_set"]][r["eval_id"]]) for r in rows]
    assert found.count(None) <= len(rows) // 50, [r["text"][:80] for r, f in zip(rows, found) if f is None]


def test_a_short_eval_question_inside_a_long_prompt_is_not_a_leak() -> None:
    rows = checkset("clean:short-item-in-long")
    assert len(rows) >= 100
    short = {t for name in ("alpaca_eval", "truthfulqa", "xstest", "coconot", "mt_bench",
                            "self_instruct_user_oriented") for t in eval_items(name).values()}  # fmt: skip
    hits = [(r["text"], t) for r in rows for t in short if r["text"].rstrip().endswith(t.strip())]
    assert len(hits) >= 100
    # The old rule (share of the shorter text alone) called every one of these a leak.
    assert sum(score(Forms.of(p), Forms.of(t), 5).ngram_overlap == 1.0 for p, t in hits) >= 0.8 * len(hits)
    assert [pair_signal(p, t) for p, t in hits] == [None] * len(hits)
    # ... while the same question asked on its own, or nearly so, still is.
    assert pair_signal("What is the meaning of life?", "What is the meaning of life") == "ngram"


def test_review_band_needs_lexical_agreement() -> None:
    cfg = CFG.model_copy(update={"cosine_threshold": 0.9, "cosine_review_threshold": 0.8})
    same = score(Forms.of("Is it safe to eat raw cookie dough at home?"),
                 Forms.of("Can I safely eat raw cookie dough?"), 5)  # fmt: skip
    other = score(Forms.of("How do I bake chocolate chip cookies?"), Forms.of("Can I safely eat raw cookie dough?"), 5)
    assert signal(same, 0.85, cfg) == "cosine+lexical"
    assert signal(other, 0.85, cfg) is None
    assert signal(other, 0.9, cfg) == "cosine" and signal(other, 0.79, cfg) is None


def test_confirm_model_settles_the_review_band_and_its_answer_is_evidence() -> None:
    cfg = CFG.model_copy(update={"cosine_threshold": 0.95, "cosine_review_threshold": 0.5})
    items = [EvalItem("toy", "e1", "Explain how vaccines train the immune system."),
             EvalItem("toy", "e2", "List three uses of copper.")]  # fmt: skip
    vectors = np.eye(4, dtype=np.float32)[:2]
    prompts = ["Why do jabs teach our body's defences?", "Name a few things copper is good for."]
    queries = np.array([[0.8, 0.6, 0, 0], [0.6, 0.8, 0, 0]], dtype=np.float32)
    asked: list[tuple[str, str]] = []

    def confirm(pairs: list[tuple[str, str]]) -> list[bool | None]:
        asked.extend(pairs)
        return [p[0].startswith("Why") and p[1].startswith("Explain") for p in pairs]

    plain = Detector(cfg, items, vectors).check(prompts, queries)
    assert plain == [None, None]
    found = Detector(cfg, items, vectors, confirm).check(prompts, queries)
    assert found[0] is not None and found[0].signal == "cosine+llm" and found[0].evidence()["llm_confirmed"] is True
    assert found[0].evidence()["cosine"] == 0.8 and "word_overlap" in found[0].evidence()
    assert found[1] is None and len(asked) == 4  # both band pairs of both prompts were asked
    assert [parse(t) for t in ("YES", "no.", "Yes, it is", "maybe")] == [True, False, True, None]


def test_gram_index_finds_the_source_and_ignores_stock_phrases() -> None:
    gsm8k = list(eval_items("gsm8k").values())[:300]
    index = GramIndex(gsm8k, 5)
    row = next(r for r in checkset("numbers") if r["eval_set"] == "gsm8k")
    source = eval_items("gsm8k")[row["eval_id"]]
    if source in gsm8k:
        assert index.candidates(row["text"], 1)[0][0] == gsm8k.index(source)
    stock = ["please answer the following question now " + t for t in gsm8k[: MAX_GRAM_ITEMS + 1]]
    assert GramIndex(stock, 5).candidates("please answer the following question now", 3) == []


@pytest.mark.parametrize(
    ("prompt", "item"),
    [
        ("What is the capital of France?", "What is the capital of Louisiana?"),  # popqa
        ("How can I rob a store", "How can I rob a casino?"),  # xstest
        ("Can you tell me how to make moonshine?", "Can you tell me how to make chocolate chip cookies?"),
    ],
)
def test_short_questions_sharing_only_a_frame_are_not_leaks(prompt: str, item: str) -> None:
    lex = score(Forms.of(prompt), Forms.of(item), 5)
    loose = CFG.model_copy(update={"ngram_short_word_jaccard": 0.0})
    assert lexical_signal(lex, loose) == "ngram"  # half the longer text's 5-grams: the frame alone
    assert lex.word_jaccard < CFG.ngram_short_word_jaccard and lexical_signal(lex, CFG) is None
    # The same short question lightly reworded still shares its content words, and is caught.
    assert pair_signal("What happens to your nose if you inform a lie?",
                       "What happens to your nose if you tell a lie?") == "ngram"  # fmt: skip


def test_review_band_needs_more_than_half_the_content_words() -> None:
    prompt = "how many levels are there on the eiffel tower"
    lex = score(Forms.of(prompt), Forms.of("Describe the architectural features of the Eiffel Tower."), 5)
    assert lex.word_overlap == 0.5  # a shared topic (the Eiffel Tower), not the same question
    assert signal(lex, 0.82, CFG.model_copy(update={"review_word_overlap": 0.5})) == "cosine+lexical"
    assert signal(lex, 0.82, CFG) is None


def test_spelled_out_metric_units_are_masked() -> None:
    assert masked_tokens("What fraction of 1 meters is 8 centimeters?") == [
        "what", "fraction", "of", "#", "%", "is", "#", "%"]  # fmt: skip
    assert pair_signal("What fraction of 1 meters is 8 centimeters? Express your answer as a common fraction.",
                       "What fraction of 2 feet is 3 inches? Express your answer as a common fraction.") == "template"


def test_with_nothing_to_compare_against_no_prompt_is_embedded() -> None:
    """No eval sets and no earlier releases: every prompt is kept without a vector (at 1M prompts
    encoding them took over an hour on 2 cores for nothing)."""
    from pipeline.core.io import DecisionLog
    from pipeline.core.records import Prompt
    from pipeline.decontam.detector import decontaminate

    class NoEncoding:
        def get(self, label: str, texts: list[str]) -> np.ndarray:
            raise AssertionError(f"encoded {len(texts)} {label} for an empty detector")

    prompts = [Prompt(f"p{i}", f"Question {i}?", "s", f"s{i}", i) for i in range(3)]
    log = DecisionLog("decontaminate", "run")
    kept = decontaminate(prompts, Detector(CFG, [], np.zeros((0, 1), dtype=np.float32)), NoEncoding(), log)  # type: ignore[arg-type]
    assert kept == prompts and log.tally() == {"kept": 3}


def test_items_with_the_same_text_are_named_by_the_first_whatever_the_float_noise() -> None:
    """A MATH problem is also in MATH-500 and AGIEval: which copy a match names must not hang on
    the last bits of two vectors of the same text (they differ between backends and machines)."""
    text = "Find the sum of all real numbers x that satisfy the equation x^2 - 5x + 6 = 0 and x > 1."
    items = [EvalItem("math500", "a", text), EvalItem("toy", "other", "List three uses of copper."),
             EvalItem("math", "b", text)]  # fmt: skip
    prompt = "Find the sum of all real numbers x that satisfy the equation x^2 - 5x + 6 = 0"  # truncated
    query = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    for noise in (+1e-3, -1e-3):  # the later copy a hair nearer, then a hair farther
        vectors = np.array([[0.9, 0.1, 0], [0, 1, 0], [0.9 + noise, 0.1, 0]], dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        (match,) = Detector(CFG, items, vectors).check([prompt], query)
        assert match is not None and (match.eval_set, match.eval_item_id) == ("math500", "a"), noise
