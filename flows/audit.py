"""A stage's decisions in the UI, published from its decision log on disk after every run.

Stages reused from the Prefect cache publish too (reading a parquet file is cheap), so an auditor
opening any run — a rerun, or a build made elsewhere — finds every stage's funnel and decisions,
each saying which flow run computed them. Drops and failures are shown in full up to a cap;
kept rows are a sample.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pipeline.core.io import StageOutput, read_rows
from flows.artifacts import artifact_key, cell

DROPS_SHOWN = 10_000  # dropped and failed rows per stage in the UI; all are in decisions.parquet
KEPT_PER_REASON = 25  # kept rows per reason in the UI (a sample)
# The columns an auditor filters on come first in every stage's table, present or empty.
AUDIT_COLUMNS = ("decision", "reason", "item_id", "eval_set", "subset", "model", "source")


def stage_decisions(stage_dir: Path) -> list[dict[str, Any]]:
    path = stage_dir / "decisions.parquet"
    return read_rows(path) if path.exists() else []


def provenance(decisions: list[dict[str, Any]], cached: bool) -> str:
    """Which flow run computed a stage's decisions, as the UI should say it."""
    runs = sorted({d["run_id"] for d in decisions if d.get("run_id")})
    who = f"flow run {', '.join(runs)}" if runs else "an earlier run"
    return f"reused from the Prefect cache; computed by {who}" if cached else f"computed in this run ({who})"


def decision_rows(decisions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The table rows (evidence spread into columns) and a note saying what they cover: every
    drop and failure up to DROPS_SHOWN, in log order, then a sample of kept rows per reason."""
    kept_taken: Counter[str] = Counter()
    rows, not_kept = [], 0
    for d in sorted(decisions, key=lambda d: d["decision"] == "kept"):  # stable: log order within a group
        if d["decision"] == "kept":
            if kept_taken[d["reason"]] >= KEPT_PER_REASON:
                continue
            kept_taken[d["reason"]] += 1
        else:
            not_kept += 1
            if not_kept > DROPS_SHOWN:
                continue
        evidence = json.loads(d["evidence"] or "{}")
        rows.append({"decision": d["decision"], "reason": d["reason"], "item_id": d["item_id"], **evidence})
    columns = list(dict.fromkeys([*AUDIT_COLUMNS, *(k for row in rows for k in row)]))
    kept = len(decisions) - not_kept
    shown_kept = sum(kept_taken.values())
    drops = (f"all {not_kept} drops and failures" if not_kept <= DROPS_SHOWN
             else f"the first {DROPS_SHOWN} of {not_kept} drops and failures")  # fmt: skip
    note = f"{drops}; kept: {'all' if shown_kept == kept else f'a sample of {shown_kept} of'} {kept}"
    return [{k: cell(row.get(k)) for k in columns} for row in rows], note


def pool_funnel(run_dir: Path) -> str:
    """From raw rows to clean prompts: what ingest and decontamination kept and dropped, and why."""
    ingest, decon = stage_decisions(run_dir / "ingest"), stage_decisions(run_dir / "decontaminate")
    count = Counter(d["reason"] for d in ingest if d["decision"] != "kept")
    contaminated = Counter(d["reason"].split(":", 1)[1] for d in decon if d["reason"].startswith("contaminated:"))
    kept = sum(d["decision"] == "kept" for d in decon)
    lines = ["### Prompt pool funnel", "", "| step | prompts |", "|---|---:|", f"| read | {len(ingest)} |",
             f"| quarantined (bad rows) | {count['quarantined']} |", f"| exact duplicates | {count['duplicate']} |",
             f"| near-duplicates | {count['near_duplicate']} |"]  # fmt: skip
    lines += [f"| contaminated: {name} | {n} |" for name, n in sorted(contaminated.items())]
    lines.append(f"| **kept** | **{kept}** |")
    return "\n".join(lines)


def source_table(stage_dir: Path) -> str:
    """Ingest's line per source: rows read and what became of them, with any warning."""
    path = stage_dir / "sources.parquet"
    if not path.is_file():
        return ""
    lines = ["### Sources", "", "| source | read | kept | quarantined | duplicate | near-duplicate | warning |",
             "|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for r in read_rows(path):
        lines.append(f"| {r['source']} | {r['read']} | {r['kept']} | {r['quarantined']} | {r['duplicate']} | "
                     f"{r['near_duplicate']} | {r['warning'] or ''} |")  # fmt: skip
    return "\n".join(lines)


def shard_table(stage_dir: Path) -> str:
    """A sharded stage's line per shard: its items, where it ran, how often, and its LM traffic
    (a shard reused from an earlier run sent nothing in this one)."""
    path = stage_dir / "shards.json"
    if not path.is_file():
        return ""
    lines = ["### Shards", "", "| shard | prompts | items | kept | dropped | failed | run | host | pid | attempts | "
             "seconds | sent | cache hits |", "|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for s in json.loads(path.read_text()):
        sent = sum(u.get("sent", 0) for u in s.get("usage", {}).values())
        hits = sum(u.get("cache_hits", 0) for u in s.get("usage", {}).values())
        lines.append(f"| {s['shard'] + 1}/{s['count']} | {s.get('prompts', '')} | {s.get('in', '')} | {s.get('kept', '')} | "
                     f"{s.get('dropped', '')} | {s.get('failed', '')} | {'reused' if s.get('reused') else 'this run'} | "
                     f"{s.get('host', '')} | {s.get('pid', '')} | {s.get('attempt', '')} | {s.get('seconds', '')} | "
                     f"{sent} | {hits} |")  # fmt: skip
    return "\n".join(lines)


def funnel_markdown(stage: str, decisions: list[dict[str, Any]], items_in: int, source: str = "") -> str:
    """Counts by decision and reason: the stage's line of the construction funnel."""
    counts = Counter((d["decision"], d["reason"]) for d in decisions)
    totals = Counter(d["decision"] for d in decisions)
    head = ", ".join(f"{n} {decision}" for decision, n in sorted(totals.items()))
    lines = [f"### {stage}: {items_in} in; {head or 'nothing decided'}", ""]
    if source:
        lines += [f"_{source}_", ""]
    lines += ["| decision | reason | count |", "|---|---|---:|"]
    lines += [f"| {d} | {r} | {n} |" for (d, r), n in sorted(counts.items())]
    return "\n".join(lines)


def publish_stage_artifacts(out: StageOutput, cached: bool = False) -> None:
    """Per stage, with keys stable across runs (the UI shows each key's history per version): the
    funnel (counts by reason) and the decisions table, both saying which run computed them."""
    stage_dir = Path(out.path).parent
    decisions = stage_decisions(stage_dir)
    source = provenance(decisions, cached)
    markdown = funnel_markdown(out.stage, decisions, out.counts.get("in", 0), source)
    if out.stage == "ingest":
        markdown += "\n\n" + source_table(stage_dir)
    if out.stage == "decontaminate":
        markdown += "\n\n" + pool_funnel(stage_dir.parent)
    if shards := shard_table(stage_dir):
        markdown += "\n\n" + shards
    version = stage_dir.parent.name
    create_markdown_artifact(key=artifact_key(version, out.stage, "funnel"), markdown=markdown,
                             description=f"{out.stage} funnel ({source})")  # fmt: skip
    rows, note = decision_rows(decisions)
    if rows:
        where = f"every decision is in {stage_dir.name}/decisions.parquet"
        create_table_artifact(key=artifact_key(version, out.stage, "decisions"), table=rows,
                              description=f"{out.stage}: {len(decisions)} decisions; {note}; {where}; {source}")  # fmt: skip
