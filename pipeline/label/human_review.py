"""Reviewing automatic labels against human ones: agreement (with Cohen's kappa) per subset and
labeler, and the balanced sample `rb annotate export` writes for people to label."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from pipeline.core.records import Completion, Label, Prompt, derived_seed
from pipeline.label.human import HUMAN_VALUES, AnnotationSet, automatic_labels, evidence_of

_BUCKETS = ("correct", "incorrect", "abstain", "other")  # export balances over these


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters over correct/incorrect; None when it is undefined."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[v] * second[v] for v in HUMAN_VALUES) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def _agreement_row(subset: str, labeler: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`pairs`: (automatic, human) for the human-labeled items of one subset and labeler."""
    rated = [(a, h) for a, h in pairs if a in HUMAN_VALUES]
    agree = sum(a == h for a, h in rated)
    disagree = len(rated) - agree
    return {
        "subset": subset, "labeler": labeler, "annotated": len(pairs), "agree": agree, "disagree": disagree,
        "abstained": sum(a == "abstain" for a, _ in pairs),
        "agreement": agree / len(rated) if rated else None, "kappa": cohen_kappa(rated),
    }  # fmt: skip


def agreement_report(
    labels: list[Label], annotations: AnnotationSet, subset_of: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per (subset, automatic labeler), then one per subset with labeler "all": how often
    the automatic label matches the human one. `labels` are the automatic labels (human overrides
    are unwrapped to the label they replaced)."""
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for label in automatic_labels(labels):
        subset = subset_of.get(label.prompt_id, "(unknown)")
        pairs.setdefault((subset, label.labeler), [])
        human = annotations.labels.get(label.completion_id)
        if human is not None:
            pairs[(subset, label.labeler)].append((label.label, human.label))
    rows = []
    for subset in sorted({s for s, _ in pairs}):
        everything = []
        for (s, labeler), items in sorted(pairs.items()):
            if s == subset:
                rows.append(_agreement_row(subset, labeler, items))
                everything += items
        rows.append(_agreement_row(subset, "all", everything))
    return rows


def _round_robin(buckets: dict[str, list[Completion]], wanted: int) -> list[Completion]:
    """Take one from each automatic-label bucket in turn until `wanted` or all are empty."""
    queues = [list(buckets.get(b, [])) for b in _BUCKETS]
    picked: list[Completion] = []
    while len(picked) < wanted and any(queues):
        for queue in queues:
            if queue and len(picked) < wanted:
                picked.append(queue.pop(0))
    return picked


def _review_row(c: Completion, subset: str, label: Label | None, prompt: Prompt | None) -> dict[str, Any]:
    auto: dict[str, Any] = dict.fromkeys(("auto_label", "auto_labeler", "auto_reasoning", "auto_evidence"))
    if label is not None:
        auto = {"auto_label": label.label, "auto_labeler": label.labeler, "auto_reasoning": label.reasoning,
                "auto_evidence": evidence_of(label)}  # fmt: skip
    return {
        "id": c.completion_id, "label": None, "annotator": None, "note": None, "subset": subset,
        "prompt_id": c.prompt_id, "prompt": c.prompt_text, "completion": c.text, "model": c.model,
        "method": c.method, **auto, "prompt_metadata": prompt.metadata if prompt is not None else None,
    }  # fmt: skip


def export_sample(
    prompts: list[Prompt],
    completions: list[Completion],
    labels: list[Label],
    per_subset: int,
    seed: int,
    already: AnnotationSet | None = None,
) -> list[dict[str, Any]]:
    """Up to `per_subset` completions per subset for human review, the same ones for the same seed
    and tables. Not-yet-annotated completions come first; within that, automatic labels are taken
    in turn (correct, incorrect, abstain) so the sample is balanced. Rows are sorted by subset, id."""
    already = already or AnnotationSet()
    by_prompt = {p.prompt_id: p for p in prompts}
    by_id = {label.completion_id: label for label in automatic_labels(labels)}
    groups: dict[str, list[Completion]] = defaultdict(list)
    for c in completions:
        prompt = by_prompt.get(c.prompt_id)
        groups[(prompt.subset if prompt and prompt.subset else None) or c.subset].append(c)
    rows = []
    for subset, group in sorted(groups.items()):
        rng = random.Random(derived_seed("annotate-export", seed, subset))
        tiers: list[dict[str, list[Completion]]] = [defaultdict(list), defaultdict(list)]
        for c in sorted(group, key=lambda c: c.completion_id):
            label = by_id.get(c.completion_id)
            bucket = label.label if label and label.label in _BUCKETS else "other"
            tiers[already.annotated(c.completion_id)][bucket].append(c)
        picked: list[Completion] = []
        for tier in tiers:
            for name in _BUCKETS:
                rng.shuffle(tier[name])
            picked += _round_robin(tier, per_subset - len(picked))
        rows += [_review_row(c, subset, by_id.get(c.completion_id), by_prompt.get(c.prompt_id))
                 for c in picked]  # fmt: skip
    rows.sort(key=lambda r: (r["subset"], r["id"]))
    return rows
