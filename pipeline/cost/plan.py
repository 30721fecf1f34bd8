"""`rb plan`: what a build will send, per stage and model, before anything is sent.

Counts come from the build's own code on the config and the sources: ingest without embeddings
(near-duplicate and contamination drops only lower the counts, so these are bounds), routing by
tag, and each subset's own transform and answer planning. Where earlier answers decide a count
(rewrite retries, judge calls, scorer calls), the plan gives its upper bound. Input tokens come
from the model's tokenizer where one is on disk (`tokens.counter`), else characters / 4; output
tokens are bounded by max_tokens.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from pipeline.core.config import BuildConfig
from pipeline.core.io import DecisionLog
from pipeline.core.records import Prompt
from pipeline.cost.ledger import token_cost
from pipeline.cost.tokens import counter
from pipeline.lm.base import ChatRequest, request_key
from pipeline.lm.cache import ResponseCache
from pipeline.stages.ingest import ingest
from pipeline.stages.route import route
from pipeline.subsets.base import Sampler, Templates
from pipeline.subsets.registry import enabled as enabled_subsets
from pipeline.subsets.rewrite import ATTEMPTS



@dataclass
class PlanRow:
    stage: str
    model: str
    requests: int = 0  # exact where `exact`, otherwise an upper bound
    exact: bool = True
    input_tokens: int = 0
    output_tokens: int = 0  # max_tokens summed: an upper bound
    cost_usd: float | None = None
    batch: bool = False
    cached: int = 0  # exact requests the response cache already answers (free, not in the counts)
    tokenizer: str = ""  # how input tokens were counted


class _Rows:
    def __init__(self, cfg: BuildConfig, cache: ResponseCache | None) -> None:
        self.rows: dict[tuple[str, str], PlanRow] = {}
        self.cfg, self.cache = cfg, cache
        self.counters = {m.name: counter(m) for m in cfg.models}

    def tok(self, model: str, text: str) -> int:
        return self.counters[model][0](text)

    def _cached(self, stage: str, model: str, request: ChatRequest) -> bool:
        """A request the response cache holds costs nothing (keys as the backend computes them)."""
        if self.cache is None:
            return False
        m = self.cfg.model(model)
        hit = self.cache.get(request_key(m.backend, m.name if m.backend == "local" else m.provider_model, request))
        if hit is not None:
            self.rows.setdefault((stage, model), PlanRow(stage, model)).cached += 1
        return hit is not None

    def add(self, stage: str, model: str, n: int, input_tokens: int, output_tokens: int, exact: bool) -> None:
        row = self.rows.setdefault((stage, model), PlanRow(stage, model))
        row.requests += n
        row.input_tokens += input_tokens
        row.output_tokens += output_tokens
        row.exact = row.exact and exact

    def requests(self, stage: str, model: str, found: Iterable[ChatRequest], times: int = 1, exact: bool = True) -> None:
        for request in found:
            if exact and self._cached(stage, model, request):
                continue
            text = sum(self.tok(model, content) for _, content in request.messages)
            self.add(stage, model, times, times * text, times * request.max_tokens, exact)


def build_plan(cfg: BuildConfig, base_dir: Path, cache_path: Path | None = None) -> dict[str, Any]:
    """The plan as data: rows per stage and model, their cost and the total. With a response cache,
    exact requests it already answers are counted apart and cost nothing."""
    cache = ResponseCache(cache_path) if cache_path is not None and cache_path.is_file() else None
    try:
        return _plan(cfg, base_dir, _Rows(cfg, cache))
    finally:
        if cache is not None:
            cache.close()


def _plan(cfg: BuildConfig, base_dir: Path, rows: _Rows) -> dict[str, Any]:
    prompts, read = ingest(cfg.sources, cfg.ingest, base_dir, DecisionLog("ingest", "plan"), cache=None)
    subsets = enabled_subsets(cfg)
    templates = Templates(base_dir / cfg.prompts_dir)
    routing, panel = cfg.routing, cfg.routing.classifier
    by_tag = routing.mode == "tags"
    tagged = [p for p in prompts if by_tag or (routing.mode == "both" and p.metadata.get(routing.field) is not None)]
    routed = route(tagged, routing, set(subsets), DecisionLog("route", "plan"), None)
    if panel is not None:
        ask = [p for p in prompts if p not in tagged]
        template = templates.raw(panel.template or cfg.routing.default_template)
        for model in panel.models:
            for p in ask:
                rows.add("route", model, 1, rows.tok(model, template) + rows.tok(model, p.text), panel.max_tokens, True)
        # The classifier decides these prompts' subsets: bound each by its costliest subset.
        routed += [_costliest(p, subsets, templates, cfg) for p in ask if p not in routed]
    sampler = Sampler(cfg.seed, templates)
    answers: dict[str, list[tuple[Prompt, int]]] = defaultdict(list)  # subset -> (prompt, answer tokens)
    for p in routed:
        subset = subsets[p.subset or ""]
        for t in subset.transforms(p, templates):
            rows.requests("generate", t.model, [t.request], times=ATTEMPTS, exact=False)
        for item in subset.plan(p, sampler, p.text if subset.transforms(p, templates) else None):
            rows.requests("generate", item.model, [item.request])
            answers[p.subset or ""].append((p, item.request.max_tokens))
    for key, gen in cfg.subsets.items():
        judges = getattr(gen, "judges", None)
        if judges is None:
            continue
        template = templates.raw(judges.template or gen.default_judge_template or "")
        for model in judges.models:
            for p, answer in answers.get(key, []):
                # One verdict per completion (factuality re-checks each item once more: ×2).
                times = 2 if key == "factuality" else 1
                asked = rows.tok(model, template) + rows.tok(model, p.text) + answer
                rows.add("label", model, times, times * asked,
                         times * judges.max_tokens, False)  # fmt: skip
    for scorer in cfg.evaluate.scorers:
        per_item = cfg.num_rejected + 1  # every completion of an item is rated once
        template = rows.tok(scorer.model, templates.raw(scorer.template))
        for p in routed:
            answer = cfg.subsets[p.subset].max_tokens if p.subset in cfg.subsets else 256
            asked = template + rows.tok(scorer.model, p.text) + answer
            rows.add("evaluate", scorer.model, per_item, per_item * asked,
                     per_item * scorer.max_tokens, False)  # fmt: skip
    out = []
    for row in rows.rows.values():
        model = cfg.model(row.model)
        row.batch = model.batch
        row.tokenizer = rows.counters[row.model][1]
        row.cost_usd = token_cost(model, row.input_tokens, row.output_tokens)
        out.append(asdict(row))
    total = sum(r["cost_usd"] or 0.0 for r in out)
    unpriced = sorted({r["model"] for r in out if r["cost_usd"] is None})
    return {"version": cfg.version, "source_rows": read, "prompts": len(prompts), "routed": len(routed),
            "rows": out, "total_usd": round(total, 4), "unpriced_models": unpriced}  # fmt: skip


def _costliest(prompt: Prompt, subsets: dict[str, Any], templates: Templates, cfg: BuildConfig) -> Prompt:
    from dataclasses import replace

    sampler = Sampler(cfg.seed, templates)

    def answer_tokens(key: str) -> int:
        return sum(i.request.max_tokens for i in subsets[key].plan(replace(prompt, subset=key), sampler, prompt.text))

    return replace(prompt, subset=max(subsets, key=answer_tokens))


def stage_bounds(plan: dict[str, Any]) -> dict[str, float]:
    """USD bound per stage, for the build's budget check."""
    bounds: dict[str, float] = defaultdict(float)
    for row in plan["rows"]:
        bounds[row["stage"]] += row["cost_usd"] or 0.0
    return dict(bounds)


