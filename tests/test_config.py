"""Run config: profiles load, files in three formats, unknown or bad fields are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapesim.config.run import (
    ConfigError,
    RunConfig,
    build_config,
    load_config_file,
    load_profile,
    profile_names,
)
from tapesim.sim.strict import Strict


def test_shipped_profiles_load() -> None:
    assert {"equities-smoke", "equities-day"} <= set(profile_names())
    day = load_profile("equities-day")
    assert len(day.symbols) == 5
    assert day.session.session().end_ns - day.session.session().start_ns == 390 * 60 * 10**9


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_config_file_formats(tmp_path: Path, suffix: str) -> None:
    data = {"base_profile": "equities-smoke", "seed": 11, "noise": {"orders_per_s": 2.0}}
    path = tmp_path / f"c{suffix}"
    if suffix == ".toml":
        path.write_text('base_profile = "equities-smoke"\nseed = 11\n[noise]\norders_per_s = 2.0\n')
    elif suffix == ".yaml":
        path.write_text("base_profile: equities-smoke\nseed: 11\nnoise:\n  orders_per_s: 2.0\n")
    else:
        path.write_text(json.dumps(data))
    cfg = load_config_file(path)
    assert cfg.seed == 11 and cfg.noise.orders_per_s == 2.0
    assert [s.symbol for s in cfg.symbols] == ["SPY", "AAPL"]


def test_unknown_key_is_named() -> None:
    data = load_profile("equities-smoke").snapshot()
    data["retail"]["odd_lots"] = 0.3
    with pytest.raises(ConfigError, match=r"unknown field 'retail.odd_lots'"):
        build_config(data)


def test_bad_value_is_named() -> None:
    data = load_profile("equities-smoke").snapshot()
    data["symbols"][0]["price"] = -5
    with pytest.raises(ConfigError, match=r"symbols.0.price"):
        build_config(data)


def test_duplicate_symbols_rejected() -> None:
    data = load_profile("equities-smoke").snapshot()
    data["symbols"].append(data["symbols"][0])
    with pytest.raises(ConfigError, match="distinct"):
        build_config(data)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config_file(bad)
    other = tmp_path / "c.ini"
    other.write_text("x")
    with pytest.raises(ConfigError, match=r"\.toml, \.yaml"):
        load_config_file(other)


def test_snapshot_round_trips() -> None:
    cfg = load_profile("equities-day")
    assert build_config(json.loads(json.dumps(cfg.snapshot()))) == cfg


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(), min_size=1, max_size=3))
def test_arbitrary_extra_keys_never_pass_silently(extra: dict[str, int]) -> None:
    data = load_profile("equities-smoke").snapshot()
    data["market_makers"] = {**data["market_makers"], **{f"x_{k}": v for k, v in extra.items()}}
    with pytest.raises(ConfigError, match="unknown field"):
        build_config(data)


@pytest.mark.parametrize(
    ("section", "values", "needle"),
    [
        ("venues", {"trf": []}, "venues.trf"),
        ("venues", {"lit": ["NYSE", "NYSE"]}, "distinct"),
        ("venues", {"lit": ["A_VERY_LONG_CODE"]}, "1-8 upper-case"),
        ("venues", {"trf": ["NYSE"]}, "both a lit venue and a TRF"),
        ("retail", {"wholesalers": []}, "retail.wholesalers"),
        ("institutional", {"min_shares": 5000, "max_shares": 100}, "min_shares"),
        ("institutional", {"child_shares": [500, 100]}, "child_shares"),
        ("market_makers", {"quote_lots": [5, 1]}, "quote_lots"),
    ],
)
def test_inconsistent_settings_are_named(section: str, values: dict, needle: str) -> None:
    data = load_profile("equities-smoke").snapshot()
    data[section] = {**data[section], **values}
    with pytest.raises(ConfigError, match=needle):
        build_config(data)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(("section", "field", "value"), [
    ("symbols", "market_beta", None),
    ("latent", "regime_vol", [None, 1.0, 1.0]),
    ("latent", "jump_bps", None),
    ("noise", "orders_per_s", None),
    ("options", "opra_latency_ms", None),
    ("market_makers", "quote_lots", [1, None]),
])
def test_non_finite_numbers_are_refused_everywhere(
        section: str, field: str, value: object, text: str) -> None:
    number = float(text)
    data = load_profile("options-smoke").snapshot()
    filled = [number if v is None else v for v in value] if isinstance(value, list) else number
    if section == "symbols":
        data["symbols"][0][field] = filled
        where = f"symbols.0.{field}"
    else:
        data[section] = {**data[section], field: filled}
        where = f"{section}.{field}"
    with pytest.raises(ConfigError, match=rf"field '{where}(\.\d)?': .*finite"):
        build_config(data)


@pytest.mark.parametrize(("section", "values", "needle"), [
    ("latent", {"regime_vol": [-0.5, 1.0, 1.9]}, r"latent.regime_vol.0': .*greater than 0"),
    ("latent", {"jump_bps": 1e6}, r"latent.jump_bps': .*less than or equal to 1000"),
    ("noise", {"orders_per_s": 1e9}, r"noise.orders_per_s': .*less than or equal to 10"),
    ("latent", {"sv_reversion_minutes": 1e300}, "latent.sv_reversion_minutes"),
    ("institutional", {"max_shares": 10**12}, "institutional.max_shares"),
])
def test_bounds_refuse_values_no_market_has(section: str, values: dict, needle: str) -> None:
    data = load_profile("equities-smoke").snapshot()
    data[section] = {**data[section], **values}
    with pytest.raises(ConfigError, match=needle):
        build_config(data)


def _config_models(model: type[Strict]) -> list[type[Strict]]:
    """``model`` and every config model its fields hold, depth first."""
    found = [model]
    for info in model.model_fields.values():
        for arg in (info.annotation, *get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, Strict):
                found += _config_models(arg)
    return found


def test_every_bounded_config_field_states_its_reason() -> None:
    models = _config_models
    unexplained = []
    for model in models(RunConfig):
        for name, info in model.model_fields.items():
            bounds = [m for m in info.metadata if type(m).__name__ in ("Le", "Lt")]
            if bounds and not info.description:
                unexplained.append(f"{model.__name__}.{name}")
    assert unexplained == []
