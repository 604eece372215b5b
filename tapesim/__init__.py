"""tapesim: agent-based market microsimulation of US equity and options tape data."""

__version__ = "0.1.0"
