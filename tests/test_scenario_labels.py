"""A scenario run's labels: `verify` holds them to the run's own events, and `export`
hands the pipeline the labels of the exported slice only."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.config.run import load_profile, with_overrides
from tapesim.events.labels import PIPELINE_ROLE
from tapesim.events.stable_json import stable_hash
from tapesim.export.islandflow import Exported, Slice, export_run
from tapesim.io.manifest import artifact_entry, canonical_json
from tapesim.runs import execute_run
from tapesim.verify.run import verify_run
from tests.test_export import closed_set_violations, key_tree, load_like_the_pipeline

EXAMPLES = Path(__file__).parent / "data/islandflow"
SCENARIOS = [{"name": "institutional-directional-flow", "at": "09:32:00"},
             {"name": "stale-quote-trap", "at": "09:34:00"},
             {"name": "benign-block", "at": "09:36:00"}]
Docs = dict[str, Any]


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """options-smoke for ten minutes with three scenarios."""
    cfg = with_overrides(load_profile("options-smoke"),
                         {"seed": 3, "session": {"end": "09:40:00"}, "scenarios": SCENARIOS})
    out = tmp_path_factory.mktemp("scenario-labels") / "run"
    execute_run(cfg, out)
    return out


def _read(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _label(labels: Docs, name: str) -> dict[str, Any]:
    return next(lb for lb in labels["labels"] if lb["scenario_id"].startswith(name + "@"))


def test_clean_scenario_run_verifies(scenario_run: Path) -> None:
    manifest = _read(scenario_run / "manifest.json")
    assert manifest["scenarios"]["ids"] == [
        "institutional-directional-flow@09:32", "stale-quote-trap@09:34", "benign-block@09:36"]
    assert verify_run(scenario_run) == []


# --- verify: each edit keeps every hash consistent, so only the label checks can object ----

def _edit(run: Path, tmp_path: Path, change: Callable[[Docs, Docs], str]) -> tuple[list[str], str]:
    """Copy the run, apply ``change`` to (labels, expected outputs) - it returns the label
    id it damaged -, fix source_label_hash and both files' sha256 in the manifest, verify."""
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    labels, expected = _read(dst / "labels.json"), _read(dst / "expected_outputs.json")
    label_id = change(labels, expected)
    expected["source_label_hash"] = stable_hash(labels)
    manifest = _read(dst / "manifest.json")
    for name, doc in (("labels.json", labels), ("expected_outputs.json", expected)):
        (dst / name).write_text(canonical_json(doc), "utf-8")
        manifest["artifacts"][name] = artifact_entry(dst / name)
    (dst / "manifest.json").write_text(canonical_json(manifest), "utf-8")
    return verify_run(dst), label_id


def _member(label: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in label["event_refs"]
                if r["role"] == "member" and r["event_kind"] == "option_print")


def _changed_seq(labels: Docs, expected: Docs) -> str:
    label = _label(labels, "institutional-directional-flow")
    _member(label)["seq"] += 1
    return label["label_id"]


def _removed_member(labels: Docs, expected: Docs) -> str:
    label = _label(labels, "stale-quote-trap")
    label["event_refs"].remove(_member(label))
    return label["label_id"]


def _edited_value(labels: Docs, expected: Docs) -> str:
    label = _label(labels, "benign-block")
    label["tapesim"]["evidence_values"]["total_premium"] += 100.0
    return label["label_id"]


def _swapped_anchor(labels: Docs, expected: Docs) -> str:
    label = _label(labels, "institutional-directional-flow")
    anchor, member = label["event_refs"][0], _member(label)
    anchor["role"], member["role"] = "member", "anchor"
    return label["label_id"]


@pytest.mark.parametrize(("change", "needle"), [
    (_changed_seq, "disagree with the event they name"),
    (_removed_member, "the scenario caused are not anchor or member refs"),
    (_edited_value, "tapesim.evidence_values differ from what its events give in total_premium"),
    (_swapped_anchor, "is not the first option print the scenario caused"),
])
def test_label_damage_is_named(scenario_run: Path, tmp_path: Path,
                               change: Callable[[Docs, Docs], str], needle: str) -> None:
    problems, label_id = _edit(scenario_run, tmp_path, change)
    assert problems, "the damage went unnoticed"
    assert all(f"label {label_id}:" in p for p in problems), problems
    assert any(needle in p for p in problems), problems


