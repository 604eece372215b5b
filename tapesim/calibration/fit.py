"""Fitting config parameters to a real day by the method of simulated moments.

The moments are the scorecard's equity facts (:func:`~tapesim.calibration.facts.equity_facts`)
of one symbol that the target (an imported real day) supports: every fact with a
finite value on the target over the calibration window. An evaluation simulates the
candidate config with ``K`` seeds (short windows of one symbol) and averages each
fact over the seeds. The objective is the mean over facts of the squared
standardised distance

    J(theta) = 1/F * sum_f (mean_f(theta) - target_f)^2 / s_f^2

with ``s_f^2`` the fact's sampling variance across the seeds of the first evaluation
(the base config), floored at ``(0.05 * |target_f|)^2`` and ``1e-6`` so a fact the
seeds happen to agree on cannot dominate; a fact with no value at ``theta`` adds
:data:`MISSING_PENALTY` (five standard deviations squared). Weighting by the inverse
sampling variance is the diagonal form of the MSM weighting matrix (McFadden 1989;
Franke and Westerhoff 2012 use it for agent-based market models). A fact with no
value in any base seed cannot be weighted and is dropped (the report lists it).

The optimiser is optuna's TPE sampler, seeded: the base config is the first
evaluation, then candidates are asked :data:`BATCH` at a time and told back in order,
so the sequence of evaluations depends on the seed and the budget only, never on the
number of worker processes. Each simulated run's facts are cached on disk under its
parameter snapshot hash (``cache/``), so a killed calibration run again resumes
where it stopped, simulating nothing it already did.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from tapesim._version import __version__
from tapesim.calibration.facts import equity_facts
from tapesim.calibration.params import Param, current_value, with_values
from tapesim.config.run import RunConfig, with_overrides
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.sim.strict import ConfigError

#: Candidates asked of the sampler before any is told back (fixed, so the sequence of
#: evaluations does not depend on the worker count).
BATCH = 4
#: The squared standardised distance a fact adds when an evaluation has no value of it.
MISSING_PENALTY = 25.0
REL_SD_FLOOR = 0.05
ABS_VAR_FLOOR = 1e-6

#: Simulates a config into a new run directory (``tapesim.runs.execute_run``).
Simulate = Callable[[RunConfig, Path], object]
Facts = dict[str, float | None]


@dataclass(frozen=True)
class Problem:
    """What is fitted, to what.

    Args:
        base: the config each candidate starts from: one symbol, the calibration
            window, seed ``seeds[0]``.
        symbol: the calibrated symbol (in ``base`` and the target).
        params: the fitted parameters.
        target: each moment's value on the real day (fact id -> value).
        seeds: the root seeds of each evaluation's runs.
    """

    base: RunConfig
    symbol: str
    params: list[Param]
    target: dict[str, float]
    seeds: list[int]

    def config(self, values: dict[str, float | int], seed: int) -> RunConfig:
        """The candidate config: ``base`` with ``values`` set, run with ``seed``."""
        return with_overrides(with_values(self.base, values), {"seed": seed})

    def base_values(self) -> dict[str, float | int]:
        """Each parameter's value in ``base``, inside its search range."""
        return {p.path: p.clip(current_value(self.base, p.path)) for p in self.params}


@dataclass(frozen=True)
class RunTask:
    """One simulated run of an evaluation: its config and where its facts are cached."""

    config: RunConfig
    symbol: str
    cache_file: Path
    work_dir: Path
    simulate: Simulate


@dataclass
class Evaluation:
    """One candidate: parameter values, each moment's mean over the seeds, the
    objective, and how many of its runs were simulated (the rest came from the cache)."""

    index: int
    values: dict[str, float | int]
    means: dict[str, float | None]
    objective: float
    snapshots: list[str]
    simulated: int


@dataclass
class FitResult:
    """A finished calibration: the evaluations in order, the moments' weights (sd)
    and the best evaluation's index."""

    evaluations: list[Evaluation] = field(default_factory=list)
    sd: dict[str, float] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    @property
    def best(self) -> Evaluation:
        """The evaluation with the lowest objective (the first of equals)."""
        return min(self.evaluations, key=lambda e: (e.objective, e.index))

    @property
    def simulated(self) -> int:
        """Runs simulated by this call (not served from the cache)."""
        return sum(e.simulated for e in self.evaluations)


def cache_file(cache_dir: Path, config: RunConfig) -> Path:
    """Where the facts of ``config``'s run are cached: its snapshot hash, abbreviated."""
    digest = ParameterSnapshot.of(config).sha256.removeprefix("sha256:")
    return cache_dir / f"{digest[:32]}.json"


