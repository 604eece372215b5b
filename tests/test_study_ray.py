"""The Ray backend of ``tapesim study run``: the same tables as the local pool, and bad
flags refused in one line (exit 2)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapesim.cli import app
from tapesim.sim.strict import ConfigError
from tapesim.study.ray_backend import check_address
from tapesim.study.runner import run_study
from tapesim.study.spec import load_study
from tests.test_study import REFERENCE, TABLES, _study

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (the tapesim[ray] "
                               "extra, part of the test extras): the Ray backend cannot be "
                               "exercised")


@needs_ray
def test_ray_gives_the_local_pools_bytes(tmp_path: Path, synthetic_run_cache: Path) -> None:
    study = load_study(_study(tmp_path, REFERENCE))
    local = run_study(study, tmp_path / "local", workers=1, cache_root=synthetic_run_cache)
    try:
        ray = run_study(study, tmp_path / "ray", workers=2, cache_root=synthetic_run_cache,
                        backend="ray")
    except ConfigError as err:
        if "could not start" not in str(err):
            raise
        pytest.skip(f"a local Ray did not start on this machine: {err}")
    assert ray == local
    for name in TABLES:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


@pytest.mark.parametrize(("flags", "said"), [
    (["--backend", "nope"], "--backend 'nope': use local"),
    (["--address", "127.0.0.1:6379"], "add --backend ray"),
    (["--backend", "ray", "--address", "no-port"], "HOST:PORT"),
])
def test_bad_backend_flags_are_one_line(tmp_path: Path, flags: list[str], said: str) -> None:
    result = CliRunner().invoke(app, ["study", "run", str(_study(tmp_path)), "--out",
                                      str(tmp_path / "out"), "--quiet", *flags])
    if not HAS_RAY and "ray" in flags:
        said = "tapesim[ray]"
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert not (tmp_path / "out").exists()


def test_an_address_where_nothing_listens_is_refused_quickly() -> None:
    with pytest.raises(ConfigError, match="no Ray head node answers"):
        check_address("127.0.0.1:1")
