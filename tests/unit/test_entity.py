"""Entity-level privacy (issue 18): contribution bound, sensitivities, entity DP-SGD, fake entities."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import tabsynth.privacy.mechanisms as mechanisms
from tabsynth.entity import (
    RowsPerEntity,
    assign_entities,
    bound_contribution,
    choose_contribution_bound,
    entity_key_candidates,
    entity_noise_for,
    looks_like_key_name,
    measure_rows_per_entity,
)
from tabsynth.exceptions import ConfigError, SchemaError
from tabsynth.inference import infer_schema_dp
from tabsynth.privacy import GaussianEvent, PrivacyError, PrivacyLedger, ThresholdedGaussianEvent
from tabsynth.privacy.mechanisms import discover_categories, noisy_histogram
from tabsynth.privacy.randomness import NoiseSource
from tabsynth.schema import ColumnKind, ColumnSpec, TableSchema
from tabsynth.synthesizers import Synthesizer
from tabsynth.synthesizers._trainer import (
    TrainingConfig,
    _Criterion,
    _entity_batch,
    _make_private,
    _step,
    entity_row_weights,
)
from tabsynth.transform import DPTableTransformer


class ZeroNoise(NoiseSource):
    """Replayable source whose Gaussian draws are zero, recording the std of each draw."""

    def __init__(self) -> None:
        super().__init__(b"\0" * 32, is_secure=False)
        self.sigmas: list[float] = []

    def discrete_gaussian(self, sigma: float, size: int | tuple[int, ...]) -> np.ndarray:
        self.sigmas.append(float(sigma))
        return np.zeros(size, dtype=np.int64)


def _patients(sizes: list[int]) -> pd.DataFrame:
    pid = np.repeat(np.arange(len(sizes)), sizes)
    return pd.DataFrame({"pid": pid, "x": np.arange(len(pid))})


# ---- the contribution bound --------------------------------------------------------------
def test_an_entity_with_50_rows_keeps_exactly_k() -> None:
    frame = _patients([50, 3, 1, 10])
    bounded = bound_contribution(frame, "pid", max_rows_per_entity=10, noise=NoiseSource.fresh())
    assert "pid" not in bounded.frame.columns
    assert bounded.n_entities == 4
    assert np.bincount(bounded.codes).tolist() == [10, 3, 1, 10]
    big = bounded.frame["x"][bounded.codes == 0]
    assert big.between(0, 49).all() and big.is_unique  # a subset of that entity's own rows
    assert bounded.frame["x"].is_monotonic_increasing  # kept rows keep their order


def test_the_kept_subset_is_secret_random() -> None:
    frame = _patients([50])
    picks = {tuple(bound_contribution(frame, "pid", max_rows_per_entity=5, noise=NoiseSource.fresh()).frame["x"])}
    for _ in range(5):
        picks.add(tuple(bound_contribution(frame, "pid", max_rows_per_entity=5, noise=NoiseSource.fresh()).frame["x"]))
    assert len(picks) > 1  # fresh secret keys, different subsets (C(50,5) choices)


def test_rows_without_an_entity_are_each_their_own_entity() -> None:
    frame = pd.DataFrame({"pid": ["a", None, "a", None, "b"], "x": range(5)})
    bounded = bound_contribution(frame, "pid", max_rows_per_entity=1, noise=NoiseSource.fresh())
    assert bounded.n_entities == 4  # a, b and two singletons
    assert len(bounded.frame) == 4


# ---- sensitivities: one entity of k rows -------------------------------------------------
def test_ledger_sensitivity_and_unit() -> None:
    row = PrivacyLedger(1.0, 1e-6)
    entity = PrivacyLedger(1.0, 1e-6, max_rows_per_entity=7)
    assert (row.unit, row.sensitivity) == ("row", 1)
    assert (entity.unit, entity.sensitivity) == ("entity", 7)
    data = entity.to_dict()
    assert data["unit"] == "entity" and data["max_rows_per_entity"] == 7
    assert PrivacyLedger.from_dict(data).unit == "entity"
    old = row.to_dict()
    del old["unit"], old["max_rows_per_entity"]  # a ledger written before issue 18
    assert PrivacyLedger.from_dict(old).unit == "row"
    with pytest.raises(PrivacyError, match="max_rows_per_entity"):
        PrivacyLedger(1.0, 1e-6, max_rows_per_entity=0)


def test_histogram_noise_is_multiplier_times_k() -> None:
    noise = ZeroNoise()
    ledger = PrivacyLedger(10.0, 1e-6, noise=noise, max_rows_per_entity=5)
    noisy_histogram(np.array([3, 4]), noise_multiplier=2.0, ledger=ledger, label="h", rng=np.random.default_rng())
    noisy_histogram(
        np.array([3]), noise_multiplier=2.0, ledger=ledger, label="e", rng=np.random.default_rng(), sensitivity=1
    )
    assert noise.sigmas == [10.0, 2.0]
    assert [e.event for e in ledger.entries] == [GaussianEvent(noise_multiplier=2.0)] * 2


def test_discovery_threshold_is_recorded_per_entity() -> None:
    noise = ZeroNoise()
    ledger = PrivacyLedger(10.0, 1e-6, noise=noise, max_rows_per_entity=4)
    out = discover_categories(
        ["a", "b"],
        np.array([80, 3]),
        null_count=0,
        noise_multiplier=2.0,
        threshold=60.0,
        ledger=ledger,
        label="c",
        rng=np.random.default_rng(),
    )
    assert out.private == ("a",)
    # threshold 60 counts = 15 in units of the sensitivity 4: P(4 + N(0, 8^2) >= 60) = P(1 + N(0, 2^2) >= 15)
    assert ledger.entries[0].event == ThresholdedGaussianEvent(noise_multiplier=2.0, threshold=15.0)
    assert set(noise.sigmas) == {8.0}


def _released_counts(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Record the exact count vector every mechanism releases (before its noise)."""
    seen: list[np.ndarray] = []
    original = mechanisms._integer_counts

    def record(counts: np.ndarray) -> np.ndarray:
        out = original(counts)
        seen.append(out.copy())
        return out

    monkeypatch.setattr(mechanisms, "_integer_counts", record)
    return seen


