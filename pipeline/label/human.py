"""Human annotations: read them and let them override automatic labels (agreement and the review
sample: `human_review`).

An annotation file is any `*.jsonl` file directly in the annotation folder, one JSON object a line:
`{"id": <completion_id>, "label": "correct"|"incorrect", "annotator": "<name>", "note": "..."}`.
Extra keys are ignored, so a filled-in `rb annotate export` file is itself an annotation file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from pipeline.core.records import Completion, Label, Prompt
from pipeline.label.base import LabelResult, Progress, passed

HUMAN_LABELER = "human"
HUMAN_LABELER_VERSION = "1"
HUMAN_VALUES = ("correct", "incorrect")


@dataclass
class HumanLabel:
    """One human judgement of a completion; merged, it holds every annotator who gave it."""

    id: str
    label: str  # "correct" | "incorrect"
    annotators: list[str]
    notes: list[str] = field(default_factory=list)  # non-empty notes, in reading order
    files: list[str] = field(default_factory=list)  # file names in the folder, one per annotation
    lines: list[int] = field(default_factory=list)  # 1-based line numbers, parallel to `files`

    @property
    def sources(self) -> list[str]:
        return [f"{f}:{n}" for f, n in zip(self.files, self.lines)]


@dataclass
class AnnotationSet:
    labels: dict[str, HumanLabel] = field(default_factory=dict)  # completion id -> agreed label
    conflicts: dict[str, list[HumanLabel]] = field(default_factory=dict)  # id -> disagreeing annotations
    problems: list[str] = field(default_factory=list)  # "FILE:LINE: reason"
    unreviewed: int = 0  # rows with an empty label
    files: list[str] = field(default_factory=list)

    def annotated(self, completion_id: str) -> bool:
        return completion_id in self.labels or completion_id in self.conflicts


class _Skip(Enum):
    BLANK = "blank"
    UNREVIEWED = "unreviewed"  # `label` null or empty: exported for review, not filled in yet


def _parse_line(raw: bytes, where: str, name: str, line: int) -> HumanLabel | _Skip | str:
    """A HumanLabel, a line to skip, or a problem message "FILE:LINE: reason"."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{where}: invalid UTF-8 ({exc.reason} at byte {exc.start})"
    text = text.lstrip("\ufeff").strip()
    if not text:
        return _Skip.BLANK
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"{where}: invalid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(row, dict):
        return f"{where}: not a JSON object"
    value = row.get("label")
    if value is None or (isinstance(value, str) and not value.strip()):
        return _Skip.UNREVIEWED
    cid = row.get("id")
    if not isinstance(cid, str) or not cid.strip():
        return f"{where}: missing or non-string id"
    label = value.strip().lower() if isinstance(value, str) else value
    if label not in HUMAN_VALUES:
        return f"{where}: label must be 'correct' or 'incorrect', got {value!r}"
    annotator = row.get("annotator")
    if not isinstance(annotator, str) or not annotator.strip():
        return f"{where}: missing annotator"
    note = row.get("note")
    notes = [str(note).strip()] if note is not None and str(note).strip() else []
    return HumanLabel(cid.strip(), label, [annotator.strip()], notes, [name], [line])


def _merge(cid: str, items: list[HumanLabel]) -> HumanLabel:
    def every(name: str) -> list[Any]:
        return [value for h in items for value in getattr(h, name)]

    fields = ("annotators", "notes", "files", "lines")
    return HumanLabel(cid, items[0].label, *(every(name) for name in fields))


def load_annotations(folder: Path) -> AnnotationSet:
    """Read every `*.jsonl` file directly in `folder`, in sorted name order. Bad lines become
    problems; disagreeing annotators make a conflict (no override); an annotator's later line on
    the same id replaces the earlier one."""
    out = AnnotationSet()
    folder = Path(folder)
    if not folder.is_dir():
        return out
    # id -> annotator -> their latest annotation (re-inserted so dict order is reading order)
    by_id: dict[str, dict[str, HumanLabel]] = defaultdict(dict)
    for path in sorted(p for p in folder.glob("*.jsonl") if p.is_file()):
        out.files.append(str(path))
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.problems.append(f"{path}: cannot read ({exc.strerror})")
            continue
        for number, raw in enumerate(data.split(b"\n"), start=1):
            parsed = _parse_line(raw, f"{path}:{number}", path.name, number)
            if isinstance(parsed, str):
                out.problems.append(parsed)
            elif isinstance(parsed, HumanLabel):
                who = by_id[parsed.id]
                who.pop(parsed.annotators[0], None)
                who[parsed.annotators[0]] = parsed
            elif parsed is _Skip.UNREVIEWED:
                out.unreviewed += 1
    for cid, who in by_id.items():
        items = list(who.values())
        if len({h.label for h in items}) == 1:
            out.labels[cid] = _merge(cid, items)
        else:
            out.conflicts[cid] = items
    return out


