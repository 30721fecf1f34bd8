"""The library's shape, checked on its source: no import cycle anywhere in pipeline/, the core
below everything, no Prefect, and stage code that names no subset."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"
SUBSET_KEYS = ("factuality", "precise_if", "math", "safety", "focus", "ties")


def module_name(path: Path) -> str:
    parts = path.relative_to(PIPELINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PIPELINE.rglob("*.py")}


def imported(path: Path, known: set[str]) -> set[str]:
    """The pipeline modules a file imports anywhere (function bodies included), with the parent
    packages Python runs on the way (except its own, which ran before it)."""
    own = module_name(path).split(".")
    mine = {".".join(own[:i]) for i in range(1, len(own) + 1)}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in known)
    # A package's own modules import siblings through it without running it again; but a module
    # that imports from its own package by name (`from pipeline.lm import ChatRequest`, or a
    # sibling as `from pipeline.lm import cache`) depends on that package's body.
    explicit = {n.module for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom) and n.module}
    return {m for m in found if m not in mine or m in explicit}


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported(path, known) - {name} for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_pipeline() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_core_imports_nothing_above_it() -> None:
    graph = import_graph()
    for name, deps in graph.items():
        if name.startswith("pipeline.core"):
            above = {d for d in deps if d != "pipeline" and not d.startswith("pipeline.core")}
            assert not above, f"{name} imports {sorted(above)}"


@pytest.mark.parametrize("folder", ["core", "lm", "decontam", "label", "subsets", "stages", "evaluate", "release"])
def test_library_has_no_prefect(folder: str) -> None:
    for path in (PIPELINE / folder).rglob("*.py"):
        text = path.read_text()
        assert "import prefect" not in text and "from prefect" not in text, path


def test_stage_code_names_no_subset() -> None:
    """Stages reach subsets through the registry only."""
    for path in (PIPELINE / "stages").rglob("*.py"):
        strings = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}
        named = sorted(k for k in SUBSET_KEYS if k in strings)
        assert not named, f"{path.name} names subsets {named}"


def test_modules_stay_small() -> None:
    long = {module_name(p): n for p in PIPELINE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 300}
    assert not long, long