def _fit_everything(frame: pd.DataFrame, k: int) -> tuple[ZeroNoise, PrivacyLedger]:
    noise = ZeroNoise()
    ledger = PrivacyLedger(50.0, 1e-6, noise=noise, max_rows_per_entity=k)
    schema, _ = infer_schema_dp(frame, ledger=ledger, epsilon=5.0, target="y")
    transformer = DPTableTransformer().fit(frame, schema, ledger=ledger, epsilon=10.0, random_state=0)
    from tabsynth.marginals import measure_marginals

    measure_marginals(transformer.transform(frame), transformer, ledger=ledger, epsilon=5.0)
    return noise, ledger


def test_neighbour_adding_one_entity_moves_every_statistic_by_at_most_k(monkeypatch: pytest.MonkeyPatch) -> None:
    """D vs D + one entity of k identical rows (the worst case: all k rows in the same cells).

    Every released count vector changes by at most k in L1 (so at most k in L2), and every draw's
    noise std is k times the event's noise multiplier: the Gaussian mechanisms are calibrated to
    the entity. With zero noise the structure (kinds, keys) of both fits is the same.
    """
    k = 4
    rng = np.random.default_rng(0)
    base = pd.DataFrame(
        {
            "age": rng.integers(20, 80, 3000),
            "city": rng.choice(["north", "south", "east"], 3000),
            "y": rng.choice(["no", "yes"], 3000),
        }
    )
    extra = pd.DataFrame({"age": [40] * k, "city": ["north"] * k, "y": ["yes"] * k})
    seen = _released_counts(monkeypatch)
    noise_d, ledger_d = _fit_everything(base, k)
    n_first = len(seen)
    noise_n, ledger_n = _fit_everything(pd.concat([base, extra], ignore_index=True), k)
    first, second = seen[:n_first], seen[n_first:]
    assert [e.label for e in ledger_d.entries] == [e.label for e in ledger_n.entries]
    assert len(first) == len(second) and first
    changes = [int(np.abs(b.astype(np.int64) - a.astype(np.int64)).sum()) for a, b in zip(first, second, strict=True)]
    assert max(changes) == k  # the row count, for one, moves by exactly k
    assert all(c <= k for c in changes)
    # (the filter's pair-selection rounds are pure-DP events: they release a choice, not counts)
    multipliers = {e.event.noise_multiplier for e in ledger_d.entries if hasattr(e.event, "noise_multiplier")}
    assert all(any(math.isclose(s, m * k) for m in multipliers) for s in noise_d.sigmas)


