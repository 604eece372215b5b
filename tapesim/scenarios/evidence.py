"""Evidence features of a label, computed from the events it references.

The same function serves the label writer (which records the values) and
``verify`` (which recomputes them from the run directory and checks every label's
required and forbidden evidence against them), so a label can never claim what
its own events contradict. Features follow the pipeline's vocabulary where it has
a name for them (CONTRACT.md §4) and are defined here:

  total_premium              sum of option-print notional (dollars)
  candidate_count            number of option prints
  nbbo_aggression_ratio_max  per contract, the premium share printed on the
                             aggressive side (A/AA buying, B/BB selling, either
                             for two-sided scenarios); the largest over contracts
  nbbo_coverage_ratio_mean   share of prints placed against a usable NBBO (not
                             MISSING or STALE)
  nbbo_stale_ratio_mean      share of prints placed STALE
  option_spread_bps_max      widest NBBO in force at a print, spread / mid in bps
  crossed_quote_ratio        share of prints whose NBBO in force was locked or crossed
  correction_ratio           share of prints that are LATE, CANCEL or CORRECTION reports
  sell_ratio                 premium share printed at B/BB
  sweep_ratio, complex_ratio share of prints with SWEEP/ISO, with COMPLEX/SPREAD
  opening_ratio              share of prints that opened the aggressor's position
  zero_dte_ratio             share of prints in a contract expiring that day
  days_to_event              N of an EVENT_<N>D condition, if any print has one
  net_directional_bias       premium-weighted sign: calls bought or puts sold +1,
                             puts bought or calls sold -1, mid prints 0
  underlying_move_bps        underlying mid move from the anchor's quote in force
                             to the last quote at or before the last caused event
  confirming_move_bps        that move signed by net_directional_bias
  option_type                "call", "put" or "mixed"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapesim.events.contracts import parse_contract_id
from tapesim.events.labels import EvidenceRequirement

AGGRESSIVE_BUY = ("A", "AA")
AGGRESSIVE_SELL = ("B", "BB")


def _share(weights: np.ndarray, mask: np.ndarray) -> float:
    total = float(weights.sum())
    return float(weights[mask].sum() / total) if total > 0 else 0.0


def features(prints: list[dict[str, Any]], effects: list[str | None], side: str,
             session_date: dt.date, anchor_mid: float | None,
             end_mid: float | None) -> dict[str, Any]:
    """Evidence features of a label's option prints (``prints`` in seq order, the
    canonical OptionPrint fields; ``effects`` the aggressor's position effect of each).

    ``side`` is the label's side: ``buy``, ``sell`` or ``both``.
    """
    out: dict[str, Any] = {"candidate_count": len(prints)}
    if not prints:
        out["total_premium"] = 0.0
        return out
    notional = np.array([p["notional"] for p in prints], dtype=float)
    sides = np.array([p.get("nbbo_side") or "MISSING" for p in prints], dtype=object)
    conditions = [set(p.get("conditions") or []) for p in prints]
    contracts = [p["option_contract_id"] for p in prints]
    parsed = {c: parse_contract_id(c) for c in set(contracts)}
    calls = np.array([parsed[c].right == "C" for c in contracts])
    buy_aggr = np.isin(sides, AGGRESSIVE_BUY)
    sell_aggr = np.isin(sides, AGGRESSIVE_SELL)
    aggressive = {"buy": buy_aggr, "sell": sell_aggr}.get(side, buy_aggr | sell_aggr)
    out["total_premium"] = round(float(notional.sum()), 2)
    out["nbbo_aggression_ratio_max"] = round(max(
        _share(notional[idx], aggressive[idx])
        for idx in (np.array([c == k for c in contracts]) for k in parsed)), 6)
    usable = ~np.isin(sides, ("MISSING", "STALE"))
    out["nbbo_coverage_ratio_mean"] = round(float(usable.mean()), 6)
    out["nbbo_stale_ratio_mean"] = round(float((sides == "STALE").mean()), 6)
    spreads = [p["execution_nbbo_spread"] / p["execution_nbbo_mid"] * 1e4 for p in prints
               if p.get("execution_nbbo_mid")]
    out["crossed_quote_ratio"] = round(float(np.mean([
        p.get("execution_nbbo_bid") is not None
        and p["execution_nbbo_bid"] >= p["execution_nbbo_ask"] for p in prints])), 6)
    if spreads:
        out["option_spread_bps_max"] = round(max(spreads), 2)
    out["sell_ratio"] = round(_share(notional, sell_aggr), 6)
    out["correction_ratio"] = round(float(np.mean([
        bool(c & {"LATE", "CANCEL", "CORRECTION"}) for c in conditions])), 6)
    out["sweep_ratio"] = round(float(np.mean([bool(c & {"SWEEP", "ISO"}) for c in conditions])),
                               6)
    out["complex_ratio"] = round(float(np.mean([bool(c & {"COMPLEX", "SPREAD"})
                                                for c in conditions])), 6)
    out["opening_ratio"] = round(float(np.mean([e == "opening" for e in effects])), 6)
    out["zero_dte_ratio"] = round(float(np.mean([parsed[c].expiry == session_date
                                                 for c in contracts])), 6)
    events = sorted({int(x[6:-1]) for c in conditions for x in c
                     if x.startswith("EVENT_") and x.endswith("D")})
    if events:
        out["days_to_event"] = events[0]
    sign = np.where(buy_aggr, 1.0, np.where(sell_aggr, -1.0, 0.0)) * np.where(calls, 1.0, -1.0)
    bias = float((sign * notional).sum() / notional.sum()) if notional.sum() > 0 else 0.0
    out["net_directional_bias"] = round(bias, 6)
    if anchor_mid and end_mid:
        move = (end_mid - anchor_mid) / anchor_mid * 1e4
        out["underlying_move_bps"] = round(move, 3)
        out["confirming_move_bps"] = round(move * (1.0 if bias >= 0 else -1.0), 3)
    out["option_type"] = "call" if calls.all() else "put" if not calls.any() else "mixed"
    return out


def holds(requirement: EvidenceRequirement, values: dict[str, Any]) -> bool:
    """Whether one evidence statement is true of the feature values (``values`` as
    :func:`features` gives them; a missing feature is neither >= nor <= anything)."""
    key, op, want = requirement.feature_key, requirement.operator, requirement.value
    have = values.get(key)
    if op == "present":
        return have is not None
    if op == "absent":
        return have is None
    if have is None:
        return False
    if op == "gte":
        return bool(have >= want)
    if op == "lte":
        return bool(have <= want)
    return bool(have == want)


def contradictions(required: Sequence[EvidenceRequirement],
                   forbidden: Sequence[EvidenceRequirement],
                   values: dict[str, Any]) -> list[str]:
    """Requirement ids the values contradict: required ones that fail, forbidden ones
    that hold, in that order. Requirements on facts that are not features of events (the
    classifier's own output, e.g. ``synthetic_ground_truth``) are not checked here."""
    bad = [r.requirement_id for r in required
           if r.feature_key in FEATURE_KEYS and not holds(r, values)]
    bad += [r.requirement_id for r in forbidden
            if r.feature_key in FEATURE_KEYS and holds(r, values)]
    return bad


FEATURE_KEYS = frozenset({
    "total_premium", "candidate_count", "nbbo_aggression_ratio_max",
    "nbbo_coverage_ratio_mean", "nbbo_stale_ratio_mean", "option_spread_bps_max",
    "crossed_quote_ratio", "correction_ratio",
    "sell_ratio", "sweep_ratio", "complex_ratio", "opening_ratio", "zero_dte_ratio",
    "days_to_event", "net_directional_bias", "underlying_move_bps", "confirming_move_bps",
    "option_type"})
