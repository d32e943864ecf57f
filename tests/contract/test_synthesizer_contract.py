"""The contract every registered generator meets (fit/sample, determinism, budget, persistence, conditions)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from tabsynth.exceptions import ConfigError, IncompatibleModelError, NotFittedError, PrivacyWarning, SchemaError
from tabsynth.schema import ColumnKind, ColumnSpec, TableSchema
from tabsynth.synthesizers import MODELS, Synthesizer
from tests.conftest import make_frame

SCHEMA = TableSchema(
    columns=(
        ColumnSpec(name="customer_id", kind=ColumnKind.IDENTIFIER),
        ColumnSpec(name="age", kind=ColumnKind.INTEGER, bounds=(18, 90)),
        ColumnSpec(name="sex", kind=ColumnKind.CATEGORICAL, categories=("F", "M")),
        ColumnSpec(name="city", kind=ColumnKind.CATEGORICAL, categories=("Lille", "Lyon", "Nice", "Paris")),
        ColumnSpec(name="hours", kind=ColumnKind.INTEGER, bounds=(0, 100)),
        ColumnSpec(name="income", kind=ColumnKind.CONTINUOUS, bounds=(0, 200_000)),
        ColumnSpec(name="member", kind=ColumnKind.BOOLEAN),
        ColumnSpec(name="label", kind=ColumnKind.CATEGORICAL, categories=("no", "yes")),
    ),
    target="label",
    sensitive=("sex",),
)


def _synth(model: str, *, seed: int = 0, epsilon: float | None = 5.0) -> Synthesizer:
    return Synthesizer(model, epsilon=epsilon, delta=1e-6, random_state=seed, epochs=2, batch_size=64)


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request: pytest.FixtureRequest) -> Synthesizer:
    return _synth(request.param).fit(make_frame(400), SCHEMA)


def test_sample_shape_columns_and_dtypes(fitted: Synthesizer) -> None:
    out = fitted.sample(123)
    assert len(out) == 123
    assert list(out.columns) == ["age", "sex", "city", "hours", "income", "member", "label"]  # id dropped
    assert pd.api.types.is_integer_dtype(out["age"]) and pd.api.types.is_float_dtype(out["income"])
    assert out["age"].between(18, 90).all()
    assert set(out["label"].dropna()) <= {"no", "yes"}


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        Synthesizer().sample(10)


def test_sampling_is_reproducible_from_a_seed(fitted: Synthesizer, tmp_path: Path) -> None:
    pd.testing.assert_frame_equal(fitted.sample(50, random_state=7), fitted.sample(50, random_state=7))
    assert not fitted.sample(50, random_state=7).equals(fitted.sample(50, random_state=8))
    loaded = Synthesizer.load(fitted.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(fitted.sample(50, random_state=7), loaded.sample(50, random_state=7))


def _weights(synth: Synthesizer) -> list[torch.Tensor]:
    return [p.detach().clone() for m in synth.generator_.modules().values() for p in m.parameters()]


def test_dp_fits_with_the_same_seed_differ(fitted: Synthesizer) -> None:
    # The DP noise comes from secret randomness: the seed cannot replay it.
    again = _synth(fitted.model).fit(make_frame(400), SCHEMA)
    assert any(not torch.equal(a, b) for a, b in zip(_weights(fitted), _weights(again), strict=True))
    card = again.privacy_card()
    assert card["is_dp"] is True and card["secure_randomness"] is True


def test_deterministic_test_mode_replays_and_is_not_dp() -> None:
    def fit() -> Synthesizer:
        synth = Synthesizer("dp-tvae", epsilon=5.0, random_state=3, epochs=1, batch_size=64, deterministic=True)
        with pytest.warns(PrivacyWarning, match="NOT differentially private"):
            return synth.fit(make_frame(200), SCHEMA)

    first, second = fit(), fit()
    assert all(torch.equal(a, b) for a, b in zip(_weights(first), _weights(second), strict=True))
    card = first.privacy_card()
    assert card["is_dp"] is False and card["secure_randomness"] is False
    assert first.privacy_spent()["is_dp"] is False


def test_ledger_within_budget_and_complete(fitted: Synthesizer) -> None:
    spent = fitted.privacy_spent()
    assert spent["is_dp"] and 0 < spent["epsilon"] <= 5.0 + 1e-9
    labels = [e["label"] for e in spent["entries"]]
    # "training", or "train:per target class" when stratify="auto" trains one model per class
    assert "count:rows" in labels and any(lbl.startswith("train") for lbl in labels)


def test_exact_conditions_without_rejection(fitted: Synthesizer) -> None:
    out = fitted.sample(77, conditions={"label": "yes"})
    assert len(out) == 77 and (out["label"] == "yes").all()
    both = fitted.sample(40, conditions={"label": "no", "sex": "F"})
    assert (both["label"] == "no").all() and (both["sex"] == "F").all()


def test_rebalance_gives_exact_counts(fitted: Synthesizer) -> None:
    out = fitted.rebalance("label", {"yes": 0.5, "no": 0.5}, n_rows=101)
    assert out["label"].value_counts().to_dict() == {"yes": 51, "no": 50}


def test_augment_adds_the_missing_minority_rows(fitted: Synthesizer) -> None:
    with pytest.warns(PrivacyWarning, match="exact counts"):  # the output size is then a function of them
        out = fitted.augment("label", "yes", target_share=0.5, n_real=100, n_value=20)
    assert len(out) == 60 and (out["label"] == "yes").all()  # (0.5*100 - 20) / 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"n_rows": 0}, ConfigError, "positive integer"),
        ({"n_rows": 5, "conditions": {"label": "maybe"}}, SchemaError, "no category 'maybe'"),
        ({"n_rows": 5, "conditions": {"income": 3}}, SchemaError, "numeric column"),
        ({"n_rows": 5, "conditions": {"nope": 1}}, SchemaError, "Unknown condition column"),
        ({"n_rows": 5, "conditions": {"city": "Nice"}}, SchemaError, "not a conditioning column"),
    ],
)
def test_bad_sample_requests(fitted: Synthesizer, kwargs: dict, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        fitted.sample(**kwargs)


def test_save_load_round_trip(fitted: Synthesizer, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "model")
    loaded = Synthesizer.load(path, device="cpu")
    pd.testing.assert_frame_equal(fitted.sample(64, random_state=3), loaded.sample(64, random_state=3))
    before, after = fitted.privacy_spent(), loaded.privacy_spent()
    assert after["entries"] == before["entries"]
    assert after["epsilon"] == pytest.approx(before["epsilon"], rel=1e-12)
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "weights.safetensors"]


def test_tampered_or_foreign_model_is_refused(fitted: Synthesizer, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "model")
    weights = path / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(IncompatibleModelError, match="SHA-256"):
        Synthesizer.load(path)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IncompatibleModelError, match="not a tabsynth model"):
        Synthesizer.load(tmp_path / "foreign")
    with pytest.raises(IncompatibleModelError, match="no manifest.json"):
        Synthesizer.load(tmp_path)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_without_dp_says_so(model: str) -> None:
    with pytest.warns(Warning, match="NOT differentially private"):
        synth = _synth(model, epsilon=None).fit(make_frame(200), SCHEMA)
    assert synth.privacy_spent()["is_dp"] is False


@pytest.mark.parametrize("model", sorted(MODELS))
def test_model_files_hold_no_raw_extremes_or_rare_values(model: str, tmp_path: Path) -> None:
    frame = make_frame(3000, seed=1)
    frame.loc[5, "city"] = "Atlantis"  # a category seen once
    synth = Synthesizer(model, epsilon=8.0, random_state=0, epochs=1, batch_size=256).fit(frame, target="label")
    text = (synth.save(tmp_path / "m") / "manifest.json").read_text()
    assert "Atlantis" not in text
    for value in (frame["income"].min(), frame["income"].max()):
        assert repr(float(value)) not in text and f"{value:.2f}" not in text


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_ledger_never_exceeds_requested_epsilon(epsilon: float) -> None:
    synth = Synthesizer(epsilon=epsilon, random_state=0, epochs=3, batch_size=128).fit(make_frame(2000), SCHEMA)
    assert synth.privacy_spent()["epsilon"] <= epsilon + 1e-9
    assert synth.train_result_.steps > 0


def test_fair_sampling_makes_the_target_independent_of_sensitive_columns(fitted: Synthesizer) -> None:
    out = fitted.sample(4000, fair=True, random_state=3)
    rates = out.groupby("sex")["label"].apply(lambda s: (s == "yes").mean())
    counts = out["sex"].value_counts()
    p = (out["label"] == "yes").mean()
    se = (p * (1 - p) * (1 / counts["F"] + 1 / counts["M"])) ** 0.5
    assert abs(rates["F"] - rates["M"]) < 4 * se  # independent by construction, up to sampling noise
    exact = fitted.sample(100, fair=True, conditions={"label": "yes"}, random_state=3)
    assert (exact["label"] == "yes").all()


def test_fair_sampling_needs_sensitive_columns() -> None:
    plain = _synth("dp-tvae", epsilon=5.0).fit(make_frame(200), SCHEMA.with_roles(target="label", sensitive=()))
    with pytest.raises(ConfigError, match="at least one sensitive column"):
        plain.sample(10, fair=True)


def test_privacy_card_shows_where_the_budget_went(fitted: Synthesizer) -> None:
    card = fitted.privacy_card()
    assert card["generator"] == fitted.model and card["is_dp"] and card["sampling"] == "poisson"
    assert card["noise_multiplier"] > 0 and 0 < card["sample_rate"] <= 1 and card["steps"] >= 1
    assert card["entries"] and all(0 < e["epsilon"] <= card["epsilon"] + 1e-9 for e in card["entries"])


def test_every_registered_generator_implements_the_protocol(fitted: Synthesizer) -> None:
    from tabsynth.synthesizers._data import Layout
    from tabsynth.synthesizers.base import GeneratorConfig, GeneratorModel
    from tabsynth.synthesizers.registry import build_model

    assert isinstance(fitted.generator_, GeneratorModel)
    layout = Layout.from_transformer(fitted.transformer_)
    for name in MODELS:
        model = build_model(
            name, layout, fitted.generator_.cond_columns, {}, generator=torch.Generator().manual_seed(0)
        )
        assert isinstance(model, GeneratorModel) and isinstance(model.config, GeneratorConfig), name


def test_a_loaded_model_keeps_its_privacy_card(fitted: Synthesizer, tmp_path: Path) -> None:
    loaded = Synthesizer.load(fitted.save(tmp_path / "model"))
    before, after = fitted.privacy_card(), loaded.privacy_card()
    for key in ("delta", "is_dp", "secure_randomness", "noise_multiplier", "sample_rate", "steps"):
        assert after[key] == before[key], key
    assert after["epsilon"] == pytest.approx(before["epsilon"], rel=1e-9)  # recomputed from the events on load


def test_an_edited_manifest_is_refused(fitted: Synthesizer, tmp_path: Path) -> None:
    folder = fitted.save(tmp_path / "model")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["ledger"]["budget"]["epsilon"] = 0.1  # claim a smaller budget than was spent
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(IncompatibleModelError, match="edited after it was written"):
        Synthesizer.load(folder)
