"""The parameter snapshot: a run's resolved config as pinned in ``parameter_snapshot.json``.

The file holds ``RunConfig.snapshot()`` (the config as plain JSON values, seed
included); its hash, ``sha256:`` and the hex sha256 of the compact sorted-key JSON,
is the manifest's ``parameter_snapshot_hash`` and the source of the run id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tapesim.config.run import RunConfig, build_config


def snapshot_hash(snapshot: dict[str, Any]) -> str:
    """``sha256:<hex>`` of a snapshot's compact JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_id_for(snapshot_hash_value: str) -> str:
    """A short, stable run id derived from the parameter snapshot (seed included):
    ``tsim-`` and the first 12 hex digits of its hash."""
    return "tsim-" + snapshot_hash_value.removeprefix("sha256:")[:12]


class ParameterSnapshot(BaseModel):
    """A run config pinned with its hash: what ``parameter_snapshot.json`` records.

    It wraps :class:`~tapesim.config.run.RunConfig` rather than aliasing it because
    the hash is not a field of the file (the file is exactly the config's JSON, and
    its hash is taken over that JSON, so it cannot hold its own hash): the wrapper
    keeps the config the user builds and overrides apart from the pinned pair
    (config, hash) a run and its manifest agree on.

    Args:
        config: the resolved run config.
        sha256: ``sha256:`` and 64 hex digits, :func:`snapshot_hash` of the config.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: RunConfig
    sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @classmethod
    def of(cls, config: RunConfig) -> ParameterSnapshot:
        """The snapshot of ``config``, hashed."""
        return cls(config=config, sha256=snapshot_hash(config.snapshot()))

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ParameterSnapshot:
        """The snapshot of a ``parameter_snapshot.json`` document, hashed as written.

        Raises:
            ConfigError: the document is not a valid run config (names the field).
        """
        return cls(config=build_config(document), sha256=snapshot_hash(document))

    @property
    def run_id(self) -> str:
        """The run id a run of this snapshot gets: ``tsim-`` and 12 hex digits of the hash."""
        return run_id_for(self.sha256)

    def document(self) -> dict[str, Any]:
        """The JSON values ``parameter_snapshot.json`` holds."""
        return self.config.snapshot()
