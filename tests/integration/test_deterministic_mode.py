"""The deterministic test mode replays the DP noise, so every output says NOT DP and the gate fails it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabsynth.audit import AuditConfig, run_audit
from tabsynth.exceptions import PrivacyWarning
from tabsynth.policy import evaluate_policy, load_policy
from tabsynth.synthesizers import Synthesizer
from tests.conftest import make_frame
from tests.contract.test_synthesizer_contract import SCHEMA


def test_test_mode_is_not_dp_in_card_manifest_and_gate(tmp_path: Path) -> None:
    train, holdout = make_frame(600, seed=1), make_frame(400, seed=2)
    synth = Synthesizer("dp-tvae", epsilon=1.0, random_state=0, epochs=1, batch_size=64, deterministic=True)
    with pytest.warns(PrivacyWarning, match="test mode"):
        synth.fit(train, SCHEMA)
    card = synth.privacy_card()
    assert card["is_dp"] is False and card["secure_randomness"] is False
    manifest = json.loads((synth.save(tmp_path / "m") / "manifest.json").read_text())
    assert manifest["ledger"]["is_dp"] is False and manifest["ledger"]["secure_randomness"] is False
    config = AuditConfig(n_attacks=50, mia_rows=200, detection_rows=400, n_bootstrap=20)
    real, unseen = train.drop(columns="customer_id"), holdout.drop(columns="customer_id")
    audit = run_audit(real, synth.sample(400, random_state=1), holdout=unseen, target="label", config=config)
    decision = evaluate_policy(load_policy("partner"), audit, privacy=card)
    [epsilon_rule] = [r for r in decision.to_dict()["rules"] if r["metric"] == "privacy.epsilon"]
    assert epsilon_rule["outcome"] == "fail" and decision.blocks
