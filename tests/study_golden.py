"""The alert signatures of a small study, held stable by ``tests/test_study_golden.py``.

Three scenario families (institutional directional flow, volatility supply, and the
stale-quote trap) on seeds 1 and 2, in two-minute ``options-smoke`` cells, scored
with the reference classifier over every option print. A signature is one line per
alert or abstention of ``alerts.parquet``: cell, time, underlying, class, direction,
confidence, band, the label whose window holds it, and its evidence (count and a
digest of the trace ids); then one line per label outcome.

The signatures move whenever the engine, the scenarios or the reference classifier
change what they produce. Record anew (only when such a change is meant, and say so
in the commit):

    .venv/bin/python -m tests.study_golden
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tapesim.study.runner import run_study
from tapesim.study.spec import Study, study_of
from tapesim.study.tables import read_study

GOLDEN = Path(__file__).parent / "golden" / "study_alerts.json"

STUDY: dict[str, Any] = {
    "name": "golden",
    "grid": {"profiles": ["options-smoke"], "seeds": [1, 2],
             "scenarios": ["institutional-directional-flow", "volatility-seller-supply",
                           "stale-quote-trap"],
             "at": ["09:30:40"], "duration_s": 60, "end": "09:32:00"},
    "classifier": {"entry_point": "tapesim.study.reference:classify",
                   "feed": "option_prints"},
}


def golden_study() -> Study:
    """The small study whose signatures the golden file holds."""
    return study_of(STUDY, "golden study")


def _refs(refs: list[str]) -> str:
    return f"{len(refs)}:{hashlib.sha256('|'.join(refs).encode()).hexdigest()[:12]}"


def signatures(study_dir: Path) -> dict[str, list[str]]:
    """A study directory's alert and outcome signatures, by table, in stored order."""
    _, tables = read_study(study_dir)
    alerts = [f"{a['cell_id']} {a['ts']} {a['underlying']} {a['class']} {a['direction']} "
              f"{a['confidence']:.3f} {a['band']} {a['label_id'] or '-'} "
              f"{_refs(a['evidence_refs'])}" for a in tables["alerts"].to_pylist()]
    outcomes = [f"{o['cell_id']} {o['label_id']} {o['outcome']} {o['alert_class'] or '-'} "
                f"{o['latency_ms'] if o['latency_ms'] is not None else '-'}"
                for o in tables["outcomes"].to_pylist()]
    return {"alerts": alerts, "outcomes": outcomes}


def record(scratch: Path, cache_root: Path) -> dict[str, list[str]]:
    """Run the golden study into ``scratch`` (runs cached under ``cache_root``); its
    signatures."""
    run_study(golden_study(), scratch, workers=1, cache_root=cache_root)
    return signatures(scratch)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        found = record(Path(tmp) / "study", Path(tmp) / "runs")
    GOLDEN.write_text(json.dumps(found, indent=1) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
