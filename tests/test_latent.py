"""The latent price process alone: hours neither dead flat nor carrying the day's move.

A real session's hourly realised volatility, once the intraday U-shape is divided out,
stays within a small factor of the name's usual level: no hour-long stretch runs at a
small fraction of it (a tape that sits flat for hours) while another runs at several
times it (a straight ramp that makes the whole day's move). The latent process is
checked over many seeds on a coarse grid, in seconds, without any venue or agent.
"""

from __future__ import annotations

import numpy as np
import pytest

from tapesim.agents.latent import activity_path, latent_path, market_state
from tapesim.config.run import SymbolProfile, VolatilityRegime

STEP_MS = 1_000  # the coarsest grid the config allows: the property is about hours
MINUTE = 60_000 // STEP_MS
SESSION_MINUTES = 390
SEEDS = range(1, 41)
SYMBOLS = (
    SymbolProfile(symbol="TSLA", price=248.0, annual_vol=0.6, sector="consumer",
                  market_beta=1.5),
    SymbolProfile(symbol="SPY", price=575.0, annual_vol=0.15, sector="index",
                  market_beta=1.0, sector_weight=0.0),
)
# Bounds on an hour's de-seasonalised realised vol in units of the name's annual vol
# scaled to an hour: below 0.35 an hour barely moves (the dead-flat stretches the
# stacked wide settings drew); above 3 one hour carries more variance than the rest of
# a usual day together (5.5 hours at 1x), a ramp.
FLAT, RAMP = 0.35, 3.0


def hourly_vol(seed: int, cfg: VolatilityRegime) -> np.ndarray:
    """De-seasonalised realised vol of each full hour of each symbol, in units of its
    annual vol over one hour (252 sessions of 6.5 hours)."""
    n = SESSION_MINUTES * MINUTE
    market = market_state(seed, cfg, n, float(SESSION_MINUTES))
    envelope = market.envelope.reshape(SESSION_MINUTES, MINUTE).mean(axis=1)
    out = []
    for sym in SYMBOLS:
        path = latent_path(seed, sym, cfg, market)
        log_v = np.log(np.r_[sym.price, path.value[MINUTE - 1::MINUTE]])
        r = np.diff(log_v) / np.sqrt(envelope)
        hours = r[:360].reshape(6, 60)
        unit = sym.annual_vol * np.sqrt(3_600.0 / (252 * 23_400.0))
        out.append(np.sqrt((hours**2).sum(axis=1)) / unit)
    return np.concatenate(out)


def test_no_dead_flat_hour_and_no_hour_carrying_the_day() -> None:
    cfg = VolatilityRegime(step_ms=STEP_MS)
    vols = np.concatenate([hourly_vol(seed, cfg) for seed in SEEDS])
    assert vols.min() > FLAT, f"an hour at {vols.min():.2f}x the usual vol: a dead-flat tape"
    assert vols.max() < RAMP, f"an hour at {vols.max():.2f}x the usual vol: a ramp"


def test_the_check_catches_stacked_wide_regimes() -> None:
    """The settings that drew hours-long flat stretches between ramps fail the check."""
    wide = VolatilityRegime(step_ms=STEP_MS, regime_vol=(0.75, 1.0, 1.9), sv_vol_of_vol=0.9,
                            sv_fast_vol_of_vol=0.0)
    vols = np.concatenate([hourly_vol(seed, wide) for seed in SEEDS])
    assert vols.min() < FLAT or vols.max() > RAMP


@pytest.mark.parametrize("seed", [1, 2])
def test_volatility_clusters_and_activity_follows_it(seed: int) -> None:
    """Absolute one-minute returns are positively autocorrelated at lags 1 and 30 (the
    realism targets' volatility clustering), and activity is higher in the minutes
    whose returns are larger (volume-volatility)."""
    cfg = VolatilityRegime(step_ms=STEP_MS)
    n = SESSION_MINUTES * MINUTE
    abs_r, act = [], []
    for s in range(seed * 100, seed * 100 + 10):
        market = market_state(s, cfg, n, float(SESSION_MINUTES))
        path = latent_path(s, SYMBOLS[0], cfg, market)
        log_v = np.log(path.value[::MINUTE])
        abs_r.append(np.abs(np.diff(log_v)))
        a = activity_path(path, market.envelope, cfg.activity_vol_elasticity)
        act.append(a.reshape(SESSION_MINUTES, MINUTE).mean(axis=1)[:-1])
    x = np.concatenate(abs_r)
    d = [v - v.mean() for v in abs_r]
    for lag in (1, 30):
        acf = sum(float(v[:-lag] @ v[lag:]) for v in d) / sum(float(v @ v) for v in d)
        assert acf > 0.02, f"ACF of |1-min returns| at lag {lag}: {acf:.3f}"
    assert np.corrcoef(x, np.concatenate(act))[0, 1] > 0.2
