"""The contract's enrichment rules for option prints, as pure vectorised functions.

``nbbo_side`` places a print against the NBBO in force (AA, A, MID, B, BB,
MISSING, STALE); ``signal_filter`` decides ``signal_pass`` and the reasons, per
mode (smart-flow, balanced, all). Both take numpy arrays so a whole batch of
prints is enriched at once, and both follow CONTRACT.md to the letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

SIDES = ("AA", "A", "MID", "B", "BB", "MISSING", "STALE")
MAX_QUOTE_AGE_MS = 1500
ETF_ROOTS = frozenset({"SPY", "QQQ", "IWM", "DIA", "TLT", "GLD", "SLV", "SMH", "ARKK"})

SignalMode = Literal["smart-flow", "balanced", "all"]

#: Trade conditions an option print may carry, in the order they are listed. A print
#: may also carry ``EVENT_<N>D`` (an event N days out), listed last. LATE marks a trade
#: reported after the fact; CANCEL and CORRECTION report on an earlier print, which
#: provenance names (``references_trace_id``).
CONDITIONS = ("FILL", "SWEEP", "ISO", "COMPLEX", "SPREAD", "OPENING", "CLOSING", "AUCTION",
              "CROSS", "LATE", "CANCEL", "CORRECTION")
CONDITION_BIT = {name: 1 << i for i, name in enumerate(CONDITIONS)}
SWEEP_OR_ISO = CONDITION_BIT["SWEEP"] | CONDITION_BIT["ISO"]
EVENT_SHIFT = 16  # bits 16.. of a condition mask hold N + 1 of EVENT_<N>D, 0 for none
EVENT_CONDITION = re.compile(r"^EVENT_(\d+)D$")


def event_condition(days: int) -> int:
    """The mask bits of ``EVENT_<days>D``."""
    return (days + 1) << EVENT_SHIFT


def condition_lists(masks: np.ndarray) -> list[list[str]]:
    """The condition names of each print's mask, in :data:`CONDITIONS` order.

    ``masks`` is an integer array (bit i for ``CONDITIONS[i]``, bits 16 and up for
    ``EVENT_<N>D``); the event condition comes last. Returns one list per print.
    """
    table: dict[int, list[str]] = {}
    out = []
    for m in np.asarray(masks).tolist():
        if m not in table:
            names = [name for name, bit in CONDITION_BIT.items() if m & bit]
            if m >> EVENT_SHIFT:
                names.append(f"EVENT_{(m >> EVENT_SHIFT) - 1}D")
            table[m] = names
        out.append(table[m])
    return out


def is_etf(root: str) -> bool:
    """Whether ``root`` is on the contract's ETF list (CONTRACT.md §1, ``is_etf``): the
    named funds and every XL* sector fund."""
    return root in ETF_ROOTS or root.startswith("XL")


def nbbo_side(price, bid, ask, print_ts, quote_ts, max_age_ms: int = MAX_QUOTE_AGE_MS):
    """Placement of each print against its NBBO, as an array of side strings.

    No quote (NaN), non-finite values or ask <= 0 -> MISSING; quote older or newer
    than ``max_age_ms`` -> STALE; else with eps = max(0.01, 0.05 * spread):
    price > ask + eps -> AA; >= ask - eps -> A; < bid - eps -> BB; <= bid + eps -> B;
    otherwise MID. CONTRACT.md §1, *Placement rule*.

    Arrays broadcast together: ``price``, ``bid`` and ``ask`` in dollars (NaN where
    there was no quote), ``print_ts`` and ``quote_ts`` in epoch ms. Returns an object
    array of side strings.
    """
    price, bid, ask = (np.asarray(x, dtype=float) for x in (price, bid, ask))
    print_ts, quote_ts = np.asarray(print_ts, dtype=float), np.asarray(quote_ts, dtype=float)
    with np.errstate(invalid="ignore"):
        missing = ~(np.isfinite(bid) & np.isfinite(ask) & np.isfinite(price)) | ~(ask > 0)
        stale = ~missing & (np.abs(print_ts - quote_ts) > max_age_ms)
        eps = np.maximum(0.01, 0.05 * (ask - bid))
        side = np.select(
            [missing, stale, price > ask + eps, price >= ask - eps, price < bid - eps,
             price <= bid + eps],
            ["MISSING", "STALE", "AA", "A", "BB", "B"],
            default="MID",
        )
    return side.astype(object)


@dataclass(frozen=True)
class SignalThresholds:
    """Notional thresholds of one signal-filter mode, in dollars."""

    minimum: float
    etf_minimum: float
    bid_side_minimum: float
    mid_minimum: float
    missing_minimum: float
    sweep_minimum: float
    auto_large: float
    large_size: int = 500
    large_minimum: float = 10_000.0


THRESHOLDS: dict[str, SignalThresholds] = {
    "smart-flow": SignalThresholds(10_000, 50_000, 25_000, 20_000, 50_000, 25_000, 100_000),
    "balanced": SignalThresholds(5_000, 25_000, 15_000, 12_500, 25_000, 15_000, 75_000),
}


def signal_filter(
    notional, size, side, etf, sweep_or_iso, mode: SignalMode = "smart-flow"
) -> tuple[np.ndarray, list[list[str]]]:
    """(signal_pass, signal_reasons) per print.

    Rejection rules first (minimum notional, ETF minimum, bid-side, mid without
    sweep/ISO, missing/stale); then a print passes only with a reason: ``auto-large``
    (notional at or above the auto threshold), ``ask-side`` (A/AA), ``sweep``
    (SWEEP/ISO with enough notional) or ``large-print`` (size and notional); no reason
    -> rejected as ``no-signal-rule``. Mode ``all`` passes everything.
    CONTRACT.md §1, *Signal filter*.

    Parallel arrays, one entry per print: ``notional`` dollars, ``size`` contracts,
    ``side`` the :func:`nbbo_side` strings, ``etf`` and ``sweep_or_iso`` bools.
    A print rejected by a rejection rule gets an empty reason list. Raises
    ``ValueError`` for an unknown ``mode``.
    """
    notional = np.asarray(notional, dtype=float)
    n = notional.size
    if mode == "all":
        return np.ones(n, dtype=bool), [["all"] for _ in range(n)]
    if mode not in THRESHOLDS:
        raise ValueError(f"signal mode {mode!r} must be one of smart-flow, balanced, all")
    th = THRESHOLDS[mode]
    size = np.asarray(size)
    side = np.asarray(side, dtype=object)
    etf = np.asarray(etf, dtype=bool)
    sweep = np.asarray(sweep_or_iso, dtype=bool)
    bid_side = (side == "B") | (side == "BB")
    ask_side = (side == "A") | (side == "AA")
    unplaced = (side == "MISSING") | (side == "STALE")
    rejected = (
        (notional < th.minimum)
        | (etf & (notional < th.etf_minimum))
        | (bid_side & (notional < th.bid_side_minimum))
        | ((side == "MID") & (notional < th.mid_minimum) & ~sweep)
        | (unplaced & (notional < th.missing_minimum))
    )
    reasons_by_rule = (
        ("auto-large", notional >= th.auto_large),
        ("ask-side", ask_side),
        ("sweep", sweep & (notional >= th.sweep_minimum)),
        ("large-print", (size >= th.large_size) & (notional >= th.large_minimum)),
    )
    passed = np.zeros(n, dtype=bool)
    reasons: list[list[str]] = []
    for i in range(n):
        if rejected[i]:
            reasons.append([])
            continue
        found = [name for name, hit in reasons_by_rule if hit[i]]
        passed[i] = bool(found)
        reasons.append(found or ["no-signal-rule"])
    return passed, reasons
