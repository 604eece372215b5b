"""The stock's order flow: self-exciting arrivals, the day's volume profile, trade sizes.

Kernel-level checks on the arrival process and the profile, and one short simulated
window whose prints must cluster the way real tapes do (``docs/realism-targets.md``,
"inter-arrival times" and "trade sizes").
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import simpy

from tapesim.agents.context import volume_profile
from tapesim.agents.retail import odd_lot
from tapesim.calibration import microstructure as ms
from tapesim.calibration import stats as st
from tapesim.config.run import load_profile, with_overrides
from tapesim.config.traders import ArrivalsConfig
from tapesim.market.shard import ShardModel
from tapesim.runs import execute_run
from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.population import Excitation, arrivals
from tapesim.sim.rng import Draws, stream


def _arrival_times(excitation: Excitation | None, rate: float, seconds: int) -> np.ndarray:
    env = simpy.Environment()
    times: list[int] = []
    process: Generator[simpy.Event, None, None] = arrivals(
        env, Draws(stream(3, "test", "arrivals")), lambda _now: rate, seconds * NS_PER_S,
        lambda: times.append(env.now), excitation=excitation)
    env.process(process)
    env.run()
    return np.asarray(times, dtype=np.float64)


def _excitation(cfg: ArrivalsConfig) -> Excitation:
    return Excitation(cfg.branching, tuple(ms_ * 1e6 for ms_ in cfg.reaction_ms), cfg.weights())


def test_self_excited_arrivals_keep_the_mean_rate_and_cluster() -> None:
    seconds, rate = 3_000, 4.0
    poisson = _arrival_times(None, rate, seconds)
    hawkes = _arrival_times(_excitation(ArrivalsConfig()), rate, seconds)
    # The baseline is scaled by 1 - branching: the long-run rate is the population's.
    # (Cluster sizes have sd ~ 11 at branching 0.8: the count's sd is ~ 5% of it.)
    assert hawkes.size / seconds == pytest.approx(rate, rel=0.2)
    assert poisson.size / seconds == pytest.approx(rate, rel=0.05)
    assert st.coefficient_of_variation(np.diff(poisson)) == pytest.approx(1.0, abs=0.1)
    gaps = np.diff(hawkes)
    assert st.coefficient_of_variation(gaps) > 2.0
    assert st.weibull_shape(gaps) < 0.6  # an exponential's shape is 1
    assert np.mean(gaps < 1e6) > 0.1  # reactions within a millisecond


def test_without_branching_the_excited_process_is_poisson() -> None:
    cfg = ArrivalsConfig(branching=0.0)
    gaps = np.diff(_arrival_times(_excitation(cfg), 4.0, 2_000))
    assert st.coefficient_of_variation(gaps) == pytest.approx(1.0, abs=0.1)
    assert gaps.mean() == pytest.approx(NS_PER_S / 4.0, rel=0.1)


def test_the_volume_profile_closes_heavy_and_is_noisy() -> None:
    seconds = 23_400
    flat = np.ones(seconds)
    smooth = volume_profile(ArrivalsConfig(interest_sd=0.0), flat, stream(1, "t", "v"))
    assert smooth.mean() == pytest.approx(1.0)
    assert smooth[-1800:].mean() / smooth[7200:16200].mean() > 1.5
    assert np.all(np.diff(smooth) >= 0)  # only the close ramp: rising all day
    noisy = volume_profile(ArrivalsConfig(), flat, stream(1, "t", "v"))
    assert noisy.shape == (seconds,) and np.all(noisy > 0)
    bins = noisy.reshape(13, 1800).mean(axis=1)
    assert ms.bin_noise(bins) > 0.1
    with pytest.raises(ValueError, match="same length"):
        ArrivalsConfig(reaction_ms=[1.0, 2.0], reaction_weights=[1.0])


def test_odd_lots_have_the_modes_real_tapes_show() -> None:
    d = Draws(stream(5, "test", "sizes"))
    sizes = np.array([odd_lot(d) for _ in range(20_000)])
    assert sizes.min() >= 1 and sizes.max() <= 99
    ratio, _peaks = ms.small_mode_ratio(sizes)
    assert ratio > 1.5


def test_prints_of_a_midday_window_cluster_in_time(tmp_path: Path) -> None:
    config = with_overrides(load_profile("equities-day"), {
        "seed": 2, "session": {"start": "11:00:00", "end": "11:20:00"},
        "symbols": [s.model_dump(mode="json") for s in load_profile("equities-day").symbols
                    if s.symbol == "AAPL"]})
    out = tmp_path / "run"
    execute_run(config, out)
    ts = pq.read_table(out / "equity_prints.parquet", columns=["ts"])["ts"].to_numpy()
    durations = np.diff(ts).astype(np.float64)  # ms, replay order, AAPL only
    assert ts.size > 500
    assert st.coefficient_of_variation(durations) > 2.0  # Poisson arrivals gave about 1.6
    assert st.weibull_shape(durations) < 0.6  # and about 0.75
    assert ms.same_ms_share(ts) > 0.15


def test_trading_follows_recent_price_moves(tmp_path: Path) -> None:
    """With the close ramp and interest noise off, the traders' multiplier is the
    response to recent latent moves alone: busy minutes are the minutes that moved."""
    quiet = {"seed": 3, "arrivals": {"close_boost": 0.0, "interest_sd": 0.0}}
    config = with_overrides(load_profile("equities-smoke"), quiet)
    ctx = ShardModel(config, "AAPL", tmp_path / "a.arrow").ctx
    volume = np.asarray(ctx.volume)
    minutes = volume.size // 60
    per_minute = 60 * NS_PER_S // ctx.latent.step_ns
    ends = np.minimum(np.arange(minutes + 1) * per_minute, ctx.latent.value.size - 1)
    moves = np.abs(np.diff(np.log(ctx.latent.value[ends])))
    busy = volume[:minutes * 60].reshape(minutes, 60).mean(axis=1)
    assert np.corrcoef(moves, busy)[0, 1] > 0.3
    # ... and the session's expected arrivals are the activity path's alone
    mid = (np.arange(volume.size) + 0.5) * NS_PER_S // ctx.latent.step_ns
    activity = np.asarray(ctx.activity_path)[mid.astype(np.int64)]
    assert (activity * volume).mean() == pytest.approx(activity.mean())
    flat = with_overrides(config, {"arrivals": {"volume_vol_elasticity": 0.0}})
    assert np.allclose(ShardModel(flat, "AAPL", tmp_path / "b.arrow").ctx.volume, 1.0)
