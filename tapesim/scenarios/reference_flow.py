"""The reference classifier's flow ledger: what each contract traded over an underlying's
last minutes, read from every print of those minutes.

A cluster's features are computed over its *focus*, the expiry that drew the most
premium that minute (:func:`tapesim.scenarios.reference_rules.focus`). Flow that is
unusual for its own contract rather than large for the underlying, such as a few
hundred contracts bought in a strike nobody traded, or calls and puts written
minute after minute in one expiry, can sit outside that focus while a busier expiry
draws more premium. The :class:`Ledger` keeps, per underlying, each contract's
minute of flow (:class:`Flow`) over the last :data:`LOOKBACK` minutes, and each
contract's volume before them (its own pace), so two views are read from the whole
tape of the underlying: :class:`Unusual` (the contract bought furthest above its own
pace), :class:`Supply` (the expiry whose premium was most sold at the bid) and
:meth:`Ledger.protection` (puts bought between the touches this minute).

Packages (COMPLEX / SPREAD) and late or corrected reports are left out: a leg of a
package or a report of an old trade is not a decision in that contract that minute.
A print placed against a stale or missing quote counts in volume but as neither
bought nor sold (its side is unknowable, the quote rule of Lee & Ready 1991).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tapesim.events.contracts import parse_contract_id

LOOKBACK = 3  # minutes (the current one included) the ledger holds
SPECIAL = frozenset({"COMPLEX", "SPREAD", "LATE", "CANCEL", "CORRECTION"})


@dataclass
class Flow:
    """One contract's prints in one minute: premium in dollars, sizes in contracts."""

    bought: float = 0.0  # premium bought at the offer (A/AA)
    sold: float = 0.0  # premium sold at the bid (B/BB)
    contracts: int = 0  # contracts printed, whatever their placement
    bought_lots: int = 0  # contracts bought at the offer
    sold_lots: int = 0  # contracts sold at the bid
    inside: float = 0.0  # premium printed between the touches (MID)
    premium: float = 0.0  # premium printed, whatever its placement


@dataclass(frozen=True)
class Unusual:
    """The contract bought furthest above its own pace over the lookback.

    ``contracts`` and ``bought_share`` (contracts bought at the offer / contracts) are
    over the lookback; ``pace_ratio`` is ``contracts`` against the contract's mean
    contracts per minute before the lookback times the lookback's minutes (a mean under
    one contract a minute counts as one); ``minutes`` how many lookback minutes it was
    bought in; ``premium`` its premium over the lookback (dollars); ``call`` its right.
    """

    contract: str
    contracts: int
    pace_ratio: float
    bought_share: float
    minutes: int
    premium: float
    call: bool


@dataclass(frozen=True)
class Supply:
    """The expiry whose premium was most sold at the bid over the lookback: ``sold``
    (dollars), ``sold_share`` (of its premium printed at either touch), ``minutes`` (of
    the lookback with at least ``floor`` dollars sold in it), ``calls`` and ``puts``
    (contracts of each right sold), ``now`` (dollars sold in the lookback's last
    minute)."""

    expiry: dt.date
    sold: float
    sold_share: float
    minutes: int
    calls: int
    puts: int
    now: float


def minute_flow(prints: Sequence[dict[str, Any]]) -> dict[str, Flow]:
    """Each contract's :class:`Flow` over one minute's prints (canonical OptionPrint
    fields), packages and reports left out."""
    out: dict[str, Flow] = {}
    for p in prints:
        if SPECIAL.intersection(p.get("conditions") or ()):
            continue
        f = out.setdefault(p["option_contract_id"], Flow())
        premium = p.get("notional") or 0.0
        side = p.get("nbbo_side")
        f.contracts += p["size"]
        f.premium += premium
        if side in ("A", "AA"):
            f.bought += premium
            f.bought_lots += p["size"]
        elif side in ("B", "BB"):
            f.sold += premium
            f.sold_lots += p["size"]
        elif side == "MID":
            f.inside += premium
    return out


