"""What every subset's config shares, judge panels, and the registry of subset config classes.

The built-in subsets register their config classes from the plugin package, loaded by name so
that the config layer stays below them; a user's subset registers itself the same way (a config
names its module under `plugins:`).
"""

from __future__ import annotations

import importlib
from typing import ClassVar, Literal

from pydantic import Field, ValidationError, field_validator

from pipeline.core.strict import Strict, unique_names


class JudgePanel(Strict):
    """LLM judges that decide one question together. Every judge answers; the policy decides:
    `unanimous` needs all to agree, `majority` more than half of all judges. Otherwise the item
    is logged as a disagreement (or, if answers could not be parsed, an abstain), never guessed."""

    models: list[str] = Field(min_length=1)
    policy: Literal["unanimous", "majority"] = "majority"
    template: str | None = None  # under prompts/; None: the subset's default judge template
    max_tokens: int = Field(default=96, gt=0)
    # Ask each judge for a one-sentence reason after its verdict (kept as evidence). Off for small
    # local judges: it costs tokens and their reasons say nothing.
    explain: bool = True

    @field_validator("models")
    @classmethod
    def _unique_judges(cls, value: list[str]) -> list[str]:
        return unique_names(value, "a judge may sit on a panel once", value)


class GenerationConfig(Strict):
    """Natural completions: `samples_per_model` samples from each model."""

    models: list[str] = Field(min_length=1)
    samples_per_model: int = Field(default=4, ge=1)
    temperature: float = Field(default=1.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=256, gt=0)
    system_prompt: str | None = None  # a path under prompts/, or None

    # The judge template a subset's panel uses when its config names none (None: no judges).
    default_judge_template: ClassVar[str | None] = None

    def model_roles(self) -> list[tuple[str, str]]:
        """(role, model name) for every model this subset's config names, for the check that each
        is declared under `models`. Subsets with judges or helper models extend it."""
        roles = [("", name) for name in self.models]
        panel = getattr(self, "judges", None)
        if isinstance(panel, JudgePanel):
            roles += [("judges", name) for name in panel.models]
        return roles

    def template_files(self) -> list[str]:
        """Every file under prompts/ this subset reads (defaults included)."""
        names = [self.system_prompt]
        panel = getattr(self, "judges", None)
        if isinstance(panel, JudgePanel):
            names.append(panel.template or self.default_judge_template)
        return [n for n in names if n]


# Subset config classes by config key, in registration order (the order of the release's subsets).
_SUBSET_CONFIGS: dict[str, type[GenerationConfig]] = {}
PLUGIN_PACKAGE = "pipeline.subsets.registry"


def register_subset_config(key: str, config_class: type[GenerationConfig]) -> None:
    if _SUBSET_CONFIGS.get(key, config_class) is not config_class:
        raise ValueError(f"subset {key!r} is already registered with another config class")
    _SUBSET_CONFIGS[key] = config_class


def subset_config_classes() -> dict[str, type[GenerationConfig]]:
    importlib.import_module(PLUGIN_PACKAGE)
    return dict(_SUBSET_CONFIGS)


def subset_configs(raw: object) -> dict[str, GenerationConfig]:
    """`subsets:` validated entry by entry with each subset's own config class; null entries are
    off. Enabled subsets come back in registration order, whatever the YAML order."""
    if not isinstance(raw, dict):
        raise ValueError("`subsets` must be a mapping of subset name to its config")
    known = subset_config_classes()
    unknown = sorted(k for k in raw if k not in known)
    if unknown:
        raise ValueError(f"unknown subsets {unknown}; known: {', '.join(known)}")
    out: dict[str, GenerationConfig] = {}
    for key, cls in known.items():
        value = raw.get(key)
        if value is None:
            continue
        try:
            out[key] = value if isinstance(value, cls) else cls.model_validate(value)
        except ValidationError as exc:  # name the subset in every error's location
            errors = [{**e, "loc": (key, *e["loc"])} for e in exc.errors()]  # type: ignore[typeddict-item]
            raise ValidationError.from_exception_data(exc.title, errors) from None  # type: ignore[arg-type]
    return out
