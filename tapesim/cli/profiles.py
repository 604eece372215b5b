"""``tapesim profiles`` and ``tapesim schema``: the shipped profiles, the types' schemas."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tapesim.api.schemas import UnknownSchemaError, json_schema, schema_names
from tapesim.cli.common import fail, guarded, out


@guarded
def profiles() -> None:
    """List the shipped profiles."""
    from rich.table import Table

    from tapesim.config.run import load_profile, profile_names

    table = Table("profile", "symbols", "window", "description")
    for name in profile_names():
        cfg = load_profile(name)
        s = cfg.session.session()
        window = f"{cfg.session.date} {(s.end_ns - s.start_ns) / 60e9:.0f} min"
        table.add_row(name, ",".join(x.symbol for x in cfg.symbols), window, cfg.description)
    out.print(table)


@guarded
def schema(name: Annotated[str | None, typer.Argument(
        help="A type's name; without it, the names are listed.")] = None) -> None:
    """Print the JSON schema of a domain type (config, event, manifest, replay)."""
    if name is None:
        for known in schema_names():
            out.print(known, markup=False, highlight=False)
        return
    try:
        text = json_schema(name)
    except UnknownSchemaError as e:
        fail(str(e))
    sys.stdout.write(text)
