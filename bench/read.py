"""Filtered reads of a run directory's Parquet files by pyarrow, polars and DuckDB.

    python bench/read.py RUN_DIR [--file option_nbbo] [--repeat 3]

A reader of a run rarely wants all of it: one minute, or one contract. The files'
layout (``docs/DATA.md``, "Readers' layout") is made so that such a read touches a
fraction of the file: row groups of 131,072 rows in replay order with min/max
statistics (a minute's rows lie in one or two groups) and a Bloom filter per group
on ``option_contract_id`` (a contract absent from a group is skipped by a reader
that consults them, as DuckDB does).

For the file (default ``option_nbbo``) and each query - the whole file, one minute
at the middle of the file's span, and three contracts chosen by how often they
appear (the most, the median and the least frequent) - it prints one JSON line with:

  query            whole / minute / contract-most / contract-median / contract-least
  rows             rows the query selects
  groups, touched  row groups in the file, and those a reader must decode: for the
                   minute, groups whose ts statistics overlap it; for a contract,
                   groups whose Bloom filter does not exclude it (DuckDB's
                   ``parquet_bloom_probe``)
  <reader>_s       median wall seconds of the query by each reader installed
                   (pyarrow.dataset with a filter expression, polars.scan_parquet
                   with a filter, DuckDB SQL), each over ``--repeat`` runs, after one
                   warm-up read

The wall times depend on the machine and the page cache; the touched fractions do
not. polars and DuckDB come with the ``dev`` extra; a reader that is not installed
is left out. Exit codes: 0 ok, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ONE_MINUTE_MS = 60_000


def minute_bounds(path: Path) -> tuple[int, int]:
    """The epoch-ms bounds of the whole minute at the middle of the file's ``ts`` span
    (about 12:45 on a full day)."""
    ts = pq.read_table(path, columns=["ts"]).column("ts")
    middle = (pc.min(ts).as_py() + pc.max(ts).as_py()) // 2
    low = middle // ONE_MINUTE_MS * ONE_MINUTE_MS
    return low, low + ONE_MINUTE_MS


def groups_overlapping(path: Path, low: int, high: int) -> int:
    """Row groups whose ``ts`` min/max overlap ``[low, high)``."""
    meta = pq.ParquetFile(path).metadata
    index = meta.schema.names.index("ts")
    touched = 0
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        touched += stats is None or (stats.min < high and stats.max >= low)
    return touched


def timed(read: Callable[[], Any], repeat: int) -> float:
    """Median wall seconds of ``read()`` over ``repeat`` runs after one warm-up."""
    read()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def readers(path: Path, where: dict[str, Any]) -> dict[str, Callable[[], int]]:
    """One callable per installed reader returning the selected row count. ``where``:
    ``{}`` (all rows), ``{"ts": (low, high)}`` or ``{"option_contract_id": id}``."""
    column, value = next(iter(where.items()), (None, None))
    out: dict[str, Callable[[], int]] = {}
    if column is None:
        expression = None
    elif column == "ts":
        expression = (ds.field("ts") >= value[0]) & (ds.field("ts") < value[1])
    else:
        expression = ds.field(column) == value
    dataset = ds.dataset(path, format="parquet")
    out["pyarrow"] = lambda: dataset.to_table(filter=expression).num_rows
    if importlib.util.find_spec("polars"):
        import polars as pl  # optional reader

        def polars_read() -> int:
            frame = pl.scan_parquet(path)
            if column == "ts":
                frame = frame.filter((pl.col("ts") >= value[0]) & (pl.col("ts") < value[1]))
            elif column is not None:
                frame = frame.filter(pl.col(column) == value)
            return frame.collect().height
        out["polars"] = polars_read
    if importlib.util.find_spec("duckdb"):
        import duckdb  # optional reader

        def duckdb_read() -> int:
            sql = f"SELECT * FROM read_parquet('{path}')"
            if column == "ts":
                sql += f" WHERE ts >= {int(value[0])} AND ts < {int(value[1])}"
            elif column is not None:
                sql += f" WHERE {column} = '{value}'"  # a contract id: [A-Z0-9.-] only
            return duckdb.sql(sql).to_arrow_table().num_rows
        out["duckdb"] = duckdb_read
    return out


def contracts_by_frequency(path: Path) -> dict[str, str]:
    """The most, median and least frequent ``option_contract_id`` of the file."""
    counts = pq.read_table(path, columns=["option_contract_id"]).column(
        "option_contract_id").value_counts().to_pylist()
    ranked = sorted(counts, key=lambda c: (-c["counts"], c["values"]))
    return {"contract-most": ranked[0]["values"],
            "contract-median": ranked[len(ranked) // 2]["values"],
            "contract-least": ranked[-1]["values"]}


def bloom_touched(path: Path, contract: str) -> int | None:
    """Row groups whose Bloom filter does not exclude ``contract`` (None without
    DuckDB)."""
    if not importlib.util.find_spec("duckdb"):
        return None
    import duckdb  # optional reader

    with duckdb.connect() as con:
        return con.execute(
            "SELECT count(*) FROM parquet_bloom_probe(?, 'option_contract_id', ?) "
            "WHERE NOT bloom_filter_excludes", [str(path), contract]).fetchall()[0][0]


def main(argv: list[str] | None = None) -> int:
    """Print the figures of the module docstring, one JSON line per query."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--file", default="option_nbbo")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    path = args.run / f"{args.file}.parquet"
    if not path.is_file() or args.repeat < 1:
        print(f"bench/read.py: {path} is not a file (or --repeat < 1): pass a run "
              "directory and one of its event files", file=sys.stderr)
        return 2
    groups = pq.ParquetFile(path).metadata.num_row_groups
    low, high = minute_bounds(path)
    queries: dict[str, tuple[dict[str, Any], int | None]] = {
        "whole": ({}, groups), "minute": ({"ts": (low, high)},
                                          groups_overlapping(path, low, high))}
    if "option_contract_id" in pq.read_schema(path).names:
        for name, contract in contracts_by_frequency(path).items():
            queries[name] = ({"option_contract_id": contract}, bloom_touched(path, contract))
    for name, (where, touched) in queries.items():
        figures: dict[str, Any] = {"file": args.file, "query": name, "where": where,
                                   "groups": groups, "touched": touched}
        for reader, read in readers(path, where).items():
            figures["rows"] = read()
            figures[f"{reader}_s"] = round(timed(read, args.repeat), 4)
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
