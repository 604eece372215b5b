"""A scenario run's labels and expected outputs as the pipeline's fixture sidecars.

The run directory's ``labels.json`` and ``expected_outputs.json`` speak tapesim's
vocabulary (:mod:`tapesim.events.labels`). An export restricts them to the exported
slice and translates them into the pipeline's closed sets (CONTRACT.md §4, "Closed
vocabularies of the fixture sidecars"):

- a label whose anchor print is outside the slice is dropped with its expectation;
  the others keep the refs of exported events only, with a caused print other than
  the anchor as ``supporting`` (tapesim: ``member``);
- the family becomes one of the seven pipeline families
  (:func:`tapesim.events.labels.pipeline_family`); tapesim's scenario name and family
  are appended to the label's ``notes``;
- evidence keeps only statements on features the pipeline computes, fact kinds mapped
  (``structure_context`` -> ``structure_shape``); statements on tapesim's own features
  stay in the run directory, where ``verify`` checks them, and the notes name them;
- abstention reasons map onto the pipeline's (``structure_explains_flow`` ->
  ``complex_or_special_print_context``, ``weak_quote_context`` ->
  ``stale_quote_context``);
- labels carry exactly the pipeline's keys (tapesim's ``tapesim`` block stays home), and
  so do expected outputs (the reference classifier's ``reference_derived_events`` stay
  home).

:func:`check_sidecars` validates every sidecar value against the closed sets before
anything is written; a value outside a set is a bug in the translation, reported
with the field's path as an :class:`ExportError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tapesim.events.labels import (
    FIXTURE_GENERATOR_NAME,
    FIXTURE_GENERATOR_VERSION,
    PIPELINE_ABSTENTION_REASON,
    PIPELINE_FACT_KIND,
    PIPELINE_FEATURE_KEYS,
    PIPELINE_ROLE,
    EvidenceRequirement,
    ExpectedOutputManifest,
    ExpectedOutputsDocument,
    FixtureGenerator,
    GroundTruthLabel,
    LabelsDocument,
    PipelineExpectedOutputsDocument,
    PipelineLabelsDocument,
    pipeline_family,
    validation_line,
)
from tapesim.events.stable_json import stable_hash
from tapesim.io.manifest import RunDirectoryError

__all__ = ["FIXTURE_GENERATOR_NAME", "FIXTURE_GENERATOR_VERSION", "LABELS_FILE",
           "OUTPUTS_FILE", "ExportError", "SliceLabels", "check_sidecars", "slice_labels"]

LABELS_FILE = "labels.json"
OUTPUTS_FILE = "smart-flow-expected-outputs.json"

# The closed sets each sidecar must meet, by file name (manifest: its generator only).
SIDECAR_MODELS: dict[str, type[BaseModel]] = {
    LABELS_FILE: PipelineLabelsDocument,
    OUTPUTS_FILE: PipelineExpectedOutputsDocument,
}


class ExportError(ValueError):
    """A slice or flag that cannot be exported, or a sidecar value outside the pipeline's
    closed sets; the message says how to fix it (or names the field)."""


@dataclass(frozen=True)
class SliceLabels:
    """A scenario run's labels and expected outputs restricted to an exported slice, in
    the pipeline's vocabulary (JSON values, as written)."""

    labels: dict[str, Any]
    outputs: dict[str, Any]
    dropped: int

    @property
    def count(self) -> int:
        """Labels kept."""
        return len(self.labels["labels"])


def _read(run_dir: Path, entry: dict[str, Any]) -> tuple[LabelsDocument,
                                                         ExpectedOutputsDocument]:
    try:
        labels = json.loads((run_dir / entry["labels_path"]).read_text("utf-8"))
        outputs = json.loads((run_dir / entry["expected_outputs_path"]).read_text("utf-8"))
        return (LabelsDocument.model_validate(labels),
                ExpectedOutputsDocument.model_validate(outputs))
    except (OSError, KeyError, json.JSONDecodeError, ValidationError) as err:
        what = (validation_line(err, "labels") if isinstance(err, ValidationError)
                else str(err))
        raise RunDirectoryError(f"{run_dir}: the scenario labels cannot be read ({what}): run "
                                f"`tapesim verify {run_dir}`") from None


def _evidence(items: list[EvidenceRequirement]) -> tuple[list[dict[str, Any]], list[str]]:
    """(the statements on pipeline features, fact kinds mapped; the feature keys left
    out)."""
    kept, left = [], []
    for item in items:
        if item.feature_key not in PIPELINE_FEATURE_KEYS:
            left.append(item.feature_key)
            continue
        kept.append({**item.model_dump(mode="json"),
                     "fact_kind": PIPELINE_FACT_KIND.get(item.fact_kind, item.fact_kind)})
    return kept, left


