"""The run config: strict pydantic models of a run's market, loaded from profiles or files."""
