"""Injected scenarios: agent policies whose intent becomes ground-truth labels.

``catalog`` describes each entry (intent, parameters, the label it produces, what a
good classifier should do); ``policies`` are the agents that act it out through
the same venues as everyone else; ``labels`` turns a finished run's provenance into
``labels.json`` and ``expected_outputs.json``; ``evidence`` computes the features a
label's evidence is stated in, for the labels and for ``verify``.
"""