def _notes(label: GroundTruthLabel, left: list[str]) -> str:
    tail = f"tapesim scenario {label.tapesim.scenario}, family {label.family}"
    if left:
        tail += f"; also evidenced in tapesim's run labels: {', '.join(dict.fromkeys(left))}"
    return f"{label.notes} ({tail})" if label.notes else f"({tail})"


def pipeline_label(label: GroundTruthLabel, exported: set[str]) -> dict[str, Any]:
    """One run-directory label in the pipeline's keys and vocabulary, keeping the refs of
    ``exported`` trace ids only."""
    required, left = _evidence(label.required_evidence)
    forbidden, left_f = _evidence(label.forbidden_evidence)
    out = label.model_dump(mode="json", exclude={"tapesim"})
    out.update(
        family=pipeline_family(label.family, label.expected_class),
        event_refs=[{**r.model_dump(mode="json"), "role": PIPELINE_ROLE.get(r.role, r.role)}
                    for r in label.event_refs if r.trace_id in exported],
        required_evidence=required,
        forbidden_evidence=forbidden,
        notes=_notes(label, left + left_f),
    )
    return out


def pipeline_expectation(expectation: ExpectedOutputManifest) -> dict[str, Any]:
    """One expected output in the pipeline's vocabulary (same evidence as its label's;
    the reference classifier's derived events stay in the run directory)."""
    out = expectation.model_dump(mode="json", exclude={"reference_derived_events"})
    reasons = [PIPELINE_ABSTENTION_REASON.get(r, r) for r in expectation.abstention_reasons]
    out.update(required_evidence=_evidence(expectation.required_evidence)[0],
               forbidden_evidence=_evidence(expectation.forbidden_evidence)[0],
               abstention_reasons=list(dict.fromkeys(reasons)))
    return out


def slice_labels(run_dir: Path, manifest: dict[str, Any],
                 exported: Callable[[Iterable[str]], set[str]]) -> SliceLabels | None:
    """The run's labels restricted to the exported events and put in the pipeline's
    vocabulary, or None for a run without scenarios.

    Args:
        exported: those of some trace ids that are exported events' ids (the labels'
            refs are asked, all at once; :meth:`tapesim.export.keyorder.TraceIdSpool.exported`).

    Raises:
        RunDirectoryError: when the run's label files cannot be read as their models.
    """
    entry = manifest.get("scenarios")
    if not entry:
        return None
    labels_doc, outputs_doc = _read(run_dir, entry)
    found = exported({r.trace_id for label in labels_doc.labels for r in label.event_refs})
    outputs = {e.label_id: e for e in outputs_doc.expectations}
    labels, expectations = [], []
    for label in labels_doc.labels:
        anchor = next((r for r in label.event_refs if r.role == "anchor"), None)
        if anchor is None or anchor.trace_id not in found:
            continue
        if label.label_id not in outputs:
            raise RunDirectoryError(f"{run_dir}: no expected output for {label.label_id}: run "
                                    f"`tapesim verify {run_dir}`")
        labels.append(pipeline_label(label, found))
        expectations.append(pipeline_expectation(outputs[label.label_id]))
    scenario_id = "+".join(lb["scenario_id"] for lb in labels)
    new_labels = {"catalog_version": labels_doc.catalog_version,
                  "run_id": manifest["run_id"], "scenario_id": scenario_id,
                  "schema_version": labels_doc.schema_version, "labels": labels}
    new_outputs = {"catalog_version": outputs_doc.catalog_version,
                   "run_id": manifest["run_id"], "scenario_id": scenario_id,
                   "schema_version": outputs_doc.schema_version,
                   "label_schema_version": outputs_doc.label_schema_version,
                   "source_label_hash": stable_hash(new_labels),
                   "expectations": expectations}
    return SliceLabels(new_labels, new_outputs, len(labels_doc.labels) - len(labels))


def check_sidecars(values: dict[str, Any]) -> None:
    """Validate an export's sidecar values (by file name) against the pipeline's closed
    sets: the label and expected-output documents whole, and the manifest's
    ``generator``. Files without closed sets (events, provenance) are not looked at.

    Raises:
        ExportError: one line naming the file and the first bad field's path, e.g.
            ``labels.json: labels.0.family: Input should be ..., got 'benign_trap'``.
    """
    for name, model in SIDECAR_MODELS.items():
        if name in values:
            try:
                model.model_validate(values[name])
            except ValidationError as err:
                raise ExportError("a sidecar value is outside the pipeline's closed sets: "
                                  + validation_line(err, name)) from None
    manifest = values.get("manifest.json")
    if isinstance(manifest, dict):
        try:
            FixtureGenerator.model_validate(manifest.get("generator"))
        except ValidationError as err:
            raise ExportError("a sidecar value is outside the pipeline's closed sets: "
                              + validation_line(err, "manifest.json: generator")) from None
