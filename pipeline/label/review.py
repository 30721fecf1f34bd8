"""Review after labeling: the items a reviewer sees, the form fields they answer, and the
annotation rows their answers become. The pause and the form live in flows/review.py; this part
knows nothing of Prefect.

A reviewer confirms or corrects each sampled item; every answered item becomes one annotation row
in the folder's format (`pipeline.label.human`): `id`, `label`, `annotator` (the reviewer), `note`,
plus `reviewed_at`, `review` ("confirmed" or "corrected"), the automatic label and the run. The
label stage reads it on its next run, so a correction overrides the automatic label and the
agreement table counts confirmations and corrections alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from pipeline.core.io import atomic_write_text
from pipeline.core.records import Completion, Label, Prompt
from pipeline.label.human import HUMAN_VALUES, AnnotationSet
from pipeline.label.human_review import export_sample

SKIP = "skip"  # the answer for "not reviewed": no annotation row
CHOICES = (*HUMAN_VALUES, SKIP)
TEXT_LIMIT = 1500  # characters of prompt and completion shown per item (the file keeps the ids)
EVIDENCE_LIMIT = 600


@dataclass(frozen=True)
class ReviewItem:
    """One sampled completion as the reviewer sees it."""

    field: str  # the form field that holds the answer: item_01, item_02, ...
    id: str  # completion id
    subset: str
    prompt: str
    completion: str
    model: str
    auto_label: str | None
    auto_labeler: str | None
    reasoning: str
    evidence: str  # compact JSON

    @property
    def default(self) -> str:
        """The form's initial answer: the automatic label (confirming it is leaving it), or skip."""
        return self.auto_label if self.auto_label in HUMAN_VALUES else SKIP


