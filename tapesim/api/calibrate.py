"""``tapesim.api.calibrate``: a calibration from Python, with ``tapesim calibrate``'s flags
as keywords."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tapesim.calibration.fit import Evaluation, FitResult, Problem, fit
from tapesim.calibration.fit_report import write_outputs
from tapesim.calibration.params import parse_params
from tapesim.calibration.problem import build_problem
from tapesim.config.flags import FlagError
from tapesim.config.run import load_profile
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.io.manifest import check_hashes, open_run, reading
from tapesim.runs import execute_run


@dataclass(frozen=True)
class Calibration:
    """A finished calibration: what was fitted, every evaluation, the pinned snapshot
    (``out/fitted.json``) and the calibration directory."""

    problem: Problem
    result: FitResult
    snapshot: ParameterSnapshot
    out: Path


def calibrate(
    target: str | os.PathLike[str], *, base: str, symbol: str, params: str,
    out: str | os.PathLike[str], budget: int = 60, seeds: int = 3, workers: int = 1,
    seed: int = 1, like: str | None = None, start: str | None = None, end: str | None = None,
    figures: bool = True, progress: Callable[[Evaluation, Evaluation], None] | None = None,
    started: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Fit ``params`` of profile ``base`` to the real day ``target`` by simulated moments.

    ``calibrate("real/amzn", base="equities-day", symbol="AMZN", like="AAPL",
    params="latent.jumps_per_day,noise.orders_per_s", budget=60, out="calib/amzn")`` is
    ``tapesim calibrate --target real/amzn --base equities-day --symbol AMZN --like AAPL
    --params ... --budget 60 --out calib/amzn``: the same checks, evaluations and files
    (:mod:`tapesim.calibration.fit`; the report: :mod:`tapesim.calibration.fit_report`).

    Args:
        target: a run directory written by ``tapesim import``.
        base: a shipped profile's name.
        symbol: the calibrated symbol, in ``target``.
        params: comma-separated config paths (``PATH=LOW:HIGH`` narrows the bounds).
        out: the calibration directory (its cache makes a second call resume).
        budget: evaluations (at least 1); seeds: runs per evaluation (at least 2);
        workers: processes; seed: the optimiser's seed and the first run seed.
        like: a symbol of ``base`` to model ``symbol`` on when ``base`` lacks it.
        start, end: the window, ``"HH:MM"`` New York (default: the target's).
        figures: draw the report's figures (needs the ``plot`` extra).
        progress: called after each evaluation with it and the best so far.
        started: called once the problem is set, with the numbers of parameters and
            moments.

    Raises:
        FlagError: a value out of range or a parameter the config cannot fit (the
            message names the ``tapesim calibrate`` flag).
        ConfigError, RunDirectoryError: an unusable profile or target.
    """
    for flag, value, least in (("--budget", budget, 1), ("--seeds", seeds, 2),
                               ("--workers", workers, 1), ("--seed", seed, 0)):
        if value < least:
            raise FlagError(f"{flag} must be at least {least}")
    target, out = Path(target), Path(out)
    if not target.is_dir():
        raise FlagError(f"--target {target} is not a directory: pass a run directory "
                        "written by `tapesim import`")
    check_hashes(target, open_run(target))
    fitted = parse_params(params)
    if out.exists() and not out.is_dir():
        raise FlagError(f"--out {out} is a file: choose a directory")
    with reading(target):
        problem = build_problem(target, load_profile(base), symbol.upper(),
                                like.upper() if like else None, fitted,
                                list(range(seed, seed + seeds)), start, end)
    if started is not None:
        started(len(fitted), len(problem.target))
    result = fit(problem, out, execute_run, budget, seed, workers, progress)
    snapshot = write_outputs(out, target, problem, result, execute_run, figures)
    return Calibration(problem, result, snapshot, out)
