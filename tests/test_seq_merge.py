"""Per-kind streams merged back into replay order by seq, and damaged streams refused."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tapesim.io.manifest import RunDirectoryError
from tapesim.io.seq_merge import merge_by_seq


def rows(*seqs: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"seq": pa.array(seqs, pa.int64())})


def test_interleaves_kinds_by_seq_across_batch_boundaries() -> None:
    streams = {"equity_quote": [rows(1, 2, 5), rows(6, 9)],
               "equity_print": [rows(3, 4), rows(7, 8, 10)]}
    out = list(merge_by_seq(streams))
    assert [(b.kind, b.first_seq, b.last_seq) for b in out] == [
        ("equity_quote", 1, 2), ("equity_print", 3, 4), ("equity_quote", 5, 5),
        ("equity_quote", 6, 6), ("equity_print", 7, 8), ("equity_quote", 9, 9),
        ("equity_print", 10, 10)]  # slices of the input batches, never joined
    assert [s for b in out for s in b.batch.column("seq").to_pylist()] == list(range(1, 11))


@pytest.mark.parametrize(("streams", "words"), [
    ({"equity_quote": [rows(1, 3, 2)]}, "equity_quote events are not in seq order"),
    ({"equity_quote": [rows(1, 3)], "equity_print": [rows(3, 4)]},
     "seq 3 appears in two event kinds"),
])
def test_a_damaged_stream_is_refused_with_the_callers_fix(streams: dict, words: str) -> None:
    with pytest.raises(RunDirectoryError, match=f"here: {words}; .*tapesim verify"):
        list(merge_by_seq(streams, "here"))
    with pytest.raises(ValueError, match=f"^here: {words}!$"):
        list(merge_by_seq(streams, "here", lambda what: ValueError(what + "!")))
