"""The run config's trader populations and the price impact of their flow.

Part of the run config (:mod:`tapesim.config.run`), split out to keep each module
readable: retail, institutional, noise and momentum traders, and impact. Every model
forbids unknown keys and non-finite numbers (:class:`tapesim.sim.strict.Strict`); each
bound's reason is its field's description.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from tapesim.sim.floats import ordered_sum
from tapesim.sim.strict import SHARE, Strict

#: A child order's shares: 1 to 1,000,000 (a child beyond a million shares is a block).
ChildShares = Annotated[int, Field(ge=1, le=1_000_000)]
#: A share of a parent order crossed as one dark block: above 0, at most all of it.
BlockFraction = Annotated[float, Field(gt=0.0, le=1.0)]

#: Orders per second a trader population sends per symbol at activity 1, at most: 10,
#: 6 to 40 times the defaults, which model a liquid large cap. The rates scale further
#: with ``activity`` (up to 10x), the intraday envelope and volatility, and every order
#: is simulated, so a larger rate buys run time, not realism.
MAX_ORDERS_PER_S = 10.0
ORDERS_PER_S_REASON = ("orders per second at activity 1; at most 10, 6-40x the "
                       "defaults (a liquid large cap), before activity scales it")
#: The largest parent order, in shares: 50 million, beyond any single day's parent and
#: well inside the 32-bit sizes of the pipeline's tables.
MAX_PARENT_SHARES = 50_000_000


class RetailConfig(Strict):
    """Retail orders routed to wholesalers, internalised and printed off-exchange."""

    orders_per_s: float = Field(default=0.6, ge=0.0, le=MAX_ORDERS_PER_S,
                                description=ORDERS_PER_S_REASON)
    side_persistence: float = Field(default=0.7, ge=0.0, le=1.0, description=SHARE)
    odd_lot_share: float = Field(default=0.55, ge=0.0, le=1.0, description=SHARE)
    wholesalers: list[str] = Field(default=["wholesaler-a", "wholesaler-b", "wholesaler-c"],
                                   min_length=1, max_length=16, description=(
                                       "wholesaler names; 1-16 (a handful exist)"))
    inventory_limit: int = Field(default=3000, ge=1, le=10_000_000, description=(
        "shares a wholesaler holds before laying off; up to ten million"))


class InstitutionalConfig(Strict):
    """Parent orders worked over time in child slices; occasional dark blocks.

    Children are Pareto(``child_tail_alpha``) sized within ``child_shares``; a share
    ``dark_share`` of them crosses in a dark pool at the midpoint (a TRF print), meeting
    contra interest of Pareto(``dark_tail_alpha``) multiples of the child (up to what
    is left of the parent): one print, so the tape's large prints follow a power law. A
    parent of at least ``block_min_shares`` first crosses, with ``block_probability``, a
    ``block_fraction`` share of itself as one dark block: the prints of 20,000 shares
    and more a liquid large cap shows most days (real consolidated tapes).
    """

    parents_per_hour: float = Field(default=50.0, ge=0.0, le=3_600.0, description=(
        "parent orders per hour; at most one a second"))
    size_tail_alpha: float = Field(default=1.4, gt=0.5, le=10.0, description=(
        "Pareto tail of parent sizes; above 0.5 (a finite-enough mean), at most 10"))
    min_shares: int = Field(default=1500, ge=1, le=MAX_PARENT_SHARES, description=(
        "smallest parent order in shares"))
    max_shares: int = Field(default=400_000, ge=1, le=MAX_PARENT_SHARES, description=(
        "largest parent order in shares; up to 50 million, beyond any day's parent"))
    child_interval_s: float = Field(default=6.0, ge=0.1, le=3_600.0, description=(
        "mean seconds between a parent's child slices; 0.1 s to an hour"))
    child_shares: tuple[ChildShares, ChildShares] = Field(default=(100, 5000), description=(
        "(smallest, largest) child slice in shares; each 1-1,000,000"))
    child_tail_alpha: float = Field(default=1.6, gt=0.5, le=10.0, description=(
        "Pareto tail of child sizes; above 0.5, at most 10"))
    sweep_ticks: int = Field(default=2, ge=0, le=100, description=(
        "how many ticks through the touch a lit child's limit reaches, so a child larger "
        "than the touch sweeps the next levels across venues; 0-100 (a dollar)"))
    dark_share: float = Field(default=0.2, ge=0.0, le=1.0, description=SHARE)
    dark_tail_alpha: float = Field(default=1.5, gt=0.5, le=10.0, description=(
        "Pareto tail of the contra interest a dark cross meets, in multiples of the "
        "child; above 0.5, at most 10 (1.5: trade sizes P(>q) ~ q^-1.5, Gopikrishnan "
        "et al. 2000)"))
    block_probability: float = Field(default=0.5, ge=0.0, le=1.0, description=SHARE)
    block_min_shares: int = Field(default=10_000, ge=1, le=MAX_PARENT_SHARES, description=(
        "smallest parent that may cross a dark block, in shares"))
    block_fraction: tuple[BlockFraction, BlockFraction] = Field(default=(0.4, 0.9), description=(
        "(smallest, largest) share of the parent a dark block crosses, each in (0, 1]"))

    @model_validator(mode="after")
    def _ranges(self) -> InstitutionalConfig:
        if self.min_shares > self.max_shares:
            raise ValueError("min_shares must not exceed max_shares")
        low, high = self.child_shares
        if not 1 <= low <= high:
            raise ValueError("child_shares must be (smallest, largest) with 1 <= low <= high")
        if self.block_fraction[0] > self.block_fraction[1]:
            raise ValueError("block_fraction must be (smallest, largest)")
        return self


class NoiseConfig(Strict):
    """Uninformed traders: marketable orders and short-lived limit orders.

    They herd: after a take, with ``herd_probability`` the next noise trader follows on
    the same side, so takes come in same-sign bursts (their timing clusters through
    ``ArrivalsConfig``).
    """

    orders_per_s: float = Field(default=1.6, ge=0.0, le=MAX_ORDERS_PER_S,
                                description=ORDERS_PER_S_REASON)
    limit_share: float = Field(default=0.45, ge=0.0, le=1.0, description=SHARE)
    limit_lifetime_s: float = Field(default=20.0, ge=0.001, le=23_400.0, description=(
        "mean life of a resting limit order in seconds; a millisecond to a session"))
    herd_probability: float = Field(default=0.75, ge=0.0, le=0.99, description=(
        "chance a take is followed on the same side; below 1, or a burst never ends"))


class MomentumConfig(Strict):
    """Trend followers: trade in the direction of a mid move over ``lookback_s`` larger
    than ``threshold_sd`` of the symbol's typical move over that horizon."""

    orders_per_s: float = Field(default=0.25, ge=0.0, le=MAX_ORDERS_PER_S,
                                description=ORDERS_PER_S_REASON)
    lookback_s: float = Field(default=60.0, ge=0.1, le=23_400.0, description=(
        "horizon of the mid move in seconds; up to a session"))
    threshold_sd: float = Field(default=1.0, ge=0.0, le=10.0, description=(
        "move that triggers, in sds of the typical move; up to 10"))


