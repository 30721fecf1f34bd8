"""Compare two run folders (outputs/<version>/) of the same config: the release, the Hub data files
and every stage's decisions must be identical; prints what differs, exits 1 if anything does.

    python scripts/compare_runs.py outputs/demo-before outputs/demo

The release and data files are compared row by row (ids, prompts, chosen, rejected, models,
metadata); decisions by (stage, item id, decision, reason, evidence) with run ids left out, since
each run has its own, and without the evidence's `cached` flag, which says whether this run's
response cache answered a request (a rerun answered from it is the point of the comparison).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

DECISION_KEY = ["stage", "item_id", "decision", "reason", "evidence"]
RUN_ONLY = ("cached",)  # evidence keys that describe the run, not the item


def _without_run_keys(evidence: str) -> str:
    data = json.loads(evidence or "{}")
    if isinstance(data, dict):
        for key in RUN_ONLY:
            data.pop(key, None)
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _frame(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path) if path.is_file() else pl.DataFrame()


def compare_release(a: Path, b: Path, name: str) -> list[str]:
    left, right = _frame(a), _frame(b)
    if left.is_empty() and right.is_empty():
        return [f"{name}: missing in both runs"]
    if left.columns != right.columns:
        return [f"{name}: columns differ: {left.columns} vs {right.columns}"]
    if left.height != right.height:
        return [f"{name}: {left.height} rows vs {right.height}"]
    sort = ["id"] if "id" in left.columns else left.columns[:1]
    l_rows, r_rows = left.sort(sort).to_dicts(), right.sort(sort).to_dicts()
    diffs = [f"{name}: row {x.get('id')} differs" for x, y in zip(l_rows, r_rows) if x != y]
    return diffs[:20]


def compare_decisions(a: Path, b: Path) -> tuple[list[str], dict[str, int]]:
    problems, counts = [], {}
    stages = sorted({p.parent.name for p in (*a.glob("*/decisions.parquet"), *b.glob("*/decisions.parquet"))})
    for stage in stages:
        left = _frame(a / stage / "decisions.parquet")
        right = _frame(b / stage / "decisions.parquet")
        if left.is_empty() != right.is_empty():
            problems.append(f"{stage}: decisions in one run only")
            continue
        clean = pl.col("evidence").map_elements(_without_run_keys, return_dtype=pl.String)
        l_set = left.select(DECISION_KEY).with_columns(clean).sort(DECISION_KEY)
        r_set = right.select(DECISION_KEY).with_columns(clean).sort(DECISION_KEY)
        counts[stage] = left.height
        if not l_set.equals(r_set):
            only_left = l_set.join(r_set, on=DECISION_KEY, how="anti")
            only_right = r_set.join(l_set, on=DECISION_KEY, how="anti")
            problems.append(f"{stage}: {only_left.height} decisions only in the first run, {only_right.height} only "
                            f"in the second; e.g. {only_left.head(2).to_dicts()} vs {only_right.head(2).to_dicts()}")
    return problems, counts


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    a, b = (Path(x) for x in argv)
    problems = compare_release(a / "assemble/test.parquet", b / "assemble/test.parquet", "assemble/test.parquet")
    data_files = sorted({p.relative_to(a / "hub") for p in (a / "hub").glob("data/**/*.parquet")}
                        | {p.relative_to(b / "hub") for p in (b / "hub").glob("data/**/*.parquet")})
    for rel in data_files:
        problems += compare_release(a / "hub" / rel, b / "hub" / rel, f"hub/{rel}")
    decision_problems, counts = compare_decisions(a, b)
    problems += decision_problems
    release = _frame(a / "assemble/test.parquet")
    summary = {
        "release_rows": release.height,
        "hub_data_files": [str(p) for p in data_files],
        "decisions_per_stage": counts,
        "identical": not problems,
    }
    print(json.dumps(summary, indent=1))
    for line in problems:
        print("DIFFERS:", line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
