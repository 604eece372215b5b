"""The run directory's provenance rows: their Arrow schema and closed values.

Kept apart from :mod:`tapesim.io.canonical`, which builds the rows, so that readers of
a run directory (the writer, ``verify``, ``export``) get the schema without the
canonicaliser's imports (option-print enrichment and its pricing, scipy).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["POSITION_EFFECTS", "PROVENANCE_SCHEMA", "REAL_SOURCE_KIND", "SOURCE_KIND"]

SOURCE_KIND = "synthetic_market"
REAL_SOURCE_KIND = "real_market"  # provenance of a run imported from a real tape
POSITION_EFFECTS = ("closing", "opening")

PROVENANCE_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("event_kind", pa.string()),
        ("underlying_id", pa.string()),
        ("source_kind", pa.string()),
        ("agent_id", pa.string()),
        ("contra_agent_id", pa.string()),
        ("parent_order_id", pa.string()),
        ("position_effect", pa.string()),  # option prints: the aggressor's opening/closing
        ("contra_position_effect", pa.string()),  # ... and the passive side's
        ("references_trace_id", pa.string()),  # a CANCEL/CORRECTION print: the print it reports on
        ("scenario_id", pa.string()),
    ]
)
