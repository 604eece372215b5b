"""Injected scenarios: every catalog entry labels what it caused, and leaves the rest alone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.config.run import ConfigError, RunConfig, build_config, load_profile, with_overrides
from tapesim.events.models import KINDS
from tapesim.export.islandflow import Slice, export_run
from tapesim.runs import execute_run, simulate_shard
from tapesim.scenarios.catalog import CATALOG
from tapesim.sim.calendar import NEW_YORK, epoch_ms
from tapesim.verify.run import verify_run
from tests.conftest import tiny_options_config
from tests.test_export import closed_set_violations

FORBIDDEN_KEYS = {"label", "labels", "hidden_label", "hidden_labels", "expected_outputs",
                  "scenario_id", "source_kind"}


def _smoke(end: str, scenarios: list[dict[str, Any]], seed: int = 3) -> RunConfig:
    return with_overrides(load_profile("options-smoke"),
                          {"seed": seed, "session": {"end": end}, "scenarios": scenarios})


def _catalog_schedule() -> list[dict[str, Any]]:
    """Every entry once, 25 s apart from 09:31."""
    out = []
    for i, name in enumerate(CATALOG):
        seconds = 60 + 25 * i
        out.append({"name": name, "at": f"09:{31 + seconds // 60 - 1:02d}:{seconds % 60:02d}"})
    return out


@pytest.fixture(scope="module")
def catalog_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenarios") / "all"
    execute_run(_smoke("09:45:00", _catalog_schedule()), out)
    return out


def _labels(run: Path) -> list[dict[str, Any]]:
    return json.loads((run / "labels.json").read_text())["labels"]


def test_every_catalog_entry_labels_events_that_bear_it_out(catalog_run: Path) -> None:
    labels = _labels(catalog_run)
    assert len(CATALOG) >= 16
    assert [lb["tapesim"]["scenario"] for lb in labels] == list(CATALOG)
    for label in labels:
        sid = label["scenario_id"]
        roles = [r["role"] for r in label["event_refs"]]
        assert roles.count("anchor") == 1, sid
        assert label["tapesim"]["evidence_values"]["candidate_count"] >= 1, sid
        assert label["tapesim"]["contradicted"] == [], (sid, label["tapesim"]["evidence_values"])
        kinds = {r["event_kind"] for r in label["event_refs"] if r["role"] == "context"}
        assert kinds == {"option_nbbo", "equity_quote"}, sid


def test_every_catalog_entry_exports_in_the_pipelines_closed_sets(catalog_run: Path,
                                                                  tmp_path: Path) -> None:
    """Each entry's label, exported in a one-second slice around its anchor, holds only
    values of the pipeline's closed sets (families, roles, fact kinds, reasons, ...)."""
    manifest = json.loads((catalog_run / "manifest.json").read_text())
    day = dt.date.fromisoformat(manifest["session"]["date"])
    exported = set()
    for label in _labels(catalog_run):
        anchor = next(r for r in label["event_refs"] if r["role"] == "anchor")
        start = dt.datetime.fromtimestamp(anchor["source_ts"] // 1000, NEW_YORK)
        assert start.date() == day
        out = tmp_path / label["tapesim"]["scenario"]
        done = export_run(catalog_run, out, "islandflow",
                          Slice(start=start.time(), end=(start + dt.timedelta(seconds=1)).time()))
        assert done.labels >= 1
        assert closed_set_violations(out) == [], label["scenario_id"]
        ids = [lb["label_id"] for lb in json.loads((out / "labels.json").read_text())["labels"]]
        assert label["label_id"] in ids
        exported.add(label["tapesim"]["scenario"])
    assert exported == set(CATALOG)


def test_label_refs_are_the_events_the_scenario_caused(catalog_run: Path) -> None:
    prov = pq.read_table(catalog_run / "provenance.parquet")
    caused = prov.filter(pc.is_valid(prov.column("scenario_id")))
    for label in _labels(catalog_run):
        mine = caused.filter(pc.equal(caused.column("scenario_id"), label["scenario_id"]))
        prints = {t for t, k in zip(mine.column("trace_id").to_pylist(),
                                    mine.column("event_kind").to_pylist(), strict=True)
                  if k.endswith("print")}
        refs = {r["trace_id"] for r in label["event_refs"] if r["role"] != "context"}
        assert refs == prints, label["scenario_id"]
        agents = set(mine.filter(pc.equal(mine.column("event_kind"), "option_print"))
                     .column("agent_id").to_pylist())
        assert agents == set(label["tapesim"]["agent_ids"]), label["scenario_id"]


def test_the_hedge_buys_protection_after_the_stock_has_fallen(catalog_run: Path) -> None:
    """The hedge's first print follows the moment the stock's mid stood its policy's
    ``react_bps`` below its high since the hedge's start (a little slack for the quote
    tape's rounding of the mid the hedger read)."""
    label = next(lb for lb in _labels(catalog_run)
                 if lb["tapesim"]["scenario"] == "hedge-reactive-put-flow")
    anchor = next(r for r in label["event_refs"] if r["role"] == "anchor")
    day = dt.date.fromisoformat(json.loads((catalog_run / "manifest.json").read_text())
                                ["session"]["date"])
    at = next(e["at"] for e in _catalog_schedule() if e["name"] == label["tapesim"]["scenario"])
    start = epoch_ms(day, dt.time.fromisoformat(at))
    quotes = pq.read_table(catalog_run / "equity_quotes.parquet").to_pylist()
    high, fell_at = 0.0, None
    react = CATALOG["hedge-reactive-put-flow"].policy.react_bps
    for q in sorted(quotes, key=lambda q: q["ts"]):
        if q["underlying_id"] != label["tapesim"]["underlying_id"] or q["ts"] < start:
            continue
        mid = (q["bid"] + q["ask"]) / 2
        high = max(high, mid)
        if (mid - high) / high * 1e4 <= -(react - 0.5):
            fell_at = q["ts"]
            break
    assert react > 0 and fell_at is not None
    assert start < fell_at <= anchor["source_ts"]


def test_stale_quote_trap_prints_meet_a_frozen_quote(catalog_run: Path) -> None:
    label = next(lb for lb in _labels(catalog_run) if lb["family"] == "benign_trap"
                 and lb["tapesim"]["scenario"] == "stale-quote-trap")
    assert label["tapesim"]["evidence_values"]["nbbo_stale_ratio_mean"] == 1.0


def test_market_events_carry_no_trace_of_scenarios(catalog_run: Path) -> None:
    names = list(CATALOG)
    for kind in KINDS:
        table = pq.read_table(catalog_run / f"{kind.file_stem}.parquet")
        assert not FORBIDDEN_KEYS & set(table.column_names), kind.name
        for column in table.columns:
            if pa.types.is_string(column.type) or pa.types.is_list(column.type):
                values = set(pc.list_flatten(column).to_pylist() if pa.types.is_list(
                    column.type) else column.unique().to_pylist())
                leaked = [v for v in values if v and any(n in v for n in names)]
                assert not leaked, (kind.name, leaked[:3])


def _events_before(run: Path, cutoff_ms: int) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for kind in KINDS:
        table = pq.read_table(run / f"{kind.file_stem}.parquet")
        table = table.filter(pc.less(table.column("ts"), cutoff_ms)).drop_columns(["trace_id"])
        out[kind.name] = table.to_pylist()
    return out


def test_nothing_changes_before_the_start_time(tmp_path: Path) -> None:
    at = "09:33:00"
    plain = execute_run(_smoke("09:35:00", []), tmp_path / "plain").manifest
    injected = execute_run(_smoke("09:35:00", [{"name": "stale-quote-trap", "at": at},
                                               {"name": "informed-put-sweep", "at": at}]),
                           tmp_path / "injected").manifest
    cutoff = plain["session"]["open_ts"] + 3 * 60_000
    before = _events_before(tmp_path / "plain", cutoff)
    assert sum(len(v) for v in before.values()) > 10_000
    assert _events_before(tmp_path / "injected", cutoff) == before
    after_plain = _events_before(tmp_path / "plain", plain["session"]["end_ts"])
    assert _events_before(tmp_path / "injected", injected["session"]["end_ts"]) != after_plain


def test_other_underlyings_are_untouched(tmp_path: Path) -> None:
    base = tiny_options_config(minutes=2)
    injected = with_overrides(base, {"scenarios": [
        {"name": "institutional-directional-flow", "at": "09:30:30", "underlying": "AAPL"}]})
    for symbol, same in (("SPY", True), ("AAPL", False)):
        a = simulate_shard(base, symbol, tmp_path / f"{symbol}-a.arrow")
        b = simulate_shard(injected, symbol, tmp_path / f"{symbol}-b.arrow")
        for suffix in (".arrow", ".options"):
            pa_ = Path(a.spool).with_suffix(suffix).read_bytes()
            pb = Path(b.spool).with_suffix(suffix).read_bytes()
            assert (pa_ == pb) is same, (symbol, suffix)


@pytest.mark.parametrize(("scenario", "message"), [
    ({"name": "benign-block", "at": "11:00:00"}, "outside the simulated window 09:30-09:45"),
    ({"name": "benign-block", "at": "09:35:00", "size": 5}, "unknown field 'scenarios.0.size'"),
    ({"name": "benign-block", "at": "09:35:00", "underlying": "QQQ"}, "has no option chain"),
    ({"name": "benign-block", "at": "09:35:00", "intensity": 0}, "scenarios.0.intensity"),
])
def test_bad_scenarios_are_refused_with_the_field_named(scenario: dict[str, Any],
                                                        message: str) -> None:
    data = load_profile("options-smoke").snapshot()
    data["scenarios"] = [scenario]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build_config(data)


def test_an_unknown_scenario_is_refused_before_any_output(tmp_path: Path) -> None:
    cfg = _smoke("09:36:00", [{"name": "no-such-thing", "at": "09:35:00"}])
    with pytest.raises(ConfigError, match=r"'scenarios.0.name': unknown scenario 'no-such-thing'"):
        execute_run(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_unlisted_contract_is_refused(tmp_path: Path) -> None:
    cfg = _smoke("09:36:00", [{"name": "benign-block", "at": "09:35:00",
                               "contracts": ["SPY-2031-01-17-500-C"]}])
    with pytest.raises(ConfigError, match="is not listed on 2026-03-10"):
        execute_run(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_injects_and_refuses(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["run", "--profile", "options-smoke", "--out", str(tmp_path / "x"),
                              "--scenario", "stale-quote-trap"])
    assert bad.exit_code == 2 and "NAME@HH:MM" in bad.output
    ok = runner.invoke(app, ["run", "--profile", "options-smoke", "--end", "09:34",
                             "--out", str(tmp_path / "s"), "--scenario", "benign-block@09:31",
                             "--scenario", "premium-anomaly@09:32", "--quiet", "--verify"])
    assert ok.exit_code == 0, ok.output
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["scenarios"]["ids"] == ["benign-block@09:31", "premium-anomaly@09:32"]
    assert {"labels.json", "expected_outputs.json"} <= set(manifest["artifacts"])
    listing = runner.invoke(app, ["scenarios"])
    assert listing.exit_code == 0 and "stale-quote-trap" in listing.output
    shown = runner.invoke(app, ["scenarios", "show", "informed-put-sweep"])
    assert shown.exit_code == 0 and "sweep_ratio" in shown.output


def test_a_scenario_needs_its_lead_before_the_window_ends(tmp_path: Path) -> None:
    policy = CATALOG["stale-quote-trap"].policy
    assert policy.lead_s() == 20 / 2 + 6  # half its feed freeze, then its orders' 6 s
    assert policy.lead_s(duration_s=2) == 20 / 2 + 2
    base = with_overrides(tiny_options_config(), {"session": {"end": "09:30:30"}})

    def at(clock: str) -> RunConfig:
        return with_overrides(base, {"scenarios": [
            {"name": "stale-quote-trap", "at": clock, "underlying": "SPY"}]})

    with pytest.raises(ConfigError, match=r"'scenarios.0.at': stale-quote-trap at 09:30:15 "
                       r"leaves 15 s .* needs 16 s to act out: start it by 09:30:14"):
        execute_run(at("09:30:15"), tmp_path / "late")
    assert not (tmp_path / "late").exists()
    execute_run(at("09:30:14"), tmp_path / "ok")
    assert verify_run(tmp_path / "ok") == []
    assert _labels(tmp_path / "ok")[0]["event_refs"]


def test_the_cli_states_the_lead_a_late_scenario_needs(tmp_path: Path) -> None:
    late = CliRunner().invoke(app, [
        "run", "--profile", "options-smoke", "--out", str(tmp_path / "x"), "--quiet",
        "--scenario", "stale-quote-trap@09:44:59"])
    assert late.exit_code == 2, late.output
    assert "needs 16 s to act out" in late.output and "by 09:44:44" in late.output
    assert not (tmp_path / "x").exists()
