"""Float arithmetic whose result does not depend on the Python version.

From Python 3.12 the built-in ``sum`` adds floats with Neumaier's compensated
summation (What's New in Python 3.12, "builtins"), so ``sum(xs)`` of the same floats
can differ in the last bit between 3.11 and 3.12, and with it every byte a draw
compared against that sum decides. Output bytes must not depend on the interpreter,
so the simulation sums floats with :func:`ordered_sum`: plain IEEE-754 additions left
to right, the values ``sum`` gave on 3.11 (whose start, the integer 0, adds exactly).
numpy's sums are their own (pairwise) and pinned by numpy's version in the manifest.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from functools import reduce

__all__ = ["ordered_sum"]


def ordered_sum(values: Iterable[float]) -> float:
    """``((0.0 + v0) + v1) + ...``: each addition rounded, left to right, on every
    Python version (the built-in ``sum`` compensates from 3.12). 0.0 when empty."""
    return reduce(operator.add, values, 0.0)