def test_rows_per_entity_histogram_has_sensitivity_one() -> None:
    noise = ZeroNoise()
    ledger = PrivacyLedger(10.0, 1e-6, noise=noise, max_rows_per_entity=3)
    codes = np.array([0, 0, 1, 2, 2, 2])  # entities with 2, 1, 3 rows
    out = measure_rows_per_entity(codes, max_rows_per_entity=3, ledger=ledger, noise_multiplier=5.0)
    assert out.shares == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert out.n_entities_estimate == 3
    assert noise.sigmas == [5.0]  # sensitivity 1: each entity lies in one cell
    more = measure_rows_per_entity(
        np.append(codes, [3, 3, 3]), max_rows_per_entity=3, ledger=ledger, noise_multiplier=5.0
    )
    assert more.n_entities_estimate == 4 and more.shares[2] == pytest.approx(0.5)


def test_entity_noise_is_a_share_of_the_budget() -> None:
    sigma = entity_noise_for(1.0, 1e-6)
    assert 15 < sigma < 40
    ledger = PrivacyLedger(1.0, 1e-6)
    ledger.spend("h", GaussianEvent(noise_multiplier=sigma))
    assert ledger.spent()[0] < 0.3  # a small part of epsilon = 1


# ---- entity-level DP-SGD -----------------------------------------------------------------
def test_row_weights_are_one_over_the_entity_size() -> None:
    entities = torch.tensor([0, 0, 1, 2, 2, 2, 2])
    assert entity_row_weights(entities, 3).tolist() == pytest.approx([0.5, 0.5, 1.0, 0.25, 0.25, 0.25, 0.25])


def test_entity_poisson_sample_takes_whole_entities() -> None:
    entities = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4, 4])
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        rows = _entity_batch(entities, 5, 0.5, gen)
        chosen = set(entities[rows].tolist())
        assert sorted(rows.tolist()) == [i for i, e in enumerate(entities.tolist()) if e in chosen]


@pytest.mark.parametrize(("entity_level", "expected"), [(True, 1.0), (False, 4.0)])
def test_one_entity_sum_is_clipped_to_max_grad_norm(entity_level: bool, expected: float) -> None:
    """Four rows of one entity with huge aligned gradients: their clipped sum has norm C, not 4C."""
    torch.manual_seed(0)
    module = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        module.weight.zero_()
    inputs = torch.full((4, 2), 100.0)
    config = TrainingConfig(batch_size=2, max_grad_norm=1.0, learning_rate=1.0)
    optimizer = torch.optim.SGD(module.parameters(), lr=1.0)
    criterion = _Criterion(lambda out, rows: -out.squeeze(1))  # gradient -x per row, norm ~141
    model, dp_opt, dp_crit = _make_private(
        module, optimizer, criterion, 0.0, config, torch.Generator().manual_seed(0), entity_level=entity_level
    )
    rows = torch.arange(4)
    weights = entity_row_weights(torch.zeros(4, dtype=torch.long), 1) if entity_level else None
    _step(model, dp_opt, dp_crit, lambda m, r: m(inputs[r]), rows, row_weights=weights)
    step_norm = float(module.weight.detach().norm()) * config.batch_size  # SGD lr 1: -sum / expected batch
    assert step_norm == pytest.approx(expected, rel=1e-3)


# ---- fake entities -----------------------------------------------------------------------
def test_assign_entities_follows_the_distribution() -> None:
    rng = np.random.default_rng(0)
    labels = assign_entities(1000, RowsPerEntity((0.0, 1.0), 500.0), rng)
    assert len(labels) == 1000
    assert set(np.bincount(labels).tolist()) == {2}
    mixed = assign_entities(20_000, RowsPerEntity((0.5, 0.0, 0.5), 0.0), rng)
    sizes = np.bincount(np.bincount(mixed))[1:]
    assert sizes[0] / sizes.sum() == pytest.approx(0.5, abs=0.05)  # the last group may be cut
    assert sizes[1] <= 1


# ---- declaring the entity ----------------------------------------------------------------
def test_schema_entity_key_round_trip_and_roles() -> None:
    schema = TableSchema.from_dict({"entity": "pid", "target": "y", "columns": {"y": {"kind": "categorical"}}})
    assert schema.entity == "pid"
    assert TableSchema.from_dict(schema.to_dict()).entity == "pid"
    with pytest.raises(SchemaError, match="entity column"):
        TableSchema(columns=(ColumnSpec(name="y", kind=ColumnKind.CATEGORICAL),), target="y", entity="y")


def test_fit_refuses_bad_entities_before_spending() -> None:
    frame = _patients([2, 3, 1] * 20).assign(y=["a", "b"] * 60)
    synth = Synthesizer(epsilon=1.0)
    with pytest.raises(SchemaError, match="entity column 'nope' is not in the table"):
        synth.fit(frame, target="y", entity="nope")
    with pytest.raises(ConfigError, match="also the target"):
        synth.fit(frame, target="y", entity="y")
    with pytest.raises(ConfigError, match="max_rows_per_entity"):
        Synthesizer(epsilon=1.0, max_rows_per_entity=0).fit(frame, target="y", entity="pid")
    with pytest.raises(ConfigError, match="stratify=True"):
        Synthesizer(epsilon=1.0, stratify=True).fit(frame, target="y", entity="pid")


