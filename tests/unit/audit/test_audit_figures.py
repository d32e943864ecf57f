"""Report figures: aggregate only, sparse bins merged, rare categories merged, never failing the audit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig, AuditReport, MetricResult, run_audit
from tabsynth.audit._data import prepare
from tabsynth.audit.disclosure import kept_categories, merge_sparse, public_group_labels
from tabsynth.audit.figures import OTHER_LABEL, Side, figure_data, nice_edges
from tabsynth.audit.privacy import PrivacySamples

SMALL = AuditConfig(n_attacks=100, singling_out_max_attempts=5_000, n_bootstrap=20, detection_rows=200, mia_rows=60)


def test_nice_edges_lie_on_a_round_grid_around_the_data() -> None:
    edges = nice_edges(17.3, 88.9, 20)
    assert edges[0] <= 17.3 and edges[-1] >= 88.9
    steps = np.diff(edges)
    assert np.allclose(steps, steps[0]) and steps[0] in (2.5, 5.0)
    assert edges[0] % steps[0] == 0
    assert list(nice_edges(0.0, 1.0, 4)) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.all(np.diff(nice_edges(1.0, 3.0, 20, integer=True)) == 1.0)


def test_sparse_real_bins_are_merged_until_each_holds_none_or_min_count() -> None:
    edges = np.arange(7, dtype=float)
    real = np.array([3, 4, 12, 0, 5, 2])
    synth = np.array([1, 1, 1, 1, 1, 1])
    new_edges, (r, s) = merge_sparse(edges, [real, synth], 10)
    assert list(r) == [26]  # 3+4+12 closes a bin, but the sparse tail (0, 5, 2) must join it
    assert r.sum() == real.sum() and s.sum() == synth.sum()
    assert list(new_edges) == [0, 6]
    new_edges, (r,) = merge_sparse(edges, [np.array([0, 10, 4, 9, 0, 0])], 10)
    assert list(r) == [0, 10, 13, 0, 0] and list(new_edges) == [0, 1, 2, 4, 5, 6]


def test_merging_keeps_empty_bins_and_joins_a_sparse_tail() -> None:
    edges = np.arange(6, dtype=float)
    new_edges, (r,) = merge_sparse(edges, [np.array([10, 0, 12, 4, 3])], 10)
    assert list(r) == [10, 0, 19]
    assert list(new_edges) == [0, 1, 2, 5]


def test_only_categories_with_min_count_real_rows_are_named() -> None:
    real = pd.Series(["a"] * 12 + ["b"] * 9 + ["c"] * 1 + [np.nan] * 10, dtype=object)
    synth = pd.Series(["a"] * 5 + ["b"] * 30 + ["z"] * 11 + ["y"] * 2, dtype=object)
    kept = kept_categories(real, synth, 10)
    assert kept == ["a", "(missing)", "z"]  # b (9 rows) and c are rare; z is synthetic-only but common there


def test_public_group_labels_drop_the_training_extremes() -> None:
    labels = ["[17, 28)", "[28, 37)", "[37, 48)", "[48, 90]"]
    out = public_group_labels(labels)
    assert out == {"[17, 28)": "< 28", "[28, 37)": "[28, 37)", "[37, 48)": "[37, 48)", "[48, 90]": ">= 48"}
    assert public_group_labels(["F", "M"]) == {"F": "F", "M": "M"}
    both = public_group_labels(["F & [17, 28)", "M & [28, 90]"])
    assert both == {"F & [17, 28)": "F & < 28", "M & [28, 90]": "M & >= 28"}


@pytest.fixture(scope="module")
def report(train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame) -> AuditReport:
    real = train.iloc[:200].copy()
    real.loc[0:3, "region"] = "atlantis"  # 4 rows: below min_count
    return run_audit(real, fresh.iloc[:200], holdout=holdout.iloc[:200], target="label", config=SMALL)


def test_the_audit_stores_tagged_aggregate_figures(report: AuditReport) -> None:
    figures = report.figures
    assert {f["side"] for f in figures.values()} <= set(Side.ALL)
    for fid in ("distribution.age", "synthetic_distribution.age", "association.difference", "privacy.dcr"):
        assert fid in figures
    assert figures["distribution.region"]["side"] == Side.REAL_VS_SYNTHETIC
    assert "atlantis" not in json.dumps(figures)
    region = figures["distribution.region"]
    other = region["series"]["real"][-1]
    assert region["categories"][-1] == OTHER_LABEL and (other is None or other * 200 >= 10)
    roc = figures["privacy.mia_roc"]["curves"]
    assert all(len(c["fpr"]) <= 101 and c["fpr"][0] == 0.0 and c["tpr"][-1] == 1.0 for c in roc.values())
    hist = figures["distribution.income"]
    assert len(hist["edges"]) == len(hist["series"]["real"]) + 1
    assert sum(hist["series"]["real"]) == pytest.approx(1.0)
    n_real = hist["n_rows"]["real"]
    assert all(s == 0 or s * n_real >= 10 - 1e-6 for s in hist["series"]["real"])


def test_figures_round_trip_and_old_json_still_loads(report: AuditReport) -> None:
    again = AuditReport.from_json(report.to_json())
    assert again.figures == report.figures
    old = {"metrics": [MetricResult(name="a", value=1.0, direction="higher_is_better").to_dict()], "meta": {}}
    assert AuditReport.from_dict(old).figures == {}


def test_a_failing_figure_becomes_a_note(train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame) -> None:
    data = prepare(
        train.iloc[:100],
        fresh.iloc[:100],
        holdout=holdout.iloc[:100],
        target="label",
        sensitive=(),
        schema=None,
        config=SMALL,
    )
    broken = PrivacySamples(
        train=np.array([10_000]), holdout=np.array([0]), synthetic_dcr=np.array([0]), synthetic=np.array([0]), n_mia=0
    )
    figures, notes = figure_data(data, config=SMALL, samples=broken)
    assert "privacy.dcr" not in figures and "distribution.age" in figures
    assert len(notes) == 1 and "DCR distributions" in notes[0]
