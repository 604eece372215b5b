"""Shards on worker processes, their spools merged while they grow."""

from __future__ import annotations

import _thread
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import tapesim.runs
from tapesim.io.spool import GrowingFile, spool_tables
from tapesim.runs import execute_run
from tapesim.sim.fleet import ShardFleet, WorkerError, below
from tapesim.sim.shards import Progress
from tapesim.sim.strict import ConfigError
from tapesim.venues.tape import SPOOL_SCHEMA, spool_writer
from tests.conftest import file_bytes, tiny_options_config


def _batch(start: int, n: int) -> pa.RecordBatch:
    columns = {f.name: pa.array([(start + i) % 100 for i in range(n)], type=f.type)
               for f in SPOOL_SCHEMA}
    columns["ts"] = pa.array(range(start, start + n), type=pa.int64())
    return pa.RecordBatch.from_pydict(columns, schema=SPOOL_SCHEMA)


def test_a_spool_is_read_while_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "s.arrow"
    writing = threading.Event()
    writing.set()
    batches = [_batch(i * 100, 100 + i) for i in range(6)]

    def write() -> None:
        time.sleep(0.05)  # the reader opens the file before it exists
        writer = spool_writer(path, SPOOL_SCHEMA)
        for batch in batches:
            writer.write_batch(batch)
            time.sleep(0.02)
        writer.close()
        writing.clear()

    thread = threading.Thread(target=write)
    thread.start()
    tables = list(spool_tables(path, 3, writing.is_set))
    thread.join()
    assert [t.num_rows for t in tables] == [b.num_rows for b in batches]
    whole = pa.concat_tables(tables)
    assert whole.column("ts").to_pylist() == pa.Table.from_batches(batches).column(
        "ts").to_pylist()
    assert set(whole.column("shard").to_pylist()) == {3}
    assert whole.column("local").to_pylist() == list(range(whole.num_rows))


def test_a_short_read_waits_and_stops_when_the_writer_is_done(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    looks = []

    def wait() -> bool:
        looks.append(1)
        if len(looks) == 2:
            with path.open("ab") as f:
                f.write(b"def")
        return len(looks) < 4

    source = GrowingFile(path, wait)
    assert source.read(5) == b"abcde"  # waited for the writer's second part
    assert source.read(10) == b"f"  # the writer finished: what there is
    source.close()
    with pytest.raises(FileNotFoundError, match="never written"):
        GrowingFile(tmp_path / "absent", lambda: False).read(1)


def test_detached_shards_give_the_same_bytes(tiny_options_run: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tapesim.runs, "DETACH_EVENTS", 0)  # a worker process even for one
    execute_run(tiny_options_config(), tmp_path / "one", workers=1)
    assert file_bytes(tmp_path / "one") == file_bytes(tiny_options_run)


def _fails_once_built(config: Any, names: list[str], spools: dict[str, Path],
                      progress: Progress | None, opened: Any) -> list[Any]:
    for name in names:
        opened(name, name.lower())
    raise ConfigError(f"field 'symbols.0': {names[0]} cannot be simulated")


def _dies(config: Any, names: list[str], spools: dict[str, Path],
          progress: Progress | None, opened: Any) -> list[Any]:
    if progress is not None:
        progress(names[0], 5)
    os._exit(3)


def test_a_workers_exception_reaches_the_parent(tmp_path: Path) -> None:
    costs = [("AAA", 1.0), ("BBB", 1.0)]
    with ShardFleet(_fails_once_built, None, costs, tmp_path, 2) as fleet, \
            pytest.raises(ConfigError, match="cannot be simulated"):
        fleet.opening("AAA")
        fleet.results()


def test_a_dead_worker_is_named_not_waited_for(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    with pytest.raises(WorkerError, match="exited with code 3 before finishing AAA"), \
            ShardFleet(_dies, None, [("AAA", 1.0)], tmp_path, 1,
                       lambda s, ns: seen.append((s, ns))) as fleet:
        fleet.opening("AAA")
    assert seen == [("AAA", 5)]


def test_a_script_without_a_main_guard_runs_detached(tmp_path: Path) -> None:
    """Worker processes are fresh interpreters: the caller's script is not run again."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import tapesim.runs
        from tests.conftest import tiny_config
        tapesim.runs.DETACH_EVENTS = 0
        tapesim.runs.execute_run(tiny_config(minutes=1), __import__("pathlib").Path(
            {str(tmp_path / "run")!r}))
        print("ran once")
    """))
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["ran once"]
    assert (tmp_path / "run" / "manifest.json").exists()


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(sys.platform != "linux", reason="nice is per thread on Linux only")
def test_below_runs_on_a_lower_priority_thread_and_leaves_the_caller_alone() -> None:
    mine = _nice()
    seen = below(5, lambda stop: (_nice(), threading.current_thread().name))
    assert seen == (min(19, mine + 5), "tapesim-below")
    assert _nice() == mine

    def fails(stop: threading.Event) -> None:
        raise ConfigError("field 'x': from below")

    with pytest.raises(ConfigError, match="from below"):
        below(5, fails)


def test_an_interrupted_wait_stops_the_thread_before_it_returns() -> None:
    saw_stop: list[bool] = []

    def interrupted(stop: threading.Event) -> str:
        _thread.interrupt_main()
        saw_stop.append(stop.wait(30))
        return "late"

    with pytest.raises(KeyboardInterrupt):
        below(0, interrupted)
    assert saw_stop == [True]


def _builds_slowly(config: Any, names: list[str], spools: dict[str, Path],
                   progress: Progress | None, opened: Any) -> list[Any]:
    time.sleep(60)
    return []


def test_a_stopped_wait_for_a_shard_ends_before_the_shard_is_built(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(WorkerError, match="stopped while waiting for shard AAA"), \
            ShardFleet(_builds_slowly, None, [("AAA", 1.0)], tmp_path, 1) as fleet:
        fleet.opening("AAA", lambda: time.monotonic() - started > 0.3)
    assert time.monotonic() - started < 30  # the worker was killed, not waited for
