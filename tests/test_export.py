"""Export to the pipeline's fixture format: what its loader checks, checked here."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.cli.ui import count_progress
from tapesim.events.models import OPTION_PRINT
from tapesim.events.stable_json import stable_hash, stable_stringify
from tapesim.export import slices
from tapesim.export.sidecars import ExportError, check_sidecars
from tapesim.export.slices import BATCH_ROWS
from tapesim.io.manifest import artifact_entry, canonical_json
from tests.synthetic_run import write_option_run

REFERENCE = Path(__file__).parent / "data/islandflow/fixture-small"
LABEL_LIKE = {"label", "labels", "hidden_label", "hidden_labels", "expected_outputs",
              "scenario_id", "source_kind"}
runner = CliRunner()


def load_like_the_pipeline(fixture: Path) -> dict:
    """Every check the contract says the loader makes; returns the manifest."""
    values = {}
    for name in ("manifest.json", "market-events.json", "provenance.json",
                 "parameter-snapshot.json"):
        text = (fixture / name).read_text("utf-8")
        values[name] = json.loads(text)
        assert text == stable_stringify(values[name]) + "\n", f"{name} is not stable JSON"
    m, events = values["manifest.json"], values["market-events.json"]
    prov = values["provenance.json"]
    assert m["manifest_version"] == "synthetic-market-fixture-v1"
    assert m["generator"]["version"] == "synthetic-market-spine-v1"
    assert m["parameter_snapshot_hash"] == stable_hash(values["parameter-snapshot.json"])
    hashes = m["event_hashes"]
    assert hashes["events_hash"] == stable_hash(events)
    for i, (entry, h) in enumerate(zip(events, hashes["events"], strict=True)):
        assert h == {"index": i, "kind": entry["kind"], "trace_id": entry["event"]["trace_id"],
                     "hash": stable_hash({"kind": entry["kind"], "event": entry["event"]})}
    run = {"run_id": m["run"]["run_id"], "seed_bundle": m["seed_bundle"],
           "start_ts": m["run"]["start_ts"], "event_count": m["run"]["event_count"],
           "parameter_snapshot_hash": m["parameter_snapshot_hash"]}
    assert hashes["batch_hash"] == stable_hash(
        {"run": run, "events": events, "provenance_by_trace_id": prov})
    keys = [tuple(e["event"][k] for k in ("ts", "ingest_ts", "seq", "trace_id")) for e in events]
    assert keys == sorted(keys), "events out of replay order"
    assert m["replay_plan"]["trace_ids"] == [e["event"]["trace_id"] for e in events]
    assert m["run"]["event_count"] == len(events) == m["replay_plan"]["event_count"]
    for e in events:
        assert not LABEL_LIKE & set(e["event"]), "a label-like key on a market event"
        assert e["event"]["trace_id"] in prov
    assert all(p["source_kind"] == "synthetic_market" for p in prov.values())
    contract = m["expected_output_contract"]
    assert contract["hidden_labels_embedded_in_market_events"] is False
    if contract["labels_path"] is not None:
        _check_labels_like_the_pipeline(fixture, m, {e["event"]["trace_id"] for e in events})
    return m


def _check_labels_like_the_pipeline(fixture: Path, m: dict, trace_ids: set[str]) -> None:
    contract = m["expected_output_contract"]
    docs = {}
    for key in ("labels", "smart_flow_outputs"):
        name = contract[f"{key}_path"]
        assert m["artifacts"][f"{key}_path"] == name
        text = (fixture / name).read_text("utf-8")
        docs[key] = json.loads(text)
        assert text == stable_stringify(docs[key]) + "\n", f"{name} is not stable JSON"
        assert contract[f"{key}_hash"] == stable_hash(docs[key])
    labels, outputs = docs["labels"], docs["smart_flow_outputs"]
    assert labels["schema_version"] == "synthetic-market-labels-v1"
    assert outputs["schema_version"] == "synthetic-smart-flow-expected-outputs-v1"
    assert outputs["source_label_hash"] == contract["labels_hash"]
    assert contract["label_count"] == len(labels["labels"])
    assert contract["expected_output_count"] == len(outputs["expectations"])
    assert m["run"]["scenario_id"] == labels["scenario_id"] == outputs["scenario_id"]
    assert [e["label_id"] for e in outputs["expectations"]] == [
        lb["label_id"] for lb in labels["labels"]]
    for label in labels["labels"]:
        assert [r["role"] for r in label["event_refs"]].count("anchor") == 1
        for ref in label["event_refs"]:
            assert ref["trace_id"] in trace_ids, "a label ref to an event not in the fixture"


# The pipeline's closed vocabularies (CONTRACT.md section 4, "Closed vocabularies of the
# fixture sidecars"), written out here independently of tapesim's models.
CLOSED = {
    "family": {"institutional_directional_flow", "retail_attention_flow", "event_noise_flow",
               "volatility_seller_behavior", "hedge_reactive_flow", "structure_arbitrage_flow",
               "no_alert_negative"},
    "role": {"anchor", "supporting", "context"},
    "alert_expectation": {"alert", "no_alert", "abstain", "suppress"},
    "expected_class": {"directional_accumulation", "retail_attention_flow", "event_positioning",
                       "volatility_supply", "structure_arbitrage", "hedge_rebalance", "unclear"},
    "expected_direction": {"bullish", "bearish", "neutral", "mixed", "unknown"},
    "confidence_band": {"low", "medium", "high"},
    "abstention_reasons": {"insufficient_evidence", "stale_quote_context",
                           "conflicting_evidence", "inside_market_context",
                           "complex_or_special_print_context", "below_policy_threshold",
                           "calibration_unavailable", "not_abstained", "other"},
    "event_kind": {"flow_evidence_candidate", "flow_evidence_cluster", "flow_hypothesis_event",
                   "smart_flow_insight"},
    "severity": {"none", "low", "medium", "high"},
    "operator": {"present", "absent", "gte", "lte", "eq"},
    "fact_kind": {"premium_size", "execution_context", "execution_aggression", "quote_quality",
                  "underlying_context", "structure_shape", "event_context", "timing_context",
                  "eligibility_decision", "synthetic_ground_truth", "other"},
    # the pipeline's common feature keys, and the decision facts its fixtures use
    "feature_key": {"total_premium", "nbbo_aggression_ratio_max", "nbbo_coverage_ratio_mean",
                    "nbbo_stale_ratio_mean", "net_directional_bias", "underlying_move_bps",
                    "option_spread_bps_max", "execution_iv", "days_to_event", "candidate_count",
                    "option_type", "structure_type", "alert_expectation", "confidence_band",
                    "reason_code"},
}


def closed_set_violations(fixture: Path) -> list[str]:
    """Every sidecar value of a fixture outside the pipeline's closed sets, by path."""
    bad = []

    def want(path: str, key: str, value: object) -> None:
        if value not in CLOSED[key]:
            bad.append(f"{path}: {value!r}")

    manifest = json.loads((fixture / "manifest.json").read_text("utf-8"))
    if manifest["generator"] != {"name": "@islandflow/synthetic-market",
                                 "version": "synthetic-market-spine-v1"}:
        bad.append(f"manifest.json generator: {manifest['generator']!r}")
    contract = manifest["expected_output_contract"]
    if contract["labels_path"] is None:
        return bad
    labels = json.loads((fixture / contract["labels_path"]).read_text("utf-8"))["labels"]
    outputs = json.loads((fixture / contract["smart_flow_outputs_path"]).read_text("utf-8"))
    items = [(f"labels[{i}]", lb) for i, lb in enumerate(labels)] + [
        (f"expectations[{i}]", e) for i, e in enumerate(outputs["expectations"])]
    for where, item in items:
        for key in ("family", "alert_expectation", "expected_class", "expected_direction",
                    "confidence_band"):
            if key in item:
                want(f"{where}.{key}", key, item[key])
        for j, ref in enumerate(item.get("event_refs", [])):
            want(f"{where}.event_refs[{j}].role", "role", ref["role"])
        for j, reason in enumerate(item.get("abstention_reasons", [])):
            want(f"{where}.abstention_reasons[{j}]", "abstention_reasons", reason)
        for j, event in enumerate(item.get("expected_pipeline_events", [])):
            want(f"{where}.expected_pipeline_events[{j}]", "event_kind", event["event_kind"])
        want(f"{where}.false_positive_penalty.severity", "severity",
             item["false_positive_penalty"]["severity"])
        for group in ("required_evidence", "forbidden_evidence"):
            for j, req in enumerate(item[group]):
                for key in ("fact_kind", "feature_key", "operator"):
                    want(f"{where}.{group}[{j}].{key}", key, req[key])
    return bad


