"""``tapesim calibrate``: fit config parameters to a real day by simulated moments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tapesim.cli.common import guarded, out

if TYPE_CHECKING:  # the calibration loads only when the command runs
    from tapesim.calibration.fit import Evaluation


def _progress(budget: int) -> Callable[[Evaluation, Evaluation], None]:
    """Prints a line per evaluation: its objective and the best so far."""
    def show(ev: Evaluation, best: Evaluation) -> None:
        source = f"{ev.simulated} simulated" if ev.simulated else "cached"
        out.print(f"evaluation {ev.index + 1}/{budget}: objective {ev.objective:.4g} "
                  f"({source}); best {best.objective:.4g} (evaluation {best.index + 1})",
                  markup=False, highlight=False)
    return show


@guarded
def calibrate(
    target: Annotated[Path, typer.Option("--target", help="The real day: a run directory "
                                         "written by `tapesim import`.")],
    base: Annotated[str, typer.Option("--base", help="The shipped profile to start from "
                                      "(`tapesim profiles`).")],
    symbol: Annotated[str, typer.Option("--symbol", help="The symbol to calibrate, in the "
                                        "target.")],
    params: Annotated[str, typer.Option("--params", help="Comma-separated config paths to "
                                        "fit, e.g. latent.jumps_per_day,noise.orders_per_s,"
                                        "symbol.activity; PATH=LOW:HIGH narrows the "
                                        "model's bounds.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Calibration directory (reused to "
                                          "resume: evaluations are cached there).")],
    budget: Annotated[int, typer.Option("--budget", help="Evaluations, the base config's "
                                        "first.")] = 60,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds (runs) per evaluation; at "
                                       "least 2, to weigh each moment.")] = 3,
    workers: Annotated[int, typer.Option("--workers", help="Processes simulating at "
                                         "once (the result does not depend on it).")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="The optimiser's seed; evaluations use "
                                      "seeds SEED, SEED+1, ...")] = 1,
    like: Annotated[str | None, typer.Option("--like", help="A symbol of the base profile "
                                             "to model --symbol on when the profile lacks "
                                             "it.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="Window start, HH:MM New York "
                                              "(default: the target's).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Window end, HH:MM New York "
                                            "(default: the target's).")] = None,
    figures: Annotated[bool, typer.Option(help="Draw the report's figures (simulates the "
                                          "fitted run once; needs the plot extra).")] = True,
) -> None:
    """Fit config parameters to a real day by the method of simulated moments and pin
    the fitted config (fitted.json) with a report (report.md)."""
    from tapesim.api.calibrate import calibrate as run_calibration
    from tapesim.calibration.fit_report import FITTED, REPORT

    def started(n_params: int, n_moments: int) -> None:
        out.print(f"calibrating {symbol.upper()}: {n_params} parameters, {n_moments} "
                  f"moments, {budget} evaluations x {seeds} seeds", markup=False,
                  highlight=False)

    done = run_calibration(target, base=base, symbol=symbol, params=params, out=out_dir,
                           budget=budget, seeds=seeds, workers=workers, seed=seed, like=like,
                           start=start, end=end, figures=figures, progress=_progress(budget),
                           started=started)
    result = done.result
    out.print(f"best objective {result.best.objective:.4g} (base "
              f"{result.evaluations[0].objective:.4g}); {result.simulated} runs simulated; "
              f"wrote {out_dir / FITTED} ({done.snapshot.sha256}) and {out_dir / REPORT}",
              markup=False, highlight=False)
