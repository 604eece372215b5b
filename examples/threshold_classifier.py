"""A deliberately simple classifier, in both forms of the study protocol
(docs/CLASSIFIERS.md): an alert for every option print of at least $10,000 premium
paid at the offer, bullish for calls and bearish for puts.

As a Python entry point (the study file beside this one)::

    [classifier]
    entry_point = "threshold_classifier:classify"

As an external command (JSON lines in, JSON lines out)::

    [classifier]
    command = ["python3", "threshold_classifier.py"]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

PREMIUM = 10_000.0  # dollars of premium in one print
AT_THE_OFFER = ("A", "AA")  # NBBO placement of a print paid at (or through) the offer


def judge(event: dict[str, Any]) -> dict[str, Any] | None:
    """The alert of one option print (CONTRACT.md §1 fields), or None."""
    if event.get("notional", 0.0) < PREMIUM or event.get("nbbo_side") not in AT_THE_OFFER:
        return None
    call = event.get("option_type") == "call"
    return {"ts": event["ts"], "underlying": event["underlying_id"],
            "class": "directional_accumulation", "direction": "bullish" if call else "bearish",
            "confidence": 0.6, "evidence_refs": [event["trace_id"]], "abstention_reasons": []}


def classify(batches: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """The entry-point form: ``GeneratedEventBatch``es in replay order in, alerts out."""
    for group in batches:
        if group.kind == "option_print":
            for event in group.batch.to_pylist():
                alert = judge(event)
                if alert is not None:
                    yield alert


def main() -> None:
    """The command form: ``{"event": {...}, "kind": ...}`` lines on stdin, alert lines
    on stdout."""
    for line in sys.stdin:
        entry = json.loads(line)
        if entry["kind"] == "option_print":
            alert = judge(entry["event"])
            if alert is not None:
                print(json.dumps(alert))


if __name__ == "__main__":
    main()
