"""The classifier protocol's output: :class:`Alert`, one hypothesis a classifier states.

A classifier (docs/CLASSIFIERS.md) reads a cell's events in replay order and returns
alerts in the pipeline's vocabulary (CONTRACT.md §4). An alert whose class is
``unclear`` or that carries an abstention reason other than ``not_abstained`` is an
*abstention*: scored as the classifier declining to alert, never as an alert.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tapesim.events.labels import (
    Direction,
    ExpectedClass,
    PipelineAbstentionReason,
    validation_line,
)
from tapesim.study.errors import ClassifierError


class Alert(BaseModel):
    """One hypothesis of a classifier about one underlying at one time.

    JSON form (one line per alert for an external classifier)::

        {"ts": 1773149460000, "underlying": "SPY", "class": "directional_accumulation",
         "direction": "bullish", "confidence": 0.81,
         "evidence_refs": ["tsim-...:option-print:17779"], "abstention_reasons": []}
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    ts: int = Field(ge=0, description="when the hypothesis is stated, epoch ms UTC")
    underlying: str = Field(min_length=1, description="the stock symbol, e.g. SPY")
    hypothesis_class: ExpectedClass = Field(alias="class", description="CONTRACT.md §4 class")
    direction: Direction = Field(description="bullish, bearish, neutral, mixed or unknown")
    confidence: float = Field(ge=0.0, le=1.0, description="in [0, 1]")
    evidence_refs: list[str] = Field(default_factory=list,
                                     description="trace ids of the events it rests on")
    abstention_reasons: list[PipelineAbstentionReason] = Field(
        default_factory=list, description="why it abstains; empty or not_abstained for "
        "an alert")

    @property
    def abstained(self) -> bool:
        """True when this is an abstention rather than an alert."""
        return self.hypothesis_class == "unclear" or any(
            r != "not_abstained" for r in self.abstention_reasons)

    def row(self) -> dict[str, Any]:
        """The alert's fields under their JSON names (``class``)."""
        return self.model_dump(mode="json", by_alias=True)


def parse_alert(value: Any, where: str) -> Alert:
    """An alert from a mapping (a Python classifier may return dicts or :class:`Alert`).

    Raises:
        ClassifierError: not a mapping of the alert's fields; names ``where`` and the field.
    """
    if isinstance(value, Alert):
        return value
    if not isinstance(value, dict):
        raise ClassifierError(f"{where}: an alert must be a JSON object, got "
                              f"{type(value).__name__}")
    try:
        return Alert.model_validate(value)
    except ValidationError as err:
        raise ClassifierError(validation_line(err, where)) from None


def sort_key(alert: Alert) -> tuple[Any, ...]:
    """The order alerts are stored in: time, underlying, then every other field, so a
    classifier's output order does not change the study's bytes."""
    return (alert.ts, alert.underlying, alert.hypothesis_class, alert.direction,
            alert.confidence, alert.evidence_refs, alert.abstention_reasons)
