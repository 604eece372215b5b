"""Injected scenarios: agent policies whose intent becomes ground-truth labels.

``catalog`` holds the entries (keyword-built :class:`~tapesim.scenarios.spec.ScenarioSpec`
models: intent, parameters, the label it produces, what a good classifier should do);
``spec`` their types; ``policies`` are the agents that act them out through the same
venues as everyone else; ``labels`` turns a finished run's provenance into
``labels.json`` and ``expected_outputs.json`` (the models of
:mod:`tapesim.events.labels`); ``evidence`` computes the features a label's evidence
is stated in, for the labels and for ``verify``.
"""