def cached_facts(path: Path, config: RunConfig) -> Facts | None:
    """The cached facts of ``config``'s run, or None (absent, unreadable, made by another
    tapesim version or for another snapshot)."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if (doc.get("version") != __version__
            or doc.get("snapshot") != ParameterSnapshot.of(config).sha256):
        return None
    return {k: (None if v is None else float(v)) for k, v in doc["facts"].items()}


def run_task(task: RunTask) -> Facts:
    """Simulate one run, score its symbol, cache the facts (atomically) and remove the
    run directory; the facts, fact id -> value (None where n/a for lack of data)."""
    run_dir = task.work_dir / ParameterSnapshot.of(task.config).run_id
    shutil.rmtree(run_dir, ignore_errors=True)
    task.simulate(task.config, run_dir)
    try:
        facts: Facts = {r.fact: r.value for r in equity_facts(run_dir, [task.symbol])}
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    doc = {"snapshot": ParameterSnapshot.of(task.config).sha256, "version": __version__,
           "symbol": task.symbol, "facts": facts}
    tmp = task.cache_file.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True), "utf-8")
    tmp.replace(task.cache_file)
    return facts


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def moment_sd(target: dict[str, float], base_runs: list[Facts]) -> tuple[dict[str, float],
                                                                         list[str]]:
    """Each moment's standard deviation across the base evaluation's seeds, floored
    (module docstring), and the moments dropped for having no base value."""
    sd, dropped = {}, []
    for fact, real in target.items():
        values = [r.get(fact) for r in base_runs]
        finite = np.array([v for v in values if v is not None and math.isfinite(v)])
        if finite.size == 0:
            dropped.append(fact)
            continue
        var = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
        sd[fact] = math.sqrt(max(var, (REL_SD_FLOOR * abs(real)) ** 2, ABS_VAR_FLOOR))
    return sd, dropped


def objective(means: dict[str, float | None], target: dict[str, float],
              sd: dict[str, float]) -> float:
    """The mean squared standardised distance of the moments (module docstring)."""
    terms = []
    for fact, s in sd.items():
        m = means.get(fact)
        terms.append(MISSING_PENALTY if m is None else ((m - target[fact]) / s) ** 2)
    return float(np.mean(terms)) if terms else math.nan


class _Runner:
    """Runs tasks inline (one worker) or on a spawn process pool, results in order."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def map(self, tasks: list[RunTask]) -> list[Facts]:
        if self.workers <= 1 or len(tasks) <= 1:
            return [run_task(t) for t in tasks]
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=mp.get_context("spawn"))
        return list(self.pool.map(run_task, tasks))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _suggest(trial: optuna.Trial, p: Param) -> float | int:
    if p.integer:
        return trial.suggest_int(p.path, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(p.path, p.low, p.high, log=p.log)


def _configs(problem: Problem, values: dict[str, float | int]) -> list[RunConfig]:
    """The candidate's config at each seed; none when the config refuses the combination
    (e.g. a smallest size above the largest), which fails the candidate, not the fit."""
    try:
        return [problem.config(values, s) for s in problem.seeds]
    except ConfigError:
        return []


def fit(problem: Problem, out_dir: Path, simulate: Simulate, budget: int, seed: int,
        workers: int = 1, progress: Callable[[Evaluation, Evaluation], None] | None = None
        ) -> FitResult:
    """Run a calibration of ``budget`` evaluations into ``out_dir`` (``cache/``, ``work/``).

    Args:
        problem: what to fit.
        out_dir: the calibration directory; its ``cache/`` is reused when present.
        simulate: simulates a config into a run directory (``runs.execute_run``).
        budget: evaluations, the base config's first; at least 1.
        seed: the sampler's seed.
        workers: processes simulating an evaluation batch's runs at once.
        progress: called after each evaluation with it and the best so far.

    Returns:
        every evaluation, the moments' weights and the dropped moments.

    A candidate the config refuses (a combination of values out of the model's rules)
    is recorded with an infinite objective and simulated not at all.

    Raises:
        ConfigError: no moment of the target has a value in the base evaluation.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cache_dir, work_dir = out_dir / "cache", out_dir / "work"
    cache_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                         n_startup_trials=min(10, max(1, budget // 3)))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.enqueue_trial(problem.base_values())
    result = FitResult()
    runner = _Runner(workers)
    try:
        while len(result.evaluations) < budget:
            n = min(BATCH, budget - len(result.evaluations))
            trials = [study.ask() for _ in range(n)]
            values = [{p.path: _suggest(t, p) for p in problem.params} for t in trials]
            configs = [_configs(problem, v) for v in values]
            facts: list[list[Facts | None]] = [
                [cached_facts(cache_file(cache_dir, c), c) for c in cs] for cs in configs]
            todo = [(i, j) for i, row in enumerate(facts) for j, f in enumerate(row) if f is None]
            tasks = [RunTask(configs[i][j], problem.symbol, cache_file(cache_dir, configs[i][j]),
                             work_dir, simulate) for i, j in todo]
            for (i, j), got in zip(todo, runner.map(tasks), strict=True):
                facts[i][j] = got
            if not result.sd:  # the base config is the first evaluation
                base_runs = [f for f in facts[0] if f is not None]
                result.sd, result.dropped = moment_sd(problem.target, base_runs)
                if not result.sd:
                    raise ConfigError("no moment of --target could be simulated over the "
                                      "window: widen it with --start/--end")
            for i, trial in enumerate(trials):
                runs = [f for f in facts[i] if f is not None]
                means = {k: _mean([r.get(k) for r in runs]) for k in problem.target}
                if configs[i]:
                    value = objective(means, problem.target, result.sd)
                    study.tell(trial, value)
                else:  # a combination the config refuses: no run, never the best
                    value = math.inf
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                ev = Evaluation(len(result.evaluations), values[i], means, value,
                                [ParameterSnapshot.of(c).sha256 for c in configs[i]],
                                sum(1 for t in todo if t[0] == i))
                result.evaluations.append(ev)
                if progress is not None:
                    progress(ev, result.best)
    finally:
        runner.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    return result


def evaluations_document(problem: Problem, result: FitResult) -> dict[str, Any]:
    """The calibration's record as JSON values: setup, weights, every evaluation."""
    return {
        "symbol": problem.symbol,
        "seeds": problem.seeds,
        "params": [{"path": p.path, "low": p.low, "high": p.high, "integer": p.integer,
                    "log": p.log} for p in problem.params],
        "target": problem.target,
        "sd": result.sd,
        "dropped": result.dropped,
        "best": result.best.index,
        "evaluations": [{"index": e.index, "values": e.values, "objective": e.objective,
                         "means": e.means, "snapshots": e.snapshots}
                        for e in result.evaluations],
    }
