"""The latent truth of a run on a one-second grid: an optional sidecar for researchers.

``tapesim run --write-latent`` writes ``latent.parquet`` beside the event files so an
estimator's error against the truth can be measured: per underlying, at every whole
second of the simulated window, the fundamental value the makers quote around, the
market's volatility regime, the symbol's persistent volatility ratio and the ATM
implied vol of its latent surface. It is never an event: not in the event files, the
event-stream digest or replay. It is computed from the config alone with the same
functions and random streams the shards use (:func:`~tapesim.agents.latent.market_state`,
:func:`~tapesim.agents.latent.latent_path`), so its bytes depend only on the config and
seed, never on the worker count.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tapesim.agents.latent import MarketState, latent_path, market_state
from tapesim.agents.vol_surface import (
    MINUTES_PER_YEAR,
    atm_term_structure,
    atm_total_variance,
    symbol_surface,
)
from tapesim.config.run import REGIMES, RunConfig, SymbolProfile
from tapesim.sim.calendar import NS_PER_MS, NS_PER_S

LATENT = "latent.parquet"
LATENT_SCHEMA = pa.schema([
    pa.field("underlying_id", pa.string(), nullable=False),
    pa.field("ts", pa.int64(), nullable=False),
    pa.field("fair_value", pa.float64(), nullable=False),
    pa.field("regime", pa.int8(), nullable=False),
    pa.field("vol_ratio", pa.float64(), nullable=False),
    pa.field("atm_iv_30d", pa.float64(), nullable=False),
])
ATM_TENOR_DAYS = 30.0  # the ATM IV's tenor in calendar days (as the VIX's)


def atm_iv(symbol: SymbolProfile, vol_ratio: np.ndarray) -> np.ndarray:
    """The ATM implied vol (annualised decimal) at a 30-calendar-day tenor of
    ``symbol``'s latent surface at each persistent vol ratio in ``vol_ratio``.

    The surface is the one the option makers quote from
    (:func:`~tapesim.agents.vol_surface.symbol_surface`; its skew, index-like or not,
    does not move the ATM vol): at the
    money the SSVI total variance is the ATM total variance theta_T whatever the skew,
    so IV = sqrt(theta_T / T) with theta_T from ``atm_term_structure`` plus the
    earnings lump ``atm_total_variance`` adds when the event falls inside the tenor
    (the strike roughness, at most ``SurfaceParams.roughness``, is left out).
    """
    params, t_event = symbol_surface(symbol)
    t = ATM_TENOR_DAYS * 1440.0 / MINUTES_PER_YEAR
    lump = float(atm_total_variance(params, 1.0, t, t_event) - atm_total_variance(params, 1.0, t))
    theta = atm_term_structure(params, vol_ratio, t) ** 2 * t + lump
    return np.sqrt(theta / t)


def _window_market(config: RunConfig) -> tuple[int, MarketState]:
    """(latent grid steps, the market-wide paths) of ``config``'s window, as every shard
    draws them."""
    session = config.session.session()
    lat = config.latent
    n_steps = -(-session.length_ns // (lat.step_ms * NS_PER_MS))
    return n_steps, market_state(config.seed, lat, n_steps, session.length_ns / (60 * NS_PER_S))


def closing_regime(config: RunConfig) -> str:
    """The market's volatility regime at the end of ``config``'s window (one of
    ``config.run.REGIMES``): where a run continuing it starts (``latent.start_regime``)."""
    return REGIMES[int(_window_market(config)[1].regime[-1])]


def latent_table(config: RunConfig) -> pa.Table:
    """The latent truth of ``config``'s window, in :data:`LATENT_SCHEMA`.

    One row per symbol (config order) and whole second ``ts`` (epoch ms) of
    ``[start, end)``: ``fair_value`` the latent value in force (dollars, before the
    transient impact of order flow), ``regime`` the market's volatility regime (0 calm,
    1 normal, 2 stress), ``vol_ratio`` the symbol's persistent vol over its session
    mean (what the makers' spreads and the option surface read) and ``atm_iv_30d``
    (:func:`atm_iv`).
    """
    session = config.session.session()
    lat = config.latent
    step_ns = lat.step_ms * NS_PER_MS
    n_steps, market = _window_market(config)
    times_ns = np.arange(session.start_ns, session.end_ns, NS_PER_S, dtype=np.int64)
    steps = np.minimum(times_ns // step_ns, n_steps - 1)
    ts = session.open_ms + times_ns // NS_PER_MS
    columns: dict[str, list[np.ndarray]] = {name: [] for name in LATENT_SCHEMA.names}
    for sym in config.symbols:
        path = latent_path(config.seed, sym, lat, market)
        vol_ratio = path.vol_ratio[steps]
        columns["underlying_id"].append(np.full(steps.size, sym.symbol, dtype=object))
        columns["ts"].append(ts)
        columns["fair_value"].append(path.value[steps])
        columns["regime"].append(market.regime[steps])
        columns["vol_ratio"].append(vol_ratio)
        columns["atm_iv_30d"].append(atm_iv(sym, vol_ratio))
    return pa.table({name: np.concatenate(parts) if parts else np.zeros(0)
                     for name, parts in columns.items()}, schema=LATENT_SCHEMA)
