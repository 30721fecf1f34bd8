"""Publish locally: a Hub-layout folder (README.md with card YAML + data/*.parquet).

`datasets.load_dataset(folder)` reads it as the `test` split; pushing it to the Hub is a later step.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from huggingface_hub import DatasetCard, DatasetCardData

from pipeline.io import atomic_write_text
from pipeline.records import STAGE_ORDER

DATA_FILE = "data/test-00000-of-00001.parquet"


def _size_category(n: int) -> str:
    return "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K"


def funnel_table(decisions: Iterable[dict[str, Any]]) -> str:
    counts = Counter((d["stage"], d["decision"], d["reason"]) for d in decisions)
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    rows = sorted(counts.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0]))
    lines = ["| stage | decision | reason | count |", "|---|---|---|---:|"]
    lines += [f"| {s} | {d} | {r} | {n} |" for (s, d, r), n in rows]
    return "\n".join(lines)


def results_table(reports: list[dict[str, Any]]) -> str:
    subsets = sorted({s for r in reports for s in r["subsets"]})
    lines = ["| scorer | " + " | ".join(subsets) + " | average |", "|---" * (len(subsets) + 2) + "|"]
    for r in reports:
        cells = [f"{100 * r['subsets'][s]:.1f}" if s in r["subsets"] else "-" for s in subsets]
        lines.append(f"| {r['scorer']} | " + " | ".join(cells) + f" | {100 * r['average']:.1f} |")
    return "\n".join(lines)


def render_card(
    version: str,
    license_id: str,
    rows: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    reports: list[dict[str, Any]],
    models: list[str],
    eval_sets: list[str],
    checks: str = "",
) -> str:
    data = DatasetCardData(
        license=license_id,
        language=["en"],
        task_categories=["text-classification"],
        size_categories=[_size_category(len(rows))],
        pretty_name=f"Reward benchmark {version}",
        configs=[{"config_name": "default", "data_files": [{"split": "test", "path": DATA_FILE}]}],
    )
    per_subset = Counter(r["subset"] for r in rows)
    subset_lines = "\n".join(f"- {s}: {n} items" for s, n in sorted(per_subset.items()))
    body = f"""
# Reward benchmark, version `{version}`

A RewardBench 2 style best-of-4 benchmark: each row has one correct (`chosen`) and several incorrect
(`rejected`) completions for a prompt; a reward model scores well when it rates the chosen highest.

## Subsets

{subset_lines}

## Models used

{", ".join(models)}

## Decontaminated against

{", ".join(eval_sets) or "(none)"}

## Construction funnel (from the decision log)

{funnel_table(decisions)}

## Validation checks

{checks or "(not run)"}

## Accuracy of baselines and scorers (%)

{results_table(reports)}
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}").content


def write_hub_folder(folder: Path, test_parquet: Path, card: str) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{Path(DATA_FILE).name}.tmp"
    shutil.copyfile(test_parquet, tmp)
    tmp.replace(folder / DATA_FILE)
    atomic_write_text(folder / "README.md", card)
    return folder
