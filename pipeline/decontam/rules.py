"""Which signal, if any, makes one (prompt, eval item) pair a leak. Thresholds: DecontaminationConfig.

Lexical signals first (each names what was shared), cosine last:
- template: the masked forms (numbers, units, names as placeholders) share nearly all their n-grams,
  counted against the longer text, and are long enough not to be a stock question;
- span: a contiguous run of words covers nearly all of the shorter text (a truncation, a prefix, an
  eval item inside a request) and is long enough, or is very long on its own;
- ngram: the shorter text's n-grams are mostly in the other, and there are enough of them (or they
  are a share of the longer text): a 6-word eval question inside a long prompt does not count.
  Between two short texts a few shared 5-grams are often only the question's frame ("What is the
  capital of France?" / "... of Louisiana?", "How can I rob a store" / "... a casino?"), so with fewer
  than `ngram_min_shared` shared n-grams the content words must agree as well (Jaccard >=
  `ngram_short_word_jaccard`): on the tune half every leak this clause caught had >= 0.6, every clean
  prompt it dropped <= 0.5;
- cosine: at or above `cosine_threshold` alone; in the review band below it only with lexical
  agreement (more than half of the shorter text's content words: at exactly half the pairs shared
  a topic, not a question, e.g. "how many levels are there on the eiffel tower" / "Describe the
  architectural features of the Eiffel Tower.") or the confirm model's yes.
"""

from __future__ import annotations

from pipeline.core.config import DecontaminationConfig
from pipeline.decontam.lexical import Lexical

LEXICAL_SIGNALS = ("template", "span", "ngram")


def lexical_signal(lex: Lexical, cfg: DecontaminationConfig) -> str | None:
    if (lex.template_overlap >= cfg.template_threshold
            and min(lex.prompt_words, lex.item_words) >= cfg.template_min_words):  # fmt: skip
        return "template"
    if lex.span_tokens >= cfg.span_long_words or (
        lex.span_tokens >= cfg.span_min_words and lex.span_shorter_share >= cfg.span_shorter_share
    ):
        return "span"
    if lex.ngram_overlap >= cfg.ngram_threshold and (
        lex.ngram_shared >= cfg.ngram_min_shared
        or (lex.ngram_longer_share >= cfg.ngram_longer_share and lex.word_jaccard >= cfg.ngram_short_word_jaccard)
    ):
        return "ngram"
    return None


def in_review_band(cosine: float, cfg: DecontaminationConfig) -> bool:
    return cfg.cosine_review_threshold <= cosine < cfg.cosine_threshold


def signal(lex: Lexical, cosine: float, cfg: DecontaminationConfig) -> str | None:
    """The rule without the confirm model: `cosine+lexical` in the review band needs word overlap."""
    found = lexical_signal(lex, cfg)
    if found:
        return found
    if cosine >= cfg.cosine_threshold:
        return "cosine"
    if in_review_band(cosine, cfg) and lex.word_overlap >= cfg.review_word_overlap:
        return "cosine+lexical"
    return None
