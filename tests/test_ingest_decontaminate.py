"""Ingest quarantines bad rows with file and line; decontamination drops leaks with evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.config import DecontaminationConfig, IngestConfig
from pipeline.core.locations import EvalSetConfig, SourceConfig
from pipeline.decontam.detector import Detector, decontaminate
from pipeline.decontam.embed import Embedder, EmbeddingCache
from pipeline.core.records import normalize
from pipeline.stages.ingest import ingest
from pipeline.core.io import DecisionLog
from pipeline.core.sources import SourceError


def write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines))
    return path


def evidence(log: DecisionLog) -> dict[int, tuple[str, dict]]:
    """line -> (reason, evidence) of every dropped row."""
    out = {}
    for d in log.rows:
        if d.decision == "dropped":
            ev = json.loads(d.evidence)
            out[ev.get("line")] = (d.reason, ev)
    return out


@pytest.fixture
def cache(tmp_path: Path) -> EmbeddingCache:
    return EmbeddingCache(Embedder("package:all-MiniLM-L6-v2"), tmp_path / "embed-cache")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  hello   world ", "hello world"),
        ("a\r\nb", "a\nb"),
        ("e\u0301", "\u00e9"),  # NFC
        ("x\n\n\n\ny", "x\n\ny"),
        ("tab\there", "tab here"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_every_defect_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    src = write(tmp_path / "pool.jsonl", [
        json.dumps({"id": "a", "prompt": "What is 2 + 2?"}),
        '{"id": "b", "prompt": "unterminated',
        json.dumps({"id": "c", "prompt": " \t\n "}),
        json.dumps({"id": "d"}),
        json.dumps({"id": "a", "prompt": "Another prompt"}),
        json.dumps({"id": "e", "prompt": 42}),
        b'{"id": "f", "prompt": "bad \xff byte"}',
        json.dumps({"id": "g", "prompt": "What  is 2 + 2? "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "h", "prompt": "x" * 50}),
        json.dumps({"id": True, "prompt": "Boolean id"}),
        '{"id": "j", "prompt": "lone \\ud800 surrogate"}',
        json.dumps({"id": "k", "prompt": ["a", "list"]}),
        json.dumps({"prompt": "No id at all"}),
        json.dumps({"id": "l", "prompt": None}),
        json.dumps({"id": "m", "prompt": "Fine prompt"}),
    ])  # fmt: skip
    log = DecisionLog("ingest", "t")
    prompts, read = ingest([SourceConfig(name="pool", path=str(src))], IngestConfig(max_prompt_chars=40), tmp_path, log)
    log.check_balance(read)
    assert read == 16
    assert [p.source_id for p in prompts] == ["a", "m"]
    got = evidence(log)
    expect = {
        2: "malformed JSON", 3: "empty or whitespace-only prompt", 4: "missing field 'prompt'",
        5: "duplicate id 'a' (first at line 1)", 6: "must be a string, got int", 7: "invalid UTF-8",
        9: "expected a JSON object, got list", 10: "longer than 40 characters (50)",
        11: "must be a string or integer, got bool", 12: "lone surrogate", 13: "must be a string, got list",
        14: "missing field 'id'", 15: "missing field 'prompt'",
    }  # fmt: skip
    for line, text in expect.items():
        reason, ev = got[line]
        assert reason == "quarantined" and text in ev["problem"], (line, ev)
        assert ev["source"] == "pool" and ev["file"] == str(src)
    assert got[8][0] == "duplicate" and got[8][1]["kept_id"] == prompts[0].prompt_id
    assert "unterminated" in got[2][1]["raw"]


def test_csv_parquet_and_gzip_sources(tmp_path: Path) -> None:
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    write(tmp_path / "p.csv", [b"id,text", b"1,Hello there", b"2,", b'3,"Multi, comma"', b"4,bad \xfe byte",
                               b"5,one,extra"])  # fmt: skip
    pq.write_table(pa.table({"id": ["x"], "text": ["From parquet"]}), tmp_path / "p.parquet")
    (tmp_path / "p.jsonl.gz").write_bytes(gzip.compress(json.dumps({"id": "z", "text": "From gzip"}).encode()))
    log = DecisionLog("ingest", "t")
    sources = [SourceConfig(name="c", path="p.csv", prompt_field="text"),
               SourceConfig(name="q", path="p.parquet", prompt_field="text"),
               SourceConfig(name="g", path="p.jsonl.gz", prompt_field="text")]  # fmt: skip
    prompts, read = ingest(sources, IngestConfig(), tmp_path, log)
    log.check_balance(read)
    assert [p.text for p in prompts] == ["Hello there", "Multi, comma", "From parquet", "From gzip"]
    assert [p.source for p in prompts] == ["c", "c", "q", "g"]
    got = evidence(log)
    assert got[3][1]["problem"] == "empty or whitespace-only prompt"  # CSV line numbers count the header
    assert got[5][1]["problem"] == "invalid UTF-8" and got[6][1]["problem"] == "3 values where the header has 2 columns"


def test_hub_dataset_source(tmp_path: Path) -> None:
    """`hub_id` goes through datasets.load_dataset; a local dataset folder stands in for the Hub."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "hubset"
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.table({"qid": ["h1", "h2"], "question": ["From the Hub", ""]}),
                   folder / "data" / "train-00000-of-00001.parquet")  # fmt: skip
    log = DecisionLog("ingest", "t")
    src = SourceConfig(name="hub", hub_id=str(folder), split="train", id_field="qid", prompt_field="question")
    prompts, read = ingest([src], IngestConfig(), tmp_path, log)
    log.check_balance(read)
    assert read == 2 and [p.text for p in prompts] == ["From the Hub"]
    assert evidence(log)[2][1]["file"].startswith("hf:")
    with pytest.raises(SourceError, match="no-such-dataset"):
        bad = SourceConfig(name="x", hub_id=str(tmp_path / "no-such-dataset"))
        ingest([bad], IngestConfig(), tmp_path, DecisionLog("ingest", "t"))


