"""Option pricing and the latent vol surface: exact identities and no static arbitrage."""

from __future__ import annotations

import numpy as np
import pytest

from tapesim.agents.pricing import delta, gamma, greeks, implied_vol, price, vega
from tapesim.agents.vol_surface import (
    INDEX_LIKE_SKEW,
    Roughness,
    SurfaceParams,
    atm_term_structure,
    implied_vols,
    symbol_surface,
)
from tapesim.config.run import SymbolProfile


def test_put_call_parity_and_delta() -> None:
    s, k, t, v, r = 575.0, np.array([550.0, 575.0, 600.0]), 0.1, 0.2, 0.04
    call = price(s, k, t, v, True, r)
    put = price(s, k, t, v, False, r)
    assert np.allclose(call - put, s - k * np.exp(-r * t))
    d_call, d_put = delta(s, k, t, v, True, r), delta(s, k, t, v, False, r)
    assert np.all((d_call > 0) & (d_call < 1)) and np.allclose(d_call - d_put, 1.0)


def test_greeks_at_once_are_the_single_functions_bit_for_bit() -> None:
    gen = np.random.default_rng(2)
    k = gen.uniform(50.0, 1_000.0, 500)
    t = np.where(gen.random(500) < 0.1, 0.0, gen.uniform(0.0, 2.0, 500))  # some at MIN_T
    v = gen.uniform(0.0, 1.5, 500)
    calls = gen.random(500) < 0.5
    for rate, carry in ((0.0, 0.0), (0.04, 0.01)):
        got = greeks(228.0, k, t, v, calls, rate, carry)
        want = (price(228.0, k, t, v, calls, rate, carry),
                delta(228.0, k, t, v, calls, rate, carry),
                gamma(228.0, k, t, v, rate, carry), vega(228.0, k, t, v, rate, carry))
        for ours, single in zip(got, want, strict=True):
            assert np.array_equal(ours, single)


def test_implied_vol_inverts_price() -> None:
    k = np.linspace(400, 700, 31)
    vols = np.linspace(0.1, 0.8, 31)
    for is_call in (True, False):
        p = price(575.0, k, 0.05, vols, is_call)
        iv = implied_vol(p, 575.0, k, 0.05, is_call)
        assert np.allclose(price(575.0, k, 0.05, iv, is_call), p, atol=1e-8)
        identifiable = vega(575.0, k, 0.05, vols) > 1e-3  # deep in the money: vol is moot
        assert np.allclose(iv[identifiable], vols[identifiable], atol=1e-6)
    assert np.isnan(implied_vol(0.0001, 575.0, 500.0, 0.1, True))  # below intrinsic


def test_term_structure_follows_regime() -> None:
    params = SurfaceParams(base_vol=0.18)
    t = np.array([1, 7, 30, 90, 365]) / 365.0
    calm = atm_term_structure(params, 0.7, t)
    stress = atm_term_structure(params, 2.0, t)
    assert np.all(np.diff(calm) > 0)  # upward when calm
    assert np.all(np.diff(stress) < 0)  # inverted in stress


def test_skew_is_steeper_for_index_like() -> None:
    single = SurfaceParams(base_vol=0.25)
    index = SurfaceParams(base_vol=0.15, **INDEX_LIKE_SKEW)
    t, f = 30 / 365, 100.0
    k = np.array([95.0, 100.0])
    s_iv, i_iv = implied_vols(single, 1.0, f, k, t), implied_vols(index, 1.0, f, k, t)
    assert s_iv[0] > s_iv[1] and i_iv[0] > i_iv[1]
    assert (i_iv[0] - i_iv[1]) / i_iv[1] > (s_iv[0] - s_iv[1]) / s_iv[1]


def test_event_bump_only_after_the_event() -> None:
    params = SurfaceParams(base_vol=0.3, event_move=0.05)
    t = np.array([3, 10]) / 365.0
    plain = implied_vols(SurfaceParams(base_vol=0.3), 1.0, 100.0, 100.0, t)
    bumped = implied_vols(params, 1.0, 100.0, 100.0, t, t_event_years=5 / 365.0)
    assert bumped[0] == pytest.approx(plain[0]) and bumped[1] > plain[1] + 0.05


