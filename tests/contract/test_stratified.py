"""stratify=True: one generator per target class, each DP-trained on its own rows (parallel composition)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabsynth.privacy import ParallelEvent
from tabsynth.synthesizers import MODELS, Synthesizer
from tests.conftest import make_frame
from tests.contract.test_synthesizer_contract import SCHEMA


@pytest.fixture(scope="module", params=sorted(MODELS))
def stratified(request: pytest.FixtureRequest) -> Synthesizer:
    synth = Synthesizer(request.param, epsilon=5.0, delta=1e-6, random_state=0, epochs=2, batch_size=64, stratify=True)
    return synth.fit(make_frame(600), SCHEMA)


def test_training_is_one_parallel_event_within_budget(stratified: Synthesizer) -> None:
    entries = stratified.ledger_.entries
    [training] = [e for e in entries if isinstance(e.event, ParallelEvent)]
    assert training.label == "train:per target class"
    assert len(training.event.branches) == 2  # "no" and "yes"; the empty missing-label slot gets no model
    assert not any(e.label.startswith("train") and e is not training for e in entries)
    epsilon, _ = stratified.ledger_.spent()
    assert epsilon <= 5.0 + 1e-6
    per_class = stratified.privacy_card()["per_class_training"]
    assert [c["class"] for c in per_class] == ["no", "yes"] and all(c["steps"] >= 1 for c in per_class)


def test_conditions_are_exact_and_unconditioned_rows_mix_classes(stratified: Synthesizer) -> None:
    yes = stratified.sample(200, conditions={"label": "yes"}, random_state=1)
    assert len(yes) == 200 and (yes["label"] == "yes").all()
    mixed = stratified.sample(400, random_state=2)
    assert set(mixed["label"]) == {"no", "yes"}


def test_save_load_round_trip(stratified: Synthesizer, tmp_path: Path) -> None:
    loaded = Synthesizer.load(stratified.save(tmp_path / "model"), device="cpu")
    assert loaded.stratify
    pd.testing.assert_frame_equal(stratified.sample(50, random_state=3), loaded.sample(50, random_state=3))


def test_auto_stratifies_only_imbalanced_targets() -> None:
    frame = make_frame(1500, seed=3)
    balanced = Synthesizer(epsilon=5.0, random_state=0, epochs=1).fit(frame, SCHEMA)
    assert balanced.stratify == "auto" and not balanced.stratified_  # "yes" is ~30% of the rows
    rare = frame.copy()
    rare.loc[rare.index[rare["label"] == "yes"][60:], "label"] = "no"  # 60 "yes" rows: 4%
    imbalanced = Synthesizer(epsilon=5.0, random_state=0, epochs=1).fit(rare, SCHEMA)
    assert imbalanced.stratified_ and imbalanced.privacy_card()["stratified_by_target"]


def test_stratify_must_be_a_bool_or_auto() -> None:
    from tabsynth.exceptions import ConfigError

    with pytest.raises(ConfigError, match="stratify must be True, False or 'auto'"):
        Synthesizer(stratify="yes").fit(make_frame(200), SCHEMA)  # type: ignore[arg-type]
