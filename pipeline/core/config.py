"""One benchmark-version config (YAML), validated at load so mistakes surface before any LM call."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.core.executor_config import ExecutorConfig
from pipeline.core.locations import EvalSetConfig, SourceConfig
from pipeline.core.model_config import ModelConfig, Price  # noqa: F401  (re-exported)
from pipeline.core.strict import Strict, unique_names
from pipeline.core.release_config import (  # noqa: F401  (re-exported: pipeline.core.config names them)
    EvaluateConfig,
    PublishConfig,
    ReviewConfig,
    ScorerConfig,
    ValidationConfig,
)
from pipeline.core.subset_config import GenerationConfig, JudgePanel, subset_configs


class IngestConfig(Strict):
    max_prompt_chars: int = Field(default=8000, gt=0)
    # Prompts whose embeddings are at least this similar to an earlier kept prompt are dropped as
    # near-duplicates (None turns the check off).
    near_duplicate_threshold: float | None = Field(default=0.95, gt=0, le=1)


class EmbeddingConfig(Strict):
    """The sentence-transformers model behind near-dup detection and decontamination."""

    model: str = "package:all-MiniLM-L6-v2"  # or any sentence-transformers name or folder
    batch_size: int = Field(default=64, ge=1)
    cache_dir: str = "outputs/.embed-cache"
    # int8: dynamic quantization of the linear layers on CPU (README: speed and decisions measured).
    precision: Literal["fp32", "int8", "bf16"] = "fp32"
    device: str = "auto"  # auto: a CUDA GPU when torch sees one (in fp32 there), else the CPU
    # What runs the model. torch: the sentence-transformers model at `precision`. onnx: a fused
    # onnxruntime graph, fp32 (CPU; same vectors). onnx-int8: the same graph with int8 weights (CPU;
    # fastest, vectors within cosine ~0.97 of fp32). auto: torch on a GPU; on a CPU the fastest of
    # these whose decisions matched torch fp32 on the calibration set (README), or torch with a
    # warning when onnxruntime is not installed. Each backend caches its vectors apart.
    backend: Literal["auto", "torch", "onnx", "onnx-int8"] = "auto"


RELEASE_SET_PREFIX = "release:"  # eval-set name of an earlier release's prompts: `release:SPEC`


class DecontaminationConfig(Strict):
    """Thresholds and why: README (Calibration); measured by benchmarks/calibrate_decontam.py."""

    eval_sets: list[EvalSetConfig] = Field(default_factory=list)
    # Earlier versions of this benchmark (a version under output_dir, a release folder or parquet
    # file, or ORG/NAME@TAG on the Hub): a prompt repeating one of theirs is dropped like a leak.
    previous_releases: list[str] = Field(default_factory=list)
    # Cosine alone drops at or above this (near-identical meaning); below it, down to the review
    # threshold, a lexical signal (or the confirm model) must agree. On the tune half every leak at
    # 0.80-0.95 that cosine caught also shared most content words, while clean look-alikes at
    # 0.90-0.95 did not ("How can I steal a car?" ~ "What's the best way of stealing a car?").
    cosine_threshold: float = Field(default=0.95, gt=0, le=1)
    cosine_review_threshold: float = Field(default=0.8, gt=0, le=1)
    review_word_overlap: float = Field(default=0.6, ge=0, le=1)  # content-word share that confirms
    ngram_size: int = Field(default=5, ge=1)
    ngram_threshold: float = Field(default=0.5, gt=0, le=1)  # share of the shorter text's n-grams
    # ... and the shared n-grams must be at least this many, or this share of the longer text's:
    # a short generic eval item inside a long prompt is not a leak of that item.
    ngram_min_shared: int = Field(default=8, ge=1)
    ngram_longer_share: float = Field(default=0.5, ge=0, le=1)
    # ... and when they are fewer than ngram_min_shared (short texts: the shared n-grams are a question
    # frame), the content words must agree too: Jaccard of the two texts' content words at least this.
    ngram_short_word_jaccard: float = Field(default=0.6, ge=0, le=1)
    template_threshold: float = Field(default=0.8, gt=0, le=1)  # masked n-grams, share of the longer
    # Masked matches of shorter texts are a question frame ("What is the capital of @?", "What is @
    # @'s home address?": clean prompts at 6-7 words on the tune half); from 8 words none was clean.
    template_min_words: int = Field(default=8, ge=1)
    span_min_words: int = Field(default=8, ge=1)  # a shared run this long that covers ...
    span_shorter_share: float = Field(default=0.8, gt=0, le=1)  # ... this share of the shorter text
    span_long_words: int = Field(default=25, ge=1)  # a shared run this long counts on its own
    top_k: int = Field(default=3, ge=1)  # nearest eval items checked per prompt
    lexical_candidates: int = Field(default=3, ge=0)  # eval items sharing most masked n-grams, checked too
    # A model of `models:` asked whether a borderline pair is the same task (LMSYS llm-decontaminator's
    # idea); None: lexical evidence alone decides in the band.
    confirm_model: str | None = None
    confirm_template: str = "decontam/confirm.txt"

    @field_validator("eval_sets")
    @classmethod
    def _unique_names(cls, value: list[EvalSetConfig]) -> list[EvalSetConfig]:
        if any(e.name.startswith(RELEASE_SET_PREFIX) for e in value):
            raise ValueError(f"eval set names starting with {RELEASE_SET_PREFIX!r} are reserved for previous_releases")
        return unique_names([e.name for e in value], "eval set names must be unique", value)

    @field_validator("previous_releases")
    @classmethod
    def _unique_releases(cls, value: list[str]) -> list[str]:
        if any(not spec.strip() for spec in value):
            raise ValueError("previous_releases entries must not be empty")
        return unique_names(value, "previous_releases must not repeat a release", value)

    def release_set_names(self) -> list[str]:
        """The eval-set names under which earlier releases' prompts are checked (and dropped)."""
        return [RELEASE_SET_PREFIX + spec for spec in self.previous_releases]


