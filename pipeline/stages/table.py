"""The declared stage table: every stage's name, upstream stages, extra cache inputs and outputs.

An orchestrator (the Prefect build flow, or a plain loop) runs the table in order: it hands each
stage the outputs of the stages it names as upstream and keys its cache on the config, the code,
those upstream outputs and the stage's extra cache inputs (the files it reads that are not stage
outputs). Nothing here knows about Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.core.config import BuildConfig
from pipeline.core.locations import DataLocation
from pipeline.core.io import StageOutput, file_fingerprint
from pipeline.core.records import STAGE_ORDER
from pipeline.core.sources import resolve
from pipeline.stages.previous_releases import release_fingerprint
from pipeline.stages import assemble, decontaminate, evaluate, generate, ingest, label, publish, route
from pipeline.stages.context import RunContext

CacheInputs = Callable[[BuildConfig, Path], object]


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[..., StageOutput]  # run(ctx, *upstream outputs)
    upstream: tuple[str, ...] = ()
    cache_inputs: CacheInputs | None = None  # files it reads besides stage outputs
    outputs: tuple[str, ...] = ()  # what it writes under outputs/<version>/<name>/ (or beside it)
    progress: str | None = None  # the unit its progress counts, for long stages


def location_hashes(base_dir: Path, locations: dict[str, DataLocation]) -> dict[str, str]:
    """A local file's content hash (a missing one hashes as "missing" so the stage reports it with
    its own clear message), or a Hub dataset's id, split and revision."""
    hashes = {}
    for name, loc in locations.items():
        if loc.path is None:
            hashes[name] = loc.describe()
            continue
        path = resolve(loc.path, base_dir)
        hashes[name] = file_fingerprint(path) if path.is_file() else "missing"
    return hashes


def source_hashes(cfg: BuildConfig, base_dir: Path) -> dict[str, str]:
    return location_hashes(base_dir, {s.name: s for s in cfg.sources})


def eval_set_hashes(cfg: BuildConfig, base_dir: Path) -> dict[str, str]:
    hashes = location_hashes(base_dir, {e.name: e for e in cfg.decontamination.eval_sets})
    for spec, name in zip(cfg.decontamination.previous_releases, cfg.decontamination.release_set_names()):
        hashes[name] = release_fingerprint(spec, cfg, base_dir)
    return hashes


def annotation_hashes(cfg: BuildConfig, base_dir: Path) -> dict[str, str]:
    """Annotation files are inputs of the label stage: editing one relabels on the next run."""
    return {p.name: file_fingerprint(p) for p in sorted((base_dir / cfg.annotations_dir).glob("*.jsonl"))}


def previous_release_hash(cfg: BuildConfig, base_dir: Path) -> str:
    """The card compares the release with the previous version."""
    spec = cfg.publish.previous_version
    return release_fingerprint(spec, cfg, base_dir) if spec else "none"


_DECLARED = (
    Stage("ingest", ingest.run, (), source_hashes, ("prompts.parquet", "quarantine.parquet", "sources.parquet"),
          "texts embedded"),
    Stage("decontaminate", decontaminate.run, ("ingest",), eval_set_hashes, ("prompts.parquet",), "texts embedded"),
    Stage("route", route.run, ("decontaminate",), None, ("prompts.parquet",)),
    Stage("generate", generate.run, ("route",), None, ("completions.parquet", "transforms.parquet"), "requests answered"),
    Stage("label", label.run, ("route", "generate"), annotation_hashes, ("labels.parquet", "report.json"),
          "judge answers"),
    Stage("assemble", assemble.run, ("route", "generate", "label"), None, ("test.parquet",)),
    Stage("evaluate", evaluate.run, ("assemble",), None, ("report.json",)),
    Stage("publish", publish.run, ("assemble", "evaluate"), previous_release_hash, ("card.json", "../hub/")),
)  # fmt: skip
# In the decision log's stage order (the contract the card's funnel and the UI read).
STAGES: tuple[Stage, ...] = tuple(next(s for s in _DECLARED if s.name == name) for name in STAGE_ORDER)


def run_all(ctx: RunContext, stages: tuple[Stage, ...] = STAGES) -> dict[str, StageOutput]:
    """Every stage in order, without an orchestrator or a cache (scripts and benchmarks)."""
    outputs: dict[str, StageOutput] = {}
    for stage in stages:
        outputs[stage.name] = stage.run(ctx, *(outputs[name] for name in stage.upstream))
    return outputs
