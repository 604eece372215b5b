"""The Ray backend of ``tapesim study run --backend ray [--address ADDR]``: each cell a Ray
task.

A task runs :func:`tapesim.study.runner.run_cell` (simulate or reopen the cell's run,
classify, score) exactly as a local worker does, and results are gathered by cell
index, so the study's tables are byte-identical to a local run's. Without an
address Ray starts on this machine with ``workers`` CPUs (no dashboard); with one it
joins that cluster, whose nodes must see the study file's directory and the run
cache at the same paths (a shared file system). Ray is an optional extra:
``pip install 'tapesim[ray]'``.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tapesim.sim.strict import ConfigError

RAY_EXTRA = "pip install 'tapesim[ray]'"
CONNECT_TIMEOUT_S = 5.0  # how long a head node's address may take to accept a connection


def load_ray() -> ModuleType:
    """The ``ray`` module (imported on first use: it is an optional extra and slow to
    import).

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ConfigError(f"--backend ray needs Ray, which is not installed: {RAY_EXTRA}"
                          ) from None


def check_address(address: str) -> None:
    """Refuse a ``host:port`` head address that accepts no connection within
    :data:`CONNECT_TIMEOUT_S` (Ray itself would retry for a minute or more). ``auto``
    and ``ray://`` client addresses are left to Ray.

    Raises:
        ConfigError: the address is not ``host:port``, or nothing listens there.
    """
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address {address!r}: give the Ray head node as HOST:PORT "
                          "(e.g. 10.0.0.5:6379), ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise ConfigError(f"--address {address}: no Ray head node answers there "
                          f"({err.strerror or err}): start one with `ray start --head` "
                          "or fix the address") from None


def init_ray(ray: ModuleType, workers: int, address: str | None) -> None:
    """Start Ray on this machine with ``workers`` CPUs, or join the cluster at
    ``address``.

    A local start can fail on a heavily loaded machine: the raylet waits a fixed 15 s
    for its dashboard agent (a Python process started even without the dashboard) to
    publish its ports, and aborts the node when the agent's imports take longer.

    Raises:
        ConfigError: the cluster at ``address`` cannot be reached, or Ray cannot start.
    """
    if address is not None:
        check_address(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except ConnectionError as err:
            raise ConfigError(f"--address {address}: cannot join the Ray cluster ({err})"
                              ) from None
        return
    try:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    except Exception as err:  # Ray reports a failed start as a bare Exception
        raise ConfigError(f"--backend ray: Ray could not start on this machine ({err}); "
                          "its logs are under the Ray temp directory (/tmp/ray/session_"
                          "latest/logs): use --backend local, or join a running cluster "
                          "with --address") from None


def run_on_ray(task: Callable[[int], Any], total: int, workers: int, address: str | None,
               done: Callable[[int, Any, int], None]) -> None:
    """Run ``task(i)`` for every cell index ``i < total`` as Ray tasks, calling
    ``done(i, result, running)`` as each finishes (in index order among those that
    finish together); Ray is shut down afterwards.

    Raises:
        ConfigError: Ray is missing or the cluster cannot be reached.
        Exception: the first exception a task raised, as itself (not Ray's wrapper);
            tasks not yet finished are cancelled.
    """
    ray = load_ray()
    init_ray(ray, workers, address)
    try:
        # Ray wraps functions and classes only, not a partial: one module-level caller
        # runs the task, shipped once to the object store, on each cell index.
        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        shipped = ray.put(task)
        pending = {remote.remote(shipped, i): i for i in range(total)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in sorted(ready, key=lambda r: pending[r]):
                index = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as err:
                    for other in pending:
                        ray.cancel(other)
                    cause = err.cause if isinstance(err.cause, Exception) else err
                    raise cause from None
                done(index, result, min(workers, len(pending)))
    finally:
        ray.shutdown()


def _call(task: Callable[[int], Any], index: int) -> Any:
    """``task(index)``: the function each Ray task runs (Ray resolves ``task`` from the
    object store before the call)."""
    return task(index)
