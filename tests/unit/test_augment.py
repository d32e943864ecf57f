"""Augmentation: row counts, the critic's filter, the privacy card, the with/without check."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabsynth import augment
from tabsynth.augmentation import output_paths, write_augmentation
from tabsynth.augmentation._evaluate import bootstrap_metrics, recommend, smote_rows
from tabsynth.augmentation._generate import GeneratorSettings, generate_minority, resolve_minority, rows_to_add
from tabsynth.augmentation._page import render_page
from tabsynth.exceptions import ConfigError, DataError, PrivacyWarning


def _frame(n: int = 400, seed: int = 0, rate: float = 0.1) -> pd.DataFrame:
    """A minority (``fraud``) living at high ``x``, a categorical column and a noise column."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < rate
    return pd.DataFrame(
        {
            "x": np.where(fraud, rng.normal(3.0, 0.5, n), rng.normal(0.0, 1.0, n)),
            "noise": rng.normal(0, 1, n),
            "kind": rng.choice(["a", "b"], n),
            "label": np.where(fraud, "fraud", "ok"),
        }
    )


def test_rows_to_add_reaches_the_share() -> None:
    assert rows_to_add(10, 2, 0.5) == 6  # (2 + 6) / (10 + 6) = 0.5
    assert rows_to_add(100, 30, 0.2) == 0  # already above the share
    n_add = rows_to_add(7000, 233, 0.2)
    assert (233 + n_add) / (7000 + n_add) >= 0.2 > (233 + n_add - 1) / (7000 + n_add - 1)


def test_resolve_minority_matches_a_numeric_label_by_text() -> None:
    frame = pd.DataFrame({"y": [1, 2, 2, 1], "x": [0.0, 1.0, 2.0, 3.0]})
    assert resolve_minority(frame, "y", "2") == 2
    with pytest.raises(DataError, match="not a value of the target"):
        resolve_minority(frame, "y", "3")
    with pytest.raises(DataError, match="at least two"):
        resolve_minority(frame.assign(y=1), "y", "1")


@pytest.mark.parametrize("share", [0.0, 1.0, 1.5, True])
def test_bad_share_is_refused_before_fitting(share: float) -> None:
    with pytest.raises(ConfigError, match="share"):
        augment(_frame(), target="label", minority="fraud", share=share, epsilon=None)


def test_without_dp_keeps_real_rows_adds_minority_and_warns() -> None:
    frame = _frame()
    with pytest.warns(PrivacyWarning, match="NOT differentially private"):
        result = augment(frame, target="label", minority="fraud", share=0.3, epsilon=None, seed=0, epochs=2)
    n_real, n_min = len(frame), int((frame["label"] == "fraud").sum())
    n_gen = rows_to_add(n_real, n_min, 0.3)
    assert len(result.generated) == n_gen > 0
    pd.testing.assert_frame_equal(result.table.iloc[:n_real], frame)
    assert (result.table.iloc[n_real:]["label"] == "fraud").all()
    assert result.card["share_achieved"] >= 0.3
    assert result.card["counts_from"] == "exact"
    assert result.card["privacy"]["generated_rows_are_dp"] is False
    assert result.evaluation is None and result.recommendation is None


@pytest.mark.slow  # about a minute on 2 cores; the CLI test covers the DP path faster
def test_under_dp_counts_come_from_dp_estimates_and_the_critic_sees_no_real_rows() -> None:
    result = augment(_frame(600), target="label", minority="fraud", share=0.3, epsilon=4.0, seed=0, epochs=2)
    card = result.card
    assert card["differentially_private"] is True
    assert card["counts_from"] == "dp-estimates"
    assert "DP synthetic rows" in card["quality_filter"]["critic"]
    assert card["privacy"]["card"]["epsilon"] <= 4.0 + 1e-9
    assert card["privacy"]["card"]["stratified_by_target"] is True
    assert "NOT differentially private" in card["privacy"]["real_rows"]
    assert (result.generated["label"] == "fraud").all()


def test_the_filter_keeps_the_candidates_most_like_the_minority() -> None:
    frame = _frame(500, seed=1)
    common = dict(epsilon=None, seed=3, epochs=3)
    plain = generate_minority(
        frame, target="label", minority="fraud", share=0.4, settings=GeneratorSettings(**common, quality_filter=False)
    )
    kept = generate_minority(frame, target="label", minority="fraud", share=0.4, settings=GeneratorSettings(**common))
    assert len(kept.rows) == len(plain.rows) > 0
    assert kept.filter["applied"] and kept.filter["candidates"] == 5 * len(kept.rows)
    assert kept.filter["critic_score_kept_min"] >= kept.filter["critic_score_dropped_median"]
    # the minority lives at high x: the critic's picks lie further into its region
    assert kept.rows["x"].mean() > plain.rows["x"].mean()


def test_settings_refuse_a_filter_that_keeps_too_few_candidates() -> None:
    with pytest.raises(ConfigError, match="keep"):
        GeneratorSettings(keep=0.1, oversample=5).check()