def plan_markdown(plan: dict[str, Any]) -> str:
    lines = [f"Plan for {plan['version']}: {plan['source_rows']} source rows, {plan['prompts']} prompts after exact "
             f"dedup (at most), {plan['routed']} routed.", "",
             "| stage | model | batch | requests | cached | input tok | output tok (bound) | cost USD |",
             "|---|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in plan["rows"]:
        n = f"{r['requests']}" if r["exact"] else f"≤ {r['requests']}"
        cost = "n/a" if r["cost_usd"] is None else f"{'' if r['exact'] else '≤ '}{r['cost_usd']:.4f}"
        lines.append(f"| {r['stage']} | {r['model']} | {'yes' if r['batch'] else 'no'} | {n} | {r['cached']} | {r['input_tokens']} | "
                     f"{r['output_tokens']} | {cost} |")  # fmt: skip
    unpriced = f" (no price for: {', '.join(plan['unpriced_models'])})" if plan["unpriced_models"] else ""
    lines.append(f"\nTotal bound: {plan['total_usd']:.4f} USD{unpriced}")
    counted = sorted({(r["model"], r["tokenizer"]) for r in plan["rows"]})
    lines.append("Input tokens: " + "; ".join(f"{m} {t}" for m, t in counted)
                 + ". Output tokens: max_tokens per request (a bound).")  # fmt: skip
    return "\n".join(lines)