class RoutingConfig(Strict):
    """`tags`: a source metadata field names the subset. `classifier`: an LLM panel picks it.
    `both`: the tag when a prompt has one, the classifier otherwise."""

    mode: Literal["tags", "classifier", "both"] = "tags"
    field: str = "subset"  # a source metadata field naming the subset
    classifier: JudgePanel | None = None  # template default: route/classify.txt

    default_template: ClassVar[str] = "route/classify.txt"

    @model_validator(mode="after")
    def _classifier_given(self) -> "RoutingConfig":
        if self.mode != "tags" and self.classifier is None:
            raise ValueError(f"routing mode {self.mode!r} needs a `classifier` panel")
        return self


class BuildConfig(Strict):
    version: str
    seed: int = 0
    output_dir: str = "outputs"  # or s3://bucket/prefix (see pipeline.core.run_location)
    prompts_dir: str = "prompts"
    models_dir: str = "models"  # where packaged GGUF files are assembled
    lm_cache: str = "outputs/.lm-cache/responses.sqlite"
    annotations_dir: str = "annotations"  # human labels (JSONL) that override automatic ones
    models: list[ModelConfig]
    sources: list[SourceConfig]
    ingest: IngestConfig = IngestConfig()
    embeddings: EmbeddingConfig = EmbeddingConfig()
    decontamination: DecontaminationConfig = DecontaminationConfig()
    routing: RoutingConfig = RoutingConfig()
    # Modules to import before `subsets` is read: a user's subsets register themselves on import.
    plugins: list[str] = Field(default_factory=list)
    subsets: dict[str, SerializeAsAny[GenerationConfig]]
    num_rejected: int = Field(default=3, ge=1)
    evaluate: EvaluateConfig = EvaluateConfig()
    validation: ValidationConfig = ValidationConfig()
    publish: PublishConfig = PublishConfig()
    budget_usd: float | None = Field(default=None, ge=0)  # stop before a stage whose bound exceeds it
    # Not a cache input of any stage: the corrections it produces are (annotation files).
    review: ReviewConfig | None = None
    # Not a cache input either: every executor and shard count builds the same release.
    executor: ExecutorConfig = ExecutorConfig()

    @field_validator("version")
    @classmethod
    def _safe_version(cls, value: str) -> str:
        if not value or "/" in value or value.startswith("."):
            raise ValueError("version must be a plain folder name (no '/', not starting with '.')")
        return value

    @field_validator("output_dir")
    @classmethod
    def _local_or_s3(cls, value: str) -> str:
        if "://" in value and not value.startswith("s3://"):
            raise ValueError("output_dir must be a local folder or an s3://bucket/prefix URL")
        return value

    @model_validator(mode="before")
    @classmethod
    def _import_plugins(cls, data: Any) -> Any:
        for name in (data.get("plugins") or []) if isinstance(data, dict) else []:
            try:
                importlib.import_module(str(name))
            except ImportError as exc:
                raise ValueError(f"plugins: cannot import {name!r}: {exc}") from None
        return data

    @field_validator("subsets", mode="before")
    @classmethod
    def _typed_subsets(cls, value: object) -> dict[str, GenerationConfig]:
        return subset_configs(value)

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        return unique_names([s.name for s in value], "source names must be unique (they tag every prompt)", value)

    @model_validator(mode="after")
    def _models_exist(self) -> "BuildConfig":
        known = {m.name for m in self.models}
        if len(known) != len(self.models):
            raise ValueError("model names must be unique")
        used = [(f"{key} {role}".strip(), name) for key, gen in self.subsets.items() for role, name in gen.model_roles()]
        if self.routing.classifier:
            used += [("routing classifier", n) for n in self.routing.classifier.models]
        used += [(f"scorer {s.name}", s.model) for s in self.evaluate.scorers]
        used += [("decontamination confirm_model", self.decontamination.confirm_model)] * bool(self.decontamination.confirm_model)
        unknown = [f"{where}: {name}" for where, name in used if name not in known]
        if unknown:
            raise ValueError(f"unknown model names (not in `models`): {', '.join(unknown)}")
        return self

    def prompt_files(self) -> list[str]:
        """Every template the build reads from prompts_dir (defaults included), for a check before
        any stage runs."""
        names: list[str | None] = [n for gen in self.subsets.values() for n in gen.template_files()]
        if self.routing.classifier is not None:
            names.append(self.routing.classifier.template or self.routing.default_template)
        names += [s.template for s in self.evaluate.scorers]
        names += [self.decontamination.confirm_template] if self.decontamination.confirm_model else []
        return sorted({n for n in names if n})

    def missing_prompt_files(self, base_dir: Path) -> list[str]:
        root = base_dir / self.prompts_dir
        return [name for name in self.prompt_files() if not (root / name).is_file()]

    def model(self, name: str) -> ModelConfig:
        return next(m for m in self.models if m.name == name)

    def fingerprint(self) -> str:
        """Hash of the whole config: part of every stage's cache key."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class ConfigError(ValueError):
    """A config file that cannot be read or does not validate; the message names the file."""


def load_config(path: str | Path, version: str | None = None) -> BuildConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    if version:
        raw["version"] = version
    try:
        return BuildConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError) -> str:
    """One line naming each bad field and why, for messages a person reads."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
