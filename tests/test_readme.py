"""The README's commands, run as a reader would run them, on small inputs.

Every ``tapesim`` line of the README's "Two commands" and "A short tour" blocks and
the first "From Python" block is executed here in a scratch directory, in README
order, and must exit 0. A reader's optional flags (``[--workers 2]``) are run both
without and with them. The test changes the README's commands only in two
documented ways, so that the whole tour costs about a minute:

- :data:`SMALLER`: a README fragment and the smaller thing run instead (a shorter
  window, a smaller profile, a smaller study file) - the same command and flags;
- :data:`PLACEHOLDERS`: the words a reader replaces (``URL``, ``MESSAGE.csv`` ...)
  and what stands for them here (a nats-server started for the test, LOBSTER files
  the tests write themselves).

A README line that is neither runnable as written nor covered by these tables fails
the test, so the README cannot drift from what the commands accept.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.replay import EmbeddedNats, RunDirectorySource
from tests.import_files import lobster_pair

README = Path(__file__).resolve().parents[1] / "README.md"
TINY_STUDY = """name = "smoke"
cache_dir = "../runs/study-cache"
[grid]
profiles = ["options-smoke"]
seeds = [1]
scenarios = ["none", "stale-quote-trap"]
intensities = [1.0]
at = ["09:31"]
end = "09:32"
[classifier]
entry_point = "tapesim.study.reference:classify"
feed = "option_prints"
"""

#: README fragment -> what runs instead: the same command on a smaller input.
SMALLER = {
    "--profile market-day --seed 1 --out runs/m1":
        "--profile equities-smoke --seed 1 --end 09:33 --out runs/m1",
    "--scenario stale-quote-trap@09:40 --out runs/sc1":
        "--scenario stale-quote-trap@09:40 --start 09:34 --end 09:41 --out runs/sc1",
    "--start 09:35 --end 09:45 --max-events 400000":
        "--start 09:35 --end 09:36 --max-events 400000",
    "runs/sc1 --to nats --speed 60":
        "runs/sc1 --to nats --speed 60 --start 09:35 --end 09:36",
    "--base equities-day --symbol AMZN": "--base equities-smoke --symbol AMZN",
    "--budget 60 --seeds 3 --workers 2":
        "--budget 2 --seeds 2 --workers 1 --start 09:30 --end 09:31 --no-figures",
    'end="09:42", out="runs/s3"':
        'start="09:39", end="09:41", out="runs/s3"',
}
#: The runs a pooled-facts line names beside the main job's (made as runs/m1 is).
EXTRA_RUNS = {
    "runs/m2": ["run", "--profile", "equities-smoke", "--seed", "2", "--end", "09:33",
                "--out", "runs/m2"],
    "runs/m3": ["run", "--profile", "equities-smoke", "--seed", "3", "--end", "09:33",
                "--out", "runs/m3"],
}


def code_blocks(section: str) -> list[str]:
    """The fenced code blocks under the README heading ``## section``."""
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```[a-z]*\n(.*?)```", body, flags=re.S)


def command_lines(block: str) -> list[str]:
    """A shell block's commands: comments and comment continuation lines dropped."""
    lines = []
    for raw in block.splitlines():
        line = raw.split("  #", 1)[0].rstrip()
        if line.strip() and not line.lstrip().startswith("#"):
            lines.append(line.strip())
    return lines


def variants(line: str) -> list[str]:
    """The line without its ``[optional]`` flags, and with all of them."""
    if "[" not in line:
        return [line]
    bare = re.sub(r"\s*\[[^\]]*\]", "", line)
    full = re.sub(r"\[([^\]]*)\]", r"\1", line)
    out = re.search(r"--out (\S+)", full)
    if out:  # a second directory, so both variants write
        full = full.replace(f"--out {out[1]}", f"--out {out[1]}-all")
    return [bare, full]


def shrink(line: str) -> str:
    """``line`` with every :data:`SMALLER` fragment replaced."""
    for fragment, smaller in SMALLER.items():
        line = line.replace(fragment, smaller)
    return line


@pytest.fixture(scope="module")
def nats_server() -> Iterator[EmbeddedNats]:
    """A nats-server for the tour's ``tail --nats URL`` line."""
    with EmbeddedNats() as server:
        yield server


def test_the_readme_runs_as_written(tmp_path: Path, nats_server: EmbeddedNats,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def tapesim(args: list[str], line: str) -> str:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"README line failed: {line}\n{result.output[-2000:]}"
        return result.output

    two = code_blocks("Two commands")
    main_job = two[0].split("&&")[-1].strip()
    assert main_job.startswith(".venv/bin/tapesim run"), main_job
    assert command_lines(two[1]) == [".venv/bin/python -m pytest"]  # this very test suite
    tapesim(shlex.split(shrink(main_job))[1:], main_job)

    lobster = lobster_pair(tmp_path, dt.date(2012, 6, 21))
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "study-smoke.toml").write_text(TINY_STUDY)
    placeholders = {"MESSAGE.csv": str(lobster.message), "ORDERBOOK.csv": str(lobster.orderbook),
                    "URL": nats_server.url}
    ran = 0
    for line in command_lines(code_blocks("A short tour")[0]):
        for variant in variants(line):
            words = shlex.split(shrink(variant))
            assert words[0] == "tapesim", f"not a tapesim command: {line}"
            if words[1:3] == ["demo", "NAME"]:
                continue  # a demo loops live until stopped: `demo list` is the tour's line
            for path, args in EXTRA_RUNS.items():
                if path in words and not Path(path).exists():
                    tapesim(args, line)
            if words[1] == "tail":
                prefix = f"tapesim.{RunDirectorySource(Path('runs/sc1')).plan.run_id}."
                tapesim(["replay", "runs/sc1", "--nats-url", nats_server.url,
                         "--no-progress"], line)
                placeholders["P"] = prefix
            words = [placeholders.get(word, word) for word in words]
            tapesim(words[1:], line)
            ran += 1
    assert ran >= 20, ran

    python = code_blocks("From Python")[0]
    assert "tapesim.simulate(" in python
    exec(compile(shrink(python), "README.md", "exec"), {})  # the README's own example
    assert Path("runs/s3/manifest.json").is_file()
    assert os.listdir("studies/smoke")
