"""Export to the pipeline's fixture format: what its loader checks, checked here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapesim.cli import app
from tapesim.io.stable_json import stable_hash, stable_stringify

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
    return m


def key_tree(value):
    if isinstance(value, dict):
        return {k: key_tree(v) for k, v in value.items() if k != "events"}
    return None


def test_reference_fixture_passes_our_loader_checks() -> None:
    load_like_the_pipeline(REFERENCE)


def test_islandflow_export(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "fx"
    result = runner.invoke(app, ["export", str(tiny_run), "--format", "islandflow", "--out",
                                 str(out), "--symbols", "SPY", "--start", "09:31",
                                 "--end", "09:32"])
    assert result.exit_code == 0, result.output
    m = load_like_the_pipeline(out)
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
