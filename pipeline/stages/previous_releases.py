"""Earlier releases of the benchmark as eval sets: a refreshed version must not repeat their prompts.

"Unseen prompts" is a benchmark's claim across its versions too. Each release named in
`decontamination.previous_releases` is read (a version built under output_dir, a release folder
or parquet file, or ORG/NAME@TAG on the Hub), its prompts are written next to the stage's output
as an eval-set file, and decontamination checks the pool against them with the same signals as
any eval set (exact, n-gram overlap, cosine). A drop's evidence names the release and its item.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.config import RELEASE_SET_PREFIX, BuildConfig, DecontaminationConfig
from pipeline.core.io import atomic_write_text, file_fingerprint, tree_fingerprint
from pipeline.core.locations import EvalSetConfig
from pipeline.core.sources import SourceError
from pipeline.evaluate.dataset import DatasetError, load_release
from pipeline.release.folder import previous_release_path


def release_fingerprint(spec: str, cfg: BuildConfig, base_dir: Path) -> str:
    """What a cache key needs of an earlier release: its files' content, or a Hub spec as written
    (pin a revision with @TAG for an exact rebuild)."""
    path = previous_release_path(spec, base_dir, cfg.output_dir)
    if path is None:
        return spec
    return tree_fingerprint(path, "**/*") if path.is_dir() else file_fingerprint(path)


def release_eval_sets(cfg: BuildConfig, base_dir: Path, folder: Path) -> list[EvalSetConfig]:
    """One eval set per earlier release, its prompts written as JSONL under `folder`."""
    sets = []
    for spec, name in zip(cfg.decontamination.previous_releases, cfg.decontamination.release_set_names()):
        path = previous_release_path(spec, base_dir, cfg.output_dir)
        try:
            rows = load_release(str(path) if path else spec)
        except DatasetError as exc:
            raise SourceError(f"decontamination.previous_releases: {exc}") from None
        target = folder / f"{name.removeprefix(RELEASE_SET_PREFIX).replace('/', '_')}.jsonl"
        lines = (json.dumps({"id": str(r["id"]), "prompt": r["prompt"]}, ensure_ascii=False) for r in rows)
        atomic_write_text(target, "".join(line + "\n" for line in lines))
        sets.append(EvalSetConfig(name=name, path=str(target), text_field="prompt", id_field="id"))
    return sets


def with_previous_releases(cfg: BuildConfig, base_dir: Path, folder: Path) -> DecontaminationConfig:
    """The decontamination config with every earlier release added as an eval set."""
    decon = cfg.decontamination
    if not decon.previous_releases:
        return decon
    extra = release_eval_sets(cfg, base_dir, folder)
    return decon.model_copy(update={"eval_sets": [*decon.eval_sets, *extra]})
