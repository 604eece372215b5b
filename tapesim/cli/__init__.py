"""The ``tapesim`` command: a typer app with a module per command group."""

from tapesim.cli.main import app

__all__ = ["app"]
