"""Validation errors read as one line naming what the user wrote: the dotted config
key or the run flag, never pydantic's "Value error," prefix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError, field_validator, model_validator
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.sim.strict import FieldError, Strict, describe


class _Window(Strict):
    low: int = 0
    high: int = 1

    @field_validator("low")
    @classmethod
    def _low(cls, v: int) -> int:
        if v < 0:
            raise ValueError("low must be >= 0")
        return v

    @model_validator(mode="after")
    def _order(self) -> _Window:
        if self.low >= self.high:
            raise FieldError("high", f"high {self.high} must exceed low {self.low}")
        return self


class _Doc(Strict):
    window: _Window = _Window()


def _error(data: dict) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _Doc.model_validate(data)
    return caught.value


def test_a_validator_message_loses_pydantics_prefix() -> None:
    err = _error({"window": {"low": -1}})
    assert "Value error" in str(err)  # what pydantic itself says
    assert describe(err) == "field 'window.low': low must be >= 0"


def test_a_field_error_names_the_field_below_the_model() -> None:
    err = _error({"window": {"low": 5, "high": 2}})
    assert describe(err) == "field 'window.high': high 2 must exceed low 5"
    assert describe(err, {"window.high": "--high"}) == "--high: high 2 must exceed low 5"
    assert describe(err, {"window": "--window"}) == "--window: high 2 must exceed low 5"
    assert describe(err, {"window.low": "--low"}).startswith("field 'window.high'")


def test_pydantics_own_messages_and_unknown_keys() -> None:
    assert describe(_error({"window": {"low": "x"}})).startswith("field 'window.low': Input "
                                                                 "should be a valid integer")
    assert describe(_error({"windw": {}})) == ("unknown field 'windw': remove it or check its "
                                               "spelling")


def test_a_config_file_error_has_no_prefix(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('base_profile = "equities-smoke"\n[venues]\nlit = ["nyse"]\n')
    result = CliRunner().invoke(app, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.startswith("error: field 'venues.lit': venue codes are 1-8 upper-case")
    assert "Value error" not in result.output
