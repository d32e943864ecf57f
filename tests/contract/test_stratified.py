"""stratify=True: one generator per target class, each DP-trained on its own rows (parallel composition)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from tabsynth.privacy import ParallelEvent
from tabsynth.schema import ColumnKind, ColumnSpec
from tabsynth.synthesizers import MODELS, Synthesizer
from tests.conftest import make_frame
from tests.contract.test_synthesizer_contract import SCHEMA


@pytest.fixture(scope="module", params=[m for m in sorted(MODELS) if MODELS[m].stratifiable])
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


def test_auto_stratifies_targets_of_two_to_ten_classes() -> None:
    frame = make_frame(1500, seed=3)
    balanced = Synthesizer(epsilon=5.0, random_state=0, epochs=1).fit(frame, SCHEMA)
    assert balanced.stratify == "auto" and balanced.stratified_  # "yes" is ~30% of the rows
    rare = frame.copy()
    # 90 "yes" rows: 6%. The label's DP counts carry sigma 12.8 rows here (ledger "counts:label"),
    # so 90 rows sit 4.5 sigma above the 32-row class floor: stratified but for ~4e-6 of fits.
    rare.loc[rare.index[rare["label"] == "yes"][90:], "label"] = "no"
    imbalanced = Synthesizer(epsilon=5.0, random_state=0, epochs=1).fit(rare, SCHEMA)
    assert imbalanced.stratified_ and imbalanced.privacy_card()["stratified_by_target"]
    # Twelve classes of 125 rows each (over 7 sigma above the floor): more than ten, so joint.
    many = frame.assign(label=[f"c{i % 12:02d}" for i in range(len(frame))])
    label = ColumnSpec(name="label", kind=ColumnKind.CATEGORICAL, categories=tuple(f"c{i:02d}" for i in range(12)))
    schema = replace(SCHEMA, columns=tuple(label if c.name == "label" else c for c in SCHEMA.columns))
    assert not Synthesizer(epsilon=5.0, random_state=0, epochs=1).fit(many, schema).stratified_


def test_stratify_must_be_a_bool_or_auto() -> None:
    from tabsynth.exceptions import ConfigError

    with pytest.raises(ConfigError, match="stratify must be True, False or 'auto'"):
        Synthesizer(stratify="yes").fit(make_frame(200), SCHEMA)  # type: ignore[arg-type]


def test_dp_ctgan_refuses_stratification_and_auto_keeps_it_joint() -> None:
    from tabsynth.exceptions import ConfigError

    with pytest.raises(ConfigError, match="stratify=True is not available for dp-ctgan"):
        Synthesizer("dp-ctgan", stratify=True).fit(make_frame(200), SCHEMA)
    rare = make_frame(1500, seed=3)
    rare.loc[rare.index[rare["label"] == "yes"][90:], "label"] = "no"  # 6% "yes", as above
    synth = Synthesizer("dp-ctgan", epsilon=5.0, random_state=0, epochs=1).fit(rare, SCHEMA)
    assert not synth.stratified_


def test_auto_ignores_the_noise_in_other_and_missing_slots() -> None:
    from types import SimpleNamespace

    from tabsynth.transform import CategoricalEncoder

    # A label with one category after DP discovery, then "other" 0.2% and "missing" 0.45% (noise:
    # the data has neither). 0.0045 * 32,000 = 144 rows would pass the 32-row floor and, counted
    # as a class, would stratify a one-class target.
    target = CategoricalEncoder(
        name="income",
        kind=ColumnKind.CATEGORICAL,
        categories=("<=50K",),
        has_other=True,
        nullable=True,
        marginal=(0.9933, 0.002, 0.0045),
    )
    synth = Synthesizer("dp-tvae")
    assert not synth._decide_stratify(SimpleNamespace(encoders_=[target]), (0,), 32_000, None)  # type: ignore[arg-type]
    # Ten categories plus the two noise slots: ten classes, stratified (twelve would not be).
    ten = replace(target, categories=tuple(f"c{i}" for i in range(10)), marginal=(*[0.0993] * 10, 0.002, 0.005))
    assert synth._decide_stratify(SimpleNamespace(encoders_=[ten]), (0,), 32_000, None)  # type: ignore[arg-type]
