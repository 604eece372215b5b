"""A run in ClickHouse: the pipeline's storage tables (CONTRACT.md §5), loading, reading back.

- ``schema``: the tables, generated from the event models' Arrow schemas.
- ``engine``: the engine protocol and ClickHouse URLs; ``embedded`` (chdb, in this
  process) and ``server`` (clickhouse-connect) implement it; ``connect`` picks one.
- ``load``: ``tapesim load``'s work, idempotent by the manifest's sha256.
- ``source``: the loaded run read back as event batches in replay order.
"""
