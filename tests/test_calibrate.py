"""``tapesim calibrate``: a tiny fit to a LOBSTER day the test writes itself, run twice
(one worker, two workers: the same pinned bytes), then again from its cache (nothing
simulated); the parameters' bounds from the config models; bad flags exit 2."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapesim.calibration.fit import MISSING_PENALTY, Problem, _configs, moment_sd, objective
from tapesim.calibration.params import parse_params
from tapesim.cli.main import app
from tapesim.config.flags import FlagError
from tapesim.config.run import load_profile, with_overrides
from tapesim.config.snapshot import ParameterSnapshot
from tests.import_files import lobster_pair

runner = CliRunner()
DAY = dt.date(2012, 6, 21)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("real")
    pair = lobster_pair(folder, DAY, n=1500)
    result = runner.invoke(app, ["import", "lobster", str(pair.message), str(pair.orderbook),
                                 "--date", DAY.isoformat(), "--symbol", "AMZN", "--out",
                                 str(folder / "amzn")])
    assert result.exit_code == 0, result.output
    return folder / "amzn"


def _calibrate(target: Path, out: Path, *extra: str) -> tuple[int, str]:
    args = ["calibrate", "--target", str(target), "--base", "equities-smoke", "--symbol",
            "AMZN", "--like", "AAPL", "--params", "noise.orders_per_s,symbol.spread_scale=0.5:2",
            "--budget", "2", "--seeds", "2", "--start", "09:30", "--end", "09:31",
            "--out", str(out), *extra]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_tiny_calibration_is_deterministic_and_resumes(target: Path, tmp_path: Path) -> None:
    code, first = _calibrate(target, tmp_path / "a")
    assert code == 0, first
    assert "4 runs simulated" in first and "evaluation 2/2" in first
    report = (tmp_path / "a" / "report.md").read_text()
    assert "## Moments" in report and "## Parameter paths" in report
    for name in ("params", "AMZN_zoom", "AMZN_returns", "AMZN_durations", "AMZN_profile",
                 "AMZN_sizes"):
        assert f"(figures/{name}.png)" in report
        assert (tmp_path / "a" / "figures" / f"{name}.png").is_file()
    code, other = _calibrate(target, tmp_path / "b", "--workers", "2", "--no-figures")
    assert code == 0, other
    for name in ("fitted.json", "evaluations.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    pinned = (tmp_path / "a" / "fitted.json").read_bytes()
    code, again = _calibrate(target, tmp_path / "a", "--no-figures")
    assert code == 0, again
    assert "0 runs simulated" in again and again.count("(cached)") == 2
    assert (tmp_path / "a" / "fitted.json").read_bytes() == pinned
    # the pinned file is a config whose run is the fitted run the figures show
    snapshot = ParameterSnapshot.from_document(json.loads(pinned))
    manifest = json.loads((tmp_path / "a" / "fitted_run" / "manifest.json").read_text())
    assert manifest["run_id"] == snapshot.run_id
    assert snapshot.config.symbols[0].symbol == "AMZN"
    assert snapshot.config.session.date == DAY
    record = json.loads((tmp_path / "a" / "evaluations.json").read_text())
    base = load_profile("equities-smoke")  # the first evaluation is the base config
    assert record["evaluations"][0]["values"] == {
        "noise.orders_per_s": base.noise.orders_per_s,
        "symbol.spread_scale": next(s.spread_scale for s in base.symbols if s.symbol == "AAPL")}
    best = min(e["objective"] for e in record["evaluations"])
    assert re.search(rf"best objective {best:.4g}", again)
    assert "No figures (--no-figures)." in (tmp_path / "a" / "report.md").read_text()



@pytest.mark.parametrize(("change", "flag"), [
    ({"--params": "latent.nope"}, "--params latent.nope"),
    ({"--params": "venues.lit"}, "not a number"),
    ({"--params": "latent.regime_vol"}, "not a number"),
    ({"--params": "noise.orders_per_s=5:1"}, "--params"),
    ({"--symbol": "MSFT"}, "--symbol MSFT is not in --target"),
    ({"--like": "TSLA"}, "--like TSLA"),
    ({"--budget": "0"}, "--budget must be at least 1"),
    ({"--seeds": "1"}, "--seeds must be at least 2"),
    ({"--end": "17:00"}, "--end"),
])
def test_bad_flags_exit_2_and_write_nothing(target: Path, tmp_path: Path, change: dict,
                                            flag: str) -> None:
    args = {"--target": str(target), "--base": "equities-smoke", "--symbol": "AMZN",
            "--like": "AAPL", "--params": "noise.orders_per_s", "--budget": "2",
            "--seeds": "2", "--out": str(tmp_path / "out")} | change
    result = runner.invoke(app, ["calibrate", *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 2, result.output
    assert flag in result.output and "error:" in result.output
    assert not (tmp_path / "out").exists()


def test_symbol_missing_from_the_profile_asks_for_like(target: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", "--target", str(target), "--base",
                                 "equities-smoke", "--symbol", "AMZN", "--params",
                                 "noise.orders_per_s", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--like" in result.output


def test_bounds_come_from_the_config_models() -> None:
    jumps, activity, shares = parse_params(
        "latent.jumps_per_day,symbol.activity,institutional.min_shares")
    assert (jumps.low, jumps.high, jumps.integer, jumps.log) == (0.0, 100.0, False, False)
    assert 0.0 < activity.low < 1e-6 and activity.high == 10.0 and activity.log
    assert shares.integer and shares.low == 1
    with pytest.raises(FlagError, match="twice"):
        parse_params("noise.orders_per_s,noise.orders_per_s")


def test_moments_weighted_by_their_seed_variance() -> None:
    target = {"a": 1.0, "b": 0.0, "c": 2.0}
    base = [{"a": 1.0, "b": 0.1, "c": None}, {"a": 3.0, "b": 0.1, "c": None}]
    sd, dropped = moment_sd(target, base)
    assert dropped == ["c"]
    assert sd["a"] == pytest.approx(math.sqrt(2.0))  # sample variance of 1 and 3
    assert sd["b"] == pytest.approx(1e-3)  # the seeds agree: the absolute floor
    assert objective({"a": 1.0 + math.sqrt(2.0), "b": None}, target, sd) == pytest.approx(
        (1.0 + MISSING_PENALTY) / 2)


def test_a_refused_combination_fails_the_candidate_not_the_fit() -> None:
    base = load_profile("equities-smoke")
    base = with_overrides(base, {"symbols": [base.symbols[1].model_dump(mode="json")]})
    problem = Problem(base, "AAPL", parse_params("institutional.min_shares,"
                                                 "institutional.max_shares"), {"a": 1.0}, [1, 2])
    assert _configs(problem, {"institutional.min_shares": 5000,
                              "institutional.max_shares": 100}) == []
    configs = _configs(problem, {"institutional.min_shares": 100,
                                 "institutional.max_shares": 5000})
    assert [c.seed for c in configs] == [1, 2]
    assert configs[0].institutional.max_shares == 5000
