"""The tape tells the truth: every print against the quote in force just before it.

The checker (:mod:`tapesim.verify.consistency`) is shown to catch each way a print
can disagree with the quotes a consumer joins it to, on hand-written event files;
then the invariant holds over a short slice of every shipped profile.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tapesim.config.run import profile_names
from tapesim.events.enrichment import CONDITIONS
from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE, OPTION_NBBO, OPTION_PRINT
from tapesim.testing.cache import RunCache
from tapesim.verify.consistency import SPECIAL, tape_consistency

C1 = "SPY-2026-03-20-575-C"
C2 = "SPY-2026-03-20-580-C"


def _write(run_dir: Path, stem: str, rows: list[dict[str, object]],
           schema: pa.Schema) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), run_dir / f"{stem}.parquet")


def _equity_files(run_dir: Path, prints: list[tuple[int, str, float, bool]]) -> None:
    quotes = [(1, "SPY", 10.00, 10.02), (2, "QQQ", 20.00, 20.05), (5, "SPY", 10.01, 10.03)]
    _write(run_dir, EQUITY_QUOTE.file_stem,
           [{"seq": s, "underlying_id": u, "bid": b, "ask": a, "ts": 1000 + s}
            for s, u, b, a in quotes],
           pa.schema([("seq", pa.int64()), ("underlying_id", pa.string()),
                      ("bid", pa.float64()), ("ask", pa.float64()), ("ts", pa.int64())]))
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
                           ("underlying_id", pa.string()),
                           ("price", pa.float64()), ("conditions", pa.list_(pa.string())),
                           ("execution_nbbo_bid", pa.float64()),
                           ("execution_nbbo_ask", pa.float64()),
                           ("execution_nbbo_bid_size", pa.int64()),
                           ("execution_nbbo_ask_size", pa.int64()),
                           ("execution_nbbo_ts", pa.int64()),
                           ("execution_underlying_bid", pa.float64()),
                           ("execution_underlying_ask", pa.float64()),
                           ("execution_underlying_ts", pa.int64())])
SPY_AT_5 = (10.01, 10.03, 1005)  # the SPY quote in force from seq 5 on


def _option_files(run_dir: Path, prints: list[tuple]) -> None:
    """Option NBBOs at seqs 103, 104 and 108, and ``prints``: (seq, contract, price,
    conditions, recorded NBBO, recorded SPY quote (default: the one of seq 5))."""
    nbbo = [(103, C1, 1.00, 1.05, 10, 20, 100), (104, C2, 0.50, 0.55, 5, 5, 100),
            (108, C1, 1.01, 1.04, 11, 21, 101)]
    _write(run_dir, OPTION_NBBO.file_stem,
           [dict(zip(_NBBO_SCHEMA.names, row, strict=True)) for row in nbbo], _NBBO_SCHEMA)
    rows = [(s, c, "SPY", p, cond, *nb, *(und[0] if und else SPY_AT_5))
            for s, c, p, cond, nb, *und in prints]
    _write(run_dir, OPTION_PRINT.file_stem,
           [dict(zip(_PRINT_SCHEMA.names, row, strict=True)) for row in rows], _PRINT_SCHEMA)


def test_special_conditions_are_opra_conditions() -> None:
    assert set(CONDITIONS) >= SPECIAL


def test_a_consistent_tape_passes(tmp_path: Path) -> None:
    _equity_files(tmp_path, [(3, "SPY", 10.02, False), (4, "QQQ", 20.00, False),
                             (6, "SPY", 10.01, False), (7, "SPY", 9.50, True)])
    _option_files(tmp_path, [(106, C1, 1.05, ["FILL"], (1.00, 1.05, 10, 20, 100)),
                             (109, C1, 1.04, [], (1.01, 1.04, 11, 21, 101)),
                             (110, C2, 0.40, ["COMPLEX"], (0.50, 0.55, 5, 5, 100),
                              (9.0, 9.1, 1))])
    report = tape_consistency(tmp_path)
    assert (report.equity.checked, report.options.checked, report.underlying.checked) == (
        3, 2, 2)
    assert report.problems() == []


def test_each_disagreement_is_counted(tmp_path: Path) -> None:
    # seq 3: above the SPY ask in force (10.02); seq 6: below the bid after the
    # requote at seq 5 (10.01) though inside the earlier one; QQQ's quote is not SPY's.
    _equity_files(tmp_path, [(3, "SPY", 10.03, False), (6, "SPY", 10.00, False),
                             (7, "QQQ", 20.06, False), (8, "SPY", 12.00, True)])
    # seq 106: a FILL above the NBBO ask; seq 109: joined to the NBBO of seq 108 but
    # recording the one of seq 103 (the post-trade quote replayed before its print), and
    # the SPY quote of seq 1; seq 105: records an NBBO for a contract that has none yet
    # (seq 102 records none: that agrees); an ISO print may trade away from the NBBO.
    _option_files(tmp_path, [(102, C1, 0.90, None, (None,) * 5),
                             (105, C2 + "X", 0.50, None, (0.5, 0.55, 5, 5, 100)),
                             (106, C1, 1.06, ["FILL"], (1.00, 1.05, 10, 20, 100)),
                             (109, C1, 1.02, [], (1.00, 1.05, 10, 20, 100),
                              (10.00, 10.02, 1001)),
                             (110, C2, 0.60, ["ISO", "SWEEP"], (0.50, 0.55, 5, 5, 100))])
    report = tape_consistency(tmp_path)
    e, o = report.equity, report.options
    assert (e.checked, e.outside, e.unquoted, e.examples) == (3, 3, 0, [3, 6, 7])
    # an equity print with no quote of its symbol before it
    _equity_files(tmp_path, [(0, "SPY", 10.00, False)])
    assert tape_consistency(tmp_path).equity.unquoted == 1
    assert (o.checked, o.outside, o.mismatched, o.unquoted) == (4, 1, 2, 0)
    assert o.examples == [105, 106, 109]
    u = report.underlying
    assert (u.checked, u.mismatched, u.examples) == (4, 1, [109])
    problems = report.problems()
    assert len(problems) == 3
    assert problems[0].startswith("equity_prints.parquet: 3 of 3 lit prints")


@pytest.mark.parametrize("profile", profile_names())
def test_every_profile_prints_within_the_quote_in_force(synthetic_run: RunCache,
                                                        profile: str) -> None:
    run = synthetic_run(profile, seed=1, end="09:32")
    report = tape_consistency(run.path)
    assert report.equity.checked > 0
    assert report.problems() == []
