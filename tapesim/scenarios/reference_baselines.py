"""The reference classifier's clusters and the baselines that judge them.

The classifier (:mod:`tapesim.scenarios.reference`) gathers an underlying's option
prints into one-minute :class:`Cluster` s and takes each cluster's *focus*: the prints
of the expiry that drew the most premium that minute (:func:`focus`; a position,
single leg or structure, is built in one expiry, while background flow spreads over
the chain). Over the focus it computes the contract's features
(:func:`tapesim.scenarios.evidence.features`), then :class:`Baselines` add their view:
premium z-score against the underlying's past clusters, the premium against the
underlying's typical minute, the largest per-contract volume ratio, the minutes in
which the lead contract was taken the same way, the underlying's move over the last
five minutes, the largest crowd of small tickets in one contract against that
contract's own pace, and, from the whole minute's tape
(:mod:`tapesim.scenarios.reference_flow`), the contract bought furthest above its own
pace and the expiry most sold at the bid over the last minutes. :func:`wide_share` is
the premium share printed against a very wide quote.

Baselines are held in memory per underlying and per contract and start empty for each
cell; those a rule needs early (the typical minute, a contract's pace) are usable
after the underlying's first :data:`COLD_START` minutes, learnt from the run's own
tape rather than from a prior that would not fit every underlying. Thresholds are
module constants, in dollars, bps and ratios in [0, 1]; the rules that read them are
in :mod:`tapesim.scenarios.reference_rules`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tapesim.events.contracts import parse_contract_id
from tapesim.scenarios.reference_flow import LOOKBACK, Ledger, Supply, Unusual
from tapesim.sim.floats import ordered_sum

__all__ = ["BASELINE_MIN", "COLD_START", "LOOKBACK", "MINUTE_MS", "MIN_PREMIUM", "Baselines",
           "Cluster", "focus", "signed_premium", "wide_share"]

MINUTE_MS = 60_000
MIN_PREMIUM = 25_000.0  # dollars: a cluster below this states no hypothesis
WIDE_BPS = 2_000.0  # option spread / mid above which the offer is no evidence of urgency
SMALL_LOTS = 10  # contracts: the largest ticket counted as small (a retail-sized order)
EWMA_ALPHA = 0.1  # weight of the newest cluster in the per-underlying premium baseline
BASELINE_MIN = 5  # clusters an underlying needs before its premium z-score is used
COLD_START = 2  # minutes an underlying needs before its typical minute and paces are used
MOVE_LOOKBACK = 5  # minutes of underlying mids the hedge rule looks back over


@dataclass
class Cluster:
    """One minute of one underlying's prints and what the baselines say about them."""

    underlying: str
    minute: int  # ts // 60_000
    prints: list[dict[str, Any]] = field(default_factory=list)  # the focus, once closed
    values: dict[str, Any] = field(default_factory=dict)  # the contract features
    premium_z: float | None = None  # log10 premium against the underlying's baseline
    volume_ratio_max: float | None = None  # contracts vs the contract's mean per minute
    move_5m_bps: float | None = None  # underlying mid move over the last five minutes
    drawdown_bps: float | None = None  # last mid against the five minutes' highest mid
    wide_share: float = 0.0  # premium share printed against a spread over WIDE_BPS
    premium_ratio: float | None = None  # premium / the underlying's typical minute
    print_ratio: float | None = None  # the largest print's premium / the typical minute
    repeat_minutes: int = 0  # lookback minutes the lead contract was taken the same way
    crowd_tickets: int = 0  # small tickets bought at the offer in the busiest contract
    crowd_pace: float | None = None  # those tickets / the contract's mean per minute
    crowd_side: float = 0.0  # share of the contract's small tickets at the touch bought
    crowd_direction: str = "unknown"  # bullish for a crowd in calls, bearish in puts
    minute_prints: list[dict[str, Any]] = field(default_factory=list)  # every print
    unusual: Unusual | None = None  # the contract bought furthest above its own pace
    supply: Supply | None = None  # the expiry most sold at the bid over the lookback
    protection: float = 0.0  # dollars of one expiry's puts printed at the mid this minute
    protection_share: float = 0.0  # their share of that expiry's put premium

    @property
    def close_ts(self) -> int:
        """When the cluster closes: the last millisecond of its minute, epoch ms UTC."""
        return (self.minute + 1) * MINUTE_MS - 1


