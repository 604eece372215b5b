"""Calibration: stylized facts, realism targets and the scorecard."""