class ImpactConfig(Strict):
    """How executed order flow moves the price market makers quote around."""

    bps_per_sqrt_lot: float = Field(default=0.025, ge=0.0, le=10.0, description=(
        "price impact in bps per square root of a round lot; up to 10, 400x the "
        "square-root law's usual coefficient"))
    decay_minutes: float = Field(default=10.0, ge=0.01, le=390.0, description=(
        "decay time of impact in minutes; up to the session"))


#: A reaction time constant in ms: from a tenth of a millisecond (co-located
#: algorithms) to ten minutes (slow human follow-through).
ReactionMs = Annotated[float, Field(gt=0.0, le=600_000.0)]
ReactionWeight = Annotated[float, Field(gt=0.0, le=1.0)]


class ArrivalsConfig(Strict):
    """How the stock's trader arrivals cluster in time and follow the day's volume.

    Clustering: retail and noise arrivals excite themselves (a Hawkes process,
    ``tapesim.sim.population.Excitation``): each arrival triggers ``branching`` further
    arrivals on average, after delays whose kernel is a sum of exponentials with time
    constants ``reaction_ms`` and weights ``reaction_weights``; each population's mean
    rate is unchanged. Real trade durations (CV 2.7-3.9, Weibull shape 0.31-0.43) fit a
    Hawkes process with branching ratio near 0.7-0.9 and a kernel spanning milliseconds
    to minutes (Bacry, Mastromatteo & Muzy 2015; Hardiman, Bercot & Bouchaud 2013).

    Volume profile: the equity traders' rates are the activity envelope times
    ``interest x moves + close_boost x exp(-minutes to the close / close_decay_minutes)``
    (normalised to mean 1). The interest factor varies slowly, lognormal with log-sd
    ``interest_sd`` and reversion ``interest_minutes`` (volume per half hour swings
    +-50% on real tapes); ``moves`` is the recent size of the latent value's moves
    (absolute one-second returns without the intraday envelope, averaged exponentially
    over ``move_minutes``, over their mean) to the power ``volume_vol_elasticity``:
    traders crowd in when the price moves (corr(|1-min return|, volume) is 0.2-0.6 on
    real tapes, Gopikrishnan et al. 2000). The close ramp is added: the closing half
    hour is the day's heaviest (2.2-4.9x the mean bin on real tapes) whatever the
    day's mood.
    """

    branching: float = Field(default=0.8, ge=0.0, le=0.95, description=(
        "mean arrivals one arrival triggers (the Hawkes branching ratio); below 1 or "
        "clusters never end, at most 0.95 (a cluster of 20 on average)"))
    reaction_ms: list[ReactionMs] = Field(
        default=[1.0, 40.0, 1_000.0, 20_000.0], min_length=1, max_length=6, description=(
            "time constants of the excitation kernel in ms, each 0.1 ms to 10 minutes; "
            "1-6 components"))
    reaction_weights: list[ReactionWeight] = Field(
        default=[0.4, 0.3, 0.2, 0.1], min_length=1, max_length=6, description=(
            "weight of each kernel component, each in (0, 1]; normalised to sum 1"))
    close_boost: float = Field(default=2.5, ge=0.0, le=20.0, description=(
        "extra equity trading at the close in multiples of the envelope's rate; up to 20x"))
    close_decay_minutes: float = Field(default=8.0, ge=0.1, le=390.0, description=(
        "decay time of the close ramp in minutes; up to the 390-minute session"))
    interest_sd: float = Field(default=0.25, ge=0.0, le=2.0, description=(
        "log-sd of the slow interest factor; up to 2 (volume swinging about 7x at one sd)"))
    interest_minutes: float = Field(default=10.0, ge=0.1, le=390.0, description=(
        "reversion time of the interest factor in minutes; up to the session"))
    volume_vol_elasticity: float = Field(default=0.75, ge=0.0, le=3.0, description=(
        "how strongly equity trading follows the recent size of price moves (exponent); "
        "up to 3"))
    move_minutes: float = Field(default=1.0, ge=0.05, le=390.0, description=(
        "time constant in minutes over which traders remember price moves; 3 s to the "
        "session"))

    @model_validator(mode="after")
    def _kernel(self) -> ArrivalsConfig:
        if len(self.reaction_ms) != len(self.reaction_weights):
            raise ValueError("reaction_ms and reaction_weights must have the same length")
        return self

    def weights(self) -> tuple[float, ...]:
        """``reaction_weights`` normalised to sum 1."""
        total = ordered_sum(self.reaction_weights)
        return tuple(w / total for w in self.reaction_weights)
