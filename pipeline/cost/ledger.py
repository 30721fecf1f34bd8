"""The spend ledger: tokens and cost per stage and model, from the providers' usage fields.

Each stage that talks to models adds its rows to `<run>/<stage>/ledger.json` when it finishes,
tagged with the run id: a stage rerun to retry failed requests adds what the retries cost, so the
file holds what the stage's output cost over every run that worked on it.
Only fresh answers carry tokens (a cache hit costs nothing); a batch model's tokens are priced
at the batch discount. A model without a `price` gets tokens but no cost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from pipeline.core.config import BuildConfig, ModelConfig
from pipeline.core.io import atomic_write_text

FILE_NAME = "ledger.json"
Row = dict[str, Any]


def token_cost(model: ModelConfig, input_tokens: float, output_tokens: float) -> float | None:
    """USD for these tokens at the model's price (batch discount applied), None when unpriced."""
    if model.price is None:
        return None
    factor = model.price.batch_discount if model.batch else 1.0
    usd = (input_tokens * model.price.input_per_mtok + output_tokens * model.price.output_per_mtok) / 1e6
    return round(usd * factor, 6)


def ledger_rows(cfg: BuildConfig, stage: str, stats: dict[str, dict[str, int]], run_id: str = "local") -> list[Row]:
    rows = []
    for name, counts in sorted(stats.items()):
        model = cfg.model(name)
        rows.append({
            "run_id": run_id, "stage": stage, "model": name, "backend": model.backend, "batch": model.batch,
            "requests": counts.get("requested", 0), "cache_hits": counts.get("cache_hits", 0),
            "sent": counts.get("sent", 0) + counts.get("retries", 0), "failed": counts.get("failed", 0),
            "input_tokens": counts.get("prompt_tokens", 0), "output_tokens": counts.get("completion_tokens", 0),
            "cost_usd": token_cost(model, counts.get("prompt_tokens", 0), counts.get("completion_tokens", 0)),
        })  # fmt: skip
    return rows


def write_ledger(cfg: BuildConfig, stage_dir: Path, stage: str, stats: dict[str, dict[str, int]], run_id: str) -> None:
    """Replace this run's rows (a task retried within one run) and keep earlier runs' rows."""
    path = stage_dir / FILE_NAME
    earlier = [r for r in json.loads(path.read_text()) if r.get("run_id") != run_id] if path.is_file() else []
    atomic_write_text(path, json.dumps(earlier + ledger_rows(cfg, stage, stats, run_id), indent=1))


def read_ledger(run_dir: Path, stages: Iterable[str], run_id: str | None = None) -> list[Row]:
    """Every stage's rows (of one run when `run_id` is given)."""
    rows: list[Row] = []
    for stage in stages:
        path = run_dir / stage / FILE_NAME
        if path.is_file():
            rows += [r for r in json.loads(path.read_text()) if run_id is None or r.get("run_id") == run_id]
    return rows


def spent(rows: list[Row]) -> float:
    return round(sum(r["cost_usd"] or 0.0 for r in rows), 6)


def totals_by_model(rows: list[Row]) -> list[Row]:
    """One row per model over every stage: what the card's models table shows."""
    out: dict[str, Row] = {}
    for row in rows:
        total = out.setdefault(row["model"], {"model": row["model"], "batch": row["batch"], "sent": 0,
                                              "input_tokens": 0, "output_tokens": 0, "cost_usd": None})  # fmt: skip
        for key in ("sent", "input_tokens", "output_tokens"):
            total[key] += row[key]
        if row["cost_usd"] is not None:
            total["cost_usd"] = round((total["cost_usd"] or 0.0) + row["cost_usd"], 6)
    return list(out.values())


def ledger_markdown(rows: list[Row]) -> str:
    """A table per stage and model, and the total."""
    if not rows:
        return "No language-model requests."
    lines = ["| stage | model | batch | requests | cache hits | sent | failed | input tok | output tok | cost USD |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    total = 0.0
    for r in rows:
        cost = "n/a" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}"
        lines.append(f"| {r['stage']} | {r['model']} | {'yes' if r['batch'] else 'no'} | {r['requests']} | "
                     f"{r['cache_hits']} | {r['sent']} | {r['failed']} | {r['input_tokens']} | {r['output_tokens']} | {cost} |")  # fmt: skip
        total += r["cost_usd"] or 0.0
    lines.append(f"\nSpent: {total:.4f} USD (priced models only; cache hits cost nothing).")
    return "\n".join(lines)
