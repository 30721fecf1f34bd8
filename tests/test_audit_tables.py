"""The decisions table an auditor sees: every drop up to the cap, kept rows sampled, filter columns first."""

from __future__ import annotations

import json

import pytest

from flows import audit


def decision(n: int, decision: str, reason: str, **evidence: object) -> dict[str, object]:
    return {"item_id": f"i{n}", "decision": decision, "reason": reason, "evidence": json.dumps(evidence), "run_id": "r1"}


def test_drops_complete_up_to_the_cap_kept_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "DROPS_SHOWN", 30)
    rows = [decision(n, "kept", "passed", subset="math") for n in range(100)]
    rows += [decision(100 + n, "dropped", "contaminated:gsm8k", eval_set="gsm8k", cosine=0.9) for n in range(20)]
    rows += [decision(200 + n, "failed", "request-failed", model="m1") for n in range(5)]
    table, note = audit.decision_rows(rows)
    assert [r["decision"] for r in table[:25]] == ["dropped"] * 20 + ["failed"] * 5  # drops first, log order
    assert [r["item_id"] for r in table[:20]] == [f"i{100 + n}" for n in range(20)]
    assert sum(r["decision"] == "kept" for r in table) == audit.KEPT_PER_REASON
    assert list(table[0])[:7] == list(audit.AUDIT_COLUMNS) and table[0]["eval_set"] == "gsm8k"
    assert table[0]["model"] is None and table[20]["model"] == "m1"
    assert note == f"all 25 drops and failures; kept: a sample of {audit.KEPT_PER_REASON} of 100"

    more = rows + [decision(300 + n, "dropped", "near_duplicate") for n in range(10)]
    table, note = audit.decision_rows(more)
    assert sum(r["decision"] != "kept" for r in table) == 30
    assert note.startswith("the first 30 of 35 drops and failures")


def test_provenance_names_the_computing_run() -> None:
    rows = [decision(1, "kept", "passed")]
    assert audit.provenance(rows, cached=True) == "reused from the Prefect cache; computed by flow run r1"
    assert audit.provenance(rows, cached=False) == "computed in this run (flow run r1)"


def test_shard_table_says_where_each_shard_ran_and_what_it_sent(tmp_path) -> None:
    shards = [
        {"shard": 0, "count": 2, "prompts": 3, "in": 12, "kept": 11, "failed": 1, "host": "node-a", "pid": 41,
         "attempt": 2, "seconds": 1.5, "usage": {"m1": {"sent": 12, "cache_hits": 0}}},
        {"shard": 1, "count": 2, "prompts": 2, "in": 8, "kept": 8, "host": "node-b", "pid": 7, "attempt": 1,
         "seconds": 0.9, "reused": True, "usage": {}},
    ]  # fmt: skip
    (tmp_path / "shards.json").write_text(json.dumps(shards))
    lines = audit.shard_table(tmp_path).splitlines()
    assert lines[0] == "### Shards"
    assert lines[4] == "| 1/2 | 3 | 12 | 11 |  | 1 | this run | node-a | 41 | 2 | 1.5 | 12 | 0 |"
    assert lines[5] == "| 2/2 | 2 | 8 | 8 |  |  | reused | node-b | 7 | 1 | 0.9 | 0 | 0 |"
    assert audit.shard_table(tmp_path / "missing") == ""