class Baselines:
    """Rolling per-underlying and per-contract baselines, in memory.

    Per underlying: an exponentially weighted mean and variance of log10 cluster
    premium (weight :data:`EWMA_ALPHA`), the last :data:`MOVE_LOOKBACK` minutes'
    closing and highest underlying mids (as the minute's prints carry them), and the
    :class:`~tapesim.scenarios.reference_flow.Ledger` of every contract's flow over the
    last :data:`LOOKBACK` minutes. Per contract: contracts traded and minutes seen,
    small tickets bought at the offer, and the net signed aggressive premium of its
    last :data:`LOOKBACK` minutes (calls bought or puts sold positive, in dollars).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (between cells)."""
        self.premium: dict[str, tuple[float, float, int]] = {}
        self.mids: dict[str, deque[float]] = {}
        self.highs: dict[str, deque[float]] = {}
        self.contracts: dict[str, tuple[int, int]] = {}
        self.tickets: dict[str, int] = {}
        self.flow: dict[str, dict[int, float]] = {}
        self.ledger = Ledger()

    def observe(self, cluster: Cluster) -> None:
        """Fill the cluster's baseline view, then fold the cluster into the baselines."""
        u = cluster.underlying
        logp = math.log10(max(cluster.values.get("total_premium", 0.0), 1.0))
        mean, var, n = self.premium.get(u, (logp, 0.0, 0))
        if n >= BASELINE_MIN:
            cluster.premium_z = round((logp - mean) / math.sqrt(max(var, 1e-4)), 3)
        if n >= COLD_START:
            typical = 10 ** mean
            cluster.premium_ratio = round(10 ** logp / typical, 3)
            largest = max((p.get("notional") or 0.0 for p in cluster.prints), default=0.0)
            cluster.print_ratio = round(largest / typical, 3)
        self._repeats(cluster)
        self._crowd(cluster, n)
        self.ledger.add(u, cluster.minute, cluster.minute_prints)
        if self.ledger.paced(u) >= COLD_START:
            cluster.unusual = self.ledger.unusual(u)
        cluster.supply = self.ledger.supply(u, MIN_PREMIUM / 2)
        cluster.protection, cluster.protection_share = self.ledger.protection(u)
        delta = logp - mean
        mean += EWMA_ALPHA * delta
        var = (1 - EWMA_ALPHA) * (var + EWMA_ALPHA * delta * delta)
        self.premium[u] = (mean, var, n + 1)
        mids = self.mids.setdefault(u, deque(maxlen=MOVE_LOOKBACK))
        last = next((p.get("execution_underlying_mid") for p in reversed(cluster.prints)
                     if p.get("execution_underlying_mid")), None)
        if mids and last:
            cluster.move_5m_bps = round((last - mids[0]) / mids[0] * 1e4, 3)
        if last:
            mids.append(last)
        highs = self.highs.setdefault(u, deque(maxlen=MOVE_LOOKBACK))
        seen = [m for p in cluster.minute_prints if (m := p.get("execution_underlying_mid"))]
        if seen:
            highs.append(max(seen))
        if last and highs:
            high = max(highs)
            cluster.drawdown_bps = round((last - high) / high * 1e4, 3)
        sizes: dict[str, int] = {}
        for p in cluster.prints:
            sizes[p["option_contract_id"]] = sizes.get(p["option_contract_id"], 0) + p["size"]
        ratios = []
        for contract, size in sorted(sizes.items()):
            total, minutes = self.contracts.get(contract, (0, 0))
            if minutes:
                ratios.append(size / max(total / minutes, 1.0))
            self.contracts[contract] = (total + size, minutes + 1)
        cluster.volume_ratio_max = round(max(ratios), 3) if ratios else None

    def _repeats(self, cluster: Cluster) -> None:
        """The lead contract's same-way minutes over the lookback."""
        recent = range(cluster.minute - LOOKBACK + 1, cluster.minute + 1)
        signed: dict[str, float] = {}
        for p in cluster.prints:
            s = signed_premium(p)
            if s:
                signed[p["option_contract_id"]] = signed.get(p["option_contract_id"], 0.0) + s
        if signed:
            lead = max(sorted(signed), key=lambda k: abs(signed[k]))
            way = math.copysign(1.0, signed[lead])
            floor = MIN_PREMIUM / 2
            for contract, value in signed.items():
                self.flow.setdefault(contract, {})[cluster.minute] = value
            history = self.flow[lead]
            cluster.repeat_minutes = sum(history.get(m, 0.0) * way >= floor for m in recent)

    def _crowd(self, cluster: Cluster, minutes: int) -> None:
        """The busiest contract's small tickets bought at the offer this minute, against
        its own mean per minute so far (known after :data:`COLD_START` minutes)."""
        counts: dict[str, int] = {}
        touch: dict[str, int] = {}
        for p in cluster.minute_prints:
            if p["size"] <= SMALL_LOTS and p.get("nbbo_side") in ("A", "AA", "B", "BB"):
                k = p["option_contract_id"]
                touch[k] = touch.get(k, 0) + 1
                if p["nbbo_side"] in ("A", "AA"):
                    counts[k] = counts.get(k, 0) + 1
        if counts:
            busiest = max(sorted(counts), key=lambda k: counts[k])
            cluster.crowd_tickets = counts[busiest]
            cluster.crowd_side = round(counts[busiest] / touch[busiest], 3)
            cluster.crowd_direction = ("bullish" if parse_contract_id(busiest).right == "C"
                                       else "bearish")
            if minutes >= COLD_START:
                pace = self.tickets.get(busiest, 0) / minutes
                cluster.crowd_pace = round(counts[busiest] / max(pace, 1.0), 3)
        for contract, count in counts.items():
            self.tickets[contract] = self.tickets.get(contract, 0) + count


