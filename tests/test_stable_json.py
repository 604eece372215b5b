"""Stable stringification and FNV-1a hashing reproduce the pipeline's own test vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapesim.events.stable_json import UNDEFINED, js_number, stable_hash, stable_stringify

VECTORS = json.loads((Path(__file__).parent / "data/islandflow/stable-hash-vectors.json")
                     .read_text("utf-8"))


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["stable_stringify"][:30])
def test_reference_vectors(case: dict) -> None:
    assert stable_stringify(case["input_js"]) == case["stable_stringify"]
    assert stable_hash(case["input_js"]) == case["stable_hash"]


@pytest.mark.parametrize(
    ("number", "text"),
    [(500.0, "500"), (1e21, "1e+21"), (1e-7, "1e-7"), (123e-20, "1.23e-18"), (0.000001, "0.000001"),
     (1.5e300, "1.5e+300"), (-0.0, "0"), (-2.5, "-2.5"), (2**60, "1152921504606847000"),
     (1e20, "100000000000000000000"), (float("nan"), "null"), (5e-324, "5e-324")],
)
def test_js_number_forms(number: float, text: str) -> None:
    assert js_number(number) == text


def test_undefined_entries_are_dropped() -> None:
    assert stable_stringify({"a": UNDEFINED, "b": None}) == '{"b":null}'
    assert stable_stringify([UNDEFINED]) == "[null]"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_numbers_round_trip(x: float) -> None:
    assert float(js_number(x)) == x


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numpy_floats_stringify_as_the_float_they_are(x: float) -> None:
    assert stable_stringify(np.float64(x)) == stable_stringify(x)
    assert stable_stringify({"v": [np.float64(x)]}) == stable_stringify({"v": [x]})


def test_other_numpy_scalars_are_refused() -> None:
    for value in (np.int64(3), np.float32(1.5), {"v": np.int32(1)}):
        with pytest.raises(TypeError):
            stable_stringify(value)
