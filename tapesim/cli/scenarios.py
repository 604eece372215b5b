"""``tapesim scenarios``: the catalog, and one entry explained."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.console import Console

from tapesim.scenarios.catalog import CATALOG

scenarios_app = typer.Typer(add_completion=False, invoke_without_command=True,
                            help="The scenario catalog: `scenarios` lists it, "
                                 "`scenarios show NAME` explains one entry.")
out = Console(soft_wrap=True)


@scenarios_app.callback(invoke_without_command=True)
def catalog(ctx: typer.Context) -> None:
    """List every scenario: its family, expected class and alert expectation."""
    if ctx.invoked_subcommand is not None:
        return
    width = max(len(name) for name in CATALOG)
    for spec in CATALOG.values():
        out.print(f"{spec.name:<{width}}  {spec.alert:<8}  {spec.expected_class} "
                  f"({spec.direction}): {spec.intent}", markup=False, highlight=False)
    out.print("\nInject with `tapesim run ... --scenario NAME@HH:MM` (repeatable), or a config "
              "file's [[scenarios]] entries (name, at, underlying, intensity, side, "
              "duration_s, contracts, id). `tapesim scenarios show NAME` explains one.",
              markup=False, highlight=False)


@scenarios_app.command()
def show(name: Annotated[str, typer.Argument(help="A catalog entry.")]) -> None:
    """Explain one scenario: intent, parameters, its label and what a classifier should do."""
    spec = CATALOG.get(name)
    if spec is None:
        typer.echo(f"error: unknown scenario {name!r}: `tapesim scenarios` lists the catalog",
                   err=True)
        raise typer.Exit(2)
    low, high = spec.confidence
    penalty = spec.penalty
    out.print(f"[bold]{spec.name}[/bold]  ({spec.family})")
    out.print(f"intent: {spec.intent}")
    out.print(f"a good classifier: {spec.should}")
    out.print(f"label: class {spec.expected_class}, direction {spec.direction}, "
              f"confidence {spec.band} ({low:.2f}-{high:.2f}), expectation {spec.alert}")
    out.print(f"false-positive penalty: {penalty.score} ({penalty.severity}): "
              f"{penalty.reason}")
    for title, reqs in (("required evidence", spec.required),
                        ("forbidden evidence", spec.forbidden)):
        for r in reqs:
            out.print(f"{title}: {r.feature_key} {r.operator} {r.value}  ({r.rationale})",
                      markup=False)
    out.print("policy defaults (a run may override side, intensity, duration_s, contracts, "
              "underlying):")
    for f in dataclasses.fields(spec.policy):
        out.print(f"  {f.name} = {getattr(spec.policy, f.name)}", markup=False)
