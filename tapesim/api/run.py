"""An opened run directory: :class:`SyntheticRun` and :func:`open_run`.

Opening is cheap (``tapesim.io.manifest.open_run``: the manifest parses and every
file it lists is present at its recorded size; no hashing); :meth:`SyntheticRun.verify`
is the full check of ``tapesim verify``. Tables are read with pyarrow; polars and
pandas are used only when installed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from tapesim.config.snapshot import ParameterSnapshot
from tapesim.events.batches import GeneratedEventBatch, ReplayPlan
from tapesim.events.labels import (
    ExpectedOutputManifest,
    ExpectedOutputsDocument,
    GroundTruthLabel,
    LabelsDocument,
)
from tapesim.events.manifest import RunManifest, SeedBundle
from tapesim.events.models import KINDS, KINDS_BY_NAME
from tapesim.io.manifest import PARAMETER_SNAPSHOT, RunDirectoryError, damaged, reading
from tapesim.io.manifest import open_run as checked_manifest
from tapesim.io.parquet import streaming
from tapesim.market.truth import LATENT
from tapesim.scenarios.labels import EXPECTED_OUTPUTS, LABELS
from tapesim.sim.strict import ConfigError, error_path
from tapesim.verify.run import verify_run

T = TypeVar("T")
BATCH_ROWS = 1 << 16  # rows per batch of SyntheticRun.batches
_KIND_BY_STEM = {k.file_stem: k.name for k in KINDS}


def _damaged(path: Path, run_dir: Path, what: str) -> RunDirectoryError:
    return damaged(run_dir, f"{path} {what}")


def labels_of(document: dict[str, Any]) -> list[GroundTruthLabel]:
    """The labels of a ``labels.json`` document, one per injected scenario.

    An empty document (a run without scenarios) has no labels.

    Raises:
        pydantic.ValidationError: the document does not fit ``LabelsDocument``.
    """
    if not document.get("labels"):
        return []
    return list(LabelsDocument.model_validate(document).labels)


def expected_outputs_of(document: dict[str, Any]) -> list[ExpectedOutputManifest]:
    """The expectations of an ``expected_outputs.json`` document, one per label.

    Raises:
        pydantic.ValidationError: the document does not fit ``ExpectedOutputsDocument``.
    """
    if not document.get("expectations"):
        return []
    return list(ExpectedOutputsDocument.model_validate(document).expectations)


class SyntheticRun:
    """A run directory, opened: its manifest, snapshot, labels and tables.

    A plain class rather than a pydantic model: it is a handle on files (and may keep
    a temporary directory alive), not a document; its documents are the typed
    :attr:`manifest`, :attr:`seed_bundle` and :attr:`parameter_snapshot`.

    Args:
        path: the run directory.
        keep_alive: an object whose lifetime bounds the directory's (the temporary
            directory of ``tapesim.simulate(..., out=None)``); kept, never used.

    Raises:
        RunDirectoryError: no ``manifest.json``, one that does not parse or does not
            match :class:`~tapesim.events.manifest.RunManifest` (the message names the
            field), or a listed file missing or not at its recorded size. The message
            names the file and points to ``tapesim verify``.
    """

    def __init__(self, path: str | Path,
                 keep_alive: tempfile.TemporaryDirectory[str] | None = None) -> None:
        self.path = Path(path)
        self._keep_alive = keep_alive
        if not self.path.is_dir():
            raise RunDirectoryError(f"{self.path} is not a directory: pass a run directory")
        # checked_manifest has checked the document against RunManifest already
        self.manifest: RunManifest = RunManifest.model_validate(checked_manifest(self.path))

    def __repr__(self) -> str:
        return f"SyntheticRun({str(self.path)!r}, run_id={self.manifest.run_id!r})"

    @property
    def run_id(self) -> str:
        """The run's id, ``tsim-`` and 12 hex digits of its parameter snapshot hash."""
        return self.manifest.run_id

    @property
    def seed_bundle(self) -> SeedBundle:
        """The seeds every random stream of the run was drawn from."""
        return self.manifest.seed_bundle

    @cached_property
    def parameter_snapshot(self) -> ParameterSnapshot:
        """The resolved config the run was made from, with its hash as written.

        Raises:
            RunDirectoryError: the file does not parse, is not a valid config for this
                version of tapesim, or hashes to another value than the manifest's; or
                the run was imported from a real tape (manifest ``source``), which has no
                run config.
        """
        if self.manifest.source is not None:
            raise RunDirectoryError(f"{self.path} was imported from a real tape "
                                    f"({self.manifest.source.format}): it has no run config; "
                                    "its parameter_snapshot.json records the import")
        path = self.path / PARAMETER_SNAPSHOT
        try:
            snapshot = ParameterSnapshot.from_document(json.loads(path.read_text("utf-8")))
        except (OSError, json.JSONDecodeError, ConfigError) as err:
            raise _damaged(path, self.path, f"cannot be read as a run config ({err})") from None
        if snapshot.sha256 != self.manifest.parameter_snapshot_hash:
            raise _damaged(path, self.path, "does not hash to the manifest's "
                           "parameter_snapshot_hash")
        return snapshot

    def _json(self, name: str) -> dict[str, Any]:
        path = self.path / name
        try:
            value = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise _damaged(path, self.path, f"cannot be read as JSON ({err})") from None
        if not isinstance(value, dict):
            raise _damaged(path, self.path, "is not a JSON object")
        return value

    @cached_property
    def labels_document(self) -> dict[str, Any]:
        """``labels.json`` as written; an empty document in a run without scenarios."""
        return self._json(LABELS) if LABELS in self.manifest.artifacts else {"labels": []}

    @cached_property
    def expected_outputs_document(self) -> dict[str, Any]:
        """``expected_outputs.json`` as written; empty in a run without scenarios."""
        if EXPECTED_OUTPUTS not in self.manifest.artifacts:
            return {"expectations": []}
        return self._json(EXPECTED_OUTPUTS)

    @cached_property
    def labels(self) -> list[GroundTruthLabel]:
        """The ground-truth labels, one per injected scenario (see :func:`labels_of`).

        Raises:
            RunDirectoryError: ``labels.json`` does not fit its schema.
        """
        return self._typed(LABELS, labels_of, self.labels_document)

    @cached_property
    def expected_outputs(self) -> list[ExpectedOutputManifest]:
        """The expected outputs, one per label (see :func:`expected_outputs_of`).

        Raises:
            RunDirectoryError: ``expected_outputs.json`` does not fit its schema.
        """
        return self._typed(EXPECTED_OUTPUTS, expected_outputs_of,
                           self.expected_outputs_document)

    def _typed(self, name: str, parse: Callable[[dict[str, Any]], list[T]],
               document: dict[str, Any]) -> list[T]:
        """``parse(document)``, a schema misfit reported as a damaged file ``name``."""
        try:
            return parse(document)
        except ValidationError as err:
            where = error_path(err.errors()[0])
            raise _damaged(self.path / name, self.path,
                           f"does not fit its schema at {where}") from None

    def tables(self) -> list[str]:
        """Names :meth:`table` accepts: the run's Parquet files without ``.parquet``."""
        return sorted(n.removesuffix(".parquet") for n in self.manifest.artifacts
                      if n.endswith(".parquet"))

    def _file(self, name: str) -> Path:
        stem = name.removesuffix(".parquet")
        if stem in KINDS_BY_NAME:
            stem = KINDS_BY_NAME[stem].file_stem
        if stem not in self.tables():
            raise KeyError(f"no table {name!r} in {self.path}: choose one of "
                           f"{', '.join(self.tables())} or an event kind "
                           f"({', '.join(KINDS_BY_NAME)})")
        return self.path / f"{stem}.parquet"

    def table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file of the run as a table, rows in replay order.

        Args:
            name: an event kind (``"option_print"``), a file stem (``"option_prints"``,
                ``"equity_quotes"``, ``"provenance"``, ``"open_interest"``) or a file
                name (``"option_prints.parquet"``).
            columns: only these columns (default all).

        Raises:
            KeyError: the run has no such table (the message lists the names).
            RunDirectoryError: the file cannot be read because a file of the run is
                damaged (:func:`tapesim.io.manifest.reading`).
        """
        path = self._file(name)
        with reading(self.path):
            return pq.read_table(path, columns=columns)

    def latent(self, columns: list[str] | None = None) -> pa.Table:
        """The latent truth of a run simulated with ``write_latent=True`` (``tapesim run
        --write-latent``): ``latent.parquet``, one row per symbol and whole second of the
        window, with the fair value (dollars), the market's volatility regime (0 calm,
        1 normal, 2 stress), the persistent vol ratio and the 30-day ATM implied vol of
        the latent surface (``tapesim.market.truth``; ``docs/DATA.md``). Never an event.

        Args:
            columns: only these columns (default all).

        Raises:
            KeyError: the run was written without the latent sidecar (the message says
                how to write one).
            RunDirectoryError: as :meth:`table`.
        """
        if LATENT not in self.manifest.artifacts:
            raise KeyError(f"{self.path} has no {LATENT}: simulate with write_latent=True "
                           "(tapesim run --write-latent) to write the latent truth")
        return self.table(LATENT, columns)

    def batches(self, kind: str, rows: int = BATCH_ROWS) -> Iterator[GeneratedEventBatch]:
        """A kind's events as batches of at most ``rows`` rows, in replay order.

        Args:
            kind: an event kind or its file stem (``"option_print"``, ``"option_prints"``).
            rows: the largest batch, in rows.

        Raises:
            KeyError: not an event kind of the run.
            RunDirectoryError: as :meth:`table`.
        """
        path = self._file(kind)
        name = _KIND_BY_STEM.get(path.name.removesuffix(".parquet"))
        if name is None:
            raise KeyError(f"{kind!r} is not an event kind: choose one of "
                           f"{', '.join(KINDS_BY_NAME)}")
        with reading(self.path):
            for batch in streaming(path).iter_batches(batch_size=rows):
                if batch.num_rows:
                    yield GeneratedEventBatch.of(name, batch)

    def to_polars(self, name: str) -> Any:
        """:meth:`table` as a ``polars.DataFrame``.

        Raises:
            ImportError: polars is not installed.
            KeyError: as :meth:`table`.
        """
        try:
            import polars  # optional dependency, loaded only when asked for
        except ImportError as err:
            raise ImportError("SyntheticRun.to_polars needs polars: pip install polars "
                              "(or use .table(), a pyarrow.Table)") from err
        return polars.from_arrow(self.table(name))

    def to_pandas(self, name: str) -> Any:
        """:meth:`table` as a ``pandas.DataFrame``.

        Raises:
            ImportError: pandas is not installed.
            KeyError: as :meth:`table`.
        """
        try:
            import pandas  # noqa: F401  optional dependency, needed by pyarrow's to_pandas
        except ImportError as err:
            raise ImportError("SyntheticRun.to_pandas needs pandas: pip install pandas "
                              "(or use .table(), a pyarrow.Table)") from err
        return self.table(name).to_pandas()

    def verify(self) -> list[str]:
        """Recompute every hash and invariant (``tapesim verify``); the problems found,
        one line each, empty when the run is sound."""
        return verify_run(self.path)

    def replay_plan(self) -> ReplayPlan:
        """What a replay of the whole run would publish, in which order."""
        return ReplayPlan.from_manifest(self.manifest)


def open_run(path: str | Path) -> SyntheticRun:
    """Open a run directory with the cheap checks (see :class:`SyntheticRun`).

    Raises:
        RunDirectoryError: not a directory, or the manifest or a listed file is
            missing, unreadable or not at its recorded size.
    """
    return SyntheticRun(path)
