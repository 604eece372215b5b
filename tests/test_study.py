"""The false-positive study harness: study files, scoring, the reference classifier's
rules, the classifier protocol's two forms, the CLI's bad input and byte identity of
a study for 1 and 2 workers.

The end-to-end tests share one tiny grid (options-smoke, seed 1, 90 simulated seconds:
background, an institutional call accumulation and a stale-quote trap), its runs cached
with the ``synthetic_run`` fixture's, so the suite simulates them once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapesim.api.run import SyntheticRun
from tapesim.cli import app
from tapesim.scenarios import reference, reference_baselines, reference_flow, reference_rules
from tapesim.scenarios.reference_baselines import Cluster, focus
from tapesim.scenarios.reference_flow import Supply
from tapesim.scenarios.reference_rules import NO_BASELINE_CAP, hypothesis
from tapesim.sim.strict import ConfigError
from tapesim.study.alerts import Alert
from tapesim.study.classifiers import classify, identity
from tapesim.study.errors import ClassifierError
from tapesim.study.runner import import_path, run_study
from tapesim.study.scoring import score_cell, wilson
from tapesim.study.spec import ClassifierSpec, ScoringOptions, Study, load_study, study_of
from tapesim.study.tables import read_study
from tapesim.testing.cache import RunCache

TINY = """
name = "tiny"
[grid]
profiles = ["options-smoke"]
seeds = [1]
scenarios = ["none", "institutional-directional-flow", "stale-quote-trap"]
at = ["09:30:20"]
duration_s = 30
end = "09:31:30"
[classifier]
{classifier}
"""
REFERENCE = 'entry_point = "tapesim.study.reference:classify"'
TABLES = ("cells.parquet", "alerts.parquet", "outcomes.parquet", "scores.parquet")


def _study(tmp_path: Path, classifier: str = REFERENCE, text: str = TINY) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text.format(classifier=classifier), "utf-8")
    return path


def _data(**grid: Any) -> dict[str, Any]:
    base = {"profiles": ["options-smoke"], "seeds": [1], "scenarios": ["none"],
            "at": ["09:31"]}
    return {"name": "t", "grid": {**base, **grid},
            "classifier": {"entry_point": "tapesim.study.reference:classify"}}


# --- the study file ----------------------------------------------------------------------

def test_a_grid_expands_to_cells_and_none_takes_no_time_or_intensity() -> None:
    study = study_of(_data(seeds=[1, 2], scenarios=["none", "benign-block"],
                           intensities=[1.0, 2.0], at=["09:31", "09:32:30"]))
    ids = [c.cell_id for c in study.cells()]
    assert len(ids) == 2 * (1 + 2 * 2)
    assert ids[:3] == ["options-smoke/s1/none", "options-smoke/s1/benign-block@09:31x1",
                       "options-smoke/s1/benign-block@09:32:30x1"]
    assert study.cells()[1].config().scenarios[0].intensity == 1.0


@pytest.mark.parametrize(("grid", "classifier", "named"), [
    ({"seeds": ["1"]}, None, "grid.seeds.0"),
    ({"scenarios": ["no-such-scenario"]}, None, "unknown scenario 'no-such-scenario'"),
    ({"at": ["9h30"]}, None, "grid.at"),
    ({"intensities": [0.0]}, None, "grid.intensities"),
    ({}, {"entry_point": "a:b", "command": ["x"]}, "give exactly one of"),
    ({}, {"entry_point": "not an entry point"}, "classifier.entry_point"),
])
def test_a_bad_study_field_is_one_line_naming_it(grid: dict[str, Any],
                                                 classifier: dict[str, Any] | None,
                                                 named: str) -> None:
    data = _data(**grid)
    if classifier is not None:
        data["classifier"] = classifier
    with pytest.raises(ConfigError) as caught:
        study_of(data)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_repeated_grid_value_is_refused() -> None:
    with pytest.raises(ConfigError, match="appears twice"):
        study_of(_data(seeds=[3, 3])).cells()


# --- scoring ----------------------------------------------------------------------------

def test_wilson_interval_matches_the_formula() -> None:
    # Wilson (1927): (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.959964
    k, n, z = 3, 10, 1.959963984540054
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    value, low, high = wilson(k, n)
    assert value == pytest.approx(0.3)
    assert low == pytest.approx((centre - half) / (1 + z * z / n))
    assert high == pytest.approx((centre + half) / (1 + z * z / n))
    assert wilson(0, 0) == (None, None, None)


def _alert(ts: int, cls: str = "directional_accumulation", direction: str = "bullish",
           confidence: float = 0.8, reasons: list[str] | None = None) -> Alert:
    return Alert.model_validate({"ts": ts, "underlying": "SPY", "class": cls,
                                 "direction": direction, "confidence": confidence,
                                 "abstention_reasons": reasons or []})


@pytest.fixture(scope="module")
def labelled_run(synthetic_run: RunCache) -> SyntheticRun:
    return synthetic_run("options-smoke", seed=1, session={"end": "09:31:30"},
                         scenarios=[{"name": "institutional-directional-flow",
                                     "at": "09:30:20", "duration_s": 30}])


@pytest.mark.parametrize(("alerts", "outcome", "passed"), [
    ([("directional_accumulation", "bullish", 0.8)], "detected", True),
    ([("directional_accumulation", "bearish", 0.8)], "wrong_class", False),
    ([("unclear", "unknown", 0.0)], "abstained", False),
    ([], "missed", False),
])
def test_a_positive_label_is_detected_only_by_its_class_and_direction(
        labelled_run: SyntheticRun, alerts: list[tuple[str, str, float]], outcome: str,
        passed: bool) -> None:
    label = labelled_run.labels[0]
    start = label.tapesim.window.start_ts
    assert start is not None
    made = [_alert(start + 5_000, c, d, conf) for c, d, conf in alerts]
    score = score_cell("c", labelled_run.manifest, labelled_run.labels,
                       labelled_run.expected_outputs, made, ScoringOptions())
    row = score.outcomes[0]
    assert (row["outcome"], row["passed"]) == (outcome, passed)
    assert row["latency_ms"] == (5_000 if outcome == "detected" else None)


def test_an_alert_after_the_latency_allowance_does_not_count(
        labelled_run: SyntheticRun) -> None:
    label = labelled_run.labels[0]
    end = label.tapesim.window.end_ts
    assert end is not None
    late = [_alert(end + 11_000)]
    options = ScoringOptions(latency_s=10)
    score = score_cell("c", labelled_run.manifest, labelled_run.labels,
                       labelled_run.expected_outputs, late, options)
    assert score.outcomes[0]["outcome"] == "missed"
    assert score_cell("c", labelled_run.manifest, labelled_run.labels,
                      labelled_run.expected_outputs, late,
                      ScoringOptions(latency_s=12)).outcomes[0]["outcome"] == "detected"


def test_false_positives_are_background_windows_with_an_alert_per_band(
        synthetic_run: RunCache) -> None:
    run = synthetic_run("options-smoke", seed=1, session={"end": "09:31:30"})
    open_ms = run.manifest.session.start_ts
    alerts = [_alert(open_ms + 1_000, confidence=0.9), _alert(open_ms + 2_000, confidence=0.95),
              _alert(open_ms + 61_000, confidence=0.5),
              _alert(open_ms + 62_000, "unclear", "unknown", 0.0, ["insufficient_evidence"])]
    score = score_cell("c", run.manifest, [], [], alerts, ScoringOptions())
    assert (score.windows, score.background_windows) == (2, 2)
    assert score.fp_windows == {"low": 0, "medium": 1, "high": 1}
    assert [a["false_positive"] for a in score.alerts] == [True, True, True, False]


# --- the reference classifier's rules -------------------------------------------------

def _cluster(**values: Any) -> Cluster:
    base = {"total_premium": 200_000.0, "candidate_count": 6, "nbbo_aggression_ratio_max": 1.0,
            "nbbo_coverage_ratio_mean": 1.0, "nbbo_stale_ratio_mean": 0.0,
            "net_directional_bias": 1.0, "option_type": "call", "sell_ratio": 0.0,
            "option_spread_bps_max": 300.0}
    return Cluster("SPY", 0, values={**base, **values}, premium_z=1.0, repeat_minutes=2)


def _supply(**fields: Any) -> Supply:
    """An expiry sold at the bid over the lookback, as a strangle writer leaves it."""
    base = {"expiry": dt.date(2026, 4, 17), "sold": 150_000.0, "sold_share": 0.95,
            "minutes": 2, "calls": 300, "puts": 300, "now": 40_000.0}
    return Supply(**{**base, **fields})


@pytest.mark.parametrize(("values", "expect"), [
    ({}, ("directional_accumulation", "bullish", "directional")),
    ({"net_directional_bias": -0.9, "option_type": "put"},
     ("directional_accumulation", "bearish", "directional")),
    ({"nbbo_stale_ratio_mean": 0.6}, ("unclear", "unknown", "unusable_quotes")),
    ({"complex_ratio": 1.0}, ("structure_arbitrage", "neutral", "packaged_structure")),
    ({"total_premium": 10_000.0}, ("unclear", "unknown", "too_small")),
    ({"net_directional_bias": 0.1}, ("unclear", "unknown", "conflicting")),
    ({"nbbo_aggression_ratio_max": 0.2}, ("unclear", "unknown", "insufficient")),
    ({"days_to_event": 3, "option_type": "mixed"},
     ("event_positioning", "neutral", "event_positioning")),
])
def test_each_rule_states_its_hypothesis(values: dict[str, Any],
                                         expect: tuple[str, str, str]) -> None:
    h = hypothesis(_cluster(**values))
    assert (h.hypothesis_class, h.direction, h.rule) == expect
    alerting = {"directional", "event_positioning", "volatility_supply"}
    assert bool(h.abstention) == (h.rule not in alerting)


def test_most_premium_against_a_very_wide_quote_is_abstained_on() -> None:
    cluster = _cluster()
    cluster.wide_share = 0.8
    assert hypothesis(cluster).rule == "wide_market"


def test_the_focus_is_the_expiry_with_the_most_premium() -> None:
    prints = [{"option_contract_id": "SPY-2026-03-20-579-C", "notional": 40_000.0},
              {"option_contract_id": "SPY-2026-03-11-570-P", "notional": 30_000.0},
              {"option_contract_id": "SPY-2026-03-11-580-C", "notional": 30_000.0}]
    assert focus(prints) == prints[1:]


def test_confidence_grows_with_premium_and_is_capped_without_a_baseline() -> None:
    small = hypothesis(_cluster(total_premium=60_000.0)).confidence
    large = hypothesis(_cluster(total_premium=600_000.0)).confidence
    assert 0.05 <= small < large <= 0.95
    unknown = _cluster(total_premium=600_000.0)
    unknown.premium_z = None
    assert hypothesis(unknown).confidence == NO_BASELINE_CAP < large


def test_a_crowd_of_small_tickets_is_retail_only_when_unusual_and_one_sided() -> None:
    crowd = _cluster(total_premium=60_000.0, candidate_count=30)
    crowd.crowd_tickets, crowd.crowd_side, crowd.crowd_pace = 9, 1.0, 4.0
    crowd.crowd_direction = "bullish"
    assert (hypothesis(crowd).hypothesis_class, hypothesis(crowd).direction) == (
        "retail_attention_flow", "bullish")
    crowd.crowd_pace = 1.5  # the contract's usual pace: no crowd
    assert hypothesis(crowd).hypothesis_class == "directional_accumulation"
    crowd.crowd_pace, crowd.crowd_side = 4.0, 0.5  # bought and sold alike: churn
    assert hypothesis(crowd).hypothesis_class == "directional_accumulation"
    crowd.crowd_side, crowd.crowd_pace = 1.0, None  # before the cold start: no call
    assert hypothesis(crowd).hypothesis_class == "directional_accumulation"


def test_one_aggressive_minute_is_directional_only_when_repeated_or_outsized() -> None:
    once = _cluster()
    once.repeat_minutes = 1
    assert hypothesis(once).rule == "insufficient"
    once.print_ratio = 6.0  # one block of six typical minutes
    assert hypothesis(once).rule == "directional"


def test_small_same_day_tickets_are_churn_and_abstained_on() -> None:
    churn = _cluster(zero_dte_ratio=1.0, candidate_count=40, total_premium=60_000.0)
    h = hypothesis(churn)
    assert (h.rule, h.abstention) == ("zero_dte_churn", ("insufficient_evidence",))
    assert hypothesis(_cluster(zero_dte_ratio=1.0)).rule == "directional"


def test_calls_and_puts_sold_over_minutes_are_a_volatility_seller() -> None:
    seller = _cluster(sell_ratio=1.0, option_type="put", net_directional_bias=1.0)
    seller.supply = _supply()
    h = hypothesis(seller)
    assert (h.rule, h.hypothesis_class, h.direction) == (
        "volatility_supply", "volatility_supply", "neutral")
    seller.supply = _supply(minutes=1)  # one minute's sale is a single ticket's
    assert hypothesis(seller).rule == "directional"  # the focus: puts sold, bullish
    seller.supply = _supply(calls=40, puts=560)  # puts sold alone: a directional bet
    assert hypothesis(seller).rule == "directional"
    seller.supply = _supply(sold_share=0.6)  # as much bought as sold: no seller
    assert hypothesis(seller).rule == "directional"
    seller.supply = _supply(now=0.0)  # the seller has stopped: no new hypothesis
    assert hypothesis(seller).rule == "directional"


# --- the classifier protocol and the study directory ----------------------------------

def test_the_reference_classifiers_identity_covers_its_rules() -> None:
    """A change to a rule changes the source digest a study manifest records."""
    found = identity(ClassifierSpec(entry_point="tapesim.study.reference:classify"), Path("."))
    files = [Path(m.__file__) for m in (reference_rules, reference_baselines, reference_flow,
                                         reference)]
    want = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    assert found["source_sha256"] == want


def test_a_study_is_byte_identical_for_one_and_two_workers(
        tmp_path: Path, synthetic_run_cache: Path) -> None:
    study = load_study(_study(tmp_path))
    one = run_study(study, tmp_path / "one", workers=1, cache_root=synthetic_run_cache)
    two = run_study(study, tmp_path / "two", workers=2, cache_root=synthetic_run_cache)
    assert one == two
    for name in (*TABLES, "study.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    manifest, tables = read_study(tmp_path / "one")
    cells = tables["cells"].to_pylist()
    assert [c["scenario"] for c in cells] == ["none", "institutional-directional-flow",
                                              "stale-quote-trap"]
    assert manifest["classifier"]["entry_point"] == "tapesim.study.reference:classify"
    outcomes = tables["outcomes"].to_pylist()
    assert {o["expectation"] for o in outcomes} == {"alert", "abstain"}
    metrics = {r["metric"] for r in tables["scores"].to_pylist()}
    assert {"detection_rate", "trap_pass_rate", "fp_per_2000_windows",
            "summary_score"} <= metrics
    html = CliRunner().invoke(app, ["study", "report", str(tmp_path / "one")])
    assert html.exit_code == 0, html.output
    assert "Rates" in (tmp_path / "one" / "report.html").read_text()


ECHO = """\
import json, sys
seen = [json.loads(line) for line in sys.stdin]
prints = [e["event"] for e in seen if e["kind"] == "option_print"]
for p in prints[:2]:
    print(json.dumps({"ts": p["ts"], "underlying": p["underlying_id"],
                      "class": "unclear", "direction": "unknown", "confidence": 0.0,
                      "evidence_refs": [p["trace_id"]],
                      "abstention_reasons": ["insufficient_evidence"]}))
