"""The injected agents: each acts out one catalog entry through the shard's venues.

An injection is two small policies: a schedule (:class:`Injection` and its
subclasses: what happens around the orders) and an :class:`Execution` (how each
order trades). :func:`injections_for` builds both from the catalog entry.

=======================================  ==============================================
schedule                                 catalog policy fields
=======================================  ==============================================
:class:`Injection`                       plain: orders evenly spread over ``duration_s``
:class:`FreezeThenTrade`                 ``fault="freeze"``: the feed freezes first
:class:`StickThenTrade`                  ``fault="stick"``: a venue's bid sticks first
:class:`TradeThenReport`                 ``fault="reports"``: late, cancel, correction
:class:`InformedWithFollowThrough`       ``informed_s``, ``stock_follow_shares``
:class:`HedgeAfterFall`                  ``react_bps``: waits for the stock to fall
=======================================  ==============================================

=======================================  ==============================================
execution                                catalog policy fields
=======================================  ==============================================
:class:`AtTouch`                         ``style="ask"`` or ``"bid"``
:class:`BlockAtTouch`                    ``style="ask-block"``
:class:`IsoSweep`                        ``style="sweep"``
:class:`CrossNearMid`                    ``style="mid"`` or ``"stale-mid"``
:class:`MidPackage`                      ``style="mid"`` with a vertical or straddle
=======================================  ==============================================
"""

from tapesim.scenarios.policies.base import Execution, Injection, Resolved
from tapesim.scenarios.policies.build import (
    execution_for,
    injection_class,
    injection_for,
    injections_for,
)
from tapesim.scenarios.policies.executions import (
    AtTouch,
    BlockAtTouch,
    CrossNearMid,
    IsoSweep,
    MidPackage,
)
from tapesim.scenarios.policies.faults import FreezeThenTrade, StickThenTrade
from tapesim.scenarios.policies.hedging import HedgeAfterFall
from tapesim.scenarios.policies.informed import InformedWithFollowThrough
from tapesim.scenarios.policies.reports import TradeThenReport

__all__ = [
    "AtTouch",
    "BlockAtTouch",
    "CrossNearMid",
    "Execution",
    "FreezeThenTrade",
    "HedgeAfterFall",
    "InformedWithFollowThrough",
    "Injection",
    "IsoSweep",
    "MidPackage",
    "Resolved",
    "StickThenTrade",
    "TradeThenReport",
    "execution_for",
    "injection_class",
    "injection_for",
    "injections_for",
]
