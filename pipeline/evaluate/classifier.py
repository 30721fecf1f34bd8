"""Reward models that are sequence classifiers (transformers): one forward pass gives each
(prompt, completion) conversation a number, the way RewardBench scores classifier RMs.

torch and transformers are imported inside the functions: the rest of the evaluator (judges, score
files) must not pay for them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pipeline.evaluate.scorers import Row, completions_of, split_by_shape

log = logging.getLogger(__name__)

# Used when the tokenizer has no chat template (e.g. a BERT-style classifier): the model then sees
# the same plain text for every completion, which is all a template-less model can be given.
PLAIN_FORMAT = "User: {prompt}\n\nAssistant: {completion}"


# A tokenizer's model_max_length above this is transformers' "no limit" sentinel, not a limit.
NO_LIMIT = 1_000_000


def conversation(prompt: str, completion: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def warn_if_no_template(tokenizer: Any, model: str) -> None:
    """Said once per scorer: the plain format is a guess at what the model expects."""
    if not has_chat_template(tokenizer):
        log.warning("%s: tokenizer has no chat template; scoring the plain text %r", model, PLAIN_FORMAT)


def chat_texts(tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Each (prompt, completion) as the text the reward model was trained on: its own chat template,
    or PLAIN_FORMAT when it has none."""
    if has_chat_template(tokenizer):
        return [tokenizer.apply_chat_template(conversation(p, c), tokenize=False) for p, c in pairs]
    return [PLAIN_FORMAT.format(prompt=p, completion=c) for p, c in pairs]


def add_special_tokens(tokenizer: Any, text: str) -> bool:
    """Templates that already write the BOS token would get a second one from the tokenizer; a
    plain text (or a template without BOS, e.g. on a BERT tokenizer) needs its [CLS]/[SEP]."""
    bos = getattr(tokenizer, "bos_token", None)
    return not (bos and text.startswith(bos))


def score_from_logits(logits: Sequence[float]) -> float:
    """One label: the logit is the reward. Two labels: logit[1] - logit[0], the log-odds of "good"."""
    if len(logits) == 1:
        return float(logits[0])
    if len(logits) == 2:
        return float(logits[1]) - float(logits[0])
    raise ValueError(f"a reward model needs 1 or 2 labels; this one has {len(logits)}")


def check_num_labels(num_labels: int, model: str) -> None:
    if num_labels not in (1, 2):
        raise ValueError(
            f"reward model {model!r} has {num_labels} labels: expected 1 (a reward) or 2 (bad/good logits)"
        )


def row_pairs(rows: Sequence[Row]) -> tuple[list[tuple[str, str]], list[int]]:
    """All (prompt, completion) pairs in dataset order (chosen first), and the count per row."""
    pairs, shape = [], []
    for row in rows:
        texts = completions_of(row)
        shape.append(len(texts))
        pairs.extend((row["prompt"], t) for t in texts)
    return pairs, shape


@dataclass
class ScoringStats:
    """What the last calls did: a reward model scoring a cut-off text is a silent error unless counted."""

    completions: int = 0
    truncated: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        rate = self.completions / self.seconds if self.seconds > 0 else None
        return {"completions": self.completions, "truncated": self.truncated, "seconds": round(self.seconds, 3),
                "completions_per_s": round(rate, 2) if rate else None}  # fmt: skip


class RewardModelScorer:
    """A Scorer (rows -> score lists) that also keeps ScoringStats over all its calls."""

    def __init__(
        self, name: str, score_pairs: Callable[[Sequence[tuple[str, str]], ScoringStats], list[float]]
    ):
        self.name = name
        self.stats = ScoringStats()
        self._score_pairs = score_pairs

    def __call__(self, rows: Sequence[Row]) -> list[list[float]]:
        pairs, shape = row_pairs(rows)
        start = time.perf_counter()
        before = self.stats.truncated
        flat = self._score_pairs(pairs, self.stats)
        self.stats.completions += len(pairs)
        self.stats.seconds += time.perf_counter() - start
        if self.stats.truncated > before:
            log.warning("%s: %d of %d completions were truncated before scoring", self.name,
                        self.stats.truncated - before, len(pairs))  # fmt: skip
        return split_by_shape(flat, shape)


def effective_max_length(max_length: int, tokenizer: Any, config: Any) -> int:
    """Never feed more tokens than the model has positions for (BERT: 512): that would crash, not truncate."""
    limits = [max_length]
    if 0 < (getattr(tokenizer, "model_max_length", None) or NO_LIMIT) < NO_LIMIT:
        limits.append(int(tokenizer.model_max_length))
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits)


def classifier_scorer(
    model: str, batch_size: int = 8, max_length: int = 4096, device: str | None = None
) -> RewardModelScorer:
    """A transformers sequence-classification reward model (local folder or Hub id) as a Scorer.

    Each completion is scored as [user: prompt, assistant: completion] in the model's chat template;
    texts longer than `max_length` tokens are truncated and counted in `.stats.truncated`."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if batch_size < 1 or max_length < 1:
        raise ValueError(f"batch_size and max_length must be positive (got {batch_size}, {max_length})")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model)
    net = AutoModelForSequenceClassification.from_pretrained(model).to(device).eval()
    check_num_labels(net.config.num_labels, model)
    if tokenizer.pad_token is None:
        # Decoder RMs often ship without one; batching needs it, and the model must agree on its id
        # (it pools the last non-pad token).
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if net.config.pad_token_id is None:
        net.config.pad_token_id = tokenizer.pad_token_id
    limit = effective_max_length(max_length, tokenizer, net.config)
    warn_if_no_template(tokenizer, model)

    def score_pairs(pairs: Sequence[tuple[str, str]], stats: ScoringStats) -> list[float]:
        texts = chat_texts(tokenizer, pairs)
        special = [add_special_tokens(tokenizer, t) for t in texts]
        lengths = [len(tokenizer(t, add_special_tokens=s)["input_ids"]) for t, s in zip(texts, special)]
        stats.truncated += sum(n > limit for n in lengths)
        # Longest first, so the padding in each batch is small; scores go back to their own index.
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        scores = [0.0] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                # One tokenizer call takes one add_special_tokens flag: texts that start with BOS and
                # texts that do not (unusual within one template) go in separate calls.
                for flag in sorted({special[i] for i in chunk}):
                    part = [i for i in chunk if special[i] == flag]
                    enc = tokenizer([texts[i] for i in part], padding=True, truncation=True, max_length=limit,
                                    add_special_tokens=flag, return_tensors="pt").to(device)  # fmt: skip
                    logits = net(**enc).logits.float().cpu().tolist()
                    for i, row_logits in zip(part, logits):
                        scores[i] = score_from_logits(row_logits)
        return scores

    return RewardModelScorer(f"classifier {model}", score_pairs)
