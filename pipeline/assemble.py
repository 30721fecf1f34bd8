"""Assembly: best-of-4 items (1 correct + N incorrect) in the RewardBench 2 schema.

Sampling is seeded per prompt and prefers model diversity: each pick takes a candidate from the
model used least so far in the item. Items without enough candidates are dropped with a reason.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from typing import Any

from pipeline.config import SUBSET_NAMES
from pipeline.io import DecisionLog
from pipeline.overlap import canonical
from pipeline.records import Completion, Label, Prompt, derived_seed, empty_metadata

STAGE = "assemble"


def _pick_diverse(pool: list[Completion], k: int, rng: random.Random, used: Counter[str]) -> list[Completion]:
    pool = list(pool)
    rng.shuffle(pool)
    picked: list[Completion] = []
    texts: set[str] = set()
    while len(picked) < k:
        fresh = [c for c in pool if c.text.strip() not in texts]
        if not fresh:
            break
        choice = min(fresh, key=lambda c: used[c.model])  # min is stable: shuffled order breaks ties
        picked.append(choice)
        texts.add(choice.text.strip())
        used[choice.model] += 1
        pool.remove(choice)
    return picked


def _one_item(
    subset: str, correct: list[Completion], incorrect: list[Completion], k: int, rng: random.Random
) -> tuple[list[Completion], list[Completion]] | str:
    """Chosen and rejected completions for one prompt, or the reason there are none."""
    if subset == "precise_if":
        # RB2: all four completions of a Precise IF item come from the same model.
        models = sorted({c.model for c in correct} & {c.model for c in incorrect})
        viable = [
            m for m in models
            if len({c.text.strip() for c in incorrect if c.model == m}) >= k
        ]  # fmt: skip
        if not viable:
            return "no-model-with-1-correct-and-enough-incorrect"
        model = rng.choice(viable)
        correct = [c for c in correct if c.model == model]
        incorrect = [c for c in incorrect if c.model == model]
    if subset == "focus":
        # RB2 Focus: the chosen answer is a natural answer to the real prompt; the rejected ones
        # answered the rewritten prompt.
        correct = [c for c in correct if c.method == "natural"]
        incorrect = [c for c in incorrect if c.method == "off-topic"]
    if not correct:
        return "no-correct-candidate"
    used: Counter[str] = Counter()
    chosen = _pick_diverse(correct, 1, rng, used)
    rejected = _pick_diverse([c for c in incorrect if c.text.strip() != chosen[0].text.strip()], k, rng, used)
    if len(rejected) < k:
        return f"too-few-incorrect-candidates ({len(rejected)} < {k})"
    return chosen, rejected


def assemble(
    prompts: dict[str, Prompt],
    completions: list[Completion],
    labels: list[Label],
    num_rejected: int,
    seed: int,
    log: DecisionLog,
) -> list[dict[str, Any]]:
    by_id = {c.completion_id: c for c in completions}
    labels_by_id = {lab.completion_id: lab.label for lab in labels}
    pools: dict[str, dict[str, list[Completion]]] = defaultdict(lambda: {"correct": [], "incorrect": []})
    # Candidates no label settled: a drop says how many, so a reviewer can tell "the judges split"
    # from "the models never got it right".
    unsettled: dict[str, Counter[str]] = defaultdict(Counter)
    for lab in labels:
        if lab.label in ("correct", "incorrect"):
            pools[lab.prompt_id][lab.label].append(by_id[lab.completion_id])
        else:
            split = json.loads(lab.evidence or "{}").get("status") == "disagreed"
            unsettled[lab.prompt_id]["disagreements" if split else "abstains"] += 1
    rows = []
    for pid, prompt in prompts.items():
        pool = pools.get(pid, {"correct": [], "incorrect": []})
        subset = prompt.subset or ""
        if subset == "ties":
            rows += ties_rows(prompt, pool["correct"] + pool["incorrect"], labels_by_id, log)
            continue
        rng = random.Random(derived_seed(seed, pid, "assemble"))
        picked = _one_item(subset, pool["correct"], pool["incorrect"], num_rejected, rng)
        if isinstance(picked, str):
            log.dropped(pid, picked, subset=subset, correct=len(pool["correct"]),
                        incorrect=len(pool["incorrect"]), **unsettled[pid])  # fmt: skip
            continue
        chosen, rejected = picked
        rows.append(rb2_row(prompt, chosen, rejected))
        log.kept(pid, "assembled", subset=subset, chosen=[c.completion_id for c in chosen],
                 rejected=[c.completion_id for c in rejected])  # fmt: skip
    return rows


def rb2_row(prompt: Prompt, chosen: list[Completion], rejected: list[Completion]) -> dict[str, Any]:
    subset = prompt.subset or ""
    models = [c.model for c in chosen + rejected]
    metadata = empty_metadata()
    metadata.update(method=chosen[0].method, models=sorted(set(models)), prompt_norm=prompt.text,
                    category=str(prompt.metadata.get("category") or subset))  # fmt: skip
    meta = json.loads(chosen[0].metadata)
    if meta.get("constraint"):
        metadata["instruction_id_list"] = [str(meta.get("instruction_id") or meta["constraint"]["type"])]
    return {
        "id": prompt.prompt_id,
        "prompt": chosen[0].prompt_text,
        "chosen": [c.text for c in chosen],
        "rejected": [c.text for c in rejected],
        "num_correct": len(chosen),
        "num_incorrect": len(rejected),
        "total_completions": len(chosen) + len(rejected),
        "models": models,
        "subset": SUBSET_NAMES[subset],
        "additional_metadata": metadata,
    }


def _distinct(completions: list[Completion]) -> list[Completion]:
    """One completion per distinct answer text (many samples give the same short answer)."""
    seen: dict[str, Completion] = {}
    for c in sorted(completions, key=lambda c: c.completion_id):
        seen.setdefault(canonical(c.text), c)  # case, spacing and punctuation do not make a new answer
    return list(seen.values())


def ties_rows(prompt: Prompt, candidates: list[Completion], labels: dict[str, str], log: DecisionLog) -> list[dict[str, Any]]:
    """A `tied:N` row (the many-answer prompt) and a `ref:N` row (its one-answer version), each with
    all distinct correct answers as chosen and all distinct incorrect ones as rejected. A pair is
    kept only whole: the Ties score compares the two rows of one prompt."""
    rows, problems = [], []
    for role in ("tied", "ref"):
        mine = [c for c in candidates if json.loads(c.metadata).get("ties_role") == role]
        chosen = _distinct([c for c in mine if labels.get(c.completion_id) == "correct"])
        rejected = _distinct([c for c in mine if labels.get(c.completion_id) == "incorrect"])
        need = 2 if role == "tied" else 1  # a tied prompt's spread needs two correct answers
        if len(chosen) < need or not rejected:
            problems.append(f"{role}: {len(chosen)} correct (need {need}), {len(rejected)} incorrect (need 1)")
            continue
        row = rb2_row(prompt, chosen, rejected)
        row["id"] = f"{role}:{prompt.prompt_id}"
        row["prompt"] = prompt.text if role == "tied" else json.loads(chosen[0].metadata)["ref_prompt"]
        row["additional_metadata"]["method"] = role
        rows.append(row)
    if problems:
        log.dropped(prompt.prompt_id, "ties-pair-incomplete", subset="ties", problems=problems)
        return []
    log.kept(prompt.prompt_id, "assembled", subset="ties", rows=[r["id"] for r in rows],
             sizes={r["id"]: [r["num_correct"], r["num_incorrect"]] for r in rows})  # fmt: skip
    return rows
