"""docs/DATA.md stays true: every written column and manifest key is in the dictionary.

The dictionary documents each file of a run directory under a heading naming the
file (``## `equity_quotes.parquet` ``) with a table whose rows start
``| `column` | `arrow type` | null? |``. These tests read the tiny runs' real
files and fail when a column is missing from its file's table, a documented
column no longer exists, a stated Arrow type or nullability is wrong, a file of
the run directory has no section, or a top-level manifest key is undocumented.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

DATA_MD = Path(__file__).resolve().parents[1] / "docs" / "DATA.md"
_HEADING = re.compile(r"^## `([^`]+)`\s*$")
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*(yes|no)\s*\|")
_KEY_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


def _sections() -> dict[str, list[str]]:
    """The lines under each ``## `file` `` heading of DATA.md, by file name."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in DATA_MD.read_text("utf-8").splitlines():
        if line.startswith("## "):
            match = _HEADING.match(line)
            current = sections.setdefault(match.group(1), []) if match else None
        elif current is not None:
            current.append(line)
    return sections


def _columns(lines: list[str]) -> dict[str, tuple[str, bool]]:
    """(Arrow type, nullable) of each column row of a file's table."""
    out = {}
    for line in lines:
        match = _ROW.match(line)
        if match:
            out[match.group(1)] = (match.group(2), match.group(3) == "yes")
    return out


@pytest.mark.parametrize("fixture", ["tiny_run", "tiny_options_run"])
def test_every_parquet_column_is_documented(fixture: str, request: pytest.FixtureRequest) -> None:
    run_dir: Path = request.getfixturevalue(fixture)
    sections = _sections()
    for path in sorted(run_dir.glob("*.parquet")):
        assert path.name in sections, f"docs/DATA.md has no section for {path.name}"
        documented = _columns(sections[path.name])
        schema = pq.read_schema(path)
        written = {f.name: (str(f.type), f.nullable) for f in schema}
        missing = sorted(set(written) - set(documented))
        assert not missing, f"{path.name}: columns missing from docs/DATA.md: {missing}"
        stale = sorted(set(documented) - set(written))
        assert not stale, f"{path.name}: docs/DATA.md documents columns not written: {stale}"
        wrong = {name: (documented[name], actual) for name, actual in written.items()
                 if documented[name] != actual}
        assert not wrong, f"{path.name}: (documented, written) type and nullability: {wrong}"


@pytest.mark.parametrize("fixture", ["tiny_run", "tiny_options_run"])
def test_every_file_and_manifest_key_is_documented(fixture: str,
                                                   request: pytest.FixtureRequest) -> None:
    run_dir: Path = request.getfixturevalue(fixture)
    sections = _sections()
    undocumented = sorted(p.name for p in run_dir.iterdir()
                          if p.name not in sections and f"*{p.suffix}" not in sections)
    assert not undocumented, f"files without a section in docs/DATA.md: {undocumented}"
    manifest = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    keys = {m.group(1) for line in sections["manifest.json"]
            if (m := _KEY_ROW.match(line))}
    missing = sorted(set(manifest) - keys)
    assert not missing, f"manifest keys missing from docs/DATA.md: {missing}"
