"""LLM judges: a panel of models answers one closed question per item; a policy combines them.

Judges see the text under judgement as data. Each field is fenced by markers carrying a tag
derived from the item's own content (so a completion cannot forge the closing marker), chat
control tokens inside it are defused, and the instructions come after the data and say that
instructions inside it are to be ignored. Answers are asked for as JSON under a schema where the
backend can enforce one; otherwise they are parsed leniently, and an answer that names no single
verdict is an abstain, never a guess.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Callable, Literal, Sequence

from pipeline.lm import ChatRequest, LanguageModel
from pipeline.core.records import short_hash

VERSION = "1"
Policy = Literal["unanimous", "majority"]
RAW_KEPT = 300  # characters of each judge's raw answer kept as evidence


@dataclass(frozen=True)
class Question:
    """One item a panel judges: `fields` are data under judgement (prompt, response), fenced;
    `context` is text the build itself supplies (a category and its rubric), inserted as is."""

    item_id: str
    fields: dict[str, str]
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Vote:
    judge: str
    verdict: str | None
    raw: str
    problem: str | None = None  # why no verdict: request failed, unparseable, ambiguous
    request_failed: bool = False  # the request itself failed after its retries: a rerun asks again


@dataclass(frozen=True)
class PanelDecision:
    verdict: str | None  # set only when the policy reached a decision
    status: Literal["agreed", "disagreed", "unparsed", "request-failed"]
    votes: tuple[Vote, ...]
    policy: str
    redacted: tuple[str, ...] = ()  # sentences of the answer addressed to the grader, not shown

    def evidence(self) -> dict[str, object]:
        data: dict[str, object] = {"policy": self.policy, "status": self.status,
                                   "votes": [asdict(v) for v in self.votes]}  # fmt: skip
        if self.redacted:
            data["redacted"] = list(self.redacted)
        return data

    def summary(self) -> str:
        cast = ", ".join(f"{v.judge}: {v.verdict or v.problem}" for v in self.votes)
        return f"{self.status} ({self.policy}) [{cast}]"


def verdict_schema(verdicts: Sequence[str], explain: bool = True) -> dict[str, object]:
    """Verdict first, then (when asked) a short reason: a reply cut off at max_tokens still carries
    its verdict. Small local judges are faster and no worse without the reason."""
    properties: dict[str, object] = {"verdict": {"type": "string", "enum": list(verdicts)}}
    if explain:
        properties["reason"] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


# <|im_start|>, <start_of_turn>, </s>, [INST]: tokens a chat template would treat as structure.
CONTROL_TOKEN = re.compile(r"<\|[^<>|]{0,40}\|>|</?(?:s|start_of_turn|end_of_turn|bos|eos)>|\[/?INST\]", re.I)


def defuse(text: str) -> str:
    """Turn chat control tokens into inert text, so data cannot open a new turn or role."""
    return CONTROL_TOKEN.sub(lambda m: "(" + m.group(0).strip("<>[]|/ ") + ")", text)


# Sentences in a judged answer that speak to its grader instead of its reader: instructions to
# ignore the rules, verdict fields, or requests for a particular grade.
GRADER_TALK = re.compile(
    r"\bverdicts?\b"
    r"|\b(ignore|disregard|forget|override)\b[^.!?\n]{0,60}\b(instructions?|rules|prompt|guidelines|above|previous)\b"
    r"|\b(notes?|message|instructions?)\s+(to|for)\s+(the\s+)?(ai\s+)?(judge|grader|evaluator)s?\b"
    r"|\b(dear|attention|hey)\s+(the\s+)?(ai\s+)?(judge|grader|evaluator)s?\b"
    r"|\b(answer|respond|reply|output|say|grade|rate|label|mark|classify|return|judge)\b\s+(it\s+|this\s+)?"
    r"(with\s+|as\s+)?[\"'“]?(accurate|inaccurate|valid|invalid|on[ _-]?topic|off[ _-]?topic|refusal|compliance)\b",
    re.I,
)
SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")
REDACTED = "[text addressed to the grader removed]"


def redact_grader_talk(text: str) -> tuple[str, list[str]]:
    """Remove the sentences of an answer that address whoever grades it. Such a sentence can only
    try to steer the verdict; removing it makes the verdict the one the answer alone earns."""
    removed: list[str] = []

    def drop(match: re.Match[str]) -> str:
        sentence = match.group(0)
        if sentence.strip() and GRADER_TALK.search(sentence):
            removed.append(sentence.strip())
            lead = sentence[: len(sentence) - len(sentence.lstrip())]
            return lead + REDACTED + ("\n" if sentence.endswith("\n") else "")
        return sentence

    return SENTENCE.sub(drop, text), removed


def fence(name: str, text: str, tag: str) -> str:
    return f'<{name} id="{tag}">\n{defuse(text)}\n</{name} id="{tag}">'


def render(template: str, question: Question) -> str:
    """The judge's prompt: every field fenced as data; `{tag}` names the fence in the instructions."""
    tag = "data-" + short_hash(question.item_id, question.fields, length=10)
    fenced = {name: fence(name, value, tag) for name, value in question.fields.items()}
    return template.format(tag=tag, **dict(question.context), **fenced)


