"""Shards running in worker processes while this process reads what they write.

:func:`tapesim.sim.shards.run_shards` returns once every shard has finished. A run
writer that merges the shards' spools while they grow needs the shards running
beside it instead: a :class:`ShardFleet` starts one worker process per bin of shards
(:func:`~tapesim.sim.shards.balanced_bins`), each running a :class:`BinFunction` that
advances its shards together, so every spool grows through the window at once. This
process learns each shard's *opening* (a picklable description the bin function
reports once the shard is built, before it runs) as soon as it is sent, and the
results when every bin is done; a reader waiting for a spool to grow calls
:meth:`ShardFleet.wait`, which raises a worker's exception rather than waiting for
ever. Detached or not, the same bin function runs, so where it runs cannot change a
byte of the spools.

A worker is a fresh interpreter (``python -m tapesim.sim.fleet``), not a
``multiprocessing`` child: spawning one would import the caller's ``__main__`` again,
so a script that calls :func:`tapesim.simulate` without an ``if __name__ ==
"__main__"`` guard would run itself in every worker. The parent hands it the job as
a pickle on its standard input; it answers with pickled messages (openings,
progress, then its results or the exception it raised) on a pipe of its own, so
nothing a library prints can get in the way.

Like the rest of the kernel, this knows nothing of markets: a shard is a name with a
cost, an opening and a result are whatever the bin function makes them.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue as queue_mod
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, TypeVar

from tapesim.sim.calendar import adopt_exchange_days, exchange_days
from tapesim.sim.shards import Progress, balanced_bins, spool_paths

Opened = Callable[[str, Any], None]
"""Called by a bin function with (shard name, opening) once a shard is built."""

T = TypeVar("T")


def lower_priority(steps: int) -> None:
    """Lower the calling thread's CPU priority by ``steps`` nice steps (Linux, where nice
    is per thread and the threads it starts inherit it; elsewhere nothing). Raising a
    nice value needs no privilege; it cannot be undone, so call it on a thread of one's
    own."""
    if sys.platform != "linux" or steps <= 0:
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid)
                                                 + steps))


def below(steps: int, fn: Callable[[threading.Event], T]) -> T:
    """``fn(stop)`` run on a new thread ``steps`` nice steps below this one
    (:func:`lower_priority`), waited for here.

    When the wait is interrupted (Ctrl-C, or a stop signal raised as an exception),
    ``stop`` is set and the thread waited for before the exception goes on, so nothing
    ``fn`` does outlives the call: ``fn`` must return or raise soon after ``stop`` is
    set. Returns what ``fn`` returns; raises what it raises.
    """
    outcome: list[Any] = []
    stop = threading.Event()

    def body() -> None:
        lower_priority(steps)
        try:
            outcome.append((True, fn(stop)))
        except BaseException as err:  # handed to the waiting thread
            outcome.append((False, err))

    thread = threading.Thread(target=body, name="tapesim-below", daemon=True)
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.25)
    except BaseException:
        stop.set()
        if thread.ident is not None:
            thread.join()
        raise
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class BinFunction(Protocol):
    """Simulate the shards ``names`` under ``config`` together, each into its spool.

    Calls ``opened(name, opening)`` for every shard once it is built and before it
    runs, and ``progress(name, ns)`` as each advances; returns the shards' results in
    ``names`` order.
    """

    def __call__(self, config: Any, names: list[str], spools: dict[str, Path],
                 progress: Progress | None, opened: Opened) -> list[Any]: ...


class WorkerError(RuntimeError):
    """A worker process ended without its results and without an exception to pass on
    (killed, or out of memory)."""


class _Worker:
    """One bin's interpreter: its process and the thread reading its messages."""

    def __init__(self, job: tuple[Any, ...], inbox: queue_mod.Queue[tuple[int, Any]],
                 index: int) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tapesim.sim.fleet", str(write_fd)],
                stdin=subprocess.PIPE, pass_fds=(write_fd,), env=env)
        finally:
            os.close(write_fd)
        self.messages = os.fdopen(read_fd, "rb")
        assert self.process.stdin is not None
        try:
            with self.process.stdin as stdin:
                pickle.dump(job, stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # a stop signal while handing over the job: no orphan
            self.messages.close()
            self.stop()
            raise
        self.done = False
        self._thread = threading.Thread(target=self._read, args=(inbox, index), daemon=True,
                                        name=f"tapesim-shards-{index}")
        self._thread.start()

    def _read(self, inbox: queue_mod.Queue[tuple[int, Any]], index: int) -> None:
        with self.messages:
            while True:
                try:
                    message = pickle.load(self.messages)
                except (EOFError, OSError, pickle.UnpicklingError):
                    inbox.put((index, ("exit", None)))
                    return
                inbox.put((index, message))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class ShardFleet:
    """Every shard of ``costs`` simulated by ``fn``: detached on worker processes, or
    here, to completion, before the constructor returns.

    Args:
        fn: the bin function, picklable (a module-level function).
        config: its config, any picklable value.
        costs: ``(name, estimated cost)`` of every shard, in the order results come back.
        spool_dir: where shard ``i`` named ``s`` spools (``shard-{i:03d}-{s}.arrow``).
        workers: the most bins (processes when detached).
        progress: called with (shard name, simulated ns reached), in this process.
        detach: run the bins on ``min(workers, shards)`` worker processes while this
            process goes on; otherwise run them here, one after another.

    Raises:
        Exception: whatever a shard raised, from the constructor when not detached,
            else from :meth:`opening`, :meth:`wait` or :meth:`results`.
        WorkerError: a worker process died without saying why.
    """

    POLL_S = 0.05

    def __init__(self, fn: BinFunction, config: Any, costs: list[tuple[str, float]],
                 spool_dir: Path, workers: int, progress: Progress | None = None,
                 detach: bool = True) -> None:
        self.names = [name for name, _ in costs]
        self.spools = spool_paths(self.names, spool_dir)
        self._progress = progress
        self._openings: dict[str, Any] = {}
        self._results: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._bins = balanced_bins(costs, max(1, min(workers, len(self.names))))
        self._bin_of = {name: i for i, b in enumerate(self._bins) for name in b}
        self._inbox: queue_mod.Queue[tuple[int, Any]] = queue_mod.Queue()
        self._workers: list[_Worker] = []
        if not detach:
            for b in self._bins:
                self._results.update(zip(b, fn(config, b, self.spools, progress,
                                               self._openings.__setitem__), strict=True))
            return
        days = exchange_days()
        try:
            for i, b in enumerate(self._bins):
                job = (fn, config, b, self.spools, progress is not None, days)
                self._workers.append(_Worker(job, self._inbox, i))
        except BaseException:
            self.close(failed=True)
            raise

    def opening(self, name: str, stopped: Callable[[], bool] | None = None) -> Any:
        """Shard ``name``'s opening, waiting for its bin to build it; ``stopped`` is asked
        between looks and, once true, ends the wait with :class:`WorkerError`."""
        worker = self._bin_of[name]
        while name not in self._openings:
            if stopped is not None and stopped():
                raise WorkerError(f"stopped while waiting for shard {name} to be built")
            self._pump(self.POLL_S)
            if name not in self._openings and self._workers[worker].done:
                raise WorkerError(f"shard {name} finished without reporting its opening")
        return self._openings[name]

    def wait(self, name: str) -> bool:
        """For a reader that found shard ``name``'s spool at its end: pass on progress
        and raise a worker's exception; False once the shard's bin has finished, so
        nothing more will be written, else True (read again)."""
        self._pump(0)
        return bool(self._workers) and not self._workers[self._bin_of[name]].done

    def results(self) -> list[Any]:
        """Every shard's result in ``costs`` order, waiting for the bins to finish."""
        while not self.finished:
            self._pump(self.POLL_S)
        return [self._results[name] for name in self.names]

    @property
    def finished(self) -> bool:
        """Whether every bin has finished and handed back its results."""
        self._pump(0)
        return all(w.done for w in self._workers)

    def close(self, failed: bool = False) -> None:
        """Wait for the worker processes to exit; with ``failed`` (an exception or a stop
        signal in this process), kill them instead."""
        for worker in self._workers:
            if failed:
                worker.stop()
            else:
                worker.process.wait()

    def __enter__(self) -> ShardFleet:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(failed=kind is not None)

    def _pump(self, timeout: float) -> None:
        """Take the workers' messages (openings, progress, results, failures), waiting up
        to ``timeout`` s for the first; any thread may call it.

        Raises:
            Exception: the exception a worker's shard raised.
            WorkerError: a worker ended without results or an exception.
        """
        with self._lock:
            while True:
                try:
                    index, (tag, *rest) = (self._inbox.get(timeout=timeout) if timeout
                                           else self._inbox.get_nowait())
                except queue_mod.Empty:
                    return
                timeout = 0
                worker = self._workers[index]
                if tag == "opened":
                    self._openings[rest[0]] = rest[1]
                elif tag == "progress":
                    if self._progress is not None:
                        self._progress(rest[0], rest[1])
                elif tag == "done":
                    self._results.update(zip(self._bins[index], rest[0], strict=True))
                    worker.done = True
                elif tag == "error":
                    worker.done = True
                    raise rest[0]
                elif not worker.done:  # "exit": the pipe closed before results
                    worker.done = True
                    code = worker.process.wait()
                    raise WorkerError(f"a shard worker exited with code {code} before "
                                      f"finishing {', '.join(self._bins[index])}")


class _Send:
    """A worker's pickled messages to its parent, one ``(tag, *values)`` tuple each."""

    def __init__(self, pipe: IO[bytes], tag: str) -> None:
        self.pipe = pipe
        self.tag = tag

    def __call__(self, *values: Any) -> None:
        pickle.dump((self.tag, *values), self.pipe, protocol=pickle.HIGHEST_PROTOCOL)
        self.pipe.flush()


def _orphaned(parent: int) -> None:
    """End this worker once its parent is gone (killed outright, so it could not)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _worker_main(fd: int) -> int:
    """A worker: read the job from standard input, run it, report on pipe ``fd``."""
    threading.Thread(target=_orphaned, args=(os.getppid(),), daemon=True).start()
    try:
        fn, config, names, spools, with_progress, days = pickle.load(sys.stdin.buffer)
    except (EOFError, pickle.UnpicklingError):
        return 1  # the parent stopped before it handed over the whole job
    adopt_exchange_days(days)
    try:
        with os.fdopen(fd, "wb") as pipe:
            try:
                results = fn(config, names, spools, _Send(pipe, "progress") if with_progress
                             else None, _Send(pipe, "opened"))
            except BaseException as err:  # every failure goes to the parent
                try:
                    _Send(pipe, "error")(err)
                except (pickle.PicklingError, TypeError, AttributeError):
                    _Send(pipe, "error")(RuntimeError(f"{type(err).__name__}: {err}"))
                return 1
            _Send(pipe, "done")(results)
    except BrokenPipeError:
        return 1  # the parent is gone: nobody is left to tell
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(int(sys.argv[1])))
