"""The ``tapesim`` command line: the app, assembled from a module per command group.

``run`` (:mod:`tapesim.cli.run`), ``verify`` and ``inspect``
(:mod:`tapesim.cli.verify`), ``facts`` (:mod:`tapesim.cli.facts`), ``calibrate``
(:mod:`tapesim.cli.calibrate`), ``export`` (:mod:`tapesim.cli.export`), ``load``
(:mod:`tapesim.cli.load`), ``replay``, ``tail`` and ``demo`` (:mod:`tapesim.cli.replay`),
``profiles`` and ``schema`` (:mod:`tapesim.cli.profiles`), ``scenarios``
(:mod:`tapesim.cli.scenarios`), ``import`` (:mod:`tapesim.cli.importer`), ``study``
(:mod:`tapesim.cli.study`).
Exit codes and error lines: :mod:`tapesim.cli.common`. Each command imports the
simulator's heavy modules only when it runs, so ``tapesim --help`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tapesim._version import __version__
from tapesim.cli import calibrate, export, facts, load, profiles, replay, run, verify
from tapesim.cli.common import out
from tapesim.cli.importer import import_app
from tapesim.cli.scenarios import scenarios_app
from tapesim.cli.study import study_app

HELP = ("Synthetic US equity and options tape: simulate, verify, inspect and export runs, "
        "with injected scenarios.")

app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP)


def _print_version(value: bool) -> None:
    if value:
        out.print(f"tapesim {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback(help=HELP)
def main(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """The options every command shares (``--version``)."""


app.command()(run.run)
app.command()(verify.verify)
app.command()(verify.inspect)
app.command()(profiles.profiles)
app.command()(profiles.schema)
app.command()(facts.facts)
app.command()(calibrate.calibrate)
app.command()(export.export)
app.command()(load.load)
app.command()(replay.replay)
app.command()(replay.tail)
app.command()(replay.demo)
app.add_typer(scenarios_app, name="scenarios")
app.add_typer(import_app, name="import")
app.add_typer(study_app, name="study")

if __name__ == "__main__":  # pragma: no cover
    app()
