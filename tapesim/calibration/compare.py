"""A real day beside simulated runs: per symbol and fact, the real value, the pooled
simulated value and the simulated runs' seed-to-seed spread.

The *seed-to-seed spread* of a fact is the interval from the smallest to the largest
of its per-run values over the simulated runs (each run a seed, or a day); the real
value is *inside* when it lies in that interval. With fewer than two simulated values
there is no spread and the row says so. Real values come from the same scorecard
(:func:`~tapesim.calibration.facts.equity_facts`,
:func:`~tapesim.calibration.options_facts.option_facts`), so a fact the real source
cannot support ("n/a: the source has no X") is n/a here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.table import Table

from tapesim.calibration.rows import FactRow, Status

_STYLE = {"in": "green", "out": "red", "n/a": "dim", True: "green", False: "red", None: "dim"}


@dataclass(frozen=True)
class ComparedRow:
    """One fact of one symbol: the real day against the simulated runs.

    ``real`` and ``sim`` are the values (``sim`` pooled over the runs as
    :func:`~tapesim.calibration.pooling.pooled_facts` pools them), ``low`` and ``high``
    the smallest and largest per-run simulated value (None with fewer than two),
    ``real_status`` whether the real value is in the fact's target band, ``inside``
    whether it lies in ``[low, high]`` (None when either is missing).
    """

    symbol: str
    fact: str
    title: str
    real: float | None
    sim: float | None
    low: float | None
    high: float | None
    band: str
    real_status: Status
    inside: bool | None
    note: str = ""


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def seed_spread(values: list[float | None]) -> tuple[float | None, float | None]:
    """The smallest and largest finite value of ``values`` (one per simulated run);
    ``(None, None)`` with fewer than two finite values."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if len(finite) < 2:
        return None, None
    return min(finite), max(finite)


def compare_rows(real: list[FactRow], runs: list[list[FactRow]],
                 pooled: list[FactRow]) -> list[ComparedRow]:
    """The real day's rows beside the simulated runs', in the real rows' order.

    Args:
        real: the real run's fact rows (one run).
        runs: each simulated run's fact rows.
        pooled: the simulated runs pooled (or the one run's rows when there is one).

    Only (symbol, fact) pairs present in both the real rows and the simulated ones are
    returned. A real value that is missing (the source lacks what the fact needs, or
    there is not enough data) is compared with nothing; one the scorecard computes but
    does not score (e.g. the tick spread of a name above $50) is compared as it is.
    """
    per_run: dict[tuple[str, str], list[float | None]] = {}
    for rows in runs:
        for r in rows:
            per_run.setdefault((r.symbol, r.fact), []).append(r.value)
    by_key = {(r.symbol, r.fact): r for r in pooled}
    out = []
    for r in real:
        key = (r.symbol, r.fact)
        if key not in by_key:
            continue
        sim = by_key[key]
        low, high = seed_spread(per_run.get(key, []))
        value = r.value if _finite(r.value) else None
        inside = None
        if value is not None and low is not None and high is not None:
            inside = low <= value <= high
        note = r.note if value is None else sim.note
        out.append(ComparedRow(r.symbol, r.fact, r.title, value, sim.value, low, high, r.band,
                               r.status, inside, note))
    return out


def inside_share(rows: list[ComparedRow]) -> tuple[int, int]:
    """How many rows have the real value inside the seed-to-seed spread, of those where
    it could be judged (a real value and a spread)."""
    judged = [r for r in rows if r.inside is not None]
    return sum(bool(r.inside) for r in judged), len(judged)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def comparison_table(rows: list[ComparedRow], notes: bool = False,
                     title: str = "Real day vs simulated runs") -> Table:
    """A rich table of compared rows: symbol, fact, real, simulated, seed spread, band,
    the real value's band status and whether it lies inside the spread."""
    table = Table(title=title)
    names = ("symbol", "fact", "real", "sim", "seed spread", "band", "real in band",
             "real in spread", *(("note",) if notes else ()))
    for name in names:
        table.add_column(name, justify="right" if name in ("real", "sim") else "left")
    for r in rows:
        spread = "-" if r.low is None else f"{r.low:.4g} .. {r.high:.4g}"
        inside = {True: "yes", False: "no", None: "-"}[r.inside]
        s1, s2 = _STYLE[r.real_status], _STYLE[r.inside]
        table.add_row(r.symbol, r.title, _num(r.real), _num(r.sim), spread, r.band,
                      f"[{s1}]{r.real_status}[/{s1}]", f"[{s2}]{inside}[/{s2}]",
                      *((r.note,) if notes else ()))
    return table