"""


def test_an_external_command_reads_event_lines_and_writes_alert_lines(
        tmp_path: Path, labelled_run: SyntheticRun) -> None:
    (tmp_path / "echo.py").write_text(ECHO)
    study = load_study(_study(tmp_path, f'command = ["{sys.executable}", "echo.py"]\n'
                                        'feed = "option_prints"'))
    alerts = classify(study.classifier, labelled_run.path, "cell", tmp_path)
    first = labelled_run.table("option_print", ["trace_id"]).column(0)[:2].to_pylist()
    assert [a.evidence_refs[0] for a in alerts] == first
    assert all(a.abstained for a in alerts)


@pytest.mark.parametrize(("script", "named"), [
    ("import sys; sys.stdin.read(); print('oops', file=sys.stderr); sys.exit(3)",
     "exited with code 3: oops"),
    ("import sys; sys.stdin.read(); print('{not json')", "output line 1 is not JSON"),
    ("import sys; sys.stdin.read(); print(); print('{\"ts\": 1}')",
     "output line 2: underlying: Field required"),
])
def test_a_failing_external_classifier_is_named_with_cell_and_line(
        tmp_path: Path, labelled_run: SyntheticRun, script: str, named: str) -> None:
    (tmp_path / "c.py").write_text(script)
    study = load_study(_study(tmp_path, f'command = ["{sys.executable}", "c.py"]'))
    with pytest.raises(ClassifierError) as caught:
        classify(study.classifier, labelled_run.path, "the-cell", tmp_path)
    assert "cell the-cell" in str(caught.value)
    assert named in str(caught.value)


def test_the_cli_exits_2_on_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    cases = [REFERENCE.replace("classify", "nothing"),
             'entry_point = "no_such_module_x:classify"']
    for classifier in cases:
        path = _study(tmp_path, classifier)
        result = CliRunner().invoke(app, ["study", "run", str(path), "--out",
                                          str(tmp_path / "out")])
        assert result.exit_code == 2, result.output
        assert "classifier.entry_point" in result.output
        assert not (tmp_path / "out").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.format(classifier=REFERENCE).replace('seeds = [1]', 'seeds = "1"'))
    result = CliRunner().invoke(app, ["study", "run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "grid.seeds" in result.output
    missing = CliRunner().invoke(app, ["study", "report", str(tmp_path)])
    assert missing.exit_code == 2
    assert "not a complete study directory" in missing.output


def test_alerts_are_stored_in_a_fixed_order_whatever_the_classifier_returns(
        tmp_path: Path, synthetic_run_cache: Path) -> None:
    study: Study = load_study(_study(tmp_path))
    run_study(study, tmp_path / "a", cache_root=synthetic_run_cache)
    alerts = pq.read_table(tmp_path / "a" / "alerts.parquet").to_pylist()
    keys = [(a["cell_id"], a["index"]) for a in alerts]
    assert keys == sorted(keys, key=lambda k: ([c.cell_id for c in study.cells()].index(k[0]),
                                               k[1]))
    for cell in {a["cell_id"] for a in alerts}:
        ts = [a["ts"] for a in alerts if a["cell_id"] == cell]
        assert ts == sorted(ts)


def test_the_documented_example_gives_the_same_alerts_in_both_forms(
        tmp_path: Path, labelled_run: SyntheticRun) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    forms = ['entry_point = "threshold_classifier:classify"',
             f'command = ["{sys.executable}", "threshold_classifier.py"]']
    found = []
    for form in forms:
        study = study_of({"name": "t", "grid": {"profiles": ["options-smoke"], "seeds": [1],
                                                "scenarios": ["none"], "at": ["09:31"]},
                          "classifier": {**tomllib.loads(form), "feed": "option_prints"}},
                         base_dir=examples)
        import_path(study)
        found.append(classify(study.classifier, labelled_run.path, "cell", examples))
    assert found[0] == found[1]
    assert found[0], "the injected call accumulation pays the offer in $10,000+ prints"
    assert {a.hypothesis_class for a in found[0]} == {"directional_accumulation"}


def test_matching_by_evidence_tells_background_alerts_in_a_label_window_apart(
        labelled_run: SyntheticRun) -> None:
    label = labelled_run.labels[0]
    start = label.tapesim.window.start_ts
    assert start is not None
    anchor = next(r.trace_id for r in label.event_refs if r.role == "anchor")
    stranger = _alert(start + 1_000).model_copy(update={"evidence_refs": ["elsewhere"]})
    own = _alert(start + 2_000).model_copy(update={"evidence_refs": [anchor]})
    by_evidence = ScoringOptions(match="evidence")
    args = ("c", labelled_run.manifest, labelled_run.labels, labelled_run.expected_outputs)
    assert score_cell(*args, [stranger], ScoringOptions()).outcomes[0]["outcome"] == "detected"
    alone = score_cell(*args, [stranger], by_evidence)
    assert alone.outcomes[0]["outcome"] == "missed"
    assert alone.alerts[0]["false_positive"]
    assert alone.background_windows == alone.windows
    both = score_cell(*args, [stranger, own], by_evidence)
    assert both.outcomes[0]["outcome"] == "detected"
    assert [a["false_positive"] for a in both.alerts] == [True, False]



@pytest.mark.parametrize("example", sorted((Path(__file__).parent.parent / "examples")
                                           .glob("study-*.toml")), ids=lambda p: p.name)
def test_every_shipped_study_cell_has_time_to_act(example: Path) -> None:
    from tapesim.scenarios.catalog import check_leads

    for cell in load_study(example).cells():
        check_leads(cell.config())  # raises, naming the scenario, when a cell is too short