def test_a_label_outside_its_model_is_named_by_path(scenario_run: Path,
                                                   tmp_path: Path) -> None:
    """verify reads labels.json through its model: a value outside a closed set (here a
    role) is one problem naming the field's path."""

    def bad_role(labels: Docs, expected: Docs) -> str:
        label = _label(labels, "stale-quote-trap")
        label["event_refs"][1]["role"] = "supporting"  # the pipeline's word, not tapesim's
        return label["label_id"]

    problems, _ = _edit(scenario_run, tmp_path, bad_role)
    assert problems == ["labels.json: labels.1.event_refs.1.role: Input should be 'anchor', "
                        "'member' or 'context', got 'supporting'"]


def test_evidence_the_events_contradict_fails(scenario_run: Path, tmp_path: Path) -> None:
    """A stricter threshold than the prints bear out, written consistently everywhere
    (label, expectation, source hash, sha256): only recomputing the evidence catches it."""

    def stricter(labels: Docs, expected: Docs) -> str:
        label = _label(labels, "stale-quote-trap")
        i = next(i for i, r in enumerate(label["required_evidence"])
                 if r["requirement_id"] == "stale-context")
        label["required_evidence"][i]["value"] = 1.5  # a ratio: the events give at most 1
        outputs = next(e for e in expected["expectations"] if e["label_id"] == label["label_id"])
        outputs["required_evidence"] = label["required_evidence"]
        return label["label_id"]

    problems, label_id = _edit(scenario_run, tmp_path, stricter)
    assert any(f"label {label_id}: its own events contradict its evidence: stale-context "
               "(nbbo_stale_ratio_mean gte 1.5: events give 1.0)" in p for p in problems), problems
    assert all(f"label {label_id}:" in p for p in problems), problems


def test_source_label_hash_is_checked(scenario_run: Path, tmp_path: Path) -> None:
    dst = tmp_path / "run"
    shutil.copytree(scenario_run, dst)
    expected = _read(dst / "expected_outputs.json")
    expected["source_label_hash"] = "fnv1a32:00000000"
    (dst / "expected_outputs.json").write_text(canonical_json(expected), "utf-8")
    manifest = _read(dst / "manifest.json")
    manifest["artifacts"]["expected_outputs.json"] = artifact_entry(dst / "expected_outputs.json")
    (dst / "manifest.json").write_text(canonical_json(manifest), "utf-8")
    assert [p for p in verify_run(dst) if "source_label_hash" in p]


# --- export -----------------------------------------------------------------------------

def _export(run: Path, out: Path, start: str, end: str, fmt: str = "islandflow") -> Exported:
    sl = Slice(start=dt.time.fromisoformat(start), end=dt.time.fromisoformat(end))
    return export_run(run, out, fmt, sl)