def test_entity_key_heuristics() -> None:
    assert looks_like_key_name("patient_id") and looks_like_key_name("CardNumber".replace("N", "_n"))
    assert not looks_like_key_name("card_type") and not looks_like_key_name("paid")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "patient_id": np.repeat(np.arange(100), 2),  # repeated: an entity key
            "test_id": np.arange(200),  # unique per row: one row per test, not an entity
            "region_id": rng.integers(1, 5, 200),  # few values: a code
        }
    )
    assert entity_key_candidates(frame) == ["patient_id"]


# ---- max_rows_per_entity="auto" ----------------------------------------------------------
def test_auto_bound_keeps_95_percent_of_rows() -> None:
    noise = ZeroNoise()
    ledger = PrivacyLedger(1e9, 1e-6, noise=noise, max_rows_per_entity=100)  # a tiny noise, accounted
    # 90 entities of 1 row, 10 of 2 rows, 1 of 30 rows (cell 21-30, counted at its midpoint 25.5):
    # 135.5 rows estimated; capped at 15 -> 125 (92%), at 20 -> 130 (95.9%): the bound is 20
    sizes = [1] * 90 + [2] * 10 + [30]
    codes = np.repeat(np.arange(len(sizes)), sizes)
    k, dist = choose_contribution_bound(codes, ledger=ledger, noise_multiplier=1e-3)
    assert k == 20
    assert dist.n_entities_estimate == 101
    assert len(dist.shares) == 20 and dist.shares[0] == pytest.approx(90 / 101)
    assert dist.shares[19] == pytest.approx(1 / 101)  # the entity above the bound is bounded to 20 rows
    sizes = [1] * 50 + [9] * 50  # cell 8-10 (midpoint 9) is spread evenly over 8, 9, 10
    k, dist = choose_contribution_bound(np.repeat(np.arange(100), sizes), ledger=ledger, noise_multiplier=1e-3)
    assert k == 10 and dist.shares[7:10] == pytest.approx((1 / 6, 1 / 6, 1 / 6))
    assert noise.sigmas == [1e-3, 1e-3]  # one histogram per call, sensitivity 1
    # mostly single rows: the bound stays small
    k_small, _ = choose_contribution_bound(
        np.repeat(np.arange(100), [1] * 97 + [2] * 3), ledger=ledger, noise_multiplier=1e-3
    )
    assert k_small == 1 or k_small == 2


def test_the_bound_can_only_be_tightened() -> None:
    ledger = PrivacyLedger(1.0, 1e-6, max_rows_per_entity=100)
    ledger.tighten_contribution_bound(5)
    assert ledger.sensitivity == 5
    with pytest.raises(PrivacyError, match="only be lowered"):
        ledger.tighten_contribution_bound(6)
    with pytest.raises(PrivacyError, match="only be lowered"):
        PrivacyLedger(1.0, 1e-6).tighten_contribution_bound(1)


@pytest.mark.slow
def test_entity_fit_ledger_matches_an_independent_accountant() -> None:
    """An entity-level fit's ledger, recomputed with Google's dp_accounting from its events' meaning."""
    import dp_accounting as dpa

    from tabsynth.privacy import DPSGDEvent
    from tabsynth.privacy.accountant import ORDERS

    rng = np.random.default_rng(0)
    sizes = np.minimum(rng.geometric(0.5, 400), 12)
    pid = np.repeat(np.arange(len(sizes)), sizes)
    frame = pd.DataFrame(
        {"pid": pid, "age": rng.integers(0, 90, len(sizes))[pid], "y": rng.choice(["a", "b"], len(pid))}
    )
    schema = TableSchema(
        columns=(
            ColumnSpec(name="age", kind=ColumnKind.INTEGER, bounds=(0, 90)),
            ColumnSpec(name="y", kind=ColumnKind.CATEGORICAL, categories=("a", "b")),
        ),
        target="y",
        entity="pid",
    )
    synth = Synthesizer(epsilon=3.0, epochs=1, random_state=0, max_rows_per_entity=6, stratify=False).fit(frame, schema)
    ledger = synth.ledger_
    assert ledger.unit == "entity" and ledger.sensitivity == 6
    theirs = dpa.rdp.RdpAccountant(list(ORDERS))
    for entry in ledger.entries:
        event = entry.event
        if isinstance(event, DPSGDEvent):  # entities Poisson-sampled at q, each entity's sum clipped to C
            assert synth.train_result_.noise_multiplier == event.noise_multiplier
            assert synth.train_result_.sample_rate == event.sample_rate
            inner = dpa.PoissonSampledDpEvent(event.sample_rate, dpa.GaussianDpEvent(event.noise_multiplier))
            theirs.compose(dpa.SelfComposedDpEvent(inner, event.steps))
        else:  # a Gaussian histogram: std = multiplier x (sensitivity of one entity)
            assert isinstance(event, GaussianEvent)
            theirs.compose(dpa.GaussianDpEvent(event.noise_multiplier))
    assert ledger.spent()[0] == pytest.approx(float(theirs.get_epsilon(1e-6)), rel=1e-3)
    assert ledger.spent()[0] <= 3.0
    sample = synth.sample(200, random_state=0)
    assert list(sample.columns) == ["pid", "age", "y"] and sample["pid"].value_counts().max() <= 6


