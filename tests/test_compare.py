"""``tapesim facts --reference`` and ``--plot``: a day beside simulated runs, with each
fact's seed-to-seed spread, and the comparison figures."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapesim.calibration.compare import compare_rows, inside_share, seed_spread
from tapesim.calibration.facts import equity_facts
from tapesim.calibration.rows import FactRow
from tapesim.calibration.views import option_smiles
from tapesim.cli.main import app
from tapesim.testing.cache import RunCache
from tests.conftest import tiny_config
from tests.import_files import lobster_pair

runner = CliRunner()


def _row(fact: str, value: float | None, symbol: str = "AAPL") -> FactRow:
    return FactRow(symbol, fact, fact, value, "any", "n/a" if value is None else "in")


def test_seed_spread_needs_two_finite_values() -> None:
    assert seed_spread([1.0, None, float("nan")]) == (None, None)
    assert seed_spread([3.0, 1.0, None, 2.0]) == (1.0, 3.0)


def test_compare_rows_judges_the_real_value_against_the_spread() -> None:
    runs = [[_row("a", 1.0), _row("b", 1.0), _row("c", 1.0)],
            [_row("a", 2.0), _row("b", 2.0), _row("c", None)]]
    pooled = [_row("a", 1.5), _row("b", 1.5), _row("c", 1.0)]
    real = [_row("a", 1.2), _row("b", 2.5), _row("c", 1.0), _row("d", 4.0)]
    rows = {r.fact: r for r in compare_rows(real, runs, pooled)}
    assert set(rows) == {"a", "b", "c"}  # "d" has no simulated counterpart
    assert rows["a"].inside is True and (rows["a"].low, rows["a"].high) == (1.0, 2.0)
    assert rows["b"].inside is False
    assert rows["c"].inside is None  # one simulated value: no spread
    assert inside_share(list(rows.values())) == (1, 2)


@pytest.fixture(scope="module")
def second_run(synthetic_run: RunCache) -> Path:
    return synthetic_run(tiny_config(seed=8)).path


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def test_reference_inside_its_own_spread(tiny_run: Path, second_run: Path) -> None:
    result = runner.invoke(app, ["facts", "--reference", str(tiny_run), str(tiny_run),
                                 str(second_run), "--symbols", "AAPL"])
    assert result.exit_code == 0, result.output
    # the reference is one of the runs, so every judged fact lies inside the spread;
    # a fact is judged where both runs have a finite value (a spread needs two)
    other = {r.fact: r.value for r in equity_facts(second_run, ["AAPL"])}
    judged = sum(finite(r.value) and finite(other.get(r.fact))
                 for r in equity_facts(tiny_run, ["AAPL"]))
    assert f"inside the seed-to-seed spread: {judged} of {judged} facts" in result.output


def test_reference_without_a_shared_symbol_exits_2(tiny_run: Path, tmp_path: Path) -> None:
    pair = lobster_pair(tmp_path, dt.date(2012, 6, 21), n=120)
    imported = tmp_path / "real"
    result = runner.invoke(app, ["import", "lobster", str(pair.message), str(pair.orderbook),
                                 "--date", "2012-06-21", "--symbol", "AMZN", "--out",
                                 str(imported)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["facts", "--reference", str(imported), str(tiny_run)])
    assert result.exit_code == 2
    assert "--reference" in result.output and "shares no symbol" in result.output


def test_plot_writes_the_figures(tiny_run: Path, second_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "figures"
    result = runner.invoke(app, ["facts", "--plot", str(out), "--reference", str(second_run),
                                 str(tiny_run), "--symbols", "AAPL"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"AAPL_{v}.png" for v in
                     ("durations", "profile", "returns", "sizes", "zoom")]
    assert all(p.stat().st_size > 5_000 for p in out.iterdir())


def test_plot_without_matplotlib_exits_2(tiny_run: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    monkeypatch.delitem(sys.modules, "tapesim.calibration.figures", raising=False)
    result = runner.invoke(app, ["facts", "--plot", str(tmp_path / "f"), str(tiny_run)])
    assert result.exit_code == 2
    assert "install tapesim[plot]" in result.output
    assert not (tmp_path / "f").exists()


def test_plot_of_an_options_run_adds_option_volume_and_smiles(tiny_options_run: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "figures"
    result = runner.invoke(app, ["facts", "--plot", str(out), str(tiny_options_run),
                                 "--symbols", "SPY"])
    assert result.exit_code == 0, result.output
    assert {"SPY_options.png", "SPY_smile.png"} <= {p.name for p in out.iterdir()}


def test_smiles_are_three_cross_sections_of_the_front(tiny_options_run: Path) -> None:
    smiles = option_smiles(tiny_options_run, "SPY")
    assert len(smiles) == 3
    assert [t for t, _m, _v in smiles] == sorted(t for t, _m, _v in smiles)
    for _t, money, iv in smiles:
        assert money.size > 3 and (iv > 0).all()
        assert (money[1:] > money[:-1]).all()  # one point per strike, ascending