def signed_premium(p: dict[str, Any]) -> float:
    """A print's aggressive premium (dollars) signed as
    :func:`~tapesim.scenarios.evidence.features` signs the directional
    bias (calls bought or puts sold +, puts bought or calls sold -); 0 off the touch."""
    side = p.get("nbbo_side")
    way = 1.0 if side in ("A", "AA") else -1.0 if side in ("B", "BB") else 0.0
    call = parse_contract_id(p["option_contract_id"]).right == "C"
    return way * (1.0 if call else -1.0) * (p.get("notional") or 0.0)



def focus(prints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prints of the expiry with the most premium (the earliest expiry on a tie),
    in their order."""
    premium: dict[dt.date, float] = {}
    for p in prints:
        expiry = parse_contract_id(p["option_contract_id"]).expiry
        premium[expiry] = premium.get(expiry, 0.0) + (p.get("notional") or 0.0)
    best = max(sorted(premium), key=lambda e: premium[e])
    return [p for p in prints if parse_contract_id(p["option_contract_id"]).expiry == best]


def wide_share(prints: list[dict[str, Any]]) -> float:
    """Premium share of prints whose NBBO in force was wider than :data:`WIDE_BPS` of
    its mid."""
    total = ordered_sum(p.get("notional") or 0.0 for p in prints)
    wide = ordered_sum(p.get("notional") or 0.0 for p in prints if p.get("execution_nbbo_mid")
               and p["execution_nbbo_spread"] / p["execution_nbbo_mid"] * 1e4 > WIDE_BPS)
    return wide / total if total > 0 else 0.0