class Ledger:
    """Per underlying: the last :data:`LOOKBACK` minutes' :class:`Flow` by contract, each
    contract's contracts before them, and how many minutes came before them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (between cells)."""
        self.recent: dict[str, deque[tuple[int, dict[str, Flow]]]] = {}
        self.before: dict[str, dict[str, int]] = {}
        self.minutes_before: dict[str, int] = {}

    def add(self, underlying: str, minute: int, prints: Sequence[dict[str, Any]]) -> None:
        """Fold one closed minute of the underlying's prints in (minutes in order); a
        minute leaving the lookback adds its volume to each contract's pace."""
        recent = self.recent.setdefault(underlying, deque())
        recent.append((minute, minute_flow(prints)))
        before = self.before.setdefault(underlying, {})
        while recent[0][0] <= minute - LOOKBACK:
            _, old = recent.popleft()
            for contract, f in old.items():
                before[contract] = before.get(contract, 0) + f.contracts
            self.minutes_before[underlying] = self.minutes_before.get(underlying, 0) + 1

    def paced(self, underlying: str) -> int:
        """Minutes of the underlying (with prints) that have left the lookback: what each
        contract's pace is learnt from."""
        return self.minutes_before.get(underlying, 0)

    def unusual(self, underlying: str) -> Unusual | None:
        """The contract bought furthest above its own pace over the lookback (None when
        nothing was bought at the offer)."""
        pace_minutes = self.paced(underlying)
        totals: dict[str, list[float]] = {}
        for _, flows in self.recent.get(underlying, ()):
            for contract, f in flows.items():
                t = totals.setdefault(contract, [0, 0, 0, 0.0])
                t[0] += f.contracts
                t[1] += f.bought_lots
                t[2] += f.bought_lots > 0
                t[3] += f.premium
        before = self.before.get(underlying, {})
        best: Unusual | None = None
        for contract in sorted(totals):
            contracts, bought, minutes, premium = totals[contract]
            if not bought:
                continue
            pace = max(before.get(contract, 0) / max(pace_minutes, 1), 1.0)
            found = Unusual(contract, int(contracts), round(contracts / (pace * LOOKBACK), 3),
                            round(bought / contracts, 3), int(minutes), round(premium, 2),
                            parse_contract_id(contract).right == "C")
            if best is None or found.pace_ratio > best.pace_ratio:
                best = found
        return best

    def supply(self, underlying: str, floor: float) -> Supply | None:
        """The expiry with the most premium sold at the bid over the lookback (None when
        nothing was sold); a minute counts toward ``minutes`` with ``floor`` dollars sold."""
        sold: dict[dt.date, list[float]] = {}
        per_minute: dict[dt.date, dict[int, float]] = {}
        for minute, flows in self.recent.get(underlying, ()):
            for contract, f in flows.items():
                c = parse_contract_id(contract)
                t = sold.setdefault(c.expiry, [0.0, 0.0, 0, 0])
                t[0] += f.sold
                t[1] += f.bought
                t[2 if c.right == "C" else 3] += f.sold_lots
                m = per_minute.setdefault(c.expiry, {})
                m[minute] = m.get(minute, 0.0) + f.sold
        if not sold:
            return None
        expiry = max(sorted(sold), key=lambda e: sold[e][0])
        s, b, calls, puts = sold[expiry]
        if s <= 0:
            return None
        minutes = sum(v >= floor for v in per_minute[expiry].values())
        last = self.recent[underlying][-1][0]
        return Supply(expiry, round(s, 2), round(s / (s + b), 3), minutes, int(calls),
                      int(puts), round(per_minute[expiry].get(last, 0.0), 2))

    def protection(self, underlying: str) -> tuple[float, float]:
        """This minute's puts printed between the touches: the largest premium (dollars)
        of one expiry's puts printed at the mid, and its share of that expiry's put
        premium; (0, 0) without puts."""
        recent = self.recent.get(underlying)
        if not recent:
            return 0.0, 0.0
        inside: dict[dt.date, list[float]] = {}
        for contract, f in recent[-1][1].items():
            c = parse_contract_id(contract)
            if c.right == "P":
                t = inside.setdefault(c.expiry, [0.0, 0.0])
                t[0] += f.inside
                t[1] += f.premium
        if not inside:
            return 0.0, 0.0
        best = max(sorted(inside), key=lambda e: inside[e][0])
        mid, total = inside[best]
        return round(mid, 2), round(mid / total, 3) if total > 0 else 0.0
