"""Evaluate a release with one scorer (or a score file), next to the baselines every report carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pipeline.core.config import ModelConfig
from pipeline.evaluate.report import accuracy_report, random_baseline
from pipeline.evaluate.scorers import Row, Scorer, length_scorer, ranking_judge, ratings_judge
from pipeline.lm import ModelPool

JUDGE_MODES = ("ratings", "ranking")
REWARD_MODEL_MODES = ("classifier", "vllm-reward")
BACKENDS = ("openai", "anthropic", "local", "vllm")


class ScorerSpecError(ValueError):
    pass


SPEC_FORMS = ("longest, shortest, ratings:BACKEND:MODEL, ranking:BACKEND:MODEL, "
              "classifier:PATH_OR_HUB_ID[?batch_size=N&max_length=N&device=D] or vllm-reward:PATH_OR_HUB_ID[?max_model_len=N]")  # fmt: skip

# Options a reward-model spec may carry after `?`, with their types (all values must be positive when numeric).
CLASSIFIER_OPTIONS: dict[str, type] = {"batch_size": int, "max_length": int, "device": str}
VLLM_REWARD_OPTIONS: dict[str, type] = {"max_model_len": int, "max_num_seqs": int, "dtype": str,
                                        "gpu_memory_utilization": float, "tensor_parallel_size": int}  # fmt: skip


def reward_model_spec(spec: str, rest: str, allowed: dict[str, type]) -> tuple[str, dict[str, Any]]:
    """`PATH_OR_HUB_ID[?key=value&...]` -> (model, typed options); unknown keys or bad values are errors."""
    model, _, query = rest.partition("?")
    if not model:
        raise ScorerSpecError(f"scorer {spec!r}: no model path or Hub id")
    options: dict[str, Any] = {}
    for item in query.split("&") if query else []:
        key, eq, value = item.partition("=")
        if key not in allowed:
            raise ScorerSpecError(f"scorer {spec!r}: unknown option {key!r} (known: {', '.join(allowed)})")
        if not eq or not value:
            raise ScorerSpecError(f"scorer {spec!r}: option {key!r} needs a value ({key}=...)")
        kind = allowed[key]
        try:
            typed = kind(value)
        except ValueError:
            raise ScorerSpecError(f"scorer {spec!r}: option {key}={value!r} is not a {kind.__name__}") from None
        if kind is not str and typed <= 0:
            raise ScorerSpecError(f"scorer {spec!r}: option {key}={value!r} must be positive")
        options[key] = typed
    return model, options


def run_reward_model(mode: str, spec: str, rest: str, rows: Sequence[Row]) -> dict[str, Any]:
    """A classifier reward model (transformers or vLLM): the report carries its scoring stats, the
    number of truncated completions first among them."""
    if mode == "classifier":
        from pipeline.evaluate.classifier import classifier_scorer

        model, options = reward_model_spec(spec, rest, CLASSIFIER_OPTIONS)
        scorer = classifier_scorer(model, **options)
    else:
        from pipeline.evaluate.vllm_reward import vllm_reward_scorer

        model, options = reward_model_spec(spec, rest, VLLM_REWARD_OPTIONS)
        scorer = vllm_reward_scorer(model, engine_args=options)
    report = accuracy_report(scorer.name, rows, scorer(rows))
    report["scoring"] = scorer.stats.as_dict()
    return report


def model_from_spec(spec: str) -> ModelConfig:
    """`BACKEND:MODEL[@BASE_URL]`, e.g. `openai:gpt-4o-mini`, `openai:qwen@http://h:8000/v1`,
    `local:package:smollm2-135m-instruct`, `local:/models/x.gguf`, `anthropic:claude-sonnet-4-5`."""
    backend, _, rest = spec.partition(":")
    if backend not in BACKENDS or not rest:
        raise ScorerSpecError(f"model {spec!r}: expected BACKEND:MODEL with BACKEND one of {', '.join(BACKENDS)}")
    if backend == "local":
        return ModelConfig(name=rest, backend="local", model_file=rest, max_concurrency=1)
    model, _, base_url = rest.partition("@")
    return ModelConfig(name=model, backend=backend, base_url=base_url or None)  # type: ignore[arg-type]


LENGTH_SIGNS = {"longest": +1, "shortest": -1}


def length_report(rows: Sequence[Row], which: str) -> dict[str, Any]:
    """Accuracy of always picking the `longest` or `shortest` completion."""
    return accuracy_report(f"always {which}", rows, length_scorer(LENGTH_SIGNS[which])(rows))


def baseline_reports(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [random_baseline(rows), length_report(rows, "longest"), length_report(rows, "shortest")]


def run_scorer_spec(
    spec: str, rows: Sequence[Row], prompts_dir: Path, cache_path: Path, models_dir: Path, seed: int = 0
) -> dict[str, Any]:
    """Score the rows with `longest`, `shortest`, `ratings:MODEL_SPEC`, `ranking:MODEL_SPEC`,
    `classifier:MODEL[?options]` or `vllm-reward:MODEL[?options]`."""
    if spec in LENGTH_SIGNS:
        return length_report(rows, spec)
    mode, _, model_spec = spec.partition(":")
    if mode in REWARD_MODEL_MODES:
        return run_reward_model(mode, spec, model_spec, rows)
    if mode not in JUDGE_MODES:
        raise ScorerSpecError(f"scorer {spec!r}: expected {SPEC_FORMS}")
    model_cfg = model_from_spec(model_spec)
    with ModelPool([model_cfg], cache_path, models_dir) as pool:
        model = pool.get(model_cfg.name)
        scorer: Scorer
        if mode == "ratings":
            scorer = ratings_judge(model, prompts_dir / "judges/ratings.txt")
        else:
            ratings = ratings_judge(model, prompts_dir / "judges/ratings.txt")
            scorer = ranking_judge(model, prompts_dir / "judges/ranking.txt", seed, other_rows=ratings)
        report = accuracy_report(f"{mode} judge {model_cfg.name}", rows, scorer(rows))
        report["lm_requests"] = pool.total()
    return report
