"""What the verify jobs share: the list of problems they build, and reading a file's
batches and schema so that damage is a problem rather than an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tapesim.io.prefetch import prefetched
from tapesim.verify.options import AT_SEQ
from tapesim.verify.stream import ID_COLUMNS, read_batches


class Problems(list[str]):
    """At most 50 problems; a problem repeated in a later batch is named once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def add(self, text: str) -> None:
        """Keep ``text`` unless 50 are kept or one like it (before ``AT_SEQ``) is."""
        key = text.split(AT_SEQ)[0]
        if len(self) < 50 and key not in self._seen:
            self._seen.add(key)
            self.append(text)


def file_batches(path: Path, problems: Problems, dictionary: tuple[str, ...] = ID_COLUMNS,
                 columns: list[str] | None = None) -> Iterator[pa.Table]:
    """The file's batches (:func:`tapesim.verify.stream.read_batches`; the batch size
    shapes the problems, which name each batch's first offender), decoded ahead on a thread
    (:func:`tapesim.io.prefetch.prefetched`) while the caller checks the previous one; a
    file that cannot be read is a problem, not an error. Only ``columns`` (all when
    None) are read."""
    try:
        yield from prefetched(read_batches(path, columns, dictionary=dictionary),
                              name="verify-read")
    except (OSError, pa.ArrowException) as err:
        problems.add(f"{path.name} cannot be read as Parquet: {err}")


def schema_ok(path: Path, schema: pa.Schema, what: str, problems: Problems) -> bool:
    """Whether the file's Arrow schema is ``schema``; a problem naming ``what`` if not."""
    try:
        found = pq.read_schema(str(path))
    except (OSError, pa.ArrowException) as err:
        problems.add(f"{path.name} cannot be read as Parquet: {err}")
        return False
    if found != schema:
        problems.add(f"{path.name}: {what}")
        return False
    return True

