"""The tape tells the truth: every print against the quote in force just before it.

The checker (:mod:`tapesim.verify.consistency`) is shown to catch each way a print
can disagree with the quotes a consumer joins it to, on hand-written event files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tapesim.events.enrichment import CONDITIONS
from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE, OPTION_NBBO, OPTION_PRINT
from tapesim.verify.consistency import SPECIAL, tape_consistency

C1 = "SPY-2026-03-20-575-C"
C2 = "SPY-2026-03-20-580-C"


def _write(run_dir: Path, stem: str, rows: list[dict[str, object]],
           schema: pa.Schema) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), run_dir / f"{stem}.parquet")


def _equity_files(run_dir: Path, prints: list[tuple[int, str, float, bool]]) -> None:
    quotes = [(1, "SPY", 10.00, 10.02), (2, "QQQ", 20.00, 20.05), (5, "SPY", 10.01, 10.03)]
    _write(run_dir, EQUITY_QUOTE.file_stem,
           [{"seq": s, "underlying_id": u, "bid": b, "ask": a} for s, u, b, a in quotes],
           pa.schema([("seq", pa.int64()), ("underlying_id", pa.string()),
                      ("bid", pa.float64()), ("ask", pa.float64())]))
    _write(run_dir, EQUITY_PRINT.file_stem,
           [{"seq": s, "underlying_id": u, "price": p, "offExchangeFlag": off}
            for s, u, p, off in prints],
           pa.schema([("seq", pa.int64()), ("underlying_id", pa.string()),
                      ("price", pa.float64()), ("offExchangeFlag", pa.bool_())]))


_NBBO_SCHEMA = pa.schema([("seq", pa.int64()), ("option_contract_id", pa.string()),
                          ("bid", pa.float64()), ("ask", pa.float64()),
                          ("bidSize", pa.int64()), ("askSize", pa.int64()),
                          ("ts", pa.int64())])
_PRINT_SCHEMA = pa.schema([("seq", pa.int64()), ("option_contract_id", pa.string()),
                           ("price", pa.float64()), ("conditions", pa.list_(pa.string())),
                           ("execution_nbbo_bid", pa.float64()),
                           ("execution_nbbo_ask", pa.float64()),
                           ("execution_nbbo_bid_size", pa.int64()),
                           ("execution_nbbo_ask_size", pa.int64()),
                           ("execution_nbbo_ts", pa.int64())])


def _option_files(run_dir: Path, prints: list[tuple[int, str, float, list[str], tuple]]) -> None:
    nbbo = [(3, C1, 1.00, 1.05, 10, 20, 100), (4, C2, 0.50, 0.55, 5, 5, 100),
            (8, C1, 1.01, 1.04, 11, 21, 101)]
    _write(run_dir, OPTION_NBBO.file_stem,
           [dict(zip(_NBBO_SCHEMA.names, row, strict=True)) for row in nbbo], _NBBO_SCHEMA)
    _write(run_dir, OPTION_PRINT.file_stem,
           [dict(zip(_PRINT_SCHEMA.names, (s, c, p, cond, *nb), strict=True))
            for s, c, p, cond, nb in prints], _PRINT_SCHEMA)


def test_special_conditions_are_opra_conditions() -> None:
    assert set(CONDITIONS) >= SPECIAL


def test_a_consistent_tape_passes(tmp_path: Path) -> None:
    _equity_files(tmp_path, [(3, "SPY", 10.02, False), (4, "QQQ", 20.00, False),
                             (6, "SPY", 10.01, False), (7, "SPY", 9.50, True)])
    _option_files(tmp_path, [(6, C1, 1.05, ["FILL"], (1.00, 1.05, 10, 20, 100)),
                             (9, C1, 1.04, [], (1.01, 1.04, 11, 21, 101)),
                             (10, C2, 0.40, ["COMPLEX"], (0.50, 0.55, 5, 5, 100))])
    report = tape_consistency(tmp_path)
    assert (report.equity.checked, report.options.checked) == (3, 2)
    assert report.problems() == []


def test_each_disagreement_is_counted(tmp_path: Path) -> None:
    # seq 3: above the SPY ask in force (10.02); seq 6: below the bid after the
    # requote at seq 5 (10.01) though inside the earlier one; QQQ's quote is not SPY's.
    _equity_files(tmp_path, [(3, "SPY", 10.03, False), (6, "SPY", 10.00, False),
                             (7, "QQQ", 20.06, False), (8, "SPY", 12.00, True)])
    # seq 6: a FILL above the NBBO ask; seq 9: joined to the NBBO of seq 8 but recording
    # the one of seq 3 (the post-trade quote replayed before its print); seq 5: records
    # an NBBO for a contract that has none yet (seq 2 records none: that agrees); an ISO
    # print may trade away from the NBBO.
    _option_files(tmp_path, [(2, C1, 0.90, None, (None,) * 5),
                             (5, C2 + "X", 0.50, None, (0.5, 0.55, 5, 5, 100)),
                             (6, C1, 1.06, ["FILL"], (1.00, 1.05, 10, 20, 100)),
                             (9, C1, 1.02, [], (1.00, 1.05, 10, 20, 100)),
                             (10, C2, 0.60, ["ISO", "SWEEP"], (0.50, 0.55, 5, 5, 100))])
    report = tape_consistency(tmp_path)
    e, o = report.equity, report.options
    assert (e.checked, e.outside, e.unquoted, e.examples) == (3, 3, 0, [3, 6, 7])
    # an equity print with no quote of its symbol before it
    _equity_files(tmp_path, [(0, "SPY", 10.00, False)])
    assert tape_consistency(tmp_path).equity.unquoted == 1
    assert (o.checked, o.outside, o.mismatched, o.unquoted) == (4, 1, 2, 0)
    assert o.examples == [5, 6, 9]
    problems = report.problems()
    assert len(problems) == 2
    assert problems[0].startswith("equity_prints.parquet: 3 of 3 lit prints")