# ---- tabsynth plan --suggest-bound: a DP-informed bound (issue 18) ----------------------
def test_suggested_bound_follows_the_auto_rule_on_a_hand_made_table() -> None:
    from tabsynth.entity import suggest_contribution_bound

    # 900 entities of 1 row, 100 of 2 (1,100 rows): a bound of 1 keeps 1,000 / 1,100 = 91% < 95%, so
    # the rule picks 2, which keeps every row. At epsilon 50 the histogram's noise is sigma 0.17
    # against a 3-sigma bar of 0.5, so the noisy cells round to the true ones.
    ids = pd.Series(np.r_[np.arange(900), np.repeat(np.arange(900, 1000), 2)])
    s = suggest_contribution_bound(ids, epsilon=50.0, delta=1e-6)
    assert s.max_rows_per_entity == 2 and s.rows_kept_share == pytest.approx(1.0, abs=0.01)
    assert (s.epsilon, s.delta) == (50.0, 1e-6)
    # One more entity of 200 rows lands in the last public cell (sensitivity 1, whatever its size).
    assert suggest_contribution_bound(pd.concat([ids, pd.Series([5000] * 200)]), epsilon=50.0, delta=1e-6)


def test_plan_suggests_a_bound_and_says_what_it_spent(tmp_path: object) -> None:
    from tabsynth.plan import plan_command_text

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"patient": np.repeat(np.arange(2000), 2), "x": rng.normal(size=4000)})
    frame = frame.assign(y=rng.choice(["a", "b"], len(frame)))
    path = f"{tmp_path}/t.csv"
    frame.to_csv(path, index=False)
    # epsilon 50 for the suggestion: noise sigma 0.17, so the suggestion is the exact rule's (at a
    # small epsilon a false cell of large entities, 0.13% per cell past its 3-sigma bar, moves it).
    text = plan_command_text(path, None, 1.0, 1e-6, "y", (), "patient", "auto", 50.0)
    assert "DP suggestion: max_rows_per_entity = 2" in text and "ON TOP of the fit's budget" in text
    assert "epsilon = 50" in text
    with pytest.raises(ConfigError, match="needs --entity"):
        plan_command_text(path, None, 1.0, 1e-6, "y", (), None, "auto", 0.1)


def test_suggested_bound_neighbour_moves_one_cell_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Neighbours: the same entities plus one more of 200 rows (past the last public cell). The one
    # histogram the suggestion releases must differ in one cell by one, under a secret-noise ledger.
    import tabsynth.entity as entity_module

    seen: list[tuple[np.ndarray, bool]] = []
    real = entity_module.noisy_histogram

    def spy(counts: np.ndarray, **kw: object) -> np.ndarray:
        ledger = kw["ledger"]
        assert isinstance(ledger, PrivacyLedger)
        seen.append((np.asarray(counts).copy(), ledger.noise.is_secure))
        return real(counts, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(entity_module, "noisy_histogram", spy)
    ids = pd.Series(np.r_[np.arange(900), np.repeat(np.arange(900, 1000), 2)])
    entity_module.suggest_contribution_bound(ids, epsilon=1.0, delta=1e-6)
    entity_module.suggest_contribution_bound(pd.concat([ids, pd.Series([5000] * 200)]), epsilon=1.0, delta=1e-6)
    (a, secure_a), (b, secure_b) = seen
    assert secure_a and secure_b  # fresh secret keys: nothing written can replay the draw
    assert np.abs(b - a).sum() == 1 and np.abs(b - a).max() == 1
