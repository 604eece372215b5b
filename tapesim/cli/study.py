"""``tapesim study``: run a false-positive study, render its report, compare two.

``study run STUDY.toml --out DIR [--workers N] [--cache DIR] [--backend ray [--address
A]]`` runs every cell of the grid (runs cached by config hash; locally or as Ray
tasks), applies the classifier, scores it and writes the
study directory (:mod:`tapesim.study.runner`); ``study report DIR`` writes
``DIR/report.html``; ``study compare A B`` prints two studies' rates side by side.
Bad input (a study field, an unknown scenario or profile, a classifier that cannot be
loaded, exits non-zero or writes a malformed line) exits 2 with one line naming the
cell and the field or line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tapesim.cli.common import err, fail, guarded, out
from tapesim.study.errors import ClassifierError, StudyDirectoryError

study_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="False-positive studies: a grid of runs, a classifier over "
                             "each, scores against the labels.")
F = TypeVar("F", bound=Callable[..., Any])


def _study_errors(fn: F) -> F:
    """Report a failing classifier or a damaged or mismatched study directory as bad
    input (exit 2), on top of :func:`tapesim.cli.common.guarded`."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ClassifierError, StudyDirectoryError) as e:
            fail(str(e))

    return guarded(wrapper)  # type: ignore[return-value]


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int, int, int, str], None] | None]:
    """A one-line status of cells done, running and cached; None when disabled."""
    if not enabled:
        yield None
        return
    with err.status("starting") as status:
        def update(done: int, running: int, cached: int, total: int, cell: str) -> None:
            status.update(f"cells {done}/{total} done, {running} running, {cached} cached"
                          + (f" (last: {cell})" if cell else ""))
        yield update


@study_app.command("run")
@_study_errors
def run(
    study_file: Annotated[Path, typer.Argument(help="The study TOML file.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Study directory to write.")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    cache: Annotated[Path | None, typer.Option(
        help="Run cache directory (default: the study's cache_dir).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress line.")] = False,
    backend: Annotated[str, typer.Option(
        help="local: a process pool of --workers; ray: each cell a Ray task (the "
             "tapesim[ray] extra).")] = "local",
    address: Annotated[str | None, typer.Option(
        help="With --backend ray: the Ray cluster to join (HOST:PORT, ray://HOST:PORT or "
             "auto); default: start Ray here with --workers CPUs.")] = None,
) -> None:
    """Run every cell of a study, classify, score and write the study directory."""
    from tapesim.study.runner import run_study
    from tapesim.study.spec import load_study

    if backend not in ("local", "ray"):
        fail(f"--backend {backend!r}: use local (a process pool) or ray")
    if address is not None and backend != "ray":
        fail("--address names a Ray cluster: add --backend ray (or drop --address)")
    study = load_study(study_file)
    with _progress(not quiet and sys.stderr.isatty()) as progress:
        manifest = run_study(study, out_dir, workers=workers, cache_root=cache,
                             progress=progress, backend=backend,  # type: ignore[arg-type]
                             address=address)
    out.print(f"wrote {out_dir}: {len(manifest['cells'])} cells, classifier "
              f"{manifest['classifier']['name']}", markup=False, highlight=False)


@study_app.command("report")
@_study_errors
def report(study_dir: Annotated[Path, typer.Argument(help="A study directory.")]) -> None:
    """Write report.html into a study directory (plots need matplotlib)."""
    from tapesim.study.report import render_report

    out.print(f"wrote {render_report(study_dir)}", markup=False, highlight=False)


@study_app.command("compare")
@_study_errors
def compare(dir_a: Annotated[Path, typer.Argument(help="A study directory.")],
            dir_b: Annotated[Path, typer.Argument(help="Another, over the same cells.")],
            ) -> None:
    """Print two studies' rates side by side (two classifiers over the same cells)."""
    from tapesim.study.report import compare_rows, rate_text

    man_a, man_b, pairs = compare_rows(dir_a, dir_b)
    out.print(f"A: {man_a['classifier']['name']}\nB: {man_b['classifier']['name']}",
              markup=False, highlight=False)
    for a, b in pairs:
        row = a or b
        assert row is not None
        name = " ".join(str(row[k]) for k in ("metric", "group", "band") if row[k])
        if row["intensity"] is not None:
            name += f" x{row['intensity']:g}"
        out.print(f"{name}: A {rate_text(a) if a else '-'} | B {rate_text(b) if b else '-'}",
                  markup=False, highlight=False)