@pytest.fixture(scope="module")
def stale_fixture(scenario_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A slice holding all of the stale-quote trap's events and none of the others' anchors."""
    out = tmp_path_factory.mktemp("export") / "stale"
    done = _export(scenario_run, out, "09:34:00", "09:34:15")
    assert (done.labels, done.dropped_labels) == (1, 2)
    return out


def test_exported_labels_hash_like_the_manifest_says(stale_fixture: Path) -> None:
    m = load_like_the_pipeline(stale_fixture)  # recomputes labels_hash, outputs hash, counts
    assert closed_set_violations(stale_fixture) == []
    contract = m["expected_output_contract"]
    assert (contract["label_count"], contract["expected_output_count"]) == (1, 1)
    assert m["run"]["scenario_id"] == "stale-quote-trap@09:34"


def test_exported_labels_have_the_examples_keys(stale_fixture: Path,
                                                scenario_run: Path) -> None:
    example = EXAMPLES / "scenario-institutional-directional-flow"
    ours, theirs = (_read(stale_fixture / "manifest.json"), _read(example / "manifest.json"))
    theirs["profile_identity"].pop("source_path")  # optional
    mine, want = key_tree(ours), key_tree(theirs)
    want["replay_plan"]["event_kind_counts"] = mine["replay_plan"]["event_kind_counts"]
    assert mine == want
    for name in ("labels.json", "smart-flow-expected-outputs.json"):
        _same_shape(_read(stale_fixture / name), _read(example / name), name)
    # Exactly the pipeline's keys: tapesim's own block stays in the run directory. The
    # values are the run's, in the pipeline's closed vocabulary: the trap's family is
    # no_alert_negative (tapesim's family and scenario move to the notes), and a caused
    # print other than the anchor is a supporting ref (tapesim: member).
    label = _read(stale_fixture / "labels.json")["labels"][0]
    run_label = _label(_read(scenario_run / "labels.json"), "stale-quote-trap")
    assert "tapesim" in run_label
    want = {k: v for k, v in run_label.items() if k != "tapesim"}
    want.update(family="no_alert_negative",
                notes=want["notes"] + " (tapesim scenario stale-quote-trap, family benign_trap)",
                event_refs=[_pipeline_ref(r) for r in want["event_refs"]])
    assert label == want


def _pipeline_ref(ref: dict[str, Any]) -> dict[str, Any]:
    return {**ref, "role": "supporting" if ref["role"] == "member" else ref["role"]}


def _same_shape(ours: Any, theirs: Any, where: str = "") -> None:
    """Same keys at every level; a list's items are compared with the example's first
    item (an empty list matches any list)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and set(ours) == set(theirs), where
        for k in theirs:
            if k != "value":  # an evidence value may be a number, a string or a bool
                _same_shape(ours[k], theirs[k], f"{where}.{k}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), where
        for item in ours if theirs else []:
            _same_shape(item, theirs[0], f"{where}[]")
    else:
        assert not isinstance(ours, dict | list), where


def test_narrower_slice_drops_out_of_slice_refs(scenario_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "narrow"
    done = _export(scenario_run, out, "09:34:05", "09:34:12")
    assert (done.labels, done.dropped_labels) == (1, 2)
    load_like_the_pipeline(out)
    exported = {e["event"]["trace_id"] for e in _read(out / "market-events.json")}
    label = _read(out / "labels.json")["labels"][0]
    run_refs = _label(_read(scenario_run / "labels.json"), "stale-quote-trap")["event_refs"]
    assert label["event_refs"] == [_pipeline_ref(r) for r in run_refs
                                   if r["trace_id"] in exported]
    assert len(label["event_refs"]) < len(run_refs)
    roles = [r["role"] for r in label["event_refs"]]
    assert roles[0] == "anchor" and "supporting" in roles
    outputs = _read(out / "smart-flow-expected-outputs.json")
    assert outputs["source_label_hash"] == stable_hash(_read(out / "labels.json"))


def test_slice_without_anchors_has_no_labels(scenario_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "quiet"
    done = _export(scenario_run, out, "09:31:00", "09:31:02")
    assert (done.labels, done.dropped_labels) == (0, 3)
    m = load_like_the_pipeline(out)
    assert m["expected_output_contract"] == {"hidden_labels_embedded_in_market_events": False,
                                             "labels_path": None,
                                             "smart_flow_outputs_path": None}
    assert "scenario_id" not in m["run"]
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "market-events.json", "parameter-snapshot.json", "provenance.json"]


def test_jsonl_export_puts_the_labels_beside_the_events(scenario_run: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "lines"
    _export(scenario_run, out, "09:36:00", "09:36:02", fmt="jsonl")
    assert sorted(p.name for p in out.iterdir()) == [
        "labels.json", "market-events.jsonl", "smart-flow-expected-outputs.json"]
    labels = _read(out / "labels.json")
    assert [lb["scenario_id"] for lb in labels["labels"]] == ["benign-block@09:36"]
    exported = {json.loads(line)["event"]["trace_id"]
                for line in (out / "market-events.jsonl").read_text().splitlines()}
    assert {r["trace_id"] for r in labels["labels"][0]["event_refs"]} <= exported
    outputs = _read(out / "smart-flow-expected-outputs.json")
    assert outputs["source_label_hash"] == stable_hash(labels)


def test_large_slices_are_still_refused(scenario_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["export", str(scenario_run), "--out", str(out),
                                      "--max-events", "1000"])
    assert result.exit_code == 2
    assert "more than --max-events 1,000: narrow it" in result.output
    assert not out.exists()


def test_a_sidecar_value_outside_the_closed_sets_fails_the_export(
        scenario_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A translation that lets a tapesim-only value through (here the member role) is a
    bug: the export names the field's path, exits 2 and writes nothing."""
    monkeypatch.setitem(PIPELINE_ROLE, "member", "member")  # type: ignore[arg-type]
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["export", str(scenario_run), "--out", str(out),
                                      "--start", "09:34", "--end", "09:35", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "labels.json: labels.0.event_refs.1.role: Input should be 'anchor', " \
           "'supporting' or 'context', got 'member'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".never*"))


def test_a_label_document_with_a_non_finite_number_is_refused() -> None:
    from pydantic import ValidationError

    from tapesim.events.labels import TapesimLabelDetail

    good = {"scenario": "benign-block", "agent_ids": [], "intent": "x",
            "window": {"start_ts": None, "end_ts": None}, "instruments": [],
            "underlying_id": "SPY", "side": "buy", "quantities": {"contracts": 0, "shares": 0},
            "notional": 0.0, "caused_event_count": 0, "evidence_values": {},
            "parameters": {}, "contradicted": []}
    TapesimLabelDetail.model_validate(good)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValidationError, match="finite"):
            TapesimLabelDetail.model_validate(good | {"notional": bad})
