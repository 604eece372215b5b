"""Run config: profiles load, files in three formats, unknown or bad fields are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapesim.config.run import (
    ConfigError,
    build_config,
    load_config_file,
    load_profile,
    profile_names,
)


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
