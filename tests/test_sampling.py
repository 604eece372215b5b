"""The return-memory facts are judged against their sampling error: processes that
have the stylized fact pass at realistic lengths (three days of one-minute bars, as
the scorecard pools seeds 1-3) in at least 95% of draws, and processes that lack it
fail."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats as sps

from tapesim.calibration import sampling as sa
from tapesim.calibration import stats as st
from tapesim.calibration.facts import ACF_LAGS, AGG_SCALES, memory_rows
from tapesim.calibration.pooling import pooled_facts
from tapesim.calibration.targets import EQUITY_BANDS

DAY = 390  # one-minute bars in a session
DRAWS = 100
Gen = np.random.Generator
Draw = Callable[[Gen, int], list[np.ndarray]]
Verdict = Callable[[list[np.ndarray]], bool]


def _iid(g: Gen, days: int) -> list[np.ndarray]:
    return [g.normal(size=DAY) for _ in range(days)]


def _student3(g: Gen, days: int) -> list[np.ndarray]:
    return [g.standard_t(3, size=DAY) for _ in range(days)]


def _garch(g: Gen, days: int) -> list[np.ndarray]:
    """GARCH(1,1), alpha 0.08, beta 0.9, Student-t(5) innovations: a martingale with
    volatility clustering and heavy tails."""
    out = []
    for _ in range(days):
        e = g.standard_t(5, size=DAY) / math.sqrt(5 / 3)
        r, h = np.empty(DAY), 1.0
        for t in range(DAY):
            r[t] = math.sqrt(h) * e[t]
            h = 0.02 + 0.08 * r[t] ** 2 + 0.9 * h
        out.append(r)
    return out


def _log_vol(g: Gen, days: int) -> list[np.ndarray]:
    """Stochastic volatility: log-volatility an AR(1) with a 70-minute half-life."""
    out = []
    for _ in range(days):
        shocks = g.normal(0.0, 0.1, size=DAY)
        x, v = np.empty(DAY), g.normal(0.0, 0.1 / math.sqrt(1 - 0.99**2))
        for t in range(DAY):
            v = 0.99 * v + shocks[t]
            x[t] = v
        out.append(np.exp(x) * g.standard_t(5, size=DAY))
    return out


def _lag10(rho: float) -> Draw:
    """An MA process with autocorrelation ``rho`` at lag 10 and none elsewhere."""
    theta = (1 - math.sqrt(1 - 4 * rho * rho)) / (2 * rho)

    def draw(g: Gen, days: int) -> list[np.ndarray]:
        out = []
        for _ in range(days):
            e = g.normal(size=DAY + 10)
            out.append(e[10:] + theta * e[:-10])
        return out
    return draw


def _trend(g: Gen, days: int) -> list[np.ndarray]:
    """Gaussian minutes plus one 30-minute run a day drifting one sd a minute: tails
    that grow with the aggregation scale (a trend the one-minute bars do not show)."""
    out = []
    for _ in range(days):
        r = g.normal(size=DAY)
        start = int(g.integers(0, DAY - 30))
        r[start:start + 30] += 1.0 if g.random() < 0.5 else -1.0
        out.append(r)
    return out


def _alternating(g: Gen, days: int) -> list[np.ndarray]:
    """Volatility switching between high and low every 30 minutes: |returns| are
    anti-correlated at lag 30."""
    vol = np.where((np.arange(DAY) // 30) % 2 == 0, 2.0, 0.5)
    return [vol * g.normal(size=DAY) for _ in range(days)]


def _pass_rate(draw: Draw, days: int, passes: Verdict, seed: int) -> float:
    g = np.random.default_rng(seed)
    return float(np.mean([passes(draw(g, days)) for _ in range(DRAWS)]))


def _acf_passes(segments: list[np.ndarray]) -> bool:
    return EQUITY_BANDS["return_acf_max_6_20"].contains(sa.acf_excess_bound(segments,
                                                                            ACF_LAGS)[0])


def _rise_passes(segments: list[np.ndarray]) -> bool:
    bound, _ = sa.kurtosis_rise_bound(segments, AGG_SCALES)
    return EQUITY_BANDS["aggregational_gaussianity"].contains(bound)


def _abs30_passes(segments: list[np.ndarray]) -> bool:
    value = sa.window_acf([np.abs(s) for s in segments], 30, 5)
    return EQUITY_BANDS["absret_acf30_1m"].contains(value)


def test_pooled_acf_never_spans_two_segments_and_matches_a_hand_count() -> None:
    a, b = np.array([1.0, -1.0, 2.0]), np.array([-2.0, 0.0, np.nan, 0.0])
    r, se = sa.pooled_acf([a, b], [0, 1, 3, 5])
    d = [np.array([1.0, -1.0, 2.0]), np.array([-2.0, 0.0, 0.0, 0.0])]  # mean 0; NaN -> 0
    c0 = 10.0
    assert r[0] == pytest.approx(1.0)
    assert r[1] == pytest.approx((-1.0 - 2.0 + 0.0) / c0)  # not the (2, -2) pair across runs
    assert se[1] == pytest.approx(math.sqrt(1 + 4) / c0)
    assert r[2] == pytest.approx(0.0) and math.isnan(r[3])
    assert np.allclose(sa.pooled_acf([d[0]], [1, 2])[0], st.acf(d[0], [1, 2]))


def test_robust_se_is_bartletts_for_iid_returns() -> None:
    g = np.random.default_rng(0)
    _r, se = sa.pooled_acf(_iid(g, 20), [6, 10, 20])
    assert se == pytest.approx(np.full(3, 1 / math.sqrt(20 * DAY)), rel=0.1)


def test_kurtosis_se_is_sqrt_24_over_n_for_gaussian_data() -> None:
    x = np.random.default_rng(1).normal(size=20_000)
    k, se = sa.kurtosis_with_se(x)
    assert k == pytest.approx(sps.kurtosis(x))
    assert se == pytest.approx(math.sqrt(24 / x.size), rel=0.1)
    assert all(math.isnan(v) for v in sa.kurtosis_with_se([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("draw", [_iid, _student3, _garch, _log_vol])
def test_acf_beyond_lag_5_passes_martingales_of_three_days(draw: Draw) -> None:
    assert _pass_rate(draw, 3, _acf_passes, seed=11) >= 0.95


def test_acf_beyond_lag_5_fails_a_real_autocorrelation_at_lag_10() -> None:
    # 0.1 at lag 10 over a month of bars; 0.2 already over the scorecard's three days
    assert _pass_rate(_lag10(0.1), 30, _acf_passes, seed=12) <= 0.05
    assert _pass_rate(_lag10(0.2), 3, _acf_passes, seed=13) <= 0.05


@pytest.mark.parametrize("draw", [_iid, _student3, _garch, _log_vol])
def test_kurtosis_rise_passes_martingales_of_three_days(draw: Draw) -> None:
    assert _pass_rate(draw, 3, _rise_passes, seed=21) >= 0.95


def test_kurtosis_rise_fails_when_tails_grow_with_the_scale() -> None:
    assert _pass_rate(_trend, 20, _rise_passes, seed=22) <= 0.05


@pytest.mark.parametrize("draw", [_garch, _log_vol])
def test_lag_30_abs_acf_passes_persistent_volatility_of_three_days(draw: Draw) -> None:
    assert _pass_rate(draw, 3, _abs30_passes, seed=31) >= 0.95


def test_lag_30_abs_acf_fails_volatility_that_turns_over_every_30_minutes() -> None:
    assert _pass_rate(_alternating, 3, _abs30_passes, seed=32) <= 0.05


def test_pooled_memory_rows_use_every_runs_returns_as_segments() -> None:
    days = _garch(np.random.default_rng(4), 3)
    one = {r.fact: r for r in memory_rows("SPY", days)}
    runs = [memory_rows("SPY", [d]) for d in days]
    pooled = {r.fact: r for r in pooled_facts(runs, {"SPY": days})}
    assert set(pooled) == set(one)
    for fact, row in pooled.items():
        assert row.value == pytest.approx(one[fact].value)
        assert row.note.endswith("pooled over 3 runs")


def test_impact_interval_covers_the_exponent_and_is_wide_when_noise_dominates() -> None:
    g = np.random.default_rng(5)
    x = 10 ** g.uniform(-5, -2, size=300)  # Q/V of 300 parents
    clean = 0.5 * np.sqrt(x) * (1 + 0.2 * g.normal(size=x.size))
    low, high, undefined = st.impact_exponent_interval(x, clean, 10)
    assert low < 0.5 < high and high - low < 0.2 and undefined == 0.0
    # mid noise 20x the largest impact: the exponent is noise, and the interval says so
    noisy = 0.5 * np.sqrt(x) + 20 * 0.5 * 0.1 * g.normal(size=x.size)
    low, high, _ = st.impact_exponent_interval(x, noisy, 10)
    assert high - low > 1.0
