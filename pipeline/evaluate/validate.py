"""Release validation: the checks a maintainer runs before publishing (flow and `rb validate`).

Each check gives a status (pass, fail or info), a one-line message and its details. Thresholds
come from the config's `validation` section; a failed check stops the flow before publishing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from pipeline.core.config import ValidationConfig
from pipeline.decontam.detector import Detector
from pipeline.decontam.embed import EmbeddingCache
from pipeline.evaluate.report import accuracy_report, random_baseline
from pipeline.evaluate.run import length_report
from pipeline.evaluate.scorers import Row, position_scorer
from pipeline.decontam.overlap import canonical
from pipeline.core.records import RB2_SCHEMA
from pipeline.decontam.similarity import earlier_pairs_above

TIES = "Ties"
EXAMPLES = 10


@dataclass
class Check:
    name: str
    status: str  # pass | fail | info
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def _schema(rows: Sequence[Row], num_rejected: int, min_items: int = 0) -> Check:
    problems: list[str] = []
    if len(rows) < min_items:
        problems.append(f"{len(rows)} items; a release needs at least {min_items} (validation.min_items)")
    names = set(RB2_SCHEMA.names)
    ids = Counter(str(r.get("id")) for r in rows)
    problems += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for r in rows:
        missing = names - set(r)
        if missing:
            problems.append(f"{r.get('id')}: missing columns {sorted(missing)}")
            continue
        chosen, rejected = r["chosen"] or [], r["rejected"] or []
        if (r["num_correct"], r["num_incorrect"]) != (len(chosen), len(rejected)):
            problems.append(f"{r['id']}: num_correct/num_incorrect do not match chosen/rejected")
        if r["total_completions"] != len(chosen) + len(rejected) or len(r["models"] or []) != r["total_completions"]:
            problems.append(f"{r['id']}: total_completions and models must count every completion")
        if any(not isinstance(t, str) or not t.strip() for t in [r["prompt"], *chosen, *rejected]):
            problems.append(f"{r['id']}: empty prompt or completion")
        if r["subset"] != TIES and (len(chosen), len(rejected)) != (1, num_rejected):
            problems.append(f"{r['id']}: a best-of-{num_rejected + 1} item needs 1 chosen and {num_rejected} rejected")
    status = "fail" if problems else "pass"
    return Check("schema and counts", status, f"{len(rows)} rows, {len(problems)} problems",
                 {"problems": problems[:EXAMPLES], "subsets": dict(Counter(r.get("subset") for r in rows))})  # fmt: skip


def _duplicates(rows: Sequence[Row], cfg: ValidationConfig, vectors: np.ndarray | None) -> Check:
    first: dict[str, Row] = {}
    exact = []
    for r in rows:
        key = canonical(r["prompt"])
        if key in first:
            exact.append({"id": r["id"], "subset": r["subset"], "same_as": first[key]["id"],
                          "same_as_subset": first[key]["subset"]})  # fmt: skip
        else:
            first[key] = r
    near = []
    if vectors is not None and len(rows) > 1:
        for i, j, cosine in earlier_pairs_above(vectors, cfg.near_duplicate_threshold):
            if canonical(rows[i]["prompt"]) != canonical(rows[j]["prompt"]):
                near.append({"id": rows[i]["id"], "subset": rows[i]["subset"], "similar_to": rows[j]["id"],
                             "similar_to_subset": rows[j]["subset"], "cosine": round(cosine, 4)})  # fmt: skip
    found = len(exact) + len(near)
    status = "fail" if found > cfg.max_duplicate_prompts else "pass"
    scope = f"cosine >= {cfg.near_duplicate_threshold}" if vectors is not None else "embeddings not checked"
    return Check("duplicate prompts", status, f"{len(exact)} exact and {len(near)} near-duplicate prompts ({scope}), "
                 f"allowed {cfg.max_duplicate_prompts}", {"exact": exact[:EXAMPLES], "near": near[:EXAMPLES]})  # fmt: skip


def _advantage_check(
    name: str, reports: list[dict[str, Any]], random: dict[str, Any], limit: float | None, sizes: Counter[str],
    min_items: int,
) -> Check:
    """Points above the random baseline per best-of-N subset; fails past `limit` on any subset
    large enough to judge."""
    worst: tuple[float, str, str] = (float("-inf"), "", "")
    judged: tuple[float, str, str] = (float("-inf"), "", "")
    table = {}
    for report in reports:
        for subset, score in report["subsets"].items():
            if subset == TIES:
                continue
            gain = 100 * (score - random["subsets"][subset])
            table[f"{report['scorer']} / {subset}"] = round(gain, 1)
            worst = max(worst, (gain, report["scorer"], subset))
            if sizes[subset] >= min_items:
                judged = max(judged, (gain, report["scorer"], subset))
    if not table:
        return Check(name, "info", "no best-of-N subsets")
    message = f"largest advantage over random: {worst[0]:+.1f} points ({worst[1]}, {worst[2]})"
    small = sorted(s for s in sizes if s != TIES and sizes[s] < min_items)
    details: dict[str, Any] = {"points_above_random": table, "too_small_to_judge": small}
    if limit is None or judged[1] == "":
        reason = "no limit set" if limit is None else f"no subset has {min_items} items"
        return Check(name, "info", f"{message} ({reason})", details)
    status = "fail" if judged[0] > limit else "pass"
    return Check(name, status, f"{message}; judged subsets max {judged[0]:+.1f} ({judged[2]}), limit {limit:+.1f}",
                 details)  # fmt: skip


def _model_bias(rows: Sequence[Row], limit: float | None) -> Check:
    """How often each model wrote the chosen completion, against its share of all candidates."""
    chosen: Counter[str] = Counter()
    candidates: Counter[str] = Counter()
    for r in rows:
        if r["subset"] == TIES:
            continue
        models = list(r["models"] or [])
        chosen.update(models[: r["num_correct"]])
        candidates.update(models)
    total_chosen, total_candidates = sum(chosen.values()), sum(candidates.values())
    table = {}
    for model, n in candidates.items():
        share_chosen = chosen[model] / total_chosen if total_chosen else 0.0
        share_all = n / total_candidates
        table[model] = {"chosen_share": round(share_chosen, 3), "candidate_share": round(share_all, 3),
                        "ratio": round(share_chosen / share_all, 3)}  # fmt: skip
    if not table:
        return Check("per-model bias", "info", "no best-of-N rows")
    top = max(table.items(), key=lambda kv: kv[1]["ratio"])
    message = f"highest chosen/candidate ratio: {top[0]} {top[1]['ratio']:.2f}"
    status = "info" if limit is None else ("fail" if top[1]["ratio"] > limit else "pass")
    if limit is not None:
        message += f"; limit {limit:.2f}"
    return Check("per-model bias", status, message, {"models": table})


class ReleaseValidationError(RuntimeError):
    """A release breached a validation limit; the message lists every failed check."""


def _contamination(rows: Sequence[Row], detector: Detector | None, vectors: np.ndarray | None) -> Check:
    if detector is None or vectors is None or not detector.items:
        return Check("decontamination re-run", "info", "no eval sets configured")
    matches = detector.check([r["prompt"] for r in rows], vectors)
    hits = [{"id": r["id"], "subset": r["subset"], **m.evidence()} for r, m in zip(rows, matches) if m is not None]
    status = "fail" if hits else "pass"
    sets = ", ".join(sorted(detector.sizes()))
    return Check("decontamination re-run", status, f"{len(hits)} release prompts match an eval item ({sets})",
                 {"matches": hits[:EXAMPLES]})  # fmt: skip


def validate_release(
    rows: Sequence[Row],
    cfg: ValidationConfig,
    num_rejected: int = 3,
    detector: Detector | None = None,
    cache: EmbeddingCache | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """All checks; `passed` is False when any check failed. Baseline reports ride along for the card."""
    rows = list(rows)
    schema = _schema(rows, num_rejected, cfg.min_items)
    if schema.status == "fail":
        return {"passed": False, "checks": [asdict(schema)], "baselines": []}
    random = random_baseline(rows)
    lengths = [length_report(rows, "longest"), length_report(rows, "shortest")]
    positions = [accuracy_report(f"always position {p + 1} (ranking order)", rows, position_scorer(p, seed)(rows))
                 for p in range(num_rejected + 1)]  # fmt: skip
    sizes = Counter(r["subset"] for r in rows)
    vectors = cache.get("release-prompts", [r["prompt"] for r in rows]) if cache is not None else None
    checks = [
        schema,
        _duplicates(rows, cfg, vectors),
        _advantage_check("length baselines", lengths, random, cfg.max_length_advantage, sizes, cfg.baseline_min_items),
        _advantage_check("position baselines", positions, random, cfg.max_position_advantage, sizes,
                         cfg.baseline_min_items),  # fmt: skip
        _model_bias(rows, cfg.max_model_chosen_ratio),
        _contamination(rows, detector, vectors),
    ]
    return {
        "passed": all(c.status != "fail" for c in checks),
        "checks": [asdict(c) for c in checks],
        "baselines": [random, *lengths],
    }


def failures(validation: dict[str, Any]) -> list[str]:
    return [f"{c['name']}: {c['message']}" for c in validation["checks"] if c["status"] == "fail"]


def checks_table(validation: dict[str, Any]) -> str:
    lines = ["| check | status | result |", "|---|---|---|"]
    lines += [f"| {c['name']} | {c['status']} | {c['message']} |" for c in validation["checks"]]
    return "\n".join(lines)
