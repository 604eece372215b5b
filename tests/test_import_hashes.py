"""Importer refactors change no output byte: small tapes of every format, every file's sha256.

With the library versions the hashes were recorded under, every file of every import
must match (``tests/import_hashes.py`` writes the sources and records anew). Under
other versions Parquet and manifest bytes may legitimately differ (Parquet stamps its
writer; the source files' hashes feed the run id), so only the event-stream digest and
counts are compared then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.import_hashes import GOLDEN, RUNS, run_hashes, stream_digest, versions

RECORDED = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(RUNS))
def test_import_bytes_unchanged(name: str, tmp_path: Path) -> None:
    expected = RECORDED["runs"][name]
    got = run_hashes(name, tmp_path)
    assert sorted(got) == sorted(expected), "the import writes a different set of files"
    if versions() == RECORDED["libraries"]:
        assert got == expected
    else:
        assert stream_digest(tmp_path / "run") == RECORDED["streams"][name]