def test_unreadable_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="missing.jsonl: source file not found"):
        ingest([SourceConfig(name="m", path="missing.jsonl")], IngestConfig(), tmp_path, DecisionLog("ingest", "t"))
    with pytest.raises(SourceError, match="unsupported format"):
        ingest([SourceConfig(name="m", path="x.txt")], IngestConfig(), tmp_path, DecisionLog("ingest", "t"))


def test_near_duplicates_keep_the_first_and_name_it(tmp_path: Path, cache: EmbeddingCache) -> None:
    write(tmp_path / "pool.jsonl", [
        json.dumps({"id": "1", "prompt": "How do I bake sourdough bread at home?"}),
        json.dumps({"id": "2", "prompt": "What is the capital city of Australia?"}),
        json.dumps({"id": "3", "prompt": "How do I bake sourdough bread at home!"}),
        json.dumps({"id": "4", "prompt": "Explain how vaccines train the immune system."}),
    ])  # fmt: skip
    log = DecisionLog("ingest", "t")
    cfg = IngestConfig(near_duplicate_threshold=0.95)
    prompts, read = ingest([SourceConfig(name="pool", path="pool.jsonl")], cfg, tmp_path, log, cache)
    log.check_balance(read)
    assert [p.source_id for p in prompts] == ["1", "2", "4"]
    reason, ev = evidence(log)[3]
    assert reason == "near_duplicate" and ev["kept_id"] == prompts[0].prompt_id and ev["cosine"] >= 0.95


def _toy_eval(tmp_path: Path) -> list[EvalSetConfig]:
    write(tmp_path / "eval.jsonl", [
        json.dumps({"qid": "q7", "question": "How many legs does a spider have?"}),
        json.dumps({"qid": "q8", "question": "Natalia sold clips to 48 of her friends in April, and then she "
                    "sold half as many clips in May. How many clips did Natalia sell altogether in April and May?"}),
    ])  # fmt: skip
    return [EvalSetConfig(name="toy", path="eval.jsonl", text_field="question", id_field="qid")]


