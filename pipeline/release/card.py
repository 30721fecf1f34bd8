"""The dataset card: Hub metadata (YAML) and the sections a reader needs before trusting a release.

Everything on the card is computed from the build's own records (release rows, decision log,
evaluation report, config), so a rerun of the same build renders the same card byte for byte.
The context is plain JSON: `rb publish` renders it again when the card must name the Hub repo.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import datasets
import polars as pl
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard, DatasetCardData

from pipeline.core.config import BuildConfig
from pipeline.evaluate.report import results_table
from pipeline.core.records import RB2_SCHEMA, STAGE_ORDER
from pipeline.subsets.registry import enabled, release_names

TEMPLATE = Path(__file__).parent / "templates" / "dataset_card.md"
TERMINAL = ("kept", "dropped", "failed")
Row = dict[str, Any]


def subset_config(subset: str) -> str:
    """Hub config name of a subset ("Precise IF" -> "precise_if")."""
    inverse = {name: key for key, name in release_names().items()}
    return inverse.get(subset) or "_".join(subset.lower().split())


def subset_data_file(subset: str) -> str:
    return f"data/{subset_config(subset)}/test-00000-of-00001.parquet"


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M"


def method_notes(cfg: BuildConfig) -> dict[str, str]:
    """One sentence per subset on how its candidates were generated and labeled, from the config."""
    return {subset.release_name: subset.card_text() for subset in enabled(cfg).values()}


def _subsets(rows: list[Row], notes: dict[str, str]) -> list[Row]:
    by_subset: dict[str, list[Row]] = {}
    for row in rows:
        by_subset.setdefault(row["subset"], []).append(row)
    table = []
    for subset, items in by_subset.items():
        shapes = Counter(f"{len(r['chosen'])} chosen + {len(r['rejected'])} rejected" for r in items)
        table.append({"name": subset, "config": subset_config(subset), "count": len(items),
                      "shape": ", ".join(s for s, _ in shapes.most_common(3)), "method": notes.get(subset, "")})  # fmt: skip
    return table


def _decision_frame(decisions: list[Row]) -> pl.DataFrame:
    schema = {name: pl.String for name in ("stage", "decision", "reason")}
    return pl.DataFrame([{k: d[k] for k in schema} for d in decisions], schema=schema)


def _stage_rank(frame: pl.DataFrame) -> pl.DataFrame:
    """The stage's place in build order (unknown stages last), for sorting."""
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    return frame.with_columns(pl.col("stage").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_rank"))


def stage_funnel(decisions: list[Row]) -> tuple[list[Row], list[Row]]:
    """Per stage: in / kept / dropped / failed; and every (stage, decision, reason) with its count."""
    frame = _decision_frame(decisions)
    terminal = [(pl.col("decision") == k).sum().cast(pl.Int64).alias(k) for k in TERMINAL]
    stages = (
        _stage_rank(frame.filter(pl.col("decision").is_in(TERMINAL)))
        .group_by("stage", "_rank").agg(*terminal)
        .with_columns(pl.sum_horizontal(*TERMINAL).alias("in"))
        .sort("_rank", "stage")
        .select("stage", "in", *TERMINAL)
    )  # fmt: skip
    reasons = (
        _stage_rank(frame).group_by("stage", "decision", "reason", "_rank").agg(pl.len().cast(pl.Int64).alias("count"))
        .sort("_rank", "stage", "decision", "reason")
        .select("stage", "decision", "reason", "count")
    )  # fmt: skip
    return stages.to_dicts(), reasons.to_dicts()


def model_table(rows: list[Row]) -> list[Row]:
    """Completions and chosen completions per subset and model (`models` lists chosen first)."""
    frame = pl.DataFrame(
        [{"subset": r["subset"], "models": r["models"], "chosen_n": len(r["chosen"])} for r in rows],
        schema={"subset": pl.String, "models": pl.List(pl.String), "chosen_n": pl.Int64},
    )
    table = (
        frame.with_columns(pl.int_ranges(pl.col("models").list.len()).alias("position"))
        .explode("models", "position")
        .group_by("subset", pl.col("models").alias("model"))
        .agg(pl.len().cast(pl.Int64).alias("completions"),
             (pl.col("position") < pl.col("chosen_n")).sum().cast(pl.Int64).alias("chosen"))
        .sort("subset", "model")
    )  # fmt: skip
    return table.to_dicts()


def contamination_table(cfg: BuildConfig, decisions: list[Row]) -> list[Row]:
    dropped = (
        _decision_frame(decisions)
        .filter((pl.col("stage") == "decontaminate") & pl.col("reason").str.starts_with("contaminated:"))
        .group_by(pl.col("reason").str.splitn(":", 2).struct.field("field_1").alias("name"))
        .agg(pl.len().cast(pl.Int64).alias("dropped"))
    )  # fmt: skip
    counts = dict(zip(dropped["name"].to_list(), dropped["dropped"].to_list()))
    names = [e.name for e in cfg.decontamination.eval_sets] + cfg.decontamination.release_set_names()
    return [{"name": name, "dropped": counts.get(name, 0)} for name in names]


def changes_since(previous: list[Row] | None, rows: list[Row], previous_name: str | None) -> tuple[str, list[Row]]:
    """What a reader of the previous version needs to know: items added, removed and kept per subset."""
    if previous is None:
        return "This is the first version of this benchmark (no previous version was configured).", []
    before: dict[str, set[str]] = {}
    after: dict[str, set[str]] = {}
    for row in previous:
        before.setdefault(row["subset"], set()).add(str(row["id"]))
    for row in rows:
        after.setdefault(row["subset"], set()).add(str(row["id"]))
    table = [{"subset": s, "previous": len(before.get(s, set())), "now": len(after.get(s, set())),
              "added": len(after.get(s, set()) - before.get(s, set())),
              "removed": len(before.get(s, set()) - after.get(s, set())),
              "unchanged": len(after.get(s, set()) & before.get(s, set()))}
             for s in sorted(set(before) | set(after))]  # fmt: skip
    added, removed = sum(r["added"] for r in table), sum(r["removed"] for r in table)
    summary = (f"Changes since `{previous_name}` ({len(previous)} items): {added} items added, {removed} removed "
               f"(an item is the same when its id, a hash of the prompt, is).")  # fmt: skip
    return summary, table


def card_metadata(cfg: BuildConfig, rows: list[Row], file_sizes: dict[str, int]) -> DatasetCardData:
    """YAML header: license, language, task, size, one config per subset plus `default`, and the
    features and split sizes of each config (what the Hub's viewer and `datasets` read)."""
    subsets = list(dict.fromkeys(r["subset"] for r in rows))
    configs = [{"config_name": "default", "default": True,
                "data_files": [{"split": "test", "path": [subset_data_file(s) for s in subsets]}]}]  # fmt: skip
    configs += [{"config_name": subset_config(s), "data_files": [{"split": "test", "path": subset_data_file(s)}]}
                for s in subsets]  # fmt: skip
    data = DatasetCardData(
        license=cfg.publish.license,
        language=["en"],
        task_categories=["text-classification"],
        tags=["reward-modeling", "preference", "rewardbench"],
        size_categories=[_size_category(len(rows))],
        pretty_name=cfg.publish.pretty_name or f"Reward benchmark {cfg.version}",
        configs=configs,
    )
    features = datasets.Features.from_arrow_schema(RB2_SCHEMA)
    counts = Counter(r["subset"] for r in rows)
    sizes = {s: file_sizes.get(subset_data_file(s), 0) for s in subsets}
    infos = {"default": (len(rows), sum(sizes.values()))}
    infos.update({subset_config(s): (counts[s], sizes[s]) for s in subsets})
    DatasetInfosDict({
        name: datasets.DatasetInfo(
            features=features,
            splits=datasets.SplitDict({"test": datasets.SplitInfo("test", num_bytes=size, num_examples=n)}),
            download_size=size, dataset_size=size,
        )
        for name, (n, size) in infos.items()
    }).to_dataset_card_data(data)  # fmt: skip
    return data


def card_context(
    cfg: BuildConfig, rows: list[Row], decisions: list[Row], report: dict[str, Any],
    previous: list[Row] | None = None, spend: list[Row] | None = None,
) -> dict[str, Any]:
    """Everything the card says, as JSON-ready values (the YAML header is added when rendering)."""
    from pipeline.evaluate.validate import checks_table  # here: validate imports the embedding stack

    stages, reasons = stage_funnel(decisions)
    ingest = next((s for s in stages if s["stage"] == "ingest"), {"in": 0})
    clean = next((s for s in stages if s["stage"] == "decontaminate"), {"kept": 0})
    subsets = _subsets(rows, method_notes(cfg))
    changes_summary, changes = changes_since(previous, rows, cfg.publish.previous_version)
    summary = (f"A RewardBench 2 style benchmark for reward models: {len(rows)} items in {len(subsets)} subsets, "
               f"built from {ingest['in']} raw human prompts, of which {clean['kept']} remained after validation, "
               f"deduplication and decontamination.")  # fmt: skip
    return {
        "version": cfg.version,
        "pretty_name": cfg.publish.pretty_name or f"Reward benchmark {cfg.version}",
        "license": cfg.publish.license,
        "summary": summary,
        "subsets": subsets,
        "stages": stages,
        "reasons": reasons,
        "models": model_table(rows),
        "spend": spend or [],  # tokens and cost per model over the runs that built it (the ledger)
        "eval_sets": contamination_table(cfg, decisions),
        "decontamination": cfg.decontamination.model_dump(include={"ngram_size", "ngram_threshold", "cosine_threshold"}),
        "validation": {"passed": report["validation"]["passed"]},
        "checks_table": checks_table(report["validation"]),
        "results_table": results_table(report["reports"]),
        "changes_summary": changes_summary,
        "changes": changes,
        "sources": ", ".join(f"`{s.name}` ({s.describe()})" for s in cfg.sources),
        "repo": cfg.publish.repo,
    }


def render_card(context: dict[str, Any], metadata: DatasetCardData, repo: str | None = None) -> str:
    """The README.md of the release. `repo` (else the context's) is the id usage examples load;
    without one they load the release folder itself."""
    dataset_ref = repo or context.get("repo") or "path/to/this/folder"
    card = DatasetCard.from_template(metadata, template_path=str(TEMPLATE), **{**context, "dataset_ref": dataset_ref})
    return card.content
