"""Each event kind's own row checks, a batch at a time: replay order within the file,
ingest after source, no negative time, the session window, trace ids, symbols, prices
on their grid, positive sizes, uncrossed quotes, exchange codes, and the option kinds'
checks (:mod:`tapesim.verify.options`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tapesim.events.models import (
    EQUITY_PRINT,
    EQUITY_QUOTE,
    OPTION_NBBO,
    OPTION_PRINT,
    EventKind,
)
from tapesim.io.manifest import PARAMETER_SNAPSHOT
from tapesim.io.trace_ids import trace_ids_match
from tapesim.io.writer import negative_times
from tapesim.venues.chains import MPV_CLASSES
from tapesim.verify.consistency import caused_seqs
from tapesim.verify.options import ContractIds, option_nbbo_problems, option_print_problems
from tapesim.verify.problems import Problems, file_batches, schema_ok
from tapesim.verify.stream import ID_COLUMNS, Rows, order_breaks

TOLERANCE = 1e-6


def _check_kind_batch(
    kind: EventKind, t: pa.Table, manifest: dict[str, Any], state: dict[str, Any],
    problems: Problems,
) -> None:
    name = f"{kind.file_stem}.parquet"
    if t.num_rows == 0:
        return
    ts = t.column("ts").to_numpy()
    ingest = t.column("ingest_ts").to_numpy()
    seq = t.column("seq").to_numpy()
    bad, state["last"] = order_breaks(np.stack([ts, ingest, seq]), state.get("last"),
                                       strict=True)
    if bad is not None:
        problems.add(f"{name}: rows out of replay order near seq {int(seq[bad])}")
    if (ingest < t.column("source_ts").to_numpy()).any():
        problems.add(f"{name}: ingest_ts before source_ts")
    negative = negative_times(t)
    if negative:
        problems.add(f"{name}: negative {', '.join(negative)} (before 1970; epoch ms must "
                     "be >= 0)")
    session = manifest["session"]
    if ts.min() < session["start_ts"] or ts.max() > session["end_ts"]:
        problems.add(f"{name}: ts outside the session window")
    if not trace_ids_match(t.column("trace_id"), f"{manifest['run_id']}:{kind.stream}:", seq):
        problems.add(f"{name}: trace_id is not <run_id>:{kind.stream}:<seq>")
    symbols = set(manifest["symbols"])
    if kind is not OPTION_NBBO and not (
            set(t.column("underlying_id").drop_null().unique().to_pylist()) <= symbols):
        problems.add(f"{name}: underlying_id outside the manifest's symbols")
    if kind is OPTION_NBBO:
        for text in option_nbbo_problems(t, state["contracts"], state["faults"]):
            problems.add(text)
    elif kind is OPTION_PRINT:
        venues = frozenset(manifest["venues"].get("options", []))
        for text in option_print_problems(t, state["contracts"], venues):
            problems.add(text)
    elif kind is EQUITY_QUOTE:
        bid, ask = t.column("bid").to_numpy(), t.column("ask").to_numpy()
        _on_grid(name, "bid", bid, problems)
        _on_grid(name, "ask", ask, problems)
        crossed = (bid >= ask).any() and not manifest.get("source")
        if crossed or (bid <= 0).any():
            problems.add(f"{name}: a quote with bid >= ask or bid <= 0 (locked or crossed NBBO)")
    elif kind is EQUITY_PRINT:
        price = t.column("price").to_numpy()
        if not manifest.get("source"):
            _on_grid(name, "price", price, problems)
        if (price <= 0).any():
            problems.add(f"{name}: a print with price <= 0")
        if (t.column("size").to_numpy() <= 0).any():
            problems.add(f"{name}: a print with size <= 0")
        lit, trf = manifest["venues"]["lit"], manifest["venues"]["trf"]
        pairs = t.select(["exchange", "offExchangeFlag"]).group_by(
            ["exchange", "offExchangeFlag"]).aggregate([])
        for code, flag in zip(pairs.column("exchange").to_pylist(),
                              pairs.column("offExchangeFlag").to_pylist(), strict=True):
            if code not in lit + trf or flag != (code in trf):
                problems.add(f"{name}: exchange {code!r} with offExchangeFlag={flag} is not a "
                             "lit venue (flag false) or TRF code (flag true) of this run")


def _on_grid(name: str, column: str, values: np.ndarray, problems: Problems) -> None:
    cents = values * 100.0
    if (np.abs(cents - np.round(cents)) > TOLERANCE).any():
        problems.add(f"{name}: {column} off the $0.01 grid")


def _penny_classes(run_dir: Path) -> dict[str, Any]:
    """The run config's ``options.penny_classes`` (root -> class), empty when the
    snapshot has none or cannot be read (``_check_snapshot`` reports the latter)."""
    try:
        snapshot = json.loads((run_dir / PARAMETER_SNAPSHOT).read_text("utf-8"))
        classes = snapshot.get("options", {}).get("penny_classes", {})
        return {str(root): c for root, c in classes.items() if c in MPV_CLASSES}
    except (OSError, ValueError, AttributeError):
        return {}


def kind_problems(kind: EventKind, run_dir: Path, manifest: dict[str, Any],
                  rows: Rows) -> list[str]:
    """One kind's own checks, batch by batch (:func:`_check_kind_batch`); ``rows`` is
    called with the rows read so far."""
    problems = Problems()
    path = run_dir / f"{kind.file_stem}.parquet"
    if not schema_ok(path, kind.schema, f"schema differs from the {kind.name} contract",
                      problems):
        return list(problems)
    state: dict[str, Any] = {
        "contracts": ContractIds(frozenset(manifest["symbols"]), _penny_classes(run_dir)),
        "faults": caused_seqs(run_dir, OPTION_NBBO) if kind is OPTION_NBBO else None}
    done = 0
    for t in file_batches(path, problems, () if kind is OPTION_PRINT else ID_COLUMNS):
        _check_kind_batch(kind, t, manifest, state, problems)
        done += t.num_rows
        rows(done)
    return list(problems)
