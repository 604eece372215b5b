"""The reference classifier's alerts on a small study stay what ``tests/golden`` holds,
and each label's expected derived events are what the study's classifier states.

When a change is meant to move them (the engine, the scenarios or the classifier),
record anew with ``.venv/bin/python -m tests.study_golden`` and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tapesim.testing.cache import RunCache
from tests.study_golden import GOLDEN, golden_study, record


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory: pytest.TempPathFactory,
               synthetic_run_cache: Path) -> tuple[Path, dict[str, list[str]]]:
    out = tmp_path_factory.mktemp("golden-study") / "study"
    return out, record(out, synthetic_run_cache)


def test_the_small_studys_alert_signatures_are_the_recorded_ones(
        golden_dir: tuple[Path, dict[str, list[str]]]) -> None:
    want = json.loads(GOLDEN.read_text("utf-8"))
    _, found = golden_dir
    for table in ("alerts", "outcomes"):
        gone = [s for s in want[table] if s not in found[table]]
        new = [s for s in found[table] if s not in want[table]]
        assert found[table] == want[table], (
            f"{table} signatures moved ({len(gone)} gone, {len(new)} new; first gone "
            f"{gone[:1]}, first new {new[:1]}): if meant, record anew with "
            "`python -m tests.study_golden`")
    assert any(" detected " in s for s in found["outcomes"])


def test_each_labels_expected_hypotheses_are_the_studys_alerts(
        golden_dir: tuple[Path, dict[str, list[str]]], synthetic_run_cache: Path) -> None:
    """The label writer and the study run the same classifier over the same prints, so a
    label's expected flow_hypothesis_events are alerts of its cell, field for field."""
    _, found = golden_dir
    from_study = {tuple(line.split()[:6]) for line in found["alerts"]}
    cache = RunCache(synthetic_run_cache)
    checked = 0
    for cell in golden_study().cells():
        for expected in cache(cell.config()).expected_outputs:
            derived = expected.reference_derived_events
            assert derived.feed == golden_study().classifier.feed
            assert [h.cluster_id for h in derived.flow_hypothesis_event] == [
                c.cluster_id for c in derived.flow_evidence_cluster]
            candidates = {c.candidate_id for c in derived.flow_evidence_candidate}
            for cluster in derived.flow_evidence_cluster:
                assert set(cluster.candidate_ids) <= candidates
            for h in derived.flow_hypothesis_event:
                key = (cell.cell_id, str(h.ts), h.cluster_id.split(":")[1],
                       h.hypothesis_type, h.direction, f"{h.scores.confidence:.3f}")
                assert key in from_study
                checked += 1
    assert checked > 0