def evidence_of(label: Label) -> dict[str, Any]:
    """A label's evidence as a mapping, whatever its JSON holds."""
    try:
        value = json.loads(label.evidence or "{}")
    except json.JSONDecodeError:
        return {"raw": label.evidence}
    return value if isinstance(value, dict) else {"value": value}


def automatic_label(label: Label) -> Label:
    """The automatic label behind a human override (the label itself when it is not one)."""
    if label.labeler != HUMAN_LABELER:
        return label
    auto = evidence_of(label).get("automatic")
    if not isinstance(auto, dict) or "label" not in auto:
        return label
    return Label(
        label.completion_id, label.prompt_id, auto["label"], auto.get("score"), auto.get("reasoning", ""),
        auto.get("labeler", ""), auto.get("labeler_version", ""),
        json.dumps(auto.get("evidence", {}), sort_keys=True, default=str),
    )  # fmt: skip


def automatic_labels(labels: Iterable[Label]) -> list[Label]:
    return [automatic_label(label) for label in labels]


class HumanLabeler:
    """Human annotations as a labeler: a decided result for every agreed annotation, an abstain
    (status "not-annotated" or "conflict") for the rest. Its decided results override the
    automatic labels (`apply_annotations`)."""

    name = HUMAN_LABELER
    version = HUMAN_LABELER_VERSION

    def __init__(self, annotations: AnnotationSet):
        self.annotations = annotations

    def result(self, completion_id: str) -> LabelResult:
        human = self.annotations.labels.get(completion_id)
        if human is None:
            conflict = completion_id in self.annotations.conflicts
            why = "annotators disagree" if conflict else "not annotated"
            return LabelResult("abstain", why, status="conflict" if conflict else "not-annotated")
        who = ", ".join(human.annotators)
        reasoning = f"human annotation by {who}" + (f": {'; '.join(human.notes)}" if human.notes else "")
        evidence = {"annotators": human.annotators, "notes": human.notes, "source": ", ".join(human.sources)}
        return passed(human.label == "correct", reasoning, evidence)

    def label(
        self, completions: Sequence[Completion], prompts: Mapping[str, Prompt], progress: Progress | None = None
    ) -> list[LabelResult]:
        return [self.result(c.completion_id) for c in completions]


def apply_annotations(
    labels: list[Label], annotations: AnnotationSet
) -> tuple[list[Label], list[dict[str, Any]]]:
    """Replace the label of every annotated completion with the human one (labeler "human"); the
    automatic label is kept in the evidence. Returns the labels and one override record per
    annotated completion. Conflicting annotations override nothing; see `unknown_ids` for typos."""
    humans = HumanLabeler(annotations)
    out: list[Label] = []
    overrides: list[dict[str, Any]] = []
    for label in labels:
        result = humans.result(label.completion_id)
        if not result.decided:
            out.append(label)
            continue
        auto = automatic_label(label)
        evidence = {
            **result.evidence,
            "automatic": {
                "label": auto.label, "labeler": auto.labeler, "labeler_version": auto.labeler_version,
                "reasoning": auto.reasoning, "score": auto.score, "evidence": evidence_of(auto),
            },
        }  # fmt: skip
        out.append(
            Label(label.completion_id, label.prompt_id, result.label, result.score, result.reasoning,
                  HumanLabeler.name, HumanLabeler.version,
                  json.dumps(evidence, sort_keys=True, ensure_ascii=False, default=str))
        )  # fmt: skip
        human = annotations.labels[label.completion_id]
        overrides.append(
            {"completion_id": label.completion_id, "prompt_id": label.prompt_id,
             "automatic_label": auto.label, "automatic_labeler": auto.labeler, "human_label": result.label,
             "annotators": human.annotators, "changed": auto.label != result.label}
        )  # fmt: skip
    return out, overrides


def unknown_ids(labels: Iterable[Label], annotations: AnnotationSet) -> list[str]:
    """Annotated ids (agreed or conflicting) that match no label: most likely a typo."""
    known = {label.completion_id for label in labels}
    return sorted(i for i in (*annotations.labels, *annotations.conflicts) if i not in known)


def annotation_issues(annotations: AnnotationSet, labels: Iterable[Label] | None = None) -> list[str]:
    """One line per bad line, conflict and (given the labels) unknown id, for a person to fix."""
    lines = [f"problem: {p}" for p in annotations.problems]
    for cid, items in sorted(annotations.conflicts.items()):
        votes = "; ".join(f"{', '.join(h.annotators)}: {h.label} ({', '.join(h.sources)})" for h in items)
        lines.append(f"conflict (no override): {cid}: {votes}")
    if labels is not None:
        lines += [f"unknown id (no such completion): {cid}" for cid in unknown_ids(labels, annotations)]
    return lines
