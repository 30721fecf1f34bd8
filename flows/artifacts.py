"""Prefect artifacts: what a person auditing a build sees in the UI."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from pipeline.core.io import StageOutput, scan_table
from pipeline.evaluate.validate import checks_table
from pipeline.evaluate.report import results_table
from pipeline.label.review import review_line

CELL_CHARS = 200


def artifact_key(*parts: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def cell(value: Any) -> Any:
    return value[:CELL_CHARS] if isinstance(value, str) else value


LABEL_ROWS = 1000  # rows per subset's label table; all labels are in label/labels.parquet


def label_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence a reviewer checks, one column per kind: judge votes, the extracted and gold
    answers, the constraint's measurement, sentences redacted before judging, a human override."""
    ballots = evidence.get("votes") if evidence.get("policy") else None  # math's "votes" is a count
    votes = "; ".join(f"{v['judge']}: {v['verdict'] or v['problem']}" for v in ballots or [])
    auto = evidence.get("automatic") or {}
    return {
        "judge_votes": votes or None,
        "panel": evidence.get("status"),
        "extracted": evidence.get("extracted"),
        "gold": evidence.get("gold"),
        "constraint": (evidence.get("instruction_id") or (evidence.get("constraint") or {}).get("type")),
        "constraint_detail": evidence.get("detail"),
        "redacted": " | ".join(evidence.get("redacted", [])) or None,
        "overrides": f"{auto.get('labeler')}: {auto.get('label')}" if auto else None,
    }


