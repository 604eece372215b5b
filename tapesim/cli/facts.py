"""``tapesim facts``: a run's stylized facts against the realism targets, a real day
beside simulated runs (``--reference``), and the comparison figures (``--plot``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tapesim.cli.common import InputError, guarded, out, require_dir, symbol_list

if TYPE_CHECKING:  # the scorecard loads only when the command runs
    from tapesim.calibration.rows import FactRow

PLOT_MISSING = ("--plot needs matplotlib: install tapesim[plot] "
                "(pip install 'tapesim[plot]')")


def _checked(path: Path, wanted: list[str] | None, flag: str = "") -> None:
    """Check one run directory before anything is read: its manifest, every file's
    hash, and that it has the ``wanted`` symbols.

    Raises:
        InputError: not a run directory, or a symbol it lacks.
        RunDirectoryError: a damaged manifest or file (``tapesim verify`` says more).
    """
    from tapesim.io.manifest import check_hashes, open_run

    require_dir(path)
    manifest = open_run(path)
    check_hashes(path, manifest)  # facts read whole columns: a damaged file fails here
    unknown = sorted(set(wanted or []) - set(manifest["symbols"]))
    if unknown:
        raise InputError(f"--symbols {','.join(unknown)} not in {flag}{path}: choose from "
                         f"{','.join(manifest['symbols'])}")


def _scored(path: Path, wanted: list[str] | None, returns: dict[str, list] | None,
            update: Callable[[int], None] | None = None
            ) -> tuple[list[FactRow], list[FactRow]]:
    """The equity and options rows of one run directory checked by :func:`_checked`;
    ``update(k)`` is told each part done (k = 1 after the equities, 2 after options)."""
    from tapesim.calibration.facts import equity_facts
    from tapesim.calibration.options_facts import option_facts
    from tapesim.io.manifest import reading

    with reading(path):
        equity = equity_facts(path, wanted, returns)
        if update:
            update(1)
        options = option_facts(path, wanted)
        if update:
            update(2)
        return equity, options


def _symbols_of(path: Path) -> list[str]:
    from tapesim.calibration.tape import read_manifest

    return read_manifest(path)[1]


@guarded
def facts(
    run_dirs: Annotated[list[Path], typer.Argument(help="One run directory, or several to pool.")],
    symbols: Annotated[str | None, typer.Option(help="Only these symbols.")] = None,
    notes: Annotated[bool | None, typer.Option(help="Show each row's note (default: when "
                                                    "pooling).")] = None,
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="A real day (a run directory written by `tapesim import`) to "
                            "print beside the runs: per symbol and fact, its value, the "
                            "runs' pooled value and their seed-to-seed spread.")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write the comparison figures (PNG) into this directory "
                       "(needs the plot extra).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Equity and options facts of a run against the realism targets; several runs are
    pooled; with --reference, a real day beside them."""
    from tapesim.calibration.compare import compare_rows, comparison_table, inside_share
    from tapesim.calibration.pooling import pooled_facts
    from tapesim.calibration.rows import facts_table
    from tapesim.cli.ui import count_progress

    if plot is not None:
        try:
            from tapesim.calibration.figures import write_figures
        except ImportError:
            raise InputError(PLOT_MISSING) from None
    wanted = symbol_list(symbols) if symbols else None
    if reference is not None:
        _checked(reference, wanted, "--reference ")
        real_eq, real_opt = _scored(reference, wanted, None)
        common = [s for s in _symbols_of(reference)
                  if all(s in _symbols_of(require_dir(p)) for p in run_dirs)]
        if not common:
            raise InputError(f"--reference {reference} shares no symbol with the runs: it "
                             f"has {','.join(_symbols_of(reference))}")
        wanted = [s for s in common if wanted is None or s in wanted]
    equity_runs, option_runs = [], []
    returns: dict[str, list] = {}
    for path in run_dirs:
        _checked(path, wanted)
    with count_progress("facts", "parts (equities, options per run)", quiet) as update:
        for i, path in enumerate(run_dirs):
            update(2 * i, 2 * len(run_dirs))
            eq, opt = _scored(path, wanted, returns,
                              lambda k, i=i: update(2 * i + k, 2 * len(run_dirs)))
            equity_runs.append(eq)
            option_runs.append(opt)
    show_notes = len(run_dirs) > 1 if notes is None else notes
    for title, runs in (("Equity stylized facts", equity_runs), ("Options facts", option_runs)):
        rows = runs[0] if len(runs) == 1 else pooled_facts(runs, returns)
        if not rows:  # a run without options has no options rows
            continue
        if reference is None:
            out.print(facts_table(rows, notes=show_notes, title=title))
            continue
        real = real_eq if title.startswith("Equity") else real_opt
        compared = compare_rows(real, runs, rows)
        if compared:
            inside, judged = inside_share(compared)
            out.print(comparison_table(compared, notes=bool(notes),
                                       title=f"{title}: {reference} vs {len(runs)} run(s)"))
            out.print(f"real value inside the seed-to-seed spread: {inside} of {judged} facts")
    if plot is not None:
        shown = wanted or [s for s in _symbols_of(run_dirs[0])
                           if all(s in _symbols_of(p) for p in run_dirs)]
        written = write_figures(plot, run_dirs, shown, reference)
        out.print(f"wrote {len(written)} figures to {plot}")
