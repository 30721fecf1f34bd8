"""Where rows come from: raw prompt sources and downstream eval sets, local files or Hub datasets."""

from __future__ import annotations

from pydantic import Field, model_validator

from pipeline.core.evalset_registry import REGISTRY
from pipeline.core.strict import Strict


class DataLocation(Strict):
    """Where rows come from: a local file (`path`) or a Hugging Face dataset (`hub_id`)."""

    path: str | None = None
    hub_id: str | None = None  # a Hub dataset id, or a local dataset folder datasets can load
    hub_config: str | None = None
    split: str = "train"
    revision: str | None = None  # a Hub commit or tag, so a rebuild reads the same rows

    @model_validator(mode="after")
    def _one_location(self) -> "DataLocation":
        if (self.path is None) == (self.hub_id is None):
            raise ValueError("give exactly one of `path` (a local file) and `hub_id` (a Hub dataset)")
        return self

    def describe(self) -> str:
        if self.path is not None:
            return self.path
        return f"hf:{self.hub_id}" + (f"/{self.hub_config}" if self.hub_config else "") + (
            f"[{self.split}]" + (f"@{self.revision}" if self.revision else "")
        )


class SourceConfig(DataLocation):
    """A raw prompt pool; `name` tags every prompt it contributes."""

    name: str
    id_field: str = "id"
    prompt_field: str = "prompt"
    metadata_fields: list[str] = Field(default_factory=list)


class EvalSetConfig(DataLocation):
    """A downstream eval set. In YAML it may also be a registry name (`gsm8k`, read from the Hub)
    or the local form `NAME=PATH[:FIELD]`."""

    name: str
    split: str = "test"
    text_field: str | None = None  # None: the first of text, prompt, question, problem, instruction
    id_field: str | None = None  # None: `id` when present, else the row number

    @model_validator(mode="before")
    @classmethod
    def _from_spec(cls, data: object) -> object:
        return parse_eval_set_spec(data) if isinstance(data, str) else data


def parse_eval_set_spec(spec: str) -> dict[str, object]:
    """`gsm8k` (a registry name) or `NAME=PATH[:FIELD]` (a local file) as EvalSetConfig fields."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep:
        if name not in REGISTRY:
            known = ", ".join(sorted(REGISTRY))
            raise ValueError(f"unknown eval set {name!r}: use NAME=PATH[:FIELD] or one of {known}")
        return {"name": name, **REGISTRY[name]}
    path, field = rest, None
    head, colon, tail = rest.rpartition(":")
    if colon and head and "/" not in tail and "." not in tail:
        path, field = head, tail
    if not name or not path:
        raise ValueError(f"eval set {spec!r}: expected NAME=PATH[:FIELD]")
    return {"name": name, "path": path, "text_field": field}


