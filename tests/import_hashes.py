"""The safety net of importer refactors that must change no output byte.

Small tapes the tests write themselves in each format (a LOBSTER pair, DBN mbp-1 raw
and zstd, tbbo, trades with a symbol filter, a mapped CSV), each imported through the
command line, and the sha256 of every file of each run directory. The LOBSTER pair is
imported twice more, with the run writer's row groups cut to 64 rows, so the golden
bytes also cover Parquet files of many row groups. ``tests/test_import_hashes.py``
reimports them and compares.

Record anew (only when a change is meant to alter an import's output, and say so in
the commit):

    .venv/bin/python -m tests.import_hashes
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata as md
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import tapesim.io.writer
from tapesim.cli.main import app
from tapesim.runs import library_versions
from tests import test_import_csv, test_import_dbn
from tests.import_files import lobster_pair

GOLDEN = Path(__file__).parent / "golden" / "import_hashes.json"
SMALL_ROW_GROUP = 64  # rows per Parquet row group in the "-row-groups" runs


def versions() -> dict[str, str]:
    """The library versions an import's bytes may depend on: the run's own, plus the
    readers of the source formats (which also write the DBN test files)."""
    return {**library_versions(), "polars": md.version("polars"),
            "databento-dbn": md.version("databento-dbn")}


def _lobster(folder: Path) -> list[str]:
    day = dt.date(2012, 6, 21)
    pair = lobster_pair(folder, day)
    return ["lobster", str(pair.message), str(pair.orderbook), "--date", day.isoformat(),
            "--symbol", "AMZN"]


def _dbn(schema_name: str, zstd: bool = False, *extra: str) -> Callable[[Path], list[str]]:
    def files(folder: Path) -> list[str]:
        t = test_import_dbn  # its encoder (the dbn extra, which the test extras hold)
        schema = {"mbp-1": t.dbn.Schema.MBP_1, "tbbo": t.dbn.Schema.TBBO,
                  "trades": t.dbn.Schema.TRADES}[schema_name]
        name = f"day.{schema_name}.dbn" + (".zst" if zstd else "")
        path = t._write(folder / name, schema, t._records(), zstd)
        return ["dbn", str(path), "--date", t.DAY.isoformat(), *extra]
    return files


def _csv(folder: Path) -> list[str]:
    t = test_import_csv
    data, column_map = t._write(folder, t._rows())
    return ["csv", str(data), "--map", str(column_map), "--date", t.DAY.isoformat()]


# name -> (writes the source files into a folder and returns the import arguments,
#          rows per Parquet row group or None for the writer's own)
RUNS: dict[str, tuple[Callable[[Path], list[str]], int | None]] = {
    "lobster": (_lobster, None),
    "lobster-row-groups": (_lobster, SMALL_ROW_GROUP),
    "dbn-mbp-1": (_dbn("mbp-1"), None),
    "dbn-mbp-1-zstd": (_dbn("mbp-1", True), None),
    "dbn-mbp-1-row-groups": (_dbn("mbp-1"), SMALL_ROW_GROUP),
    "dbn-tbbo": (_dbn("tbbo"), None),
    "dbn-trades-aapl": (_dbn("trades", False, "--symbol", "aapl"), None),
    "csv": (_csv, None),
}


def run_hashes(name: str, folder: Path) -> dict[str, str]:
    """Write one of ``RUNS``' source files into ``folder``, import them into
    ``folder / "run"`` and return ``{file name: sha256 hex}`` of the run directory.

    Raises:
        AssertionError: the import did not exit 0 (its output is the message).
    """
    make, row_group = RUNS[name]
    folder.mkdir(parents=True, exist_ok=True)
    args = ["import", *make(folder), "--out", str(folder / "run")]
    saved = tapesim.io.writer.ROW_GROUP
    tapesim.io.writer.ROW_GROUP = row_group or saved
    try:
        result = CliRunner().invoke(app, args)
    finally:
        tapesim.io.writer.ROW_GROUP = saved
    assert result.exit_code == 0, result.output
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((folder / "run").iterdir())}


def stream_digest(run: Path) -> dict[str, Any]:
    """A run directory's event-stream digest and counts, as its manifest states them."""
    manifest = json.loads((run / "manifest.json").read_text())
    return {"counts": manifest["counts"], "sha256": manifest["event_stream"]["sha256"]}


def record(scratch: Path) -> dict[str, Any]:
    """Every import's file hashes and stream digest, with the library versions used."""
    runs = {name: run_hashes(name, scratch / name) for name in RUNS}
    return {"libraries": versions(), "runs": runs,
            "streams": {name: stream_digest(scratch / name / "run") for name in RUNS}}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = record(Path(tmp))
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
