"""The study harness's bad-input errors; each message is one line naming the cell and
the field or line, and the CLI exits 2 with it."""

from __future__ import annotations


class ClassifierError(Exception):
    """A classifier that cannot be loaded or run, or whose output is malformed."""


class StudyDirectoryError(ValueError):
    """A study directory that is incomplete, damaged, or (for ``compare``) not over the
    same cells as another."""