def key_tree(value):
    if isinstance(value, dict):
        return {k: key_tree(v) for k, v in value.items() if k != "events"}
    return None


@pytest.mark.parametrize("name", ["fixture-small", "scenario-institutional-directional-flow",
                                  "scenario-no-alert-wide-quote-chop"])
def test_reference_fixtures_pass_our_loader_checks(name: str) -> None:
    load_like_the_pipeline(REFERENCE.parent / name)
    assert closed_set_violations(REFERENCE.parent / name) == []
    values = {p.name: json.loads(p.read_text("utf-8"))
              for p in (REFERENCE.parent / name).glob("*.json")}
    check_sidecars(values)  # what an export checks before writing


def test_islandflow_export(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "fx"
    result = runner.invoke(app, ["export", str(tiny_run), "--format", "islandflow", "--out",
                                 str(out), "--symbols", "SPY", "--start", "09:31",
                                 "--end", "09:32"])
    assert result.exit_code == 0, result.output
    m = load_like_the_pipeline(out)
    assert closed_set_violations(out) == []
    reference = json.loads((REFERENCE / "manifest.json").read_text())
    reference["profile_identity"].pop("source_path")  # optional
    ours, theirs = key_tree(m), key_tree(reference)
    theirs["replay_plan"]["event_kind_counts"] = ours["replay_plan"]["event_kind_counts"]
    assert ours == theirs
    events = json.loads((out / "market-events.json").read_text())
    assert {e["event"]["underlying_id"] for e in events} == {"SPY"}
    assert all(m["run"]["start_ts"] <= e["event"]["ts"] < m["run"]["start_ts"] + 60_000
               for e in events)


def test_jsonl_export(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "lines"
    result = runner.invoke(app, ["export", str(tiny_run), "--format", "jsonl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = (out / "market-events.jsonl").read_text().splitlines()
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert len(lines) == manifest["counts"]["total"]
    seqs = [json.loads(line)["event"]["seq"] for line in lines]
    assert seqs == list(range(1, len(lines) + 1))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-events", "10"], "narrow it"),
        (["--format", "csv"], "--format"),
        (["--symbols", "ZZZ"], "--symbols"),
        (["--start", "09:32", "--end", "09:31"], "--start must be before --end"),
        (["--start", "15:00"], "the run covers 09:30-09:33 New York"),
    ],
)
def test_bad_slices_exit_2_and_write_nothing(
    tiny_run: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "never"
    result = runner.invoke(app, ["export", str(tiny_run), "--out", str(out), *args])
    assert result.exit_code == 2
    assert needle in result.output
    assert not out.exists() and not list(tmp_path.glob(".never*"))


# --- option events -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def option_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_option_run(tmp_path_factory.mktemp("runs") / "options", jsonl=True)


def _export(run: Path, out: Path, *args: str) -> None:
    result = runner.invoke(app, ["export", str(run), "--out", str(out), *args])
    assert result.exit_code == 0, result.output


def test_islandflow_export_of_option_events(option_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "fx"
    _export(option_run, out, "--format", "islandflow")
    m = load_like_the_pipeline(out)
    events = json.loads((out / "market-events.json").read_text())
    assert m["replay_plan"]["event_kind_counts"] == {
        "equity_quote": 2, "equity_print": 2, "option_nbbo": 3, "option_print": 3}
    reference = json.loads((REFERENCE / "market-events.json").read_text())
    shape = {e["kind"]: set(e["event"]) for e in reference}
    for e in events:
        event = e["event"]
        assert None not in event.values(), "a null field must be omitted"
        if e["kind"] == "option_print":
            assert set(event) <= set(OPTION_PRINT.schema.names)
        else:
            assert set(event) == shape[e["kind"]]
    prints = [e["event"] for e in events if e["kind"] == "option_print"]
    swept = next(p for p in prints if p["nbbo_side"] == "A")
    assert shape["option_print"] <= set(swept)
    assert swept["conditions"] == ["SWEEP"] and swept["signal_reasons"] == ["ask-side", "sweep"]
    assert swept["notional"] == 62600 and swept["signal_pass"] is True
    unquoted = next(p for p in prints if p["nbbo_side"] == "MISSING")
    assert not any(k.startswith("execution_nbbo_") and k != "execution_nbbo_side"
                   for k in unquoted)
    assert unquoted["conditions"] == [] and unquoted["signal_reasons"] == []
    text = (out / "market-events.json").read_text()
    assert '"notional":62600,' in text and '"conditions":["SWEEP"]' in text


def test_option_events_follow_the_symbol_slice(option_run: Path, tmp_path: Path) -> None:
    """Option NBBOs carry no underlying_id: the slice goes by the contract's root."""
    out = tmp_path / "aapl"
    _export(option_run, out, "--format", "jsonl", "--symbols", "AAPL")
    entries = [json.loads(line) for line in (out / "market-events.jsonl").read_text()
               .splitlines()]
    kinds = [e["kind"] for e in entries]
    assert kinds == ["equity_quote", "equity_print", "option_print", "option_nbbo"]
    assert all(e["event"].get("underlying_id", "AAPL") == "AAPL" for e in entries)
    assert all(e["event"]["option_contract_id"].startswith("AAPL-")
               for e in entries if e["kind"].startswith("option"))


def test_jsonl_export_of_option_events_omits_nulls(option_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "lines"
    _export(option_run, out, "--format", "jsonl")
    entries = [json.loads(line) for line in (out / "market-events.jsonl").read_text()
               .splitlines()]
    assert [e["event"]["seq"] for e in entries] == list(range(1, 11))
    assert all(None not in e["event"].values() for e in entries)


def test_run_json_lines_omit_nulls(option_run: Path) -> None:
    """The run's own JSON lines (``run --jsonl``) also drop null fields."""
    rows = [json.loads(line) for line in (option_run / "option_prints.jsonl").read_text()
            .splitlines()]
    assert len(rows) == 3 and all(None not in row.values() for row in rows)
    assert {"execution_nbbo_bid", "execution_iv"} <= set(rows[1])
    assert "execution_nbbo_bid" not in rows[0]


@pytest.mark.parametrize(("edit", "path"), [
    (lambda v: v["labels.json"]["labels"][0]["event_refs"][0].update(role="member"),
     "labels.json: labels.0.event_refs.0.role"),
    (lambda v: v["labels.json"]["labels"][0].update(family="benign_trap"),
     "labels.json: labels.0.family"),
    (lambda v: v["smart-flow-expected-outputs.json"]["expectations"][0].update(
        abstention_reasons=["weak_quote_context"]),
     "smart-flow-expected-outputs.json: expectations.0.abstention_reasons.0"),
    (lambda v: v["labels.json"]["labels"][0]["required_evidence"][0].update(
        fact_kind="structure_context"),
     "labels.json: labels.0.required_evidence.0.fact_kind"),
    (lambda v: v["manifest.json"]["generator"].update(name="tapesim"),
     "manifest.json: generator: name"),
])
def test_a_value_outside_the_closed_sets_is_named(edit, path: str) -> None:
    fixture = REFERENCE.parent / "scenario-institutional-directional-flow"
    values = {p.name: json.loads(p.read_text("utf-8")) for p in fixture.glob("*.json")}
    edit(values)
    with pytest.raises(ExportError, match=f"outside the pipeline's closed sets: {path}: "):
        check_sidecars(values)


# --- bytes pinned ---------------------------------------------------------------------

# sha256 of every file of two exports of the tiny options run (AAPL, 09:31-09:33, events
# of all four kinds), as the per-event Python encoder wrote them before the export was
# streamed (recorded again when the run's bytes changed for tape consistency, the old
# encoder and the streamed export agreeing byte for byte on the new run): the streamed
# export must write the same bytes whatever its batch size. They change only with the
# run's own bytes (tests/test_output_hashes.py) or on purpose (recorded again when the
# option chains were listed as real chains are, and with the stepwise equity quotes,
# the clustered order flow and the calmer latent volatility; with open interest seeded
# from the flow's own choices, the flatter single-name smile and institutional sweeps).
PINNED_EXPORTS = {
    "islandflow": {
        "manifest.json": "ed2f3f2c28dc6dffabbcc968865917b3b74c42b1cfbb780242bf60730f6714d7",
        "market-events.json": "7452e1a8a71306c6b22f1b4e9948cf2e1020e87e57a42647c3e3ebd9483e98a8",
        "parameter-snapshot.json":
            "cb59f12c10acd62d970b462679c18437bc60a3ac81332457e345f68445283c79",
        "provenance.json": "954cad36a6dd3c8054aa2573001055d2e553b258153505a523fd3fb7ca282787",
    },
    "jsonl": {
        "market-events.jsonl": "483aa713fca9affaa1aa37d8886ad2752538660c98264519573881c94b983f63",
    },
}


@pytest.mark.parametrize("batch_rows", [BATCH_ROWS, 500])
@pytest.mark.parametrize("fmt", sorted(PINNED_EXPORTS))
def test_export_bytes_are_pinned(tiny_options_run: Path, tmp_path: Path, fmt: str,
                                 batch_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slices, "BATCH_ROWS", batch_rows)  # 500: many batches, every merge path
    out = tmp_path / fmt
    _export(tiny_options_run, out, "--format", fmt, "--symbols", "AAPL", "--start", "09:31",
            "--end", "09:33")
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    assert digests == PINNED_EXPORTS[fmt]


def test_a_provenance_file_without_the_slices_records_is_named(
        tiny_options_run: Path, tmp_path: Path) -> None:
    """Provenance row i must be the event of seq i + 1: a file that lost rows (its
    manifest entry rewritten to pass the cheap checks) is refused, exit 2, nothing
    written."""
    run = tmp_path / "run"
    shutil.copytree(tiny_options_run, run)
    prov = pq.read_table(run / "provenance.parquet")
    pq.write_table(prov.slice(prov.num_rows // 2), run / "provenance.parquet")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["artifacts"]["provenance.parquet"] = artifact_entry(run / "provenance.parquet",
                                                                 prov.num_rows // 2)
    (run / "manifest.json").write_text(canonical_json(manifest))
    out = tmp_path / "fx"
    result = runner.invoke(app, ["export", str(run), "--out", str(out), "--symbols", "AAPL"])
    assert result.exit_code == 2, result.output
    assert "provenance.parquet lacks records for some events" in result.output
    assert not out.exists() and not list(tmp_path.glob(".fx*"))


def test_progress_lines_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a terminal: a plain line per interval on stderr; --quiet: none."""
    with count_progress("exporting", "events", quiet=False, every_s=0) as update:
        update(131_072, 313_838)
        update(313_838, 313_838)
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        "exporting: 131,072 of 313,838 events (42%)",
        "exporting: 313,838 of 313,838 events (100%)"]
    with count_progress("exporting", "events", quiet=True, every_s=0) as update:
        update(1, 2)
    assert capsys.readouterr().err == ""


def test_export_takes_quiet(tiny_options_run: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", str(tiny_options_run), "--format", "jsonl",
                                 "--symbols", "AAPL", "--start", "09:31", "--end", "09:33",
                                 "--out", str(tmp_path / "q"), "--quiet"])
    assert result.exit_code == 0, result.output
    events = len((tmp_path / "q" / "market-events.jsonl").read_text("utf-8").splitlines())
    assert result.output.splitlines() == [f"exported {events:,} events to {tmp_path / 'q'} (jsonl)"]


_HEAVY = ("numba", "scipy")
_CHILD = """
import sys
from tapesim.cli.main import app
app(sys.argv[1:], standalone_mode=False)
print("loaded:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_export_loads_neither_numba_nor_scipy(tiny_run: Path, tmp_path: Path) -> None:
    """A fixture export hashes with llvmlite (events/fnv.py) and reads the run through
    io/ without the canonicaliser: numba's start and scipy's import (about 2 CPU s
    together) are not paid by a command that uses neither."""
    out = tmp_path / "fx"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD.format(heavy=_HEAVY), "export", str(tiny_run),
         "--out", str(out), "--symbols", "SPY", "--start", "09:31", "--end", "09:32",
         "--quiet"], capture_output=True, text=True, check=False)
    assert child.returncode == 0, child.stderr
    assert (out / "manifest.json").is_file()
    assert child.stdout.strip().splitlines()[-1] == "loaded:"
