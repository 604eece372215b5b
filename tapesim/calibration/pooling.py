"""Stylized facts (equity and options) pooled over several runs (seeds or days).

One simulated day gives about 390 one-minute returns, so rows such as the ACF at
lags 6-20 or kurtosis at 30 minutes sit at or below their sampling noise. Pooling
reports, per symbol and fact, the median of the per-run values, judged against the
same band, and how many runs fell in band; a fact without a band gets the median only.
"""

from __future__ import annotations

import math
import statistics

from tapesim.calibration.facts import FactRow
from tapesim.calibration.targets import BANDS


def pooled_facts(runs: list[list[FactRow]]) -> list[FactRow]:
    """The median of each (symbol, fact) over runs, in the first run's row order."""
    groups: dict[tuple[str, str], list[FactRow]] = {}
    for rows in runs:
        for row in rows:
            groups.setdefault((row.symbol, row.fact), []).append(row)
    out = []
    for (symbol, fact), rows in groups.items():
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
