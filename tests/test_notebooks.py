"""The shipped notebooks run top to bottom (code cells executed in order, headless)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    cells = json.loads(notebook.read_text("utf-8"))["cells"]
    namespace: dict = {"__name__": "__notebook__"}
    for i, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
        source = "".join(cell["source"])
        exec(compile(source, f"{notebook.name}[{i}]", "exec"), namespace)
    produced = {"calibration.ipynb": "runs/notebook/pinned.json",
                "false_positive_study.ipynb": "studies/fp/study.json",
                "options_surface.ipynb": "surface_summary.csv",
                "scenario_gallery.ipynb": "scenario_gallery.png",
                "tape_anatomy.ipynb": "runs/anatomy/manifest.json"}
    assert os.path.isfile(tmp_path / produced[notebook.name]), "the notebook's end product"
    plt.close("all")
