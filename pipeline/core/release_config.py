"""Config of the stages after labeling: evaluation scorers, release checks, publishing, review.

Kept apart from `config` (which imports them) so that each module stays small.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.core.strict import Strict


class ScorerConfig(Strict):
    name: str
    type: Literal["ratings_judge"]
    model: str
    template: str = "judges/ratings.txt"
    max_tokens: int = 8


class EvaluateConfig(Strict):
    scorers: list[ScorerConfig] = Field(default_factory=list)


class ValidationConfig(Strict):
    """Release checks run before publishing; a breached limit fails the build. None: report only."""

    min_items: int = Field(default=1, ge=0)  # a release with fewer items is not published
    near_duplicate_threshold: float = Field(default=0.95, gt=0, le=1)
    max_duplicate_prompts: int = Field(default=0, ge=0)
    # Points above the random baseline that "always longest/shortest" or "always position N" may
    # reach on a best-of-N subset (RB2 builds its subsets so length does not give answers away).
    max_length_advantage: float | None = 10.0
    max_position_advantage: float | None = 10.0
    max_model_chosen_ratio: float | None = None  # a model's share of chosen / its share of candidates
    # Baseline limits apply to subsets with at least this many items: on fewer, one item moves a
    # baseline by several points and the check reports without judging.
    baseline_min_items: int = Field(default=50, ge=1)
    recheck_contamination: bool = True


class PublishConfig(Strict):
    license: str = "odc-by"
    pretty_name: str | None = None
    # The Hub dataset the release goes to (`rb publish --repo` may name another): usage on the card.
    repo: str | None = None
    # The release this version refreshes, for the card's "what changed": a version name under
    # output_dir, a release folder or parquet file, or a Hub dataset id (`ORG/NAME`).
    previous_version: str | None = None


class ReviewConfig(Strict):
    """Pause after labeling for a person to confirm or correct a sample of labels in the Prefect UI."""

    subsets: list[str] = Field(default_factory=list)  # subset names (key or display name); empty: all
    sample: int = Field(default=3, ge=1, le=50)  # items per subset
    timeout_s: int = Field(default=3600, ge=10)  # then the build goes on unreviewed
