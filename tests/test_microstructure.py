"""The microstructure statistics of the scorecard, on inputs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tapesim.calibration import microstructure as ms

MIN = 60_000


def test_bin_noise_is_the_median_relative_change() -> None:
    assert ms.bin_noise([1.0, 1.5, 0.75, 0.75]) == pytest.approx(0.5)  # 0.5, 0.5, 0
    assert ms.bin_noise([1.0, 1.0, 1.0]) == 0.0
    assert math.isnan(ms.bin_noise([1.0]))


def test_price_changes_skip_repeats_of_the_same_nbbo() -> None:
    mask = ms.price_change_mask([10.0, 10.0, 10.005, 10.005, 10.0], [2, 2, 1, 1, 2])
    assert mask.tolist() == [True, False, True, False, True]


def test_change_seconds_count_each_second_once() -> None:
    # changes in seconds 0, 0, 1 and 9 of a 10-second window; one outside it
    ts = np.array([0, 500, 1500, 9999, 10_000]) + 1_000_000
    assert ms.change_seconds_share(ts, 1_000_000, 1_010_000) == pytest.approx(3 / 10)


def test_clustering_shares() -> None:
    assert ms.same_ms_share([5, 5, 6, 9, 9]) == pytest.approx(2 / 4)
    assert ms.same_price_share([10.0, 10.0, 10.01, 10.01, 10.0]) == pytest.approx(2 / 4)
    assert math.isnan(ms.same_ms_share([5]))


def test_small_modes_ignore_other_modes_as_neighbours() -> None:
    sizes = [1] * 9 + [2] * 3 + [5] * 6 + [4] * 2 + [10] * 8 + [25] * 4 + [50] * 5 + [51] * 5
    ratio, peaks = ms.small_mode_ratio(sizes)
    assert dict((m, (c, nb)) for m, c, nb in peaks) == {
        1: (9, 3), 5: (6, 2), 10: (8, 0), 25: (4, 0), 50: (5, 5)}
    assert ratio == pytest.approx(1.0)  # 50 ties its neighbour 51: not a peak
    assert math.isnan(ms.small_mode_ratio([])[0])


def test_the_open_spread_decays_in_the_minute_it_reaches_the_reference() -> None:
    o = 0
    # 4 ticks for 12 minutes after the open, then 1 tick; midday reference 1 tick
    ts = np.array([o, o + 12 * MIN])
    spread = np.array([4.0, 1.0])
    assert ms.window_spread(ts, spread, o, o + 5 * MIN) == 4.0
    assert ms.window_spread(ts, spread, o + 11 * MIN, o + 13 * MIN) == pytest.approx(2.5)
    assert ms.open_decay_minutes(ts, spread, o, reference=1.0) == 12.0
    assert ms.open_decay_minutes(ts, spread, o, reference=1.0, horizon_min=10) == 10.0
    assert math.isnan(ms.open_decay_minutes(ts, spread, o, reference=0.0))
