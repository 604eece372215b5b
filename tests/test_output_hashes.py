"""Refactors change no output byte: seven recorded runs, every file's sha256.

With the library versions the hashes were recorded under, every file must match.
Under other exchange-calendars/numpy/pyarrow/simpy versions Parquet and manifest bytes
may legitimately differ (the manifest pins versions; Parquet stamps its writer), so only the files
that do not depend on them are compared, plus the manifest's event-stream digest and
counts. Record anew with ``python -m tests.output_hashes`` (see that module).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.output_hashes import GOLDEN, RUNS, library_versions, run_hashes, stream_digest

RECORDED = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(RUNS))
def test_output_bytes_unchanged(name: str, tmp_path: Path) -> None:
    expected = RECORDED["runs"][name]
    got = run_hashes(name, tmp_path / name)
    assert sorted(got) == sorted(expected), "the run writes a different set of files"
    if library_versions() == RECORDED["libraries"]:
        assert got == expected
        return
    stable = {f for f in expected if not f.endswith(".parquet") and f != "manifest.json"}
    assert {f: got[f] for f in stable} == {f: expected[f] for f in stable}
    assert stream_digest(tmp_path / name) == RECORDED["streams"][name]