def test_leaks_are_dropped_with_evidence(tmp_path: Path, cache: EmbeddingCache) -> None:
    write(tmp_path / "pool.jsonl", [
        json.dumps({"id": "exact", "prompt": "HOW MANY LEGS does a spider have"}),
        json.dumps({"id": "clean", "prompt": "What do spiders eat in the winter?"}),
        json.dumps({"id": "prefix", "prompt": "My teacher gave us this one: Natalia sold clips to 48 of her friends "
                    "in April, and then she sold half as many clips in May. How many clips did Natalia sell "
                    "altogether in April and May?"}),
        json.dumps({"id": "numbers", "prompt": "Natalia sold clips to 62 of her friends in April, and then she "
                    "sold half as many clips in May. How many clips did Natalia sell altogether in April and May?"}),
        json.dumps({"id": "clean2", "prompt": "Write a short poem about autumn leaves."}),
    ])  # fmt: skip
    log = DecisionLog("ingest", "t")
    no_near_dup = IngestConfig(near_duplicate_threshold=None)  # "prefix" and "numbers" are near-duplicates
    prompts, _ = ingest([SourceConfig(name="pool", path="pool.jsonl")], no_near_dup, tmp_path, log, cache)
    dlog = DecisionLog("decontaminate", "t")
    detector = Detector.load(DecontaminationConfig(eval_sets=_toy_eval(tmp_path)), cache, tmp_path)
    kept = decontaminate(prompts, detector, cache, dlog)
    dlog.check_balance(len(prompts))
    assert [p.source_id for p in kept] == ["clean", "clean2"]
    drops = {json.loads(d.evidence)["eval_item_id"]: (d, json.loads(d.evidence)) for d in dlog.rows
             if d.decision == "dropped"}  # fmt: skip
    assert len([d for d in dlog.rows if d.decision == "dropped"]) == 3
    decision, ev = drops["q7"]
    assert decision.reason == "contaminated:toy" and ev["signal"] == "exact" and "spider" in ev["eval_text"]
    assert drops["q8"][1]["cosine"] > 0.85 and 0 < drops["q8"][1]["ngram_overlap"] <= 1


def test_eval_set_embeddings_are_cached_across_runs(tmp_path: Path, cache: EmbeddingCache) -> None:
    cfg = DecontaminationConfig(eval_sets=_toy_eval(tmp_path))
    Detector.load(cfg, cache, tmp_path)
    again = EmbeddingCache(Embedder("package:all-MiniLM-L6-v2"), cache.cache_dir)
    Detector.load(cfg, again, tmp_path)
    assert (cache.misses, again.misses, again.hits) == (1, 0, 1)
    write(tmp_path / "eval.jsonl", [json.dumps({"qid": "q1", "question": "A changed eval set"})])
    Detector.load(cfg, again, tmp_path)
    assert again.misses == 1  # new content, new key


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("gsm8k", {"name": "gsm8k", "hub_id": "openai/gsm8k", "text_field": "question", "split": "test"}),
        ("mine=data/x.jsonl", {"name": "mine", "path": "data/x.jsonl", "text_field": None}),
        ("mine=data/x.jsonl:question", {"name": "mine", "path": "data/x.jsonl", "text_field": "question"}),
        ("m=/abs/dir.v2/file.csv:Behavior", {"name": "m", "path": "/abs/dir.v2/file.csv", "text_field": "Behavior"}),
    ],
)
def test_eval_set_specs(spec: str, expected: dict) -> None:
    parsed = EvalSetConfig.model_validate(spec)
    assert {k: getattr(parsed, k) for k in expected} == expected


@pytest.mark.parametrize("spec", ["nosuchset", "=x.jsonl", "name="])
def test_bad_eval_set_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        EvalSetConfig.model_validate(spec)
