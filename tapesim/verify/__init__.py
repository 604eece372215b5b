"""``verify``: recompute a run directory's hashes, invariants and labels from its files."""
