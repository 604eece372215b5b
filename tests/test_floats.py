"""Float sums that give the same bits on every Python version."""

from __future__ import annotations

import random
from functools import reduce

from tapesim.sim.floats import ordered_sum


def test_ordered_sum_rounds_each_addition_left_to_right() -> None:
    # 1e16 + 1.0 rounds back to 1e16, so the plain left-to-right sum is 0.0; Python
    # 3.12's compensated built-in sum gives 1.0 for the same list.
    assert ordered_sum([1e16, 1.0, -1e16]) == 0.0
    assert ordered_sum([0.1] * 10) == 0.9999999999999999
    assert ordered_sum([]) == 0.0
    assert ordered_sum(iter([2.5, -0.5])) == 2.0


def test_ordered_sum_is_a_left_fold_of_additions() -> None:
    rng = random.Random(7)
    for _ in range(2_000):
        xs = [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 8) for _ in range(rng.randint(1, 8))]
        assert ordered_sum(xs) == reduce(lambda a, b: a + b, xs)
