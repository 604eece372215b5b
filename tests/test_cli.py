"""The command line: happy path and every class of bad input (exit 2, one line, no output)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import tapesim.verify.run as verify_module
from tapesim.cli.main import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_run_verify_inspect(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = invoke("run", "--profile", "equities-smoke", "--seed", "2", "--end", "09:32",
                    "--symbols", "SPY", "--out", str(out), "--jsonl", "--verify")
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert (out / "manifest.json").is_file()
    assert (out / "equity_quotes.jsonl").is_file()
    assert invoke("verify", str(out)).exit_code == 0
    inspected = invoke("inspect", str(out))
    assert inspected.exit_code == 0 and "SPY" in inspected.output
    assert invoke("profiles").exit_code == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--profile", "no-such-profile"], "unknown profile"),
        (["--profile", "equities-smoke", "--seed", "abc"], "seed"),
        (["--profile", "equities-smoke", "--start", "9h"], "--start"),
        (["--profile", "equities-smoke", "--start", "09:00"], "09:30"),
        (["--profile", "equities-smoke", "--date", "2026-03-14"], "not an NYSE trading day"),
        (["--profile", "equities-smoke", "--symbols", "ZZZZ"], "--symbols"),
        (["--profile", "equities-smoke", "--workers", "0"], "workers"),
        ([], "--profile"),
    ],
)
def test_bad_input_exits_2_without_output(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "never"
    result = invoke("run", *args, "--out", str(out))
    assert result.exit_code == 2
    assert needle in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".never*"))


def test_existing_output_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["run", "--profile", "equities-smoke", "--end", "09:31", "--symbols", "SPY",
            "--out", str(out)]
    result = invoke(*args)
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    assert invoke(*args, "--force").exit_code == 0
    assert not (out / "keep.txt").exists()


def test_bad_config_field(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("base_profile: equities-smoke\nnoise:\n  orders_per_sec: 3\n")
    result = invoke("run", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "noise.orders_per_sec" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_verify_damaged_exits_2(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(tiny_run, copy)
    (copy / "equity_prints.parquet").unlink()
    result = invoke("verify", str(copy))
    assert result.exit_code == 2 and "equity_prints.parquet is missing" in result.output
    assert invoke("verify", str(tmp_path / "nothing")).exit_code == 2


def test_failed_run_leaves_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tapesim.runs

    def boom(*_a, **_k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(tapesim.runs, "simulate_bin", boom)
    out = tmp_path / "crash"
    result = invoke("run", "--profile", "equities-smoke", "--out", str(out))
    assert result.exit_code == 1 and "simulated crash" in result.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_facts_command(tiny_run: Path) -> None:
    result = invoke("facts", str(tiny_run), "--symbols", "SPY")
    assert result.exit_code == 0, result.output
    assert "CV of trade durations" in result.output
    bad = invoke("facts", str(tiny_run), "--symbols", "NOPE")
    assert bad.exit_code == 2


@pytest.mark.parametrize("command", ["inspect", "facts"])
def test_reading_a_damaged_run_exits_2(tiny_run: Path, tmp_path: Path, command: str) -> None:
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(tiny_run, copy)
    (copy / "equity_prints.parquet").write_bytes(b"garbage")
    result = invoke(command, str(copy))
    assert result.exit_code == 2
    assert "damaged" in result.output and "tapesim verify" in result.output
    (copy / "equity_prints.parquet").unlink()
    assert invoke(command, str(copy)).exit_code == 2


@pytest.mark.parametrize("command", [["inspect"], ["facts"], ["verify"],
                                     ["export", "--format", "jsonl", "--out", "OUT"]])
@pytest.mark.parametrize("key", ["symbols", "session", "counts"])
def test_a_manifest_off_its_schema_exits_2_naming_the_field(
        tiny_run: Path, tmp_path: Path, command: list[str], key: str) -> None:
    import json
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(tiny_run, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest[key]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    result = invoke(command[0], str(copy), *[str(out) if a == "OUT" else a for a in command[1:]])
    assert result.exit_code == 2, result.output
    assert f"field '{key}'" in result.output and "tapesim verify" in result.output
    assert not out.exists()


def test_facts_pool_several_runs(tiny_run: Path) -> None:
    result = invoke("facts", str(tiny_run), str(tiny_run), "--symbols", "SPY")
    assert result.exit_code == 0, result.output
    assert "median" in result.output  # the pooled note (wrapped at 80 columns)


def test_a_run_that_fails_its_own_verification_is_not_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "verify_run", lambda path: ["a planted fault"])
    out = tmp_path / "r"
    result = invoke("run", "--profile", "equities-smoke", "--end", "09:31", "--symbols", "SPY",
                    "--out", str(out), "--verify", "--quiet")
    assert result.exit_code == 1
    assert "FAIL a planted fault" in result.output and "removed" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []
