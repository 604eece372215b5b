"""The false-positive study harness: a grid of runs, a classifier over each, scores.

``spec`` (the study file: :class:`~tapesim.study.spec.Study`, ``Grid``, ``Cell``),
``alerts`` and ``classifiers`` (the classifier protocol: a Python entry point or an
external command), ``reference`` (the reference classifier), ``scoring`` (alerts
against labels, Wilson intervals), ``tables`` (the study directory's files),
``runner`` (cells on a process pool, the run cache, the manifest written last) and
``report`` (``report.html`` and two studies side by side). docs/CLASSIFIERS.md
describes the protocol. This package's ``__init__`` imports nothing.
"""
