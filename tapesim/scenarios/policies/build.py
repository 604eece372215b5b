"""From a catalog entry to the policy classes that act it out."""

from __future__ import annotations

from tapesim.agents.option_flow import OptionDesk
from tapesim.config.options import ScenarioInjection
from tapesim.scenarios.catalog import CATALOG, Policy
from tapesim.scenarios.policies.base import Execution, Injection
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
from tapesim.sim.calendar import NS_PER_MS, epoch_ms

_BY_FAULT: dict[str, type[Injection]] = {
    "freeze": FreezeThenTrade, "stick": StickThenTrade, "reports": TradeThenReport}


def execution_for(policy: Policy) -> Execution:
    """How each order of ``policy`` trades: a package when a vertical or straddle trades
    at the mid, else by its style ("ask" and "bid" take the touch)."""
    if policy.structure in ("vertical", "straddle") and policy.style == "mid":
        return MidPackage()
    if policy.style == "sweep":
        return IsoSweep()
    if policy.style in ("mid", "stale-mid"):
        return CrossNearMid()
    if policy.style == "ask-block":
        return BlockAtTouch()
    return AtTouch()


def injection_class(policy: Policy) -> type[Injection]:
    """The schedule of ``policy``: a feed fault around its orders, informed flow, a hedge
    after a fall, or the plain one.

    Raises:
        ValueError: the policy combines what no class does (a feed fault or a hedge's
            wait with informed flow, a hedge's wait with a feed fault, or late reports on
            orders that are not negotiated crosses).
    """
    informed = policy.informed_s > 0 or policy.stock_follow_shares > 0
    if policy.react_bps > 0 and (informed or policy.fault != "none"):
        raise ValueError("a hedge's wait for a fall (react_bps) acts alone: no feed fault, "
                         "no informed flow")
    if policy.fault == "none":
        return (InformedWithFollowThrough if informed
                else HedgeAfterFall if policy.react_bps > 0 else Injection)
    if informed:
        raise ValueError(f"a {policy.fault} fault cannot be combined with informed flow")
    if policy.fault == "reports" and isinstance(execution_for(policy), AtTouch | IsoSweep):
        raise ValueError("late and corrected reports need negotiated prints to report on: "
                         "style ask-block or mid")
    return _BY_FAULT[policy.fault]


def injection_for(desk: OptionDesk, cfg: ScenarioInjection, index: int,
                  start_ns: int) -> Injection:
    """The injection acting out the catalog entry ``cfg.name`` in ``desk``'s shard (index
    = position in the run's scenario list, start in ns from the session start)."""
    policy = CATALOG[cfg.name].policy
    return injection_class(policy)(desk, cfg, index, start_ns, execution_for(policy), policy)


def injections_for(desk: OptionDesk, scenarios: list[ScenarioInjection]) -> list[Injection]:
    """This shard's injections, in the run's scenario order: those whose underlying (by
    default the first optioned symbol) is the shard's."""
    session = desk.ctx.session
    optioned = [s.symbol for s in desk.ctx.config.symbols if s.options]
    out = []
    for i, sc in enumerate(scenarios):
        target = sc.underlying or (optioned[0] if optioned else None)
        if target != desk.ctx.symbol.symbol:
            continue
        start_ns = (epoch_ms(session.date, sc.at) - session.open_ms) * NS_PER_MS
        out.append(injection_for(desk, sc, i, start_ns))
    return out
