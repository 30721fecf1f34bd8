"""Known downstream eval sets, by the name a config or `rb decontaminate --eval-set NAME` uses.

The list follows the eval suites that Tulu 3 and RewardBench 2 decontaminate against. Each entry
is where the set lives on the Hugging Face Hub and which field holds the prompt; pin a `revision`
in the config for a reproducible release. Sets that span many Hub configs (BBH, AGIEval) or
ship only as loading scripts are not here: point a config at a local copy instead
(`NAME=PATH[:FIELD]`; offline copies of all of them are bundled under data/evalsets/).
"""

from __future__ import annotations

REGISTRY: dict[str, dict[str, str]] = {
    "gsm8k": {"hub_id": "openai/gsm8k", "hub_config": "main", "split": "test", "text_field": "question"},
    "math500": {"hub_id": "HuggingFaceH4/MATH-500", "split": "test", "text_field": "problem",
                "id_field": "unique_id"},
    "aime24": {"hub_id": "HuggingFaceH4/aime_2024", "split": "train", "text_field": "problem", "id_field": "id"},
    "ifeval": {"hub_id": "google/IFEval", "split": "train", "text_field": "prompt", "id_field": "key"},
    "ifbench": {"hub_id": "allenai/IFBench_test", "split": "train", "text_field": "prompt", "id_field": "key"},
    "humaneval": {"hub_id": "openai/openai_humaneval", "split": "test", "text_field": "prompt",
                  "id_field": "task_id"},
    "truthfulqa": {"hub_id": "truthfulqa/truthful_qa", "hub_config": "generation", "split": "validation",
                   "text_field": "question"},
    "mmlu": {"hub_id": "cais/mmlu", "hub_config": "all", "split": "test", "text_field": "question"},
    "popqa": {"hub_id": "akariasai/PopQA", "split": "test", "text_field": "question", "id_field": "id"},
    "drop": {"hub_id": "ucinlp/drop", "split": "validation", "text_field": "question", "id_field": "query_id"},
    "xstest": {"hub_id": "walledai/XSTest", "split": "test", "text_field": "prompt"},
    "harmbench": {"hub_id": "walledai/HarmBench", "hub_config": "standard", "split": "train",
                  "text_field": "prompt"},
    "wildguardtest": {"hub_id": "allenai/wildguardmix", "hub_config": "wildguardtest", "split": "test",
                      "text_field": "prompt"},
    "coconot": {"hub_id": "allenai/coconot", "hub_config": "original", "split": "test", "text_field": "prompt",
                "id_field": "id"},
    "mt_bench": {"hub_id": "HuggingFaceH4/mt_bench_prompts", "split": "train", "text_field": "prompt",
                 "id_field": "prompt_id"},
}  # fmt: skip
