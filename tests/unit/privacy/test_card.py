"""PrivacyCard: frozen, typed, and the same JSON layout the files have always had."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tabsynth.privacy.card import ClassTraining, PrivacyCard, TrainingSummary


def _card() -> PrivacyCard:
    return PrivacyCard(
        generator="dp-tvae",
        epsilon=1.0,
        delta=1e-6,
        is_dp=True,
        secure_randomness=True,
        accountant="rdp",
        neighboring="add_or_remove_one",
        max_grad_norm=1.0,
        stratified_by_target=True,
        dp_row_count=6970,
        entries=({"label": "count:rows", "epsilon": 0.05},),
        training=TrainingSummary(noise_multiplier=11.7, sample_rate=0.15, steps=263),
        per_class_training=(
            ClassTraining(label="No", noise_multiplier=11.7, sample_rate=0.15, steps=263, batch_size=1024, epochs=40),
        ),
    )


def test_flat_layout_and_mapping_view() -> None:
    card = _card()
    data = card.to_dict()
    assert data["epsilon"] == 1.0 and card["epsilon"] == 1.0 and card.epsilon == 1.0
    assert data["unit"] == "row" and "max_rows_per_entity" not in data
    assert data["steps"] == 263 and "epochs" not in data  # a stratified joint run has no single batch
    assert data["per_class_training"] == [
        {"class": "No", "noise_multiplier": 11.7, "sample_rate": 0.15, "steps": 263, "batch_size": 1024, "epochs": 40}
    ]
    assert dict(card) == data and set(card) == set(data) and len(card) == len(data)
    assert card.get("missing") is None
    json.dumps(card.to_dict())  # JSON-ready


def test_round_trip_through_json() -> None:
    card = _card()
    back = PrivacyCard.from_dict(json.loads(json.dumps(card.to_dict())))
    assert back.to_dict() == card.to_dict()
    assert back.training == card.training and back.per_class_training == card.per_class_training


def test_frozen_and_copies_do_not_write_through() -> None:
    card = _card()
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.epsilon = 8.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        card["epsilon"] = 8.0  # type: ignore[index]
    data = card.to_dict()
    data["epsilon"] = 8.0
    assert card["epsilon"] == 1.0


def test_no_dp_card_from_a_minimal_dict() -> None:
    card = PrivacyCard.from_dict({"generator": "dp-tvae", "epsilon": None, "delta": None})
    assert not card.is_dp and card.training is None and card["entries"] == []


def test_mapping_reads_are_copies() -> None:
    card = _card()
    card["entries"].append({"label": "forged"})
    assert len(card["entries"]) == 1
