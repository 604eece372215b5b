"""What a calibration leaves: the pinned config, its record and a report.

``fitted.json`` is the best evaluation's config at the first seed, the
:class:`~tapesim.config.snapshot.ParameterSnapshot` document: ``tapesim run --config
fitted.json`` reproduces the fitted run byte for byte. ``evaluations.json`` records
the setup, the moments' weights and every evaluation. ``report.md`` shows the moments
before (the base config) and after (the best evaluation) beside the target, each
parameter's path over the evaluations, and the figures: ``figures/params.png`` and
the comparison figures of ``tapesim facts --plot`` for the fitted run against the
target (when matplotlib, the ``plot`` extra, is installed).
"""

from __future__ import annotations

import json
from pathlib import Path

from tapesim.calibration.fit import FitResult, Problem, Simulate, evaluations_document
from tapesim.calibration.targets import EQUITY_TITLES
from tapesim.config.snapshot import ParameterSnapshot

FITTED = "fitted.json"
REPORT = "report.md"
RECORD = "evaluations.json"
FITTED_RUN = "fitted_run"


def _write(path: Path, text: str) -> None:
    """Write ``text`` atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(path)


def pinned(problem: Problem, result: FitResult) -> ParameterSnapshot:
    """The best evaluation's config at the first seed, pinned with its hash."""
    best = result.best
    return ParameterSnapshot.of(problem.config(best.values, problem.seeds[0]))


def fitted_run(out_dir: Path, snapshot: ParameterSnapshot, simulate: Simulate) -> Path:
    """The fitted config's run in ``out_dir/fitted_run``, simulated unless already there
    with the same run id."""
    path = out_dir / FITTED_RUN
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            if json.loads(manifest.read_text("utf-8")).get("run_id") == snapshot.run_id:
                return path
        except ValueError:
            pass
    simulate(snapshot.config, path)
    return path


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _markdown(problem: Problem, result: FitResult, snapshot: ParameterSnapshot,
              figures: list[Path], note: str) -> str:
    before, best = result.evaluations[0], result.best
    lines = [
        f"# Calibration of {problem.symbol}", "",
        f"- base: `{problem.base.name}`, window {problem.base.session.start} - "
        f"{problem.base.session.end} New York on {problem.base.session.date}",
        f"- seeds per evaluation: {', '.join(map(str, problem.seeds))}; "
        f"evaluations: {len(result.evaluations)}",
        f"- objective (mean squared standardised distance): base {before.objective:.4g}, "
        f"best {best.objective:.4g} (evaluation {best.index + 1})",
        f"- pinned: `{FITTED}`, {snapshot.sha256} (`tapesim run --config {FITTED}`)",
        "",
        "## Moments", "",
        "| fact | target | base | fitted | sd (weight) |",
        "|---|---|---|---|---|",
    ]
    for fact, real in problem.target.items():
        if fact in result.sd:
            lines.append(f"| {EQUITY_TITLES.get(fact, fact)} | {_num(real)} | "
                         f"{_num(before.means.get(fact))} | {_num(best.means.get(fact))} | "
                         f"{_num(result.sd[fact])} |")
    if result.dropped:
        lines += ["", "Dropped (no value in any base seed): " + ", ".join(result.dropped)]
    paths = [p.path for p in problem.params]
    lines += ["", "## Parameter paths", "",
              "| evaluation | " + " | ".join(paths) + " | objective |",
              "|---|" + "---|" * (len(paths) + 1)]
    for e in result.evaluations:
        mark = " (best)" if e.index == best.index else ""
        lines.append(f"| {e.index + 1}{mark} | " + " | ".join(_num(float(e.values[p]))
                                                       for p in paths)
                     + f" | {e.objective:.4g} |")
    lines += ["", "## Figures", ""]
    lines += [f"![{f.stem}]({f.as_posix()})" for f in figures] or [note]
    return "\n".join(lines) + "\n"


def _param_figure(problem: Problem, result: FitResult, path: Path) -> None:
    from tapesim.calibration.figures import plt

    n = len(problem.params) + 1
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.2 * n), sharex=True, squeeze=False)
    x = [e.index + 1 for e in result.evaluations]
    best = result.best.index + 1
    for ax, p in zip(axes[:, 0], problem.params, strict=False):
        y = [float(e.values[p.path]) for e in result.evaluations]
        ax.plot(x, y, marker=".", lw=0.8)
        ax.axvline(best, color="k", lw=0.6, ls=":")
        ax.set(ylabel=p.path, yscale="log" if p.log else "linear")
    ax = axes[-1, 0]
    ax.plot(x, [e.objective for e in result.evaluations], marker=".", lw=0.8, color="C3")
    ax.axvline(best, color="k", lw=0.6, ls=":")
    ax.set(ylabel="objective", xlabel="evaluation", yscale="log")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_outputs(out_dir: Path, target: Path, problem: Problem, result: FitResult,
                  simulate: Simulate, figures: bool = True) -> ParameterSnapshot:
    """Write ``fitted.json``, ``evaluations.json``, ``report.md`` and, with ``figures``,
    the figures.

    The figures need the fitted run (``fitted_run/``, simulated once) and matplotlib;
    without matplotlib the report says how to get them.
    """
    snapshot = pinned(problem, result)
    _write(out_dir / FITTED, json.dumps(snapshot.document(), indent=2, sort_keys=True) + "\n")
    _write(out_dir / RECORD, json.dumps(evaluations_document(problem, result), indent=2,
                                        sort_keys=True) + "\n")
    drawn: list[Path] = []
    note = "No figures: install tapesim[plot] (matplotlib) and run again (cached)."
    try:
        from tapesim.calibration.figures import write_figures
    except ImportError:
        write_figures = None  # type: ignore[assignment]
    if not figures:
        note = "No figures (--no-figures)."
    elif write_figures is not None:
        run = fitted_run(out_dir, snapshot, simulate)
        fig_dir = out_dir / "figures"
        fig_dir.mkdir(exist_ok=True)
        _param_figure(problem, result, fig_dir / "params.png")
        drawn = [fig_dir / "params.png"]
        drawn += write_figures(fig_dir, [run], [problem.symbol], reference=target)
        drawn = [f.relative_to(out_dir) for f in drawn]
    _write(out_dir / REPORT, _markdown(problem, result, snapshot, drawn, note))
    return snapshot