def _clip(text: str | None, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[:limit].rstrip() + f" … [{len(text) - limit} more characters]"


def _name(subset: str) -> str:
    """Subset key or release name, compared alike: "Precise IF" and "precise_if" match."""
    return re.sub(r"[\s_]+", "_", subset.strip().lower())


def _wanted(subset: str, wanted: Iterable[str]) -> bool:
    names = {_name(w) for w in wanted}
    return not names or _name(subset) in names


def sample_items(
    prompts: list[Prompt],
    completions: list[Completion],
    labels: list[Label],
    subsets: Iterable[str],
    per_subset: int,
    seed: int,
    already: AnnotationSet | None = None,
) -> list[ReviewItem]:
    """Up to `per_subset` labeled completions of each wanted subset (all subsets when none are
    named), the same `rb annotate export` would pick: not-yet-annotated first, automatic labels
    balanced. Ordered by subset, then id; fields numbered in that order."""
    wanted = list(subsets)
    rows = export_sample(prompts, completions, labels, per_subset, seed, already)
    rows = [r for r in rows if _wanted(str(r["subset"]), wanted)]
    items = []
    for number, row in enumerate(rows, start=1):
        evidence = json.dumps(row["auto_evidence"] or {}, sort_keys=True, ensure_ascii=False, default=str)
        items.append(ReviewItem(
            f"item_{number:02d}", row["id"], str(row["subset"]), _clip(row["prompt"], TEXT_LIMIT),
            _clip(row["completion"], TEXT_LIMIT), str(row["model"]), row["auto_label"], row["auto_labeler"],
            _clip(row["auto_reasoning"], EVIDENCE_LIMIT), _clip(evidence, EVIDENCE_LIMIT),
        ))  # fmt: skip
    return items


def _plain(text: str) -> str:
    """Text shown as it is inside one markdown paragraph: whitespace collapsed, markup escaped."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", re.sub(r"\s+", " ", text).strip())


def _inline(text: str) -> str:
    """Text safe inside one markdown line (no table pipes, no line breaks, no backticks)."""
    return re.sub(r"\s+", " ", text).replace("|", "\\|").replace("`", "'")


def item_title(item: ReviewItem) -> str:
    """The form field's label: number, subset, automatic label and the prompt's start."""
    number = item.field.removeprefix("item_")
    return f"#{number} {item.subset} · automatic: {item.auto_label or 'none'} · {_inline(item.prompt)[:60]}"


def item_help(item: ReviewItem, limit: int = 700) -> str:
    """The field's description (markdown, shown under its title in the form): the item itself."""
    return "\n\n".join([
        f"`{item.id}` by `{_inline(item.model)}`, labeled by `{item.auto_labeler or 'none'}`",
        f"**Prompt:** {_plain(_clip(item.prompt, limit))}", f"**Completion:** {_plain(_clip(item.completion, limit))}",
        f"**Why:** {_inline(item.reasoning) or '(none)'}", f"**Evidence:** `{_inline(item.evidence)}`",
        f"Keep **{item.default}** to confirm; choose the other label to correct it; `{SKIP}` leaves it unreviewed.",
    ])  # fmt: skip


def review_intro(count: int, version: str, timeout_s: int) -> str:
    """The text above the form."""
    return (f"**Review the labels of {version}**: {count} sampled completions, each with its automatic label "
            f"preselected. Keep it to confirm, change it to correct, `{SKIP}` to leave the item unreviewed. Your "
            f"name goes into the annotation file. Without an answer within {timeout_s} s the build goes on "
            "unreviewed.")  # fmt: skip


def review_markdown(items: list[ReviewItem], version: str, timeout_s: int) -> str:
    """Every item with its prompt, completion, automatic label and evidence (the run's artifact)."""
    lines = [f"## Review the labels of {version}", review_intro(len(items), version, timeout_s)]
    for item in items:
        lines += [
            f"### #{item.field.removeprefix('item_')} · {item.subset} · automatic label: **{item.auto_label or 'none'}**",
            item_help(item, TEXT_LIMIT),
        ]  # fmt: skip
    return "\n\n".join(lines)


@dataclass
class ReviewOutcome:
    rows: list[dict[str, Any]]
    confirmed: int = 0
    corrected: int = 0
    skipped: int = 0

    def summary(self) -> dict[str, int]:
        return {"confirmed": self.confirmed, "corrected": self.corrected, "skipped": self.skipped}


def annotation_rows(
    items: list[ReviewItem], answers: Mapping[str, Any], reviewer: str, note: str, when: datetime, run_id: str
) -> ReviewOutcome:
    """One annotation row per answered item (skips write none). `answers` maps field names to
    "correct", "incorrect" or "skip"; a missing field keeps its default (the automatic label)."""
    reviewer = reviewer.strip()
    if not reviewer:
        raise ValueError("a review needs the reviewer's name")
    out = ReviewOutcome([])
    stamp = when.astimezone(timezone.utc).isoformat(timespec="seconds")
    for item in items:
        answer = str(answers.get(item.field, item.default) or SKIP).strip().lower()
        if answer not in CHOICES:
            raise ValueError(f"{item.field}: answer must be one of {', '.join(CHOICES)}, got {answer!r}")
        if answer == SKIP:
            out.skipped += 1
            continue
        verdict = "confirmed" if answer == item.auto_label else "corrected"
        out.confirmed += verdict == "confirmed"
        out.corrected += verdict == "corrected"
        out.rows.append({
            "id": item.id, "label": answer, "annotator": reviewer, "note": note.strip() or None,
            "reviewed_at": stamp, "review": verdict, "automatic_label": item.auto_label,
            "automatic_labeler": item.auto_labeler, "subset": item.subset, "flow_run_id": run_id,
            "source": "prefect-ui review",
        })  # fmt: skip
    return out


def write_annotations(folder: Path, version: str, rows: list[dict[str, Any]], when: datetime) -> Path | None:
    """The rows as a new JSONL file in the annotation folder (None when there are none)."""
    if not rows:
        return None
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = Path(folder) / f"review-{version}-{stamp}.jsonl"
    n = 1
    while path.exists():
        n += 1
        path = path.with_name(f"review-{version}-{stamp}-{n}.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))
    return path


def review_line(result: dict[str, Any] | None) -> str | None:
    """The summary's line about the review (None when the build had none)."""
    if not result:
        return None
    if result["status"] == "timed-out":
        return f"- review: **timed out** after {result['timeout_s']} s; the build went on WITHOUT review"
    if result["status"] == "nothing-to-review":
        return "- review: nothing to review (no labeled completions in the chosen subsets)"
    return (f"- review by {result['reviewer']}: {result['confirmed']} confirmed, {result['corrected']} corrected, "
            f"{result['skipped']} skipped of {result['items']}; annotations: {result['file'] or 'none written'}")  # fmt: skip
