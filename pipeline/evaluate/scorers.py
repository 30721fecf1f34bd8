"""Scorers give every completion of a release row a number; `evaluate` turns numbers into credit.

Here: the RB2 "ratings" generative judge (each completion rated 1-10 on its own, unparseable -> -1)
and length baselines (always longest / always shortest).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from pipeline.lm import ChatRequest, LanguageModel
from pipeline.core.records import derived_seed

Row = dict[str, Any]
Scorer = Callable[[Sequence[Row]], list[list[float]]]
UNPARSEABLE = -1.0


def completions_of(row: Row) -> list[str]:
    return list(row["chosen"]) + list(row["rejected"])


def split_by_shape(flat: Sequence[float], shape: Sequence[int]) -> list[list[float]]:
    """Scores of all completions, one flat list, back into one list per row (`shape`: counts)."""
    out, start = [], 0
    for n in shape:
        out.append(list(flat[start : start + n]))
        start += n
    return out


def parse_rating(text: str) -> float:
    """First integer 1-10 in the judge's reply; anything else is unparseable."""
    match = re.search(r"\b(10|[1-9])\b", text)
    return float(match.group(1)) if match else UNPARSEABLE


def ratings_judge(model: LanguageModel, template_path: Path, max_tokens: int = 8) -> Scorer:
    template = template_path.read_text()

    def score(rows: Sequence[Row]) -> list[list[float]]:
        requests, shape = [], []
        for row in rows:
            texts = completions_of(row)
            shape.append(len(texts))
            for text in texts:
                content = template.format(prompt=row["prompt"], response=text)
                requests.append(ChatRequest.from_messages([{"role": "user", "content": content}],
                                                          temperature=0.0, max_tokens=max_tokens, seed=0))  # fmt: skip
        results = model.generate(requests)
        return split_by_shape([parse_rating(r.text) if r.ok else UNPARSEABLE for r in results], shape)

    return score


LETTERS = "ABCD"


def parse_choice(text: str) -> int | None:
    """Index of the last [[A]]-[[D]] verdict in the judge's reply, or None."""
    found = re.findall(r"\[\[([ABCD])\]\]", text)
    return LETTERS.index(found[-1]) if found else None


def presentation_order(row_id: str, n: int, seed: int) -> list[int]:
    """Which completion the ranking judge shows at each position: seeded per row, so the chosen
    completion (always first in the dataset) lands anywhere."""
    order = list(range(n))
    random.Random(derived_seed(seed, row_id, "ranking")).shuffle(order)
    return order


def ranking_judge(
    model: LanguageModel, template_path: Path, seed: int, max_tokens: int = 16, other_rows: Scorer | None = None
) -> Scorer:
    """RB2 "ranking" mode: four answers in seeded shuffled positions, the judge names the best.

    The picked completion scores 1 and the others 0; an unparseable verdict gives every completion
    the same score, which the best-of-N formula turns into 1/4 credit, as RB2 does. Rows that are
    not four completions (Ties) go to `other_rows` (the ratings judge: Ties needs a score per
    answer, not a pick)."""
    template = template_path.read_text()

    def score(rows: Sequence[Row]) -> list[list[float]]:
        four = [i for i, row in enumerate(rows) if len(completions_of(row)) == len(LETTERS)]
        rest = sorted(set(range(len(rows))) - set(four))
        out: list[list[float]] = [[] for _ in rows]
        if rest:
            if other_rows is None:
                bad = rows[rest[0]]
                raise ValueError(f"ranking judge needs exactly 4 completions; row {bad['id']} has {len(completions_of(bad))}")
            for i, scores in zip(rest, other_rows([rows[i] for i in rest])):
                out[i] = scores
        for i, scores in zip(four, rank([rows[i] for i in four])):
            out[i] = scores
        return out

    def rank(rows: Sequence[Row]) -> list[list[float]]:
        requests, orders = [], []
        for row in rows:
            texts = completions_of(row)
            order = presentation_order(row["id"], len(texts), seed)
            orders.append(order)
            answers = {f"answer_{LETTERS[pos].lower()}": texts[i] for pos, i in enumerate(order)}
            content = template.format(prompt=row["prompt"], **answers)
            requests.append(ChatRequest.from_messages([{"role": "user", "content": content}],
                                                      temperature=0.0, max_tokens=max_tokens, seed=0))  # fmt: skip
        out = []
        for order, result in zip(orders, model.generate(requests)):
            scores = [0.0] * len(order)
            choice = parse_choice(result.text) if result.ok else None
            if choice is not None:
                scores[order[choice]] = 1.0
            out.append(scores)
        return out

    return score


def position_scorer(position: int, seed: int) -> Scorer:
    """Always pick the completion shown at `position` in the ranking judge's order: a judge with a
    position bias scores this; the shuffle must keep it at the random baseline."""

    def score(rows: Sequence[Row]) -> list[list[float]]:
        out = []
        for row in rows:
            order = presentation_order(row["id"], len(completions_of(row)), seed)
            scores = [0.0] * len(order)
            scores[order[position % len(order)]] = 1.0
            out.append(scores)
        return out

    return score


def length_scorer(sign: int) -> Scorer:
    """sign=+1: always prefer the longest completion; -1: the shortest."""

    def score(rows: Sequence[Row]) -> list[list[float]]:
        return [[sign * float(len(t)) for t in completions_of(row)] for row in rows]

    return score
