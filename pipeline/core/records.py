"""Record types, stable ids, and the RewardBench 2 output schema.

Ids are content hashes, so the same inputs always give the same ids across reruns and machines.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


def short_hash(*parts: object, length: int = 16) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def derived_seed(*parts: object) -> int:
    """A 31-bit seed from named parts, so every random choice is reproducible on its own."""
    return int(short_hash(*parts, length=8), 16) & 0x7FFFFFFF


def normalize(text: str) -> str:
    """NFC, unified line endings, no trailing spaces, runs of blank lines and spaces collapsed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def prompt_id(normalized_text: str) -> str:
    return "p_" + short_hash(normalized_text)


def completion_id(pid: str, model: str, method: str, params: dict[str, Any], sample_index: int) -> str:
    return "c_" + short_hash(pid, model, method, params, sample_index)


@dataclass
class Prompt:
    prompt_id: str
    text: str
    source: str
    source_id: str
    source_line: int
    subset: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Completion:
    completion_id: str
    prompt_id: str
    subset: str
    model: str
    method: str
    sample_index: int
    prompt_text: str  # the text the model actually saw (e.g. with a constraint appended)
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    params: str  # JSON of the sampling parameters
    # What a subset's labeler and assembly need to know about how this candidate was made:
    role: str | None = None  # its part in a paired item (Ties: "tied" or "ref")
    system_prompt: str | None = None  # the named system prompt it was sampled under (Safety's jailbreaks)
    constraint: str | None = None  # JSON {"type": ..., **kwargs}: the instruction appended (Precise IF)
    instruction_id: str | None = None  # the constraint's instruction id
    derived_from: str | None = None  # the completion whose answer this candidate reuses (no LM call)

    def constraint_spec(self) -> dict[str, Any] | None:
        return json.loads(self.constraint) if self.constraint else None


@dataclass
class Label:
    completion_id: str
    prompt_id: str
    label: str  # "correct" | "incorrect" | "abstain"
    score: float | None
    reasoning: str
    labeler: str
    labeler_version: str
    evidence: str = "{}"  # JSON
    # Why there is no label, for an abstain or a failure ("disagreed", "request-failed", "empty", ...).
    status: str = ""


@dataclass
class Decision:
    """One row of the decision log: why an item was kept, dropped or changed at a stage."""

    stage: str
    item_id: str
    decision: str  # "kept" | "dropped" | "changed" | "failed"
    reason: str
    evidence: str  # JSON
    run_id: str


# The stages in build order (the stage table runs them so; the funnel and the UI list them so).
STAGE_ORDER = ("ingest", "decontaminate", "route", "generate", "label", "assemble", "evaluate", "publish")

DECISION_SCHEMA = pa.schema(
    [
        ("stage", pa.string()),
        ("item_id", pa.string()),
        ("decision", pa.string()),
        ("reason", pa.string()),
        ("evidence", pa.string()),
        ("run_id", pa.string()),
    ]
)

# Stage tables of prompts (ingest, decontaminate, route) and completions (generate).
PROMPT_SCHEMA = pa.schema(
    [("prompt_id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("source_id", pa.string()),
     ("source_line", pa.int64()), ("subset", pa.string()), ("metadata", pa.string())]  # metadata: JSON
)  # fmt: skip

COMPLETION_SCHEMA = pa.schema(
    [("completion_id", pa.string()), ("prompt_id", pa.string()), ("subset", pa.string()), ("model", pa.string()),
     ("method", pa.string()), ("sample_index", pa.int64()), ("prompt_text", pa.string()), ("text", pa.string()),
     ("finish_reason", pa.string()), ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
     ("params", pa.string()), ("role", pa.string()), ("system_prompt", pa.string()), ("constraint", pa.string()),
     ("instruction_id", pa.string()), ("derived_from", pa.string())]
)  # fmt: skip

# Ingest's table of bad input rows: enough to find and fix each one in its source.
QUARANTINE_SCHEMA = pa.schema(
    [("source", pa.string()), ("file", pa.string()), ("line", pa.int64()), ("problem", pa.string()), ("raw", pa.string())]
)
SOURCE_FUNNEL_SCHEMA = pa.schema(
    [("source", pa.string()), ("file", pa.string()), ("read", pa.int64()), ("kept", pa.int64()),
     ("quarantined", pa.int64()), ("duplicate", pa.int64()), ("near_duplicate", pa.int64()), ("warning", pa.string())]
)  # fmt: skip

# Typed even when empty, so an empty stage output still has its columns.
LABEL_SCHEMA = pa.schema(
    [("completion_id", pa.string()), ("prompt_id", pa.string()), ("label", pa.string()), ("score", pa.float64()),
     ("reasoning", pa.string()), ("labeler", pa.string()), ("labeler_version", pa.string()),
     ("evidence", pa.string()), ("status", pa.string())]
)  # fmt: skip

# Generate's prompt rewrites (Focus) and narrowings (Ties), with the raw answer for audits.
TRANSFORM_SCHEMA = pa.schema(
    [("transform_id", pa.string()), ("prompt_id", pa.string()), ("kind", pa.string()), ("model", pa.string()),
     ("raw", pa.string()), ("rewritten", pa.string()), ("problem", pa.string())]
)  # fmt: skip

# additional_metadata as RB2 uses it; fields a subset does not use are null.
RB2_METADATA_TYPE = pa.struct(
    [
        ("category", pa.string()),
        ("correct", pa.string()),
        ("index", pa.float64()),
        ("instruction_id_list", pa.list_(pa.string())),
        ("label", pa.string()),
        ("method", pa.string()),
        ("models", pa.list_(pa.string())),
        ("prompt_norm", pa.string()),
        ("subcategory", pa.string()),
        ("valid", pa.float64()),
    ]
)

RB2_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("prompt", pa.string()),
        ("chosen", pa.list_(pa.string())),
        ("rejected", pa.list_(pa.string())),
        ("num_correct", pa.int64()),
        ("num_incorrect", pa.int64()),
        ("total_completions", pa.int64()),
        ("models", pa.list_(pa.string())),
        ("subset", pa.string()),
        ("additional_metadata", RB2_METADATA_TYPE),
    ]
)


def empty_metadata() -> dict[str, Any]:
    return {name: None for name in RB2_METADATA_TYPE.names}
