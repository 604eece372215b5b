"""The named domain types whose JSON schema ``tapesim schema NAME`` prints.

Each name maps to ``module:attribute`` of a pydantic model and is imported only when
asked for, so listing the names loads nothing.
"""

from __future__ import annotations

import importlib
import json

from pydantic import BaseModel

SCHEMAS: dict[str, str] = {
    # the run config and the config sections that take the design's names
    "RunConfig": "tapesim.config.run:RunConfig",
    "ParameterSnapshot": "tapesim.config.snapshot:ParameterSnapshot",
    "SymbolProfile": "tapesim.config.run:SymbolProfile",
    "LiquidityProfile": "tapesim.config.run:LiquidityProfile",
    "VolatilityRegime": "tapesim.config.run:VolatilityRegime",
    "OptionChainProfile": "tapesim.config.options:OptionChainProfile",
    "ScenarioInjection": "tapesim.config.options:ScenarioInjection",
    # canonical market events
    "EquityQuote": "tapesim.events.models:EquityQuote",
    "EquityPrint": "tapesim.events.models:EquityPrint",
    "OptionNBBO": "tapesim.events.models:OptionNBBO",
    "OptionPrint": "tapesim.events.models:OptionPrint",
    # the run directory and its replay
    "RunManifest": "tapesim.events.manifest:RunManifest",
    "SeedBundle": "tapesim.events.manifest:SeedBundle",
    "GeneratedEventBatch": "tapesim.events.batches:GeneratedEventBatch",
    "ReplayPlan": "tapesim.events.batches:ReplayPlan",
    # labels and expected outputs, as in the run directory and as exported
    "GroundTruthLabel": "tapesim.events.labels:GroundTruthLabel",
    "EventRef": "tapesim.events.labels:EventRef",
    "ExpectedOutputManifest": "tapesim.events.labels:ExpectedOutputManifest",
    "LabelsDocument": "tapesim.events.labels:LabelsDocument",
    "ExpectedOutputsDocument": "tapesim.events.labels:ExpectedOutputsDocument",
    "PipelineLabel": "tapesim.events.labels:PipelineLabel",
    # the reference classifier's derived events an expected output carries
    "ReferenceDerivedEvents": "tapesim.events.derived:ReferenceDerivedEvents",
}


class UnknownSchemaError(KeyError):
    """A name that is not in :data:`SCHEMAS`."""

    def __str__(self) -> str:
        return str(self.args[0])


def schema_names() -> list[str]:
    """The names :func:`json_schema` accepts, in registry order."""
    return list(SCHEMAS)


def model(name: str) -> type[BaseModel]:
    """The model registered under ``name`` (case-sensitive, as listed).

    Raises:
        UnknownSchemaError: ``name`` is not registered (the message says how to list
            the names).
    """
    target = SCHEMAS.get(name)
    if target is None:
        raise UnknownSchemaError(f"unknown schema {name!r}: `tapesim schema` lists the names")
    module, _, attribute = target.partition(":")
    found: type[BaseModel] = getattr(importlib.import_module(module), attribute)
    return found


def json_schema(name: str) -> str:
    """The JSON schema of the model ``name``, as indented JSON text with a newline.

    For ``GeneratedEventBatch`` it is the schema of the batch's metadata (kind, seq
    range, rows); the rows themselves follow the kind's Arrow schema.

    Raises:
        UnknownSchemaError: as :func:`model`.
    """
    return json.dumps(model(name).model_json_schema(), indent=2, ensure_ascii=False) + "\n"
