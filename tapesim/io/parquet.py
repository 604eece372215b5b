"""Opening a run directory's Parquet files for streaming reads.

pyarrow's ``ParquetFile`` pre-buffers by default: it keeps every byte range it has
read until the file is closed, so iterating a whole file batch by batch holds the
whole file (a full ``market-day`` ``option_nbbo.parquet`` is about 0.5 GB) however
small the batches. Every reader that walks a file opens it through :func:`streaming`.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow.parquet as pq


def streaming(path: str | os.PathLike[str], **options: Any) -> pq.ParquetFile:
    """``path`` as a ``pyarrow.parquet.ParquetFile`` that does not pre-buffer, so
    memory stays bounded by the batches (or row groups) read at a time.

    Args:
        path: a Parquet file.
        **options: further ``ParquetFile`` options (``buffer_size``,
            ``read_dictionary`` ...).

    Raises:
        OSError, pyarrow.ArrowInvalid: the file is missing or not Parquet.
    """
    return pq.ParquetFile(str(path), pre_buffer=False, **options)
