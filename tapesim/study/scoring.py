"""Scoring a classifier's alerts against a cell's labels, and a study's rates.

Per cell (:func:`score_cell`):

- A label's *window* is ``[start_ts, end_ts + latency]`` over its underlying: its
  first to last caused print (``GroundTruthLabel.tapesim.window``, epoch ms UTC) plus
  ``ScoringOptions.latency_s``. Alerts are matched to a label when their ``ts`` falls
  in that window on the same underlying (and, with ``match = "evidence"``, when their
  evidence refs name one of the label's caused prints).
- An expectation ``alert`` is *detected* when a non-abstained alert of the expected
  class (and direction, when the label's is bullish or bearish) is in the window;
  otherwise the outcome is ``wrong_class`` (another alert), ``abstained`` (only
  abstentions) or ``missed``. Its latency is the first matching alert's ``ts`` minus
  the window start (ms).
- Expectations ``no_alert``, ``suppress`` and ``abstain`` are met when no
  non-abstained alert is in the window: the expected outputs state that no alerting
  ``flow_hypothesis_event`` appears for them (``scenarios/labels.py``). Outcomes:
  ``false_alarm``, ``abstained`` (an explicit abstention) or ``quiet``.
- The session is cut into one-minute windows per underlying (minute of ``ts``); a
  window that overlaps no label's window is *background* (with ``match =
  "evidence"`` every window is). A non-abstained alert in a background window that
  no label owns is a false positive; rates are background windows with at least
  one false positive of a band, per 2,000 windows.

Across cells (:func:`study_scores`), every rate is a proportion k/n with its Wilson
score interval at 95% (Wilson 1927, via ``scipy.stats.binomtest``). The summary score
weights each positive label 1 and each trap label by its false-positive penalty score:
``sum(weight if expectation met) / sum(weight)``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import binomtest

from tapesim.events.labels import CAUSED_ROLES, ExpectedOutputManifest, GroundTruthLabel
from tapesim.events.manifest import RunManifest
from tapesim.sim.floats import ordered_sum
from tapesim.study.alerts import Alert
from tapesim.study.spec import ScoringOptions

MINUTE_MS = 60_000
PER_WINDOWS = 2_000  # false positives are reported per this many one-minute windows
BANDS = ("low", "medium", "high")
SIGNED = ("bullish", "bearish")
PASSED = {"alert": ("detected",), "no_alert": ("abstained", "quiet"),
          "suppress": ("abstained", "quiet"), "abstain": ("abstained", "quiet")}


@dataclass
class CellScore:
    """One cell's scored rows: its labels' outcomes, its alerts and its window counts."""

    outcomes: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    windows: int = 0
    background_windows: int = 0
    fp_windows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BANDS, 0))


def _window(label: GroundTruthLabel, latency_ms: int) -> tuple[int, int] | None:
    w = label.tapesim.window
    if w.start_ts is None or w.end_ts is None:
        return None
    return w.start_ts, w.end_ts + latency_ms


def _matches(alert: Alert, label: GroundTruthLabel) -> bool:
    if alert.hypothesis_class != label.expected_class:
        return False
    return label.expected_direction not in SIGNED or alert.direction == label.expected_direction


def _outcome(expectation: str, label: GroundTruthLabel, inside: list[Alert],
             start: int) -> tuple[str, Alert | None, int | None]:
    alerts = [a for a in inside if not a.abstained]
    if expectation == "alert":
        hit = next((a for a in alerts if _matches(a, label)), None)
        if hit is not None:
            return "detected", hit, hit.ts - start
        if alerts:
            return "wrong_class", alerts[0], None
        return ("abstained" if inside else "missed"), None, None
    if alerts:
        return "false_alarm", alerts[0], None
    return ("abstained" if inside else "quiet"), None, None


def score_cell(cell_id: str, manifest: RunManifest, labels: Sequence[GroundTruthLabel],
               expected: Sequence[ExpectedOutputManifest], alerts: Sequence[Alert],
               options: ScoringOptions) -> CellScore:
    """Score one cell (see the module docstring).

    Args:
        cell_id: the cell's id, written on every row.
        manifest: the run's manifest (its session window and symbols).
        labels, expected: the run's labels and their expected outputs, in order.
        alerts: the classifier's alerts, sorted (``alerts.sort_key``).
        options: latency and confidence bands.
    """
    latency = round(options.latency_s * 1000)
    score = CellScore()
    spans: list[tuple[GroundTruthLabel, tuple[int, int] | None]] = [
        (lab, _window(lab, latency)) for lab in labels]
    caused = {lab.label_id: {r.trace_id for r in lab.event_refs if r.role in CAUSED_ROLES}
              for lab in labels}

    def owns(label: GroundTruthLabel, span: tuple[int, int] | None, alert: Alert) -> bool:
        return (span is not None and label.tapesim.underlying_id == alert.underlying
                and span[0] <= alert.ts <= span[1]
                and (options.match == "window"
                     or not caused[label.label_id].isdisjoint(alert.evidence_refs)))

    for (label, span), exp in zip(spans, expected, strict=True):
        row: dict[str, Any] = {
            "cell_id": cell_id, "label_id": label.label_id, "scenario": label.tapesim.scenario,
            "family": label.family, "intensity": float(label.tapesim.parameters["intensity"]),
            "expectation": exp.alert_expectation, "expected_class": label.expected_class,
            "expected_direction": label.expected_direction,
            "penalty": label.false_positive_penalty.score,
            "window_start": span[0] if span else None, "window_end": span[1] if span else None,
            "outcome": "no_caused_prints", "passed": False, "alert_class": None,
            "alert_direction": None, "alert_confidence": None, "latency_ms": None}
        if span is not None:
            inside = [a for a in alerts if owns(label, span, a)]
            outcome, alert, lat = _outcome(exp.alert_expectation, label, inside, span[0])
            row.update(outcome=outcome, passed=outcome in PASSED[exp.alert_expectation],
                       latency_ms=lat)
            if alert is not None:
                row.update(alert_class=alert.hypothesis_class, alert_direction=alert.direction,
                           alert_confidence=alert.confidence)
        score.outcomes.append(row)
    labelled: set[tuple[str, int]] = set()
    for label, span in spans:
        if span is not None:
            labelled.update((label.tapesim.underlying_id, m)
                            for m in range(span[0] // MINUTE_MS, span[1] // MINUTE_MS + 1))
    session = manifest.session
    minutes = range(session.start_ts // MINUTE_MS, -(-session.end_ts // MINUTE_MS))
    every = {(u, m) for u in manifest.symbols for m in minutes}
    # by evidence, a window a label spans can still hold a false positive of its own
    background = every if options.match == "evidence" else every - labelled
    score.windows = len(minutes) * len(manifest.symbols)
    score.background_windows = len(background)
    fp: dict[str, set[tuple[str, int]]] = {b: set() for b in BANDS}
    for index, alert in enumerate(alerts):
        band = options.band(alert.confidence)
        owner = next((lab.label_id for lab, span in spans if owns(lab, span, alert)), None)
        key = (alert.underlying, alert.ts // MINUTE_MS)
        false_positive = not alert.abstained and owner is None and key in background
        if false_positive:
            fp[band].add(key)
        score.alerts.append({"cell_id": cell_id, "index": index, **alert.row(), "band": band,
                             "abstained": alert.abstained, "label_id": owner,
                             "false_positive": false_positive})
    score.fp_windows = {b: len(fp[b]) for b in BANDS}
    return score


def wilson(k: int, n: int) -> tuple[float | None, float | None, float | None]:
    """The proportion k/n and its 95% Wilson score interval; Nones when n is 0."""
    if n == 0:
        return None, None, None
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return k / n, float(ci.low), float(ci.high)


def _rate(metric: str, group: str, k: int, n: int, band: str = "",
          intensity: float | None = None, scale: int = 1) -> dict[str, Any]:
    value, low, high = wilson(k, n)
    return {"metric": metric, "group": group, "band": band, "intensity": intensity,
            "k": k, "n": n, "value": None if value is None else value * scale,
            "ci_low": None if low is None else low * scale,
            "ci_high": None if high is None else high * scale}


def study_scores(outcomes: Sequence[dict[str, Any]], cells: Sequence[dict[str, Any]],
                 ) -> list[dict[str, Any]]:
    """The study's rates from every cell's label outcomes and window counts.

    Rows (``metric``, ``group``, ``band``, ``intensity``, ``k``, ``n``, ``value``,
    ``ci_low``, ``ci_high``), sorted:

    - ``detection_rate``: labels expecting an alert that were detected, per scenario
      and intensity, per family, and over all;
    - ``trap_pass_rate``: labels expecting no alert, suppression or abstention that
      drew no alert, per scenario and over all;
    - ``trap_abstention_rate``: those on which the classifier explicitly abstained;
    - ``fp_per_2000_windows``: background windows with a false positive of the band,
      per 2,000 background windows (the interval scaled alike);
    - ``latency_ms_median``: median detection latency per scenario (k = detections);
    - ``summary_score``: the penalty-weighted share of expectations met (no interval).
    """
    rows: list[dict[str, Any]] = []
    live = [o for o in outcomes if o["outcome"] != "no_caused_prints"]
    pos = [o for o in live if o["expectation"] == "alert"]
    traps = [o for o in live if o["expectation"] != "alert"]

    def groups(items: list[dict[str, Any]], *keys: str) -> dict[Any, list[dict[str, Any]]]:
        out: dict[Any, list[dict[str, Any]]] = {}
        for o in items:
            out.setdefault(tuple(o[k] for k in keys) if len(keys) > 1 else o[keys[0]],
                           []).append(o)
        return out

    def count(items: list[dict[str, Any]], what: str = "passed") -> int:
        return sum(bool(o[what]) if what == "passed" else o["outcome"] == what for o in items)

    for (scenario, intensity), items in sorted(groups(pos, "scenario", "intensity").items()):
        rows.append(_rate("detection_rate", scenario, count(items), len(items),
                          intensity=intensity))
    for family, items in sorted(groups(pos, "family").items()):
        rows.append(_rate("detection_rate", f"family:{family}", count(items), len(items)))
    rows.append(_rate("detection_rate", "all", count(pos), len(pos)))
    for scenario, items in sorted(groups(traps, "scenario").items()):
        rows.append(_rate("trap_pass_rate", scenario, count(items), len(items)))
        rows.append(_rate("trap_abstention_rate", scenario, count(items, "abstained"),
                          len(items)))
    rows.append(_rate("trap_pass_rate", "all", count(traps), len(traps)))
    rows.append(_rate("trap_abstention_rate", "all", count(traps, "abstained"), len(traps)))
    background = sum(c["background_windows"] for c in cells)
    for band in BANDS:
        k = sum(c[f"fp_windows_{band}"] for c in cells)
        rows.append(_rate("fp_per_2000_windows", "all", k, background, band=band,
                          scale=PER_WINDOWS))
    for scenario, items in sorted(groups(pos, "scenario").items()):
        lat = [o["latency_ms"] for o in items if o["latency_ms"] is not None]
        rows.append({"metric": "latency_ms_median", "group": scenario, "band": "",
                     "intensity": None, "k": len(lat), "n": len(items),
                     "value": float(statistics.median(lat)) if lat else None,
                     "ci_low": None, "ci_high": None})
    weight = ordered_sum(1.0 for _ in pos) + ordered_sum(o["penalty"] for o in traps)
    earned = (ordered_sum(1.0 for o in pos if o["passed"])
              + ordered_sum(o["penalty"] for o in traps if o["passed"]))
    rows.append({"metric": "summary_score", "group": "all", "band": "", "intensity": None,
                 "k": None, "n": len(live), "value": earned / weight if weight else None,
                 "ci_low": None, "ci_high": None})
    return rows
