"""`rb decontaminate` on bundled eval sets: kept and dropped tables keep the input ids."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from flows.cli import app

ROOT = Path(__file__).resolve().parent.parent


def first_items(path: Path, n: int) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[:n]]


def test_rb_decontaminate_writes_kept_and_dropped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    gsm8k = first_items(ROOT / "data/evalsets/gsm8k/items.jsonl", 2)
    alpaca = first_items(ROOT / "data/evalsets/alpaca_eval/items.jsonl", 1)
    rows = [
        {"id": "leak-verbatim", "prompt": gsm8k[0]["text"]},
        {"id": "leak-wrapped", "prompt": "Can you help me with this? " + gsm8k[1]["text"] + " Thanks!"},
        {"id": "leak-alpaca", "prompt": alpaca[0]["text"].upper()},
        {"id": "clean-1", "prompt": "Suggest a name for a bakery that sells only sourdough."},
        {"id": "clean-2", "prompt": "What is the tallest mountain in the Alps?"},
        {"id": "no-prompt"},
    ]
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "audit"
    args = ["decontaminate", str(pool), "--eval-set", "gsm8k=data/evalsets/gsm8k/items.jsonl",
            "--eval-set", "alpaca_eval=data/evalsets/alpaca_eval/items.jsonl:text",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    kept = pq.read_table(out / "kept.parquet").to_pylist()
    dropped = pq.read_table(out / "dropped.parquet").to_pylist()
    assert [r["id"] for r in kept] == ["clean-1", "clean-2"]
    by_id = {r["id"]: r for r in dropped}
    assert set(by_id) == {"leak-verbatim", "leak-wrapped", "leak-alpaca"}
    assert (by_id["leak-verbatim"]["eval_set"], by_id["leak-verbatim"]["eval_item_id"]) == ("gsm8k", gsm8k[0]["id"])
    assert by_id["leak-wrapped"]["eval_item_id"] == gsm8k[1]["id"] and by_id["leak-wrapped"]["ngram_overlap"] == 1.0
    assert by_id["leak-alpaca"]["signal"] == "exact"
    assert "6 rows read" in result.output and "kept:       2" in result.output
    assert "unreadable: 1 (first: line 6: missing or empty field 'prompt')" in result.output


def test_rb_decontaminate_needs_an_eval_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["decontaminate", str(tmp_path / "x.jsonl"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "at least one --eval-set" in result.output
    bad = CliRunner().invoke(app, ["decontaminate", "x.jsonl", "--eval-set", "nosuch", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown eval set 'nosuch'" in bad.output
