"""The reference classifier's study entry point, ``tapesim.study.reference:classify``.

The classifier lives below the study layer, in :mod:`tapesim.scenarios.reference`
(its rules in :mod:`tapesim.scenarios.reference_rules`), because the scenario label
writer also runs it: each label's expected output carries the derived events it
states. This module gives it the name study files use (docs/CLASSIFIERS.md).
"""

from __future__ import annotations

from tapesim.scenarios.reference import ReferenceClassifier, classify

__all__ = ["ReferenceClassifier", "classify"]
