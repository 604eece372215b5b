"""A failed or killed command leaves nothing and says why in one line.

A stop signal (SIGTERM as ``timeout`` and ``kill`` send, SIGHUP from a closed
terminal) is handled as Ctrl-C: the run's temporary directory is removed and the exit
code is 128 + the signal's number. A file damaged in place (same size) is a damaged
run directory (exit 2, pointing to ``tapesim verify``), never an internal error. A
full disk is refused before a run starts, from the run's estimated size, and a disk
that fills up during the run removes what was written; both exit 2 naming the space
the run needs.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.config.run import load_profile, with_overrides
from tapesim.io import space, writer

runner = CliRunner()
Usage = namedtuple("Usage", "total used free")


def _wait_for_scratch(tmp: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until the run is simulating: its temporary directory holds a spool file."""
    for _ in range(1200):
        if list(tmp.glob(".run.partial-*/.scratch/*.arrow")):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail("the run never started spooling")


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGTERM, 2), (signal.SIGHUP, 1)])
def test_a_stop_signal_mid_run_leaves_nothing(tmp_path: Path, sig: signal.Signals,
                                              workers: int) -> None:
    tapesim = Path(sys.executable).parent / "tapesim"
    proc = subprocess.Popen(
        [str(tapesim), "run", "--profile", "market-day", "--end", "10:30", "--quiet",
         "--workers", str(workers), "--out", str(tmp_path / "run")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "200"})
    try:
        _wait_for_scratch(tmp_path, proc)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    lines = stderr.decode().strip().splitlines()
    assert lines == [f"error: stopped by {sig.name}; nothing was written"]
    assert proc.returncode == 128 + sig
    assert list(tmp_path.iterdir()) == []


# --- a file damaged in place -------------------------------------------------------------


@pytest.fixture
def damaged_run(tiny_options_run: Path, tmp_path: Path) -> Path:
    """A copy of the tiny options run with bytes inside option_nbbo.parquet flipped."""
    run = tmp_path / "damaged"
    shutil.copytree(tiny_options_run, run)
    path = run / "option_nbbo.parquet"
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 2000):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return run


@pytest.mark.parametrize("args", [
    ["inspect"], ["facts"], ["export", "--format", "jsonl"], ["export"],
    ["replay", "--to", "null"],
], ids=["inspect", "facts", "export-jsonl", "export-islandflow", "replay"])
def test_a_file_damaged_in_place_exits_2_pointing_to_verify(damaged_run: Path, tmp_path: Path,
                                                            args: list[str]) -> None:
    extra = (["--out", str(tmp_path / "out"), "--max-events", "10000000"]
             if args[0] == "export" else [])
    result = runner.invoke(app, [args[0], str(damaged_run), *args[1:], *extra])
    assert result.exit_code == 2, result.output
    assert "option_nbbo.parquet" in result.output
    assert f"tapesim verify {damaged_run}" in result.output
    assert "internal error" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged"]


# --- a full disk ------------------------------------------------------------------------


def _run(tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", "--profile", "equities-smoke", "--end", "09:31",
                                 "--quiet", "--out", str(tmp_path / "run"), *extra])
    return result.exit_code, result.output


def test_the_estimate_follows_the_profile() -> None:
    smoke = load_profile("equities-smoke")
    day = with_overrides(smoke, {"session": {"end": "16:00"}})
    small, whole = space.estimate(smoke), space.estimate(day)
    assert 0 < small.bytes < whole.bytes < space.estimate(day, jsonl=True).bytes
    assert whole.events == pytest.approx(small.events * 390 / 15, rel=0.01)
    options = space.estimate(load_profile("options-smoke"))
    assert options.events > small.events  # the same window, SPY with its option chain


def test_a_run_that_will_not_fit_is_refused_up_front(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    need = space.estimate(with_overrides(load_profile("equities-smoke"),
                                         {"session": {"end": "09:31:00"}}))
    monkeypatch.setattr(space.shutil, "disk_usage",
                        lambda path: Usage(10 * need.bytes, 9 * need.bytes, need.bytes - 1))
    code, output = _run(tmp_path)
    assert code == 2
    assert "not enough disk space for --out" in output and need.describe() in output
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_fills_up_during_the_run_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: writer.RunWriter, snapshot: object, manifest: object) -> None:
        (self.tmp / "half-written").write_bytes(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device", str(self.tmp / "manifest.json"))

    monkeypatch.setattr(writer.RunWriter, "finish", full)
    code, output = _run(tmp_path)
    assert code == 2
    assert "filled up while the run was written" in output and "events estimated" in output
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_elsewhere_exits_2(tiny_run: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "x"))

    monkeypatch.setattr("tapesim.export.islandflow.export_run", full)
    result = runner.invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: no space left on the device writing")
