"""Ingest streams: with chunks of a few rows, every chunk boundary falls inside a source, and the
decisions, prompts and funnel are still those of the one-pass, all-in-memory reading."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline.core.config import IngestConfig
from pipeline.core.io import DecisionLog
from pipeline.core.records import Prompt
from pipeline.core.spool import ChunkedTable
from pipeline.stages.context import load_prompts_at
from pipeline.stages.ingest import funnel_rows, ingest, ingest_to, source_funnel
from tests.test_hostile_input import sources


def _rows(log: DecisionLog) -> list[tuple[str, ...]]:
    return [(d.stage, d.item_id, d.decision, d.reason, d.evidence, d.run_id) for d in log.rows]


class _Counted(Prompt):
    """A prompt that counts how many of its kind are alive at once (CPython frees them at once)."""

    alive = 0
    most = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _Counted.alive += 1
        _Counted.most = max(_Counted.most, _Counted.alive)

    def __del__(self) -> None:
        _Counted.alive -= 1


def test_chunked_ingest_makes_the_decisions_of_the_whole_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = DecisionLog("ingest", "t")
    kept, read = ingest(sources(), IngestConfig(near_duplicate_threshold=None), Path("."), whole)

    monkeypatch.setattr("pipeline.stages.ingest.Prompt", _Counted)
    log = DecisionLog("ingest", "t", spool=tmp_path / "parts", chunk_rows=4)
    out = tmp_path / "prompts.parquet"
    read_again, tallies = ingest_to(sources(), IngestConfig(near_duplicate_threshold=None), Path("."), log, out,
                                    tmp_path / "scratch", chunk_rows=3)  # fmt: skip
    # Never more than a chunk of prompts as objects at once (the whole pass held all 32).
    assert len(kept) == 32 and 1 <= _Counted.most <= 3 + 1
    # Held in memory at the end: less than one chunk of decisions; the rest went to parquet parts.
    assert len(log.rows) < 4 and len(list((tmp_path / "parts").glob("*.parquet"))) > read // 4 - 1
    log.check_balance(read_again)
    written = pl.read_parquet(log.write(tmp_path / "decisions.parquet"))
    assert read_again == read and [tuple(r) for r in written.iter_rows()] == _rows(whole)  # same rows, same order
    assert load_prompts_at(out) == kept
    assert funnel_rows(sources(), tallies) == source_funnel(sources(), whole)
    assert log.counts() == whole.counts() and log.tally() == whole.tally()


def test_a_spooled_log_joins_its_sections_in_order_and_checks_balance(tmp_path: Path) -> None:
    log = DecisionLog("s", "r", spool=tmp_path, chunk_rows=2)
    first, second = log.sibling(), log.sibling()
    for n in range(5):
        first.kept(f"a{n}", n=n)
    second.dropped("b0", "why")
    log.kept("z")
    log.extend(first)
    log.extend(second)
    assert not first.rows and not second.rows
    ids = pl.read_parquet(log.write(tmp_path / "out.parquet"))["item_id"].to_list()
    assert ids == ["z", "a0", "a1", "a2", "a3", "a4", "b0"]
    assert log.tally() == {"kept": 6, "dropped": 1} and log.counts() == {"kept:passed": 6, "dropped:why": 1}
    log.check_balance(7)
    log.kept("a1")
    with pytest.raises(AssertionError, match="repeated ids: \\['a1'\\]"):
        log.check_balance(8)


def test_a_chunked_table_reads_back_in_order(tmp_path: Path) -> None:
    table: ChunkedTable[int] = ChunkedTable(tmp_path, lambda rows: pl.DataFrame({"n": rows}, schema={"n": pl.Int64}), 3)
    assert table.scan().collect().height == 0
    for n in range(8):
        table.add(n)
    assert table.scan().collect()["n"].to_list() == list(range(8))
    assert [c.height for c in table.chunks(["n"])] == [3, 3, 2]
    table.discard()
    assert not list(tmp_path.glob("*.parquet"))
