"""A scorecard row: one statistic of one symbol, its target band and its status.

Both halves of the scorecard (:mod:`tapesim.calibration.facts` for equities,
:mod:`tapesim.calibration.options_facts` for options) return :class:`FactRow` lists
built by :func:`fact_row`; :func:`facts_table` renders either as a rich table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from rich.table import Table

from tapesim.calibration.targets import Band

__all__ = ["FactRow", "Status", "fact_row", "facts_table"]

Status = Literal["in", "out", "n/a"]


@dataclass(frozen=True)
class FactRow:
    """One statistic of one symbol, its target band and whether it falls inside."""

    symbol: str
    fact: str
    title: str
    value: float | None
    band: str
    status: Status
    note: str = ""


def fact_row(symbol: str, fact: str, value: float | None, bands: dict[str, Band],
             titles: dict[str, str], note: str = "", na: bool = False) -> FactRow:
    """A :class:`FactRow` with its band looked up in ``bands`` and title in ``titles``.

    A NaN or infinite ``value`` becomes None. The status is "n/a" when the value is
    None, the fact has no band ("report only") or ``na`` forces it, noted "not enough
    data" when the value is missing and no ``note`` is given; otherwise "in" or "out"
    of the band.

    Raises:
        KeyError: ``fact`` has no title in ``titles``.
    """
    if value is not None and not math.isfinite(value):
        value = None
    band = bands.get(fact)
    if value is None or band is None or na:
        status: Status = "n/a"
        if value is None and not note:
            note = "not enough data"
    else:
        status = "in" if band.contains(value) else "out"
    text = band.text if band is not None else "report only"
    return FactRow(symbol, fact, titles[fact], value, text, status, note)


_STATUS_STYLE = {"in": "green", "out": "red", "n/a": "dim"}


def facts_table(
    rows: list[FactRow], notes: bool = False, title: str = "Equity stylized facts"
) -> Table:
    """A rich table of fact rows: symbol, fact, value, band, a coloured status and,
    with ``notes``, each row's note."""
    table = Table(title=title)
    for name in ("symbol", "fact", "value", "band", "status", *(("note",) if notes else ())):
        table.add_column(name, justify="right" if name == "value" else "left")
    for r in rows:
        value = "-" if r.value is None else f"{r.value:.4g}"
        style = _STATUS_STYLE[r.status]
        cells = [r.symbol, r.title, value, r.band, f"[{style}]{r.status}[/{style}]"]
        table.add_row(*cells, *((r.note,) if notes else ()))
    return table
