"""Turn per-completion scores into the RB2 accuracy report."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from statistics import mean
from typing import Any, Sequence

from pipeline.evaluate.scoring import best_of_n_credit, final_score, subset_scores, ties_score

Row = dict[str, Any]
TIES = "Ties"
TIES_ID = re.compile(r"^(ref|tied):(.+)$")
RANDOM_DRAWS = 2000  # simulated random scorers for the Ties random baseline


def _ties_parts(rows: Sequence[Row], scores: Sequence[Sequence[float]]) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """Ties rows as {"ref": {N: (correct scores, incorrect scores)}, "tied": {...}}."""
    parts: dict[str, dict[str, tuple[list[float], list[float]]]] = {"ref": {}, "tied": {}}
    for row, row_scores in zip(rows, scores):
        match = TIES_ID.match(str(row["id"]))
        if row["subset"] == TIES and match:
            k = len(row["chosen"])
            parts[match.group(1)][match.group(2)] = (list(row_scores[:k]), list(row_scores[k:]))
    return parts


def accuracy_report(name: str, rows: Sequence[Row], scores: Sequence[Sequence[float]]) -> dict[str, Any]:
    if len(rows) != len(scores):
        raise ValueError(f"scorer {name}: {len(scores)} score lists for {len(rows)} rows")
    credits: dict[str, list[float]] = defaultdict(list)
    per_row = []
    for row, row_scores in zip(rows, scores):
        expected = len(row["chosen"]) + len(row["rejected"])
        if len(row_scores) != expected:
            raise ValueError(f"scorer {name}: row {row['id']} has {len(row_scores)} scores, expected {expected}")
        k = len(row["chosen"])
        if row["subset"] == TIES and TIES_ID.match(str(row["id"])):
            # A Ties row's credit: is every correct answer scored above every incorrect one?
            credit = float(min(row_scores[:k]) > max(row_scores[k:]))
        else:
            credit = best_of_n_credit(list(row_scores), k)
            credits[row["subset"]].append(credit)
        per_row.append({"id": row["id"], "subset": row["subset"], "scores": list(row_scores), "credit": credit})
    per_subset = subset_scores(credits)
    report: dict[str, Any] = {"scorer": name, "subsets": per_subset}
    parts = _ties_parts(rows, scores)
    if parts["ref"] or parts["tied"]:
        ties = ties_score(parts["ref"], parts["tied"])
        per_subset[TIES] = ties["score"]
        report["ties"] = ties
    report.update(average=final_score(per_subset), rows=per_row)
    return report


def random_baseline(rows: Sequence[Row]) -> dict[str, Any]:
    """Expected credit of a scorer that picks uniformly at random: num_correct / total per row."""
    by_subset: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row["subset"] != TIES:
            by_subset[row["subset"]].append(row["num_correct"] / row["total_completions"])
    per_subset = {k: mean(v) for k, v in by_subset.items()}
    ties_rows = [r for r in rows if r["subset"] == TIES and TIES_ID.match(str(r["id"]))]
    if ties_rows:
        # The Ties formula has no closed form under random scores: average seeded simulations.
        rng = random.Random(0)
        draws = []
        for _ in range(RANDOM_DRAWS):
            scores = [[rng.random() for _ in range(r["total_completions"])] for r in ties_rows]
            parts = _ties_parts(ties_rows, scores)
            draws.append(ties_score(parts["ref"], parts["tied"])["score"])
        per_subset[TIES] = mean(draws)
    return {"scorer": "random (expected)", "subsets": per_subset, "average": final_score(per_subset), "rows": []}


def results_table(reports: list[dict[str, Any]]) -> str:
    """Accuracy (%) per scorer and subset, as a markdown table (CLI, UI and dataset card)."""
    subsets = sorted({s for r in reports for s in r["subsets"]})
    lines = ["| scorer | " + " | ".join(subsets) + " | average |", "|---" * (len(subsets) + 2) + "|"]
    for r in reports:
        cells = [f"{100 * r['subsets'][s]:.1f}" if s in r["subsets"] else "-" for s in subsets]
        lines.append(f"| {r['scorer']} | " + " | ".join(cells) + f" | {100 * r['average']:.1f} |")
    return "\n".join(lines)