@pytest.mark.parametrize("vol_ratio", [0.7, 1.0, 2.2])
@pytest.mark.parametrize("days", [0.2, 1, 7, 30, 180])
@pytest.mark.parametrize("index_like", [True, False])
def test_no_static_arbitrage(vol_ratio: float, days: float, index_like: bool) -> None:
    spot = 575.0
    params = SurfaceParams(base_vol=0.16, **(INDEX_LIKE_SKEW if index_like else {}))
    strikes = np.arange(400.0, 751.0, 1.0)
    rough = Roughness.draw(1, "SPY", params.roughness)
    t = days / 365.0
    iv = implied_vols(params, vol_ratio, spot, strikes, t, rough)
    calls = price(spot, strikes, t, iv, True)
    puts = price(spot, strikes, t, iv, False)
    assert np.all(np.diff(calls) <= 1e-9)  # calls decrease in strike
    assert np.all(np.diff(puts) >= -1e-9)  # puts increase in strike
    assert np.all(calls[:-2] - 2 * calls[1:-1] + calls[2:] >= -1e-9)  # butterflies >= 0
    assert np.allclose(calls - puts, spot - strikes, atol=1e-9)  # parity (r = q = 0)


def test_parameters_that_would_admit_arbitrage_are_refused() -> None:
    with pytest.raises(ValueError, match="butterflies"):
        SurfaceParams(base_vol=0.2, rho=-0.9, eta=2.5)


def test_calendar_total_variance_never_falls() -> None:
    params = SurfaceParams(base_vol=0.2)
    t = np.array([0.5, 1, 2, 5, 10, 30, 60, 120, 365]) / 365.0
    for ratio in (0.5, 1.0, 3.0):
        w = implied_vols(params, ratio, 100.0, np.array([[80.0], [100.0], [120.0]]), t) ** 2 * t
        assert np.all(np.diff(w, axis=1) >= -1e-12)


@pytest.mark.parametrize(("params", "band"), [
    (SurfaceParams(base_vol=0.15, **INDEX_LIKE_SKEW), (3.0, 8.0)),
    (SurfaceParams(base_vol=0.28), (0.0, 4.0)),
])
def test_default_skew_in_realism_band(params: SurfaceParams, band: tuple[float, float]) -> None:
    """25-delta put IV minus ATM IV, in vol points (realism targets: options / vol surface)."""
    skew = _skew_points(params, 30)
    assert band[0] <= skew <= band[1]


def _skew_points(params: SurfaceParams, days: float) -> float:
    """25-delta put IV minus ATM IV of ``params`` at ``days`` to expiry, in vol points."""
    t, strikes = days / 365, np.linspace(30, 170, 14001)
    iv = implied_vols(params, 1.0, 100.0, strikes, t)
    put_delta = delta(100.0, strikes, t, iv, False)
    return float(iv[np.argmin(abs(put_delta + 0.25))] - iv[np.argmin(abs(strikes - 100))]) * 100


@pytest.mark.parametrize(("index_like", "vols", "band"), [
    (True, (0.10, 0.15, 0.20, 0.30), (3.0, 8.0)),
    (False, (0.20, 0.26, 0.48, 0.60, 0.90), (0.0, 4.0)),
])
def test_symbol_skew_in_band_at_every_vol_level(index_like: bool, vols: tuple[float, ...],
                                                band: tuple[float, float]) -> None:
    """A symbol's surface keeps its class's put skew in vol points whatever its vol level
    (``smile_eta``): a 60-vol single name in the single-name band, a 20-vol index ETF in
    the index band, at a week and a month to expiry."""
    for vol in vols:
        sym = SymbolProfile(symbol="X", price=100.0, annual_vol=vol, is_etf=index_like)
        params, _ = symbol_surface(sym, index_like)
        for days in (7, 30):
            assert band[0] <= _skew_points(params, days) <= band[1], (vol, days)
