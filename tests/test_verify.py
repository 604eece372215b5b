"""`verify` passes a sound run and names what is wrong with a damaged one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tapesim.io.manifest import artifact_entry, canonical_json
from tapesim.io.verify import verify_run


@pytest.fixture
def copy(tiny_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst


def test_sound_run_verifies(tiny_run: Path) -> None:
    assert verify_run(tiny_run) == []


def test_flipped_byte(copy: Path) -> None:
    path = copy / "equity_prints.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    problems = verify_run(copy)
    assert any("equity_prints.parquet" in p and "sha256" in p for p in problems)


def test_missing_file(copy: Path) -> None:
    (copy / "provenance.parquet").unlink()
    assert any("provenance.parquet is missing" in p for p in verify_run(copy))


def test_truncated_file(copy: Path) -> None:
    path = copy / "equity_quotes.parquet"
    path.write_bytes(path.read_bytes()[:-100])
    assert any("equity_quotes.parquet" in p and "truncated" in p for p in verify_run(copy))


def test_missing_manifest(copy: Path) -> None:
    (copy / "manifest.json").unlink()
    assert any("manifest.json" in p for p in verify_run(copy))


def _rewrite_with_fixed_hash(run: Path, name: str, table) -> None:
    pq.write_table(table, run / name, compression="zstd")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["artifacts"][name] = artifact_entry(run / name, table.num_rows)
    (run / "manifest.json").write_text(canonical_json(manifest))


def test_rows_out_of_order_even_with_matching_hashes(copy: Path) -> None:
    table = pq.read_table(copy / "equity_quotes.parquet")
    n = table.num_rows
    order = list(range(n))
    order[1], order[n - 2] = order[n - 2], order[1]
    _rewrite_with_fixed_hash(copy, "equity_quotes.parquet", table.take(order))
    problems = verify_run(copy)
    assert any("out of replay order" in p for p in problems)


def test_crossed_quote_is_caught(copy: Path) -> None:
    table = pq.read_table(copy / "equity_quotes.parquet")
    bid = table.column("bid").to_pylist()
    ask = table.column("ask").to_pylist()
    bid[3] = ask[3] + 0.01
    index = table.schema.get_field_index("bid")
    table = table.set_column(index, table.schema.field(index), pa.array(bid))
    _rewrite_with_fixed_hash(copy, "equity_quotes.parquet", table)
    problems = verify_run(copy)
    assert any("crossed" in p for p in problems)
    assert any("digest" in p for p in problems)


def test_schema_change_is_caught(copy: Path) -> None:
    table = pq.read_table(copy / "equity_prints.parquet").drop_columns(["exchange"])
    _rewrite_with_fixed_hash(copy, "equity_prints.parquet", table)
    assert any("schema differs" in p for p in verify_run(copy))


def test_parquet_bytes_do_not_depend_on_windowing(tiny_run: Path, tmp_path: Path) -> None:
    """The same rows written in one piece or in ragged pieces give the same file."""
    from tapesim.io.writer import ROW_GROUP, _GroupedParquet

    table = pq.read_table(tiny_run / "equity_quotes.parquet")
    table = pa.concat_tables([table] * (2 * ROW_GROUP // table.num_rows + 1))
    whole = _GroupedParquet(tmp_path / "whole.parquet", table.schema)
    whole.write(table)
    whole.close()
    ragged = _GroupedParquet(tmp_path / "ragged.parquet", table.schema)
    start, step = 0, 1
    while start < table.num_rows:
        ragged.write(table.slice(start, step))
        start += step
        step = step * 3 % 9973 + 1
    ragged.close()
    assert (tmp_path / "whole.parquet").read_bytes() == (tmp_path / "ragged.parquet").read_bytes()
