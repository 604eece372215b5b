"""The safety net of refactors that must change no output byte.

Seven runs (``equities-smoke`` and ``options-smoke`` at seeds 1-3, one of them on two
workers, and an ``options-smoke`` run with two injected scenarios) and the sha256 of
every file each writes. ``tests/test_output_hashes.py`` reruns them and compares.

Record anew (only when a change is meant to alter output, and say so in the commit):

    .venv/bin/python -m tests.output_hashes
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from tapesim.config.run import load_profile, with_overrides
from tapesim.runs import execute_run, library_versions

GOLDEN = Path(__file__).parent / "golden" / "output_hashes.json"

# name -> (profile, seed, workers, scenarios)
RUNS: dict[str, tuple[str, int, int, list[dict[str, str]]]] = {
    "equities-smoke-1": ("equities-smoke", 1, 1, []),
    "equities-smoke-2": ("equities-smoke", 2, 2, []),
    "equities-smoke-3": ("equities-smoke", 3, 1, []),
    "options-smoke-1": ("options-smoke", 1, 1, []),
    "options-smoke-2": ("options-smoke", 2, 2, []),
    "options-smoke-3": ("options-smoke", 3, 1, []),
    "options-smoke-3-scenarios": ("options-smoke", 3, 1, [
        {"name": "institutional-directional-flow", "at": "09:35"},
        {"name": "stale-quote-trap", "at": "09:40"},
    ]),
}


def run_hashes(name: str, out: Path) -> dict[str, str]:
    """Run one of ``RUNS`` into ``out`` and return ``{file name: sha256 hex}``."""
    profile, seed, workers, scenarios = RUNS[name]
    overrides: dict[str, Any] = {"seed": seed}
    if scenarios:
        overrides["scenarios"] = scenarios
    execute_run(with_overrides(load_profile(profile), overrides), out, workers=workers)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def stream_digest(out: Path) -> dict[str, Any]:
    """A run directory's event-stream digest and counts, as its manifest states them."""
    manifest = json.loads((out / "manifest.json").read_text())
    return {"counts": manifest["counts"], "sha256": manifest["event_stream"]["sha256"]}


def record(scratch: Path) -> dict[str, Any]:
    """Every run's file hashes and stream digest, with the library versions used."""
    runs = {name: run_hashes(name, scratch / name) for name in RUNS}
    return {"libraries": library_versions(), "runs": runs,
            "streams": {name: stream_digest(scratch / name) for name in RUNS}}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = record(Path(tmp))
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