def _normal(word: str) -> str:
    return re.sub(r"[\s-]+", "_", word.strip().strip("\"'*.[](){}").lower())


def json_object(text: str) -> dict[str, object] | None:
    """The JSON object a model's reply holds between its first `{` and last `}`, if it parses."""
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def parse_verdict(text: str, verdicts: Sequence[str]) -> tuple[str | None, str | None]:
    """(verdict, None) or (None, why). JSON first, then an explicit `verdict:` field, then a reply
    that names exactly one of the verdicts; a reply naming several is ambiguous."""
    allowed = {_normal(v): v for v in verdicts}
    given = (json_object(text) or {}).get("verdict")
    if isinstance(given, str):
        found = allowed.get(_normal(given))
        return (found, None) if found else (None, f"verdict {given!r} is not one of {list(verdicts)}")
    field = re.search(r"\"?verdict\"?\s*[:=]\s*\"?([\w -]{1,40})", text, re.I)
    if field:
        words = _normal(field.group(1))
        for key, verdict in allowed.items():
            if words == key or words.startswith(key + "_"):
                return verdict, None
    pattern = "|".join(re.escape(v).replace("_", "[ _-]") for v in sorted(allowed, key=len, reverse=True))
    named = {_normal(m) for m in re.findall(rf"\b({pattern})\b", text, re.I)}
    if len(named) == 1:
        return allowed[named.pop()], None
    if named:
        return None, f"ambiguous: names {sorted(named)}"
    return None, "no verdict found"


def decide(votes: Sequence[Vote], policy: Policy, redacted: Sequence[str] = ()) -> PanelDecision:
    """Combine votes. A split panel is a disagreement; too few parsed answers is `unparsed`."""
    counts = Counter(v.verdict for v in votes if v.verdict)
    parsed = sum(counts.values())
    top, n = counts.most_common(1)[0] if counts else (None, 0)
    if policy == "unanimous":
        agreed = parsed == len(votes) and len(counts) == 1
    else:
        agreed = n * 2 > len(votes)
    if agreed:
        return PanelDecision(top, "agreed", tuple(votes), policy, tuple(redacted))
    if any(v.request_failed for v in votes):
        # A missing vote could have decided it: the item failed, it is not a judges' verdict.
        status = "request-failed"
    else:
        status = "disagreed" if len(counts) > 1 else "unparsed"
    return PanelDecision(None, status, tuple(votes), policy, tuple(redacted))


def without_grader_talk(question: Question) -> tuple[Question, list[str]]:
    """The question with its `response` field redacted (the prompt is the user's and stays whole)."""
    if "response" not in question.fields:
        return question, []
    text, removed = redact_grader_talk(question.fields["response"])
    return Question(question.item_id, {**question.fields, "response": text}, question.context), removed


def reply_format(verdicts: Sequence[str], explain: bool) -> str:
    """The answer shape, spelled out in the prompt for judges whose backend cannot enforce a schema."""
    choices = " or ".join(f'"{v}"' for v in verdicts)
    return '{"verdict": ' + choices + (', "reason": "<one short sentence>"}' if explain else "}")


def judge_requests(template: str, questions: Sequence[Question], verdicts: Sequence[str],
                   max_tokens: int, explain: bool = True) -> list[ChatRequest]:  # fmt: skip
    # Key order matters (grammar-constrained decoders emit properties in schema order): no sort_keys.
    schema = json.dumps(verdict_schema(verdicts, explain))
    shape = (("reply_format", reply_format(verdicts, explain)),)
    return [
        ChatRequest.from_messages([{"role": "user", "content": render(template, replace(q, context=q.context + shape))}],
                                  temperature=0.0, max_tokens=max_tokens, seed=0, json_schema=schema)  # fmt: skip
        for q in questions
    ]


def run_panel(
    judges: Sequence[str],
    get_model: Callable[[str], LanguageModel],
    template: str,
    questions: Sequence[Question],
    verdicts: Sequence[str],
    policy: Policy,
    max_tokens: int = 96,
    explain: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[PanelDecision]:
    """Every judge answers every question (one batch per judge); each item gets a decision.
    `progress(judge, done, total)` follows each judge's batch."""
    if not questions:
        return []
    cleaned = [without_grader_talk(q) for q in questions]
    requests = judge_requests(template, [q for q, _ in cleaned], verdicts, max_tokens, explain)
    ballots: list[list[Vote]] = [[] for _ in questions]
    for judge in judges:
        report = (lambda done, total, j=judge: progress(j, done, total)) if progress else None
        for ballot, result in zip(ballots, get_model(judge).generate(requests, progress=report)):
            if not result.ok:
                ballot.append(Vote(judge, None, "", f"request failed: {result.error}", request_failed=True))
                continue
            verdict, problem = parse_verdict(result.text, verdicts)
            ballot.append(Vote(judge, verdict, result.text[:RAW_KEPT], problem))
    return [decide(ballot, policy, removed) for ballot, (_, removed) in zip(ballots, cleaned)]
