"""Calibration: stylized facts, realism targets, the scorecard, and importers of real tapes
(``importers/``) so the scorecard can read a real day as it reads a run."""
