"""`rb evaluate`: score files, judges on a real local server, and clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipeline.core.io import write_parquet
from pipeline.lm.local import LlamaCppServer
from pipeline.core.records import RB2_SCHEMA, empty_metadata

ROWS = [
    ("r1", "Math", "What is 2 + 2?", ["The answer is 4."], ["The answer is 5.", "It is 3.", "22"]),
    ("r2", "Math", "What is 3 + 3?", ["6"], ["The answer is 7, because three and three make seven.", "5", "9"]),
    ("r3", "Precise IF", "Name a fruit. Do not use commas.", ["Apple"], ["Apple, pear", "Figs, dates", "Kiwi, lime"]),
    ("tied:1", "Ties", "Name a primary color.", ["Red.", "Blue."], ["Green."]),
    ("ref:1", "Ties", "Name the primary color of a clear daytime sky.", ["Blue."], ["Red.", "Green."]),
]


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    rows = [
        {"id": i, "prompt": p, "chosen": c, "rejected": r, "num_correct": len(c), "num_incorrect": len(r),
         "total_completions": len(c) + len(r), "models": ["m"] * (len(c) + len(r)), "subset": s,
         "additional_metadata": empty_metadata()}
        for i, s, p, c, r in ROWS
    ]  # fmt: skip
    return write_parquet(rows, tmp_path / "test.parquet", RB2_SCHEMA)


def evaluate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *args])
    return result.exit_code, result.output


def test_score_file_reproduces_hand_computed_scores(release: Path, tmp_path: Path) -> None:
    scores = tmp_path / "scores.jsonl"
    scores.write_text("\n".join(json.dumps(x) for x in [
        {"id": "r1", "scores": [0.9, 0.1, 0.2, 0.3]},   # chosen highest: credit 1
        {"id": "r2", "scores": [0.5, 0.5, 0.1, 0.1]},   # tie with one rejected: credit 1/2
        {"id": "r3", "scores": [0.1, 0.9, 0.2, 0.3]},   # rejected highest: credit 0
        {"id": "tied:1", "scores": [0.8, 0.7, 0.1]},    # margin 0.6, spread 0.1
        {"id": "ref:1", "scores": [0.9, 0.5, 0.2]},     # margin 0.4
    ]))  # fmt: skip
    out = tmp_path / "report.json"
    code, output = evaluate("--dataset", str(release), "--scores", str(scores), "--out", str(out))
    assert code == 0, output
    report = json.loads(out.read_text())["reports"][-1]
    # Ties: both rows accurate; preferred (0.6 > 0.1) and preferred_hard (min(0.4, 0.6) > 0.1);
    # margin term tanh(0.4 / 0.1 - 1) = tanh(3). Weights 0.3 + 0.3 + 0.2 + 0.2 + 0.01 * tanh(3).
    ties = 1.0 + 0.01 * math.tanh(3)
    assert report["subsets"] == {"Math": pytest.approx(0.75), "Precise IF": 0.0, "Ties": pytest.approx(ties)}
    assert report["average"] == pytest.approx((0.75 + 0.0 + ties) / 3)
    assert [r["credit"] for r in report["rows"]] == [1.0, 0.5, 0.0, 1.0, 1.0]
    assert f"score file scores.jsonl | 75.0 | 0.0 | {100 * ties:.1f} | {100 * (0.75 + ties) / 3:.1f}" in output
    assert "always shortest" in output and "random (expected)" in output


def test_score_file_problems_are_reported_with_lines(release: Path, tmp_path: Path) -> None:
    scores = tmp_path / "bad.jsonl"
    scores.write_text('{"id": "r1", "scores": [1, 2]}\nnot json\n{"id": "r9", "scores": [1, 2, 3, 4]}\n'
                      '{"id": "r2", "scores": [1, "x", 3, 4]}\n')  # fmt: skip
    code, output = evaluate("--dataset", str(release), "--scores", str(scores), "--out", str(tmp_path / "r.json"))
    assert code == 2
    for expected in ["line 1: id 'r1' needs 4 scores", "line 2: expected", "line 3: id 'r9' is not in the dataset",
                     "line 4: id 'r2' has non-numeric scores", "5 dataset ids have no scores"]:  # fmt: skip
        assert expected in output
    assert not (tmp_path / "r.json").exists()


def test_bad_arguments(release: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "r.json")
    assert evaluate("--dataset", str(release), "--out", out)[0] == 2
    code, output = evaluate("--dataset", str(release), "--scorer", "vibes", "--out", out)
    assert code == 2 and "expected longest, shortest" in output
    code, output = evaluate("--dataset", str(tmp_path / "nope.parquet"), "--scorer", "longest", "--out", out)
    assert code == 2 and "nope.parquet" in output


def test_ranking_judge_on_a_real_server(release: Path, tmp_path: Path, smollm2_server: LlamaCppServer) -> None:
    spec = f"ranking:openai:smollm2@{smollm2_server.base_url}"
    out = tmp_path / "report.json"
    args = ["--dataset", str(release), "--scorer", spec, "--out", str(out), "--cache", str(tmp_path / "c.sqlite")]
    code, output = evaluate(*args)
    assert code == 0, output
    report = json.loads(out.read_text())["reports"][-1]
    # Three best-of-4 rows ranked (one request each); the Ties rows' 6 answers rated one by one.
    assert report["scorer"] == "ranking judge smollm2" and report["lm_requests"]["sent"] == 3 + 6
    ties_rows = [row for row in report["rows"] if row["subset"] == "Ties"]
    assert [len(row["scores"]) for row in ties_rows] == [3, 3]
    assert all(s == -1.0 or 1.0 <= s <= 10.0 for row in ties_rows for s in row["scores"])
    for row in report["rows"][:3]:
        # One completion picked (score 1), or a parse failure (all equal -> 1/4 credit).
        assert sorted(row["scores"]) in ([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
        assert row["credit"] in (0.0, 0.25, 1.0)
    first = out.read_text()
    assert evaluate(*args)[0] == 0
    again = json.loads(out.read_text())["reports"][-1]
    assert again["lm_requests"]["sent"] == 0 and again["rows"] == report["rows"]
    assert json.loads(first)["reports"][-1]["rows"] == again["rows"]
