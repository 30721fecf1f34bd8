"""Label stage: each completion goes to its subset's labeler; human annotations override on rerun.

Math is graded by math-verify, Precise IF by the constraint checkers, the other four subsets by
judge panels. Every completion gets one terminal decision: kept with its label, or dropped as an
abstain or a judges' disagreement. A human override is logged as a change next to it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from pipeline.config import BuildConfig
from pipeline.io import DecisionLog
from pipeline.label import human, instructions, judged, math
from pipeline.label.result import LabelResult
from pipeline.lm import LanguageModel
from pipeline.records import Completion, Label, Prompt

STAGE = "label"
Labeled = list[tuple[Completion, LabelResult, str]]


def _label_math(per_prompt: dict[str, list[Completion]], prompts: dict[str, Prompt]) -> Labeled:
    """All Math prompts at once, each prompt's completions graded together in a time-bounded worker."""
    pids = list(per_prompt)
    refs = [prompts[pid].metadata.get("answer") for pid in pids]
    groups = [([c.text for c in per_prompt[pid]], str(ref) if ref is not None else None) for pid, ref in zip(pids, refs)]
    out: Labeled = []
    for pid, results in zip(pids, math.label_math_bounded(groups)):
        out += [(c, r, f"math-verify@{math.VERSION}") for c, r in zip(per_prompt[pid], results)]
    return out


def _label_precise_if(group: Sequence[Completion]) -> Labeled:
    out = []
    for c in group:
        spec = json.loads(c.metadata)["constraint"]
        result = instructions.check_constraint(spec, c.text, c.finish_reason)
        out.append((c, result, f"instruction-checker@{instructions.VERSION}"))
    return out


def _to_label(c: Completion, result: LabelResult, labeler: str) -> Label:
    name, _, version = labeler.partition("@")
    return Label(c.completion_id, c.prompt_id, result.label, result.score, result.reasoning, name,
                 version or judged.judges.VERSION, json.dumps(result.evidence, sort_keys=True, default=str))  # fmt: skip


@dataclass
class Labeling:
    labels: list[Label]
    report: dict[str, Any] = field(default_factory=dict)


def automatic(
    completions: Sequence[Completion],
    prompts: dict[str, Prompt],
    cfg: BuildConfig,
    base_dir: Path,
    get_model: Callable[[str], LanguageModel],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[tuple[Label, str]]:
    """(label, why there is none: "disagreed", "request-failed" or "") for every completion, in input order."""
    by_subset: dict[str, list[Completion]] = defaultdict(list)
    for c in completions:
        by_subset[c.subset].append(c)
    labeled: dict[str, tuple[Label, str]] = {}
    for subset, group in by_subset.items():
        per_prompt: dict[str, list[Completion]] = defaultdict(list)
        for c in group:
            per_prompt[c.prompt_id].append(c)
        if subset == "math":
            results = _label_math(per_prompt, prompts)
        elif subset == "precise_if":
            results = _label_precise_if(group)
        else:
            results = judged.label_judged(subset, group, prompts, cfg, base_dir, get_model, progress)
        for c, result, labeler in results:
            labeled[c.completion_id] = (_to_label(c, result, labeler), judged.unlabeled_because(result))
    return [labeled[c.completion_id] for c in completions]


def label(
    completions: Sequence[Completion],
    prompts: dict[str, Prompt],
    cfg: BuildConfig,
    base_dir: Path,
    get_model: Callable[[str], LanguageModel],
    log: DecisionLog,
    progress: Callable[[str, int, int], None] | None = None,
) -> Labeling:
    auto = automatic(completions, prompts, cfg, base_dir, get_model, progress)
    annotations = human.load_annotations(base_dir / cfg.annotations_dir)
    final, overrides = human.apply_annotations([lab for lab, _ in auto], annotations)
    overridden = {o["completion_id"]: o for o in overrides}
    disagreements = {lab.completion_id for lab, gap in auto if gap == "disagreed"}
    request_failed = {lab.completion_id for lab, gap in auto if gap == "request-failed"}
    subset_of = {c.completion_id: c.subset for c in completions}
    for lab in final:
        ev = json.loads(lab.evidence)
        if lab.completion_id in overridden:
            log.add(lab.completion_id, "changed", "human-override", **overridden[lab.completion_id])
        if lab.label != "abstain":
            log.kept(lab.completion_id, f"labeled:{lab.label}", labeler=lab.labeler, why=lab.reasoning, **ev)
        elif lab.completion_id in request_failed:
            log.add(lab.completion_id, "failed", "judge-request-failed", labeler=lab.labeler, why=lab.reasoning, **ev)
        elif lab.completion_id in disagreements:
            log.dropped(lab.completion_id, "judges-disagree", labeler=lab.labeler, why=lab.reasoning, **ev)
        else:
            log.dropped(lab.completion_id, "abstain", labeler=lab.labeler, why=lab.reasoning, **ev)
    report = labeling_report(final, [lab for lab, _ in auto], disagreements, subset_of, annotations, prompts)
    return Labeling(final, report)


def labeling_report(
    final: Sequence[Label],
    auto: Sequence[Label],
    disagreements: set[str],
    subset_of: dict[str, str],
    annotations: human.AnnotationSet,
    prompts: dict[str, Prompt],
) -> dict[str, Any]:
    """Per subset and labeler: counts, abstains, disagreements; and agreement with annotations/."""
    rows: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for lab in final:
        key = (subset_of[lab.completion_id], lab.labeler)
        rows[key]["completions"] += 1
        rows[key][lab.label] += 1
        if lab.completion_id in disagreements and lab.label == "abstain":
            rows[key]["disagreements"] += 1
    table = [
        {"subset": subset, "labeler": labeler, "completions": c["completions"], "correct": c["correct"],
         "incorrect": c["incorrect"], "abstain": c["abstain"], "disagreements": c["disagreements"]}
        for (subset, labeler), c in sorted(rows.items())
    ]  # fmt: skip
    prompt_subset = {pid: p.subset or "" for pid, p in prompts.items()}
    return {
        "labelers": table,
        "agreement": human.agreement_report(list(auto), annotations, prompt_subset),
        "annotations": {
            "files": annotations.files,
            "applied": sum(1 for lab in final if lab.labeler == "human"),
            "issues": human.annotation_issues(annotations, auto),
        },
    }
