"""Stable stringification and FNV-1a hashing reproduce the pipeline's own test vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesim.events.fnv import FnvStream, fnv1a32_segments, hash_entries, hex_digests
from tapesim.events.stable_json import (
    UNDEFINED,
    fnv1a32,
    hash_text,
    js_number,
    stable_hash,
    stable_stringify,
)

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


# --- the compiled hash (events/fnv.py) against the plain one -------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # non-BMP characters included


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=8))
def test_compiled_fnv_equals_the_plain_one(texts: list[str]) -> None:
    """Each text's hash, and the hash of them all fed piece by piece (ASCII pieces
    hashed as bytes, others transcoded to UTF-16)."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    each = fnv1a32_segments(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)
    assert each.tolist() == [fnv1a32(t) for t in texts]
    assert hex_digests(each) == "".join(f"{fnv1a32(t):08x}" for t in texts).encode()
    whole = "".join(texts)
    stream = FnvStream()
    for piece in texts:
        stream.update(piece.encode("utf-8"))
    assert stream.hexdigest() == hash_text(whole)


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["stable_stringify"][:30])
def test_compiled_fnv_on_the_reference_vectors(case: dict) -> None:
    stream = FnvStream()
    stream.update(case["stable_stringify"].encode("utf-8"))
    assert stream.hexdigest() == case["stable_hash"]


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=8), st.sampled_from([",", "\n", ",\n"]),
       st.booleans())
def test_entries_hashed_with_the_whole_in_one_pass(texts: list[str], sep: str,
                                                   whole: bool) -> None:
    """Each entry's hash (without its separator) and the two streams continued over all
    of it (the last separator only when ``whole``) equal the plain hash of each."""
    raw = [(t + sep).encode("utf-8") for t in texts]
    offsets = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in raw], out=offsets[1:])
    streams = (FnvStream(), FnvStream())
    streams[1].update(b"prefix")
    hashes = hash_entries(np.frombuffer(b"".join(raw), dtype=np.uint8), offsets, len(sep),
                          streams, whole=whole)
    assert hashes.tolist() == [fnv1a32(t) for t in texts]
    fed = sep.join(texts) + (sep if whole else "")
    assert streams[0].hexdigest() == hash_text(fed)
    assert streams[1].hexdigest() == hash_text("prefix" + fed)
