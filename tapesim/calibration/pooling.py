"""Stylized facts (equity and options) pooled over several runs (seeds or days).

One simulated day gives about 390 one-minute returns, so rows such as the ACF at
lags 6-20 or kurtosis at 30 minutes sit at or below their sampling noise. Pooling
reports, per symbol and fact, the median of the per-run values, judged against the
same band, and how many runs fell in band; a fact without a band gets the median only.
The rows ``docs/realism-targets.md`` marks pooled (heavy tails: kurtosis and the Hill
tail index; the return-memory rows judged against their sampling error: ACF at lags
6-20, ACF of absolute returns at lag 30, aggregational Gaussianity) are computed
instead on every run's one-minute returns together, each run a segment of its own.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from tapesim.calibration.facts import heavy_tail_rows, memory_rows
from tapesim.calibration.rows import FactRow
from tapesim.calibration.targets import BANDS


def pooled_facts(runs: list[list[FactRow]],
                 returns: dict[str, list[np.ndarray]] | None = None) -> list[FactRow]:
    """The median of each (symbol, fact) over runs, in the first run's row order; with
    ``returns`` (each symbol's one-minute returns, one array per run, as
    :func:`~tapesim.calibration.facts.equity_facts` collects them) the heavy-tail rows
    and the return-memory rows (:func:`~tapesim.calibration.facts.memory_rows`) come
    from the runs' returns together."""
    pooled: dict[tuple[str, str], FactRow] = {}
    for symbol, arrays in (returns or {}).items():
        together = np.concatenate(arrays) if arrays else np.zeros(0)
        note = f"; pooled over {len(arrays)} runs"
        for row in (*heavy_tail_rows(symbol, together, note), *memory_rows(symbol, arrays, note)):
            pooled[(symbol, row.fact)] = row
    groups: dict[tuple[str, str], list[FactRow]] = {}
    for rows in runs:
        for row in rows:
            groups.setdefault((row.symbol, row.fact), []).append(row)
    out = []
    for (symbol, fact), rows in groups.items():
        if (symbol, fact) in pooled:
            out.append(pooled[(symbol, fact)])
            continue
        judged = [r for r in rows if r.status != "n/a"]
        values = [r.value for r in judged if r.value is not None and math.isfinite(r.value)]
        band = BANDS.get(fact)
        if band is None:  # reported only: the median of the values, never judged
            values = [r.value for r in rows if r.value is not None and math.isfinite(r.value)]
            value = statistics.median(values) if values else None
            out.append(FactRow(symbol, fact, rows[0].title, value, rows[0].band, "n/a",
                               f"median of {len(values)} runs; report only"))
            continue
        if not values:
            out.append(FactRow(symbol, fact, rows[0].title, None, rows[0].band, "n/a",
                               f"no judged value in {len(rows)} runs"))
            continue
        value = statistics.median(values)
        in_band = sum(r.status == "in" for r in judged)
        out.append(FactRow(symbol, fact, rows[0].title, value, rows[0].band,
                           "in" if band.contains(value) else "out",
                           f"median of {len(values)} runs; in band in {in_band}/{len(judged)}"))
    return out
