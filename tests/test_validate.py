"""Release validation: each check passes a clean release and fails the defect it is for."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipeline.core.config import DecontaminationConfig, ValidationConfig
from pipeline.decontam.detector import Detector
from pipeline.decontam.embed import Embedder, EmbeddingCache
from pipeline.evaluate.validate import failures, validate_release
from pipeline.core.records import RB2_SCHEMA, empty_metadata

TOPICS = ["volcano", "violin", "glacier", "bakery", "satellite", "orchard", "lighthouse", "canal", "museum", "desert"]


def row(i: int, subset: str, chosen_len: int, rejected_lens: list[int], models: list[str]) -> dict:
    topic = TOPICS[i % len(TOPICS)]
    return {
        "id": f"{subset}-{i}",
        "prompt": f"Question {i} about the {topic}: what is special about item number {i * 7919 % 1000}?",
        "chosen": ["c" * chosen_len],
        "rejected": ["r" * n for n in rejected_lens],
        "num_correct": 1,
        "num_incorrect": len(rejected_lens),
        "total_completions": 1 + len(rejected_lens),
        "models": models,
        "subset": subset,
        "additional_metadata": empty_metadata(),
    }


def balanced(n: int, subset: str = "Math") -> list[dict]:
    """Chosen length rotates through every rank, and models rotate, so no baseline has an edge."""
    rows = []
    for i in range(n):
        lengths = [10, 20, 30, 40]
        chosen_len = lengths[i % 4]
        rest = [x for x in lengths if x != chosen_len]
        models = ["a", "b", "c", "d"][i % 4:] + ["a", "b", "c", "d"][: i % 4]
        rows.append(row(i, subset, chosen_len, rest, models))
    return rows


def status(validation: dict, name: str) -> str:
    return next(c["status"] for c in validation["checks"] if c["name"] == name)


def test_a_balanced_release_passes() -> None:
    validation = validate_release(balanced(80), ValidationConfig(max_model_chosen_ratio=1.5))
    assert validation["passed"], failures(validation)
    assert status(validation, "length baselines") == "pass"
    assert status(validation, "position baselines") == "pass"  # the seeded shuffle keeps position at random
    assert status(validation, "per-model bias") == "pass"


def test_length_bias_fails_on_a_large_subset_and_is_reported_on_a_small_one() -> None:
    biased = [row(i, "Math", 100, [10, 20, 30], ["a"] * 4) for i in range(60)]
    validation = validate_release(biased, ValidationConfig())
    assert not validation["passed"] and status(validation, "length baselines") == "fail"
    assert "always longest" in failures(validation)[0] and "+75.0" in failures(validation)[0]
    small = validate_release(biased[:10], ValidationConfig())
    assert status(small, "length baselines") == "info" and small["passed"]


def test_duplicate_prompts_across_subsets_fail() -> None:
    rows = balanced(8)
    twin = dict(rows[3], id="Focus-3", subset="Focus")
    twin["prompt"] = rows[3]["prompt"].upper()
    validation = validate_release(rows + [twin], ValidationConfig())
    (check,) = [c for c in validation["checks"] if c["name"] == "duplicate prompts"]
    assert check["status"] == "fail"
    assert check["details"]["exact"] == [{"id": "Focus-3", "subset": "Focus", "same_as": "Math-3",
                                          "same_as_subset": "Math"}]  # fmt: skip


def test_broken_counts_fail_the_schema_check() -> None:
    rows = balanced(4)
    rows[1]["num_correct"] = 2
    rows[2]["rejected"] = rows[2]["rejected"][:2]
    rows[2]["num_incorrect"] = 2
    rows[2]["total_completions"] = 3
    rows[2]["models"] = rows[2]["models"][:3]
    validation = validate_release(rows, ValidationConfig())
    assert not validation["passed"]
    problems = validation["checks"][0]["details"]["problems"]
    assert any("Math-1: num_correct" in p for p in problems)
    assert any("Math-2: a best-of-4 item needs 1 chosen and 3 rejected" in p for p in problems)


def test_too_few_items_fail_the_count_check() -> None:
    assert validate_release([], ValidationConfig())["checks"][0]["details"]["problems"] == [
        "0 items; a release needs at least 1 (validation.min_items)"
    ]
    assert validate_release(balanced(4), ValidationConfig(min_items=4))["checks"][0]["status"] == "pass"
    assert not validate_release(balanced(4), ValidationConfig(min_items=5))["passed"]


def test_model_bias_limit() -> None:
    rows = [row(i, "Math", 10 * (i % 4 + 1), [5, 15, 25], ["a", "b", "c", "d"]) for i in range(60)]
    validation = validate_release(rows, ValidationConfig(max_model_chosen_ratio=2.0, max_length_advantage=None))
    (check,) = [c for c in validation["checks"] if c["name"] == "per-model bias"]
    assert check["status"] == "fail" and check["details"]["models"]["a"]["ratio"] == 4.0


def test_contamination_recheck_and_near_duplicates(tmp_path: Path) -> None:
    rows = balanced(6)
    rows[2]["prompt"] = "How many legs does a spider have?"
    rows[4]["prompt"] = "How do I bake sourdough bread at home?"
    rows[5]["prompt"] = "How can I bake sourdough bread at home?"
    (tmp_path / "eval.jsonl").write_text(json.dumps({"id": "e1", "text": "how many legs does a spider have"}) + "\n")
    cache = EmbeddingCache(Embedder("package:all-MiniLM-L6-v2"), tmp_path / "cache")
    detector = Detector.load(DecontaminationConfig(eval_sets=["toy=eval.jsonl"]), cache, tmp_path)
    validation = validate_release(rows, ValidationConfig(), 3, detector, cache)
    checks = {c["name"]: c for c in validation["checks"]}
    assert checks["decontamination re-run"]["status"] == "fail"
    assert checks["decontamination re-run"]["details"]["matches"][0]["eval_item_id"] == "e1"
    assert checks["duplicate prompts"]["status"] == "fail"
    assert checks["duplicate prompts"]["details"]["near"][0]["similar_to"] == "Math-4"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    path = tmp_path / "release.parquet"
    pq.write_table(pa.Table.from_pylist(balanced(8), schema=RB2_SCHEMA), path)
    return path


def test_rb_validate_exit_codes(release: Path, tmp_path: Path) -> None:
    args = ["validate", "--dataset", str(release), "--cache-dir", str(tmp_path / "cache")]
    ok = CliRunner().invoke(app, args + ["--out", str(tmp_path / "v.json")])
    assert ok.exit_code == 0, ok.output
    assert "| schema and counts | pass |" in ok.output and "validation passed" in ok.output
    assert json.loads((tmp_path / "v.json").read_text())["validation"]["passed"] is True
    rows = pq.read_table(release).to_pylist()
    rows[1]["prompt"] = rows[0]["prompt"]
    pq.write_table(pa.Table.from_pylist(rows, schema=RB2_SCHEMA), release)
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 1 and "| duplicate prompts | fail |" in bad.output
