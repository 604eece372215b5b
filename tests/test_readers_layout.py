"""The readers' layout of a run directory's Parquet files (``docs/DATA.md``): what a
filtered reader relies on is written into every row group."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tapesim.events.models import KINDS
from tapesim.io.writer import BLOOM_FILTERS, REPLAY_ORDER, UNIQUE_COLUMNS

#: Id columns a reader filters on: dictionary-encoded, so one contract or stock is a
#: small integer per row and a dictionary lookup per group.
ID_COLUMNS = ("underlying_id", "option_contract_id")


@pytest.mark.parametrize("stem", [kind.file_stem for kind in KINDS])
def test_event_files_carry_the_readers_layout(tiny_options_run: Path, stem: str) -> None:
    meta = pq.ParquetFile(tiny_options_run / f"{stem}.parquet").metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    assert meta.num_rows > 0 and meta.num_row_groups >= 1
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        assert [names[s.column_index] for s in group.sorting_columns] == list(REPLAY_ORDER)
        assert all(not s.descending for s in group.sorting_columns)
        for i, name in enumerate(names):
            chunk = group.column(i)
            assert chunk.is_stats_set and chunk.statistics.has_min_max, name
            assert chunk.has_column_index and chunk.has_offset_index, name
            if name in UNIQUE_COLUMNS:
                assert not chunk.has_dictionary_page, name
                assert UNIQUE_COLUMNS[name] in chunk.encodings, (name, chunk.encodings)
            if name in ID_COLUMNS:
                assert chunk.has_dictionary_page, name
                assert "RLE_DICTIONARY" in chunk.encodings, (name, chunk.encodings)
            assert (chunk.bloom_filter_offset is not None) == (name in BLOOM_FILTERS), name


def test_the_unique_columns_read_back_whole(tiny_options_run: Path) -> None:
    """Delta-packed ``seq`` and plain ``trace_id`` read back as written: ``seq`` counts
    1..n across the four files, and each trace id ends in its row's seq."""
    seqs: list[int] = []
    for kind in KINDS:
        table = pq.read_table(tiny_options_run / f"{kind.file_stem}.parquet",
                              columns=["seq", "trace_id"])
        seq = table.column("seq").to_pylist()
        assert seq == sorted(seq)
        assert [t.rsplit(":", 2)[1:] for t in table.column("trace_id").to_pylist()] == [
            [kind.stream, str(s)] for s in seq]
        seqs += seq
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