def label_tables(stage_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Per subset: every label with its evidence, for the UI."""
    completions = scan_table(stage_dir.parent / "generate" / "completions.parquet").select(
        "completion_id", "subset", "model", "method", "text"
    )
    labels = scan_table(stage_dir / "labels.parquet").join(completions, on="completion_id", how="left")
    tables: dict[str, list[dict[str, Any]]] = {}
    for lab in labels.collect().iter_rows(named=True):
        row = {"completion_id": lab["completion_id"], "model": lab["model"], "method": lab["method"],
               "completion": cell(lab["text"]), "label": lab["label"], "labeler": lab["labeler"],
               "reasoning": cell(lab["reasoning"]), **label_evidence(json.loads(lab["evidence"] or "{}"))}  # fmt: skip
        tables.setdefault(lab["subset"] or "unknown", []).append(row)
    return tables


def labeling_markdown(report: dict[str, Any]) -> str:
    lines = ["### Labeling report", "",
             "| subset | labeler | completions | correct | incorrect | abstain | failed | disagreements |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['subset']} | {r['labeler']} | {r['completions']} | {r['correct']} | {r['incorrect']} | "
              f"{r['abstain']} | {r.get('failed', 0)} | {r['disagreements']} |" for r in report["labelers"]]  # fmt: skip
    annotated = [r for r in report["agreement"] if r["annotated"]]
    lines += ["", "#### Agreement with human annotations", ""]
    if not annotated:
        lines.append("No completion of this build is annotated yet (`rb annotate export` picks a sample).")
    else:
        lines += ["| subset | labeler | annotated | agree | disagree | agreement | kappa |", "|---|---|---:|---:|---:|---:|---:|"]
        for r in annotated:
            agreement = "-" if r["agreement"] is None else f"{100 * r['agreement']:.0f}%"
            kappa = "-" if r["kappa"] is None else f"{r['kappa']:.2f}"
            lines.append(f"| {r['subset']} | {r['labeler']} | {r['annotated']} | {r['agree']} | {r['disagree']} | "
                         f"{agreement} | {kappa} |")  # fmt: skip
    issues = report["annotations"]["issues"]
    if issues:
        lines += ["", f"#### Problems in annotation files ({len(issues)})", ""] + [f"- {i}" for i in issues[:50]]
    return "\n".join(lines)


def publish_label_artifacts(out: StageOutput, cached: bool = False) -> None:
    """The labeling report and one table per subset of labels with their evidence."""
    stage_dir = Path(out.path).parent
    version = stage_dir.parent.name
    made = "reused from the Prefect cache" if cached else "computed in this run"
    report = json.loads((stage_dir / "report.json").read_text())
    create_markdown_artifact(key=artifact_key(version, "labeling-report"), markdown=labeling_markdown(report),
                             description="labels per subset and labeler: abstains, disagreements, agreement")  # fmt: skip
    for subset, rows in sorted(label_tables(stage_dir).items()):
        shown = rows[:LABEL_ROWS]
        note = "" if len(shown) == len(rows) else f" (first {len(shown)}; all in labels.parquet)"
        counts = Counter(r["label"] for r in rows)
        split = sum(r["panel"] == "disagreed" for r in rows)
        create_table_artifact(
            key=artifact_key(version, "labels", subset), table=shown,
            description=f"{subset}: {len(rows)} labels, {counts['abstain']} abstains, {split} disagreements{note}; {made}",
        )  # fmt: skip


def publish_validation(out: StageOutput, cached: bool = False) -> None:
    """The release checks as one table, with the details of every failed check."""
    validation = json.loads(Path(out.path).read_text())["validation"]
    verdict = "passed" if validation["passed"] else "FAILED: not published"
    lines = [f"### Release validation: {verdict}", "", checks_table(validation)]
    for check in validation["checks"]:
        if check["status"] == "fail":
            lines += ["", f"#### {check['name']}", "```json", json.dumps(check["details"], indent=1)[:4000], "```"]
    version = Path(out.path).parent.parent.name
    create_markdown_artifact(key=artifact_key(version, "validation"), markdown="\n".join(lines),
                             description="release validation")  # fmt: skip


def publish_card_artifact(out: StageOutput, cached: bool = False) -> None:
    """The dataset card as a person reading the Hub page will see it (without the YAML header)."""
    from huggingface_hub import DatasetCard

    card = DatasetCard((Path(out.path) / "README.md").read_text())
    version = Path(out.path).parent.name
    create_markdown_artifact(key=artifact_key(version, "dataset-card"), markdown=card.text,
                             description=f"dataset card of {version} ({out.path}/README.md)")  # fmt: skip


class ProgressReporter:
    """A progress artifact per model (or per embedded text list) that follows a progress callback."""

    def __init__(self, stage: str, unit: str = "requests answered"):
        self.stage = stage
        self.unit = unit
        self._ids: dict[str, Any] = {}
        self._last: dict[str, int] = {}

    def __call__(self, model: str, done: int, total: int) -> None:
        percent = 100.0 * done / total if total else 100.0
        step = int(percent // 10)
        if model not in self._ids:
            self._ids[model] = create_progress_artifact(progress=percent, description=f"{self.stage}: {model}")
            get_run_logger().info("%s %s: %d/%d %s", self.stage, model, done, total, self.unit)
        elif step != self._last.get(model) or done == total:
            update_progress_artifact(artifact_id=self._ids[model], progress=percent)
            get_run_logger().info("%s %s: %d/%d %s", self.stage, model, done, total, self.unit)
        self._last[model] = step


def output_links(run_dir: Path) -> list[str]:
    """A markdown link per output file of the run (stage tables, reports, the release folder)."""
    files = sorted(p for p in run_dir.glob("*/**/*") if p.is_file() and p.suffix in (".parquet", ".json", ".md")
                   and not any(part.startswith(".") for part in p.relative_to(run_dir).parts))  # fmt: skip
    return [f"- [{p.relative_to(run_dir)}]({p.resolve().as_uri()})" for p in files]


def publish_summary(summary: dict[str, Any], reports: list[dict[str, Any]]) -> None:
    """The flow run's final markdown: what was built, what it cost in LM requests, and a link to
    every output file."""
    lm = summary["lm_requests"]
    run_dir = Path(summary["run_dir"])
    markdown = "\n".join([
        f"## Build `{summary['version']}`: {summary['items']} items",
        "",
        f"- release parquet: [{summary['release']}]({Path(summary['release']).resolve().as_uri()})",
        f"- Hub-layout folder: [{summary['hub_folder']}]({Path(summary['hub_folder']).resolve().as_uri()})",
        f"- evaluation report: [{summary['report']}]({Path(summary['report']).resolve().as_uri()})",
        f"- LM requests this run: {lm['sent']} sent, {lm['cache_hits']} from cache, {lm['failed']} failed",
        f"- stages reused from cache: {', '.join(summary['cached_stages']) or 'none'}",
        *([review_line(summary["review"])] if summary.get("review") else []),
        "",
        results_table(reports),
        "",
        "### Stage counts",
        "",
        "| stage | " + " | ".join(COUNT_COLUMNS) + " |",
        "|---|" + "---:|" * len(COUNT_COLUMNS),
        *[f"| {stage} | " + " | ".join(str(counts.get(c, "")) for c in COUNT_COLUMNS) + " |"
          for stage, counts in summary["stages"].items()],
        "",
        f"### Output files (under `{run_dir}`)",
        "",
        *output_links(run_dir),
    ])  # fmt: skip
    create_markdown_artifact(key=artifact_key(summary["version"], "summary"), markdown=markdown,
                             description="build summary")  # fmt: skip


COUNT_COLUMNS = ("in", "kept", "dropped", "failed", "items", "lm_sent", "lm_cache_hits", "lm_failed")