def test_bootstrap_metrics_report_values_intervals_and_paired_differences() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(int)
    perfect = y * 0.9 + 0.05
    noisy = np.clip(perfect + rng.normal(0, 0.4, 300), 0, 1)
    scores = bootstrap_metrics(y, {"real_only": noisy, "augmented": perfect}, n_boot=50, seed=0)
    assert scores["augmented"]["pr_auc"]["value"] == pytest.approx(1.0)
    assert scores["augmented"]["recall_at_precision"]["value"] == pytest.approx(1.0)
    lo, hi = scores["real_only"]["pr_auc"]["ci"]
    assert lo <= scores["real_only"]["pr_auc"]["value"] <= hi < 1.0
    diff = scores["augmented"]["difference_to_real_only"]["pr_auc"]
    assert diff["value"] > 0 and diff["ci"][0] > 0
    assert scores["augmented"]["brier"]["value"] < scores["real_only"]["brier"]["value"]


def _scores(diff: float, ci: tuple[float, float], smote: float | None = None) -> dict[str, object]:
    def metric(v: float | None) -> dict[str, object]:
        return {"pr_auc": {"value": v, "ci": None}}

    return {
        "real_only": metric(0.5),
        "augmented": {**metric(0.5 + diff), "difference_to_real_only": {"pr_auc": {"value": diff, "ci": list(ci)}}},
        "smote": metric(smote),
        "class_weight": metric(0.49),
    }


def test_recommendation_says_when_augmentation_does_not_help() -> None:
    assert recommend(_scores(0.03, (0.01, 0.05)), "hgb")[0] == "augment"
    assert recommend(_scores(0.002, (-0.02, 0.03)), "hgb")[0] == "no-gain"
    verdict, text = recommend(_scores(-0.04, (-0.07, -0.01)), "logreg")
    assert verdict == "do-not-augment" and "it hurts logreg" in text
    assert "SMOTE-NC scored higher" in recommend(_scores(0.0, (-0.01, 0.01), smote=0.6), "hgb")[1]


def test_smote_is_reported_missing_when_imbalanced_learn_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "imblearn", None)  # import imblearn -> ImportError
    monkeypatch.setitem(sys.modules, "imblearn.over_sampling", None)
    out = smote_rows(_frame(), "label", "fraud", 10, 0)
    assert isinstance(out, str) and "not installed" in out


def test_smote_rows_are_minority_rows_with_the_table_columns() -> None:
    pytest.importorskip("imblearn")
    frame = _frame()
    rows = smote_rows(frame, "label", "fraud", 25, 0)
    assert isinstance(rows, pd.DataFrame) and len(rows) == 25
    assert list(rows.columns) == list(frame.columns) and (rows["label"] == "fraud").all()
    assert set(rows["kind"]) <= {"a", "b"}


def test_output_paths_and_no_silent_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "aug.csv"
    paths = output_paths(out, tmp_path / "eval.json")
    assert [p.name for p in paths] == ["aug.csv", "aug.privacy.json", "eval.json", "eval.html"]
    with pytest.raises(ConfigError, match="must end in"):
        output_paths(tmp_path / "aug.txt")
    with pytest.raises(ConfigError, match="collide"):
        output_paths(out, tmp_path / "aug.privacy.json")
    with pytest.warns(PrivacyWarning):
        result = augment(_frame(), target="label", minority="fraud", share=0.2, epsilon=None, seed=0, epochs=1)
    write_augmentation(result, out)
    card = json.loads(paths[1].read_text())
    assert card["generated_rows"] == len(result.generated)
    before = out.read_bytes()
    with pytest.raises(ConfigError, match="already exist"):
        write_augmentation(result, out)
    assert out.read_bytes() == before
    write_augmentation(result, out, overwrite=True)
    assert len(pd.read_csv(out)) == len(result.table)


def test_the_page_is_offline_and_escapes_text() -> None:
    metric = {"value": 0.5, "ci": [0.4, 0.6]}
    scores = {m: metric for m in ("pr_auc", "roc_auc", "brier", "recall_at_precision")}
    evaluation = {
        "real_only": scores,
        "augmented": scores,
        "smote": {**scores, "note": "<script>alert(1)</script>"},
        "class_weight": scores,
        "verdict": "no-gain",
        "recommendation": "train on the real rows",
        "reference_precision": 0.5,
        "setup": {
            "model": "hgb",
            "held_out_rows": 100,
            "bootstrap": 10,
            "held_out_minority_share": 0.1,
            "privacy_note": "not DP",
        },
        "pr_curves": {"real_only": {"recall": [0.0, 1.0], "precision": [1.0, 0.1]}},
    }
    page = render_page(evaluation)
    assert "<svg" in page and "<polyline" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "http" not in page.replace('xmlns="http', "")


def test_a_minority_too_small_for_its_own_model_is_refused() -> None:
    frame = _frame(300, rate=0.05)  # about 15 minority rows: under the per-class model's minimum
    with pytest.warns(PrivacyWarning), pytest.raises(DataError, match="too few rows"):
        augment(frame, target="label", minority="fraud", share=0.3, epsilon=None, seed=0, epochs=1)
