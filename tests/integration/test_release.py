"""The gated release pipeline end to end on the bundled Adult sample, and the release policies'
must-hold cases (holdout passes; copies, erased labels and shuffled columns fail, naming the rule)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig, run_audit
from tabsynth.demo import demo_table_path
from tabsynth.exceptions import ConfigError
from tabsynth.pipeline import release
from tabsynth.policy import Verdict, evaluate_policy, load_policy

AUDIT = {"n_attacks": 300, "mia_rows": 1000, "detection_rows": 2000, "n_bootstrap": 50}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_parquet(demo_table_path()).sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def small_csv(adult: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "adult_small.csv"
    adult.iloc[:2500].to_csv(path, index=False)
    return path


def _config(tmp: Path, data: Path, **overrides: object) -> Path:
    config = {
        "input": str(data),
        "output": "release",
        "target": "income",
        "sensitive": ["sex"],
        "holdout": 0.3,
        "epsilon": 3.0,
        "epochs": 2,
        "policy": "internal",
        "formats": ["parquet", "csv"],
        "audit": AUDIT,
        **overrides,
    }
    path = tmp / "release.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def released(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("rel")
    result = release(_config(tmp, small_csv))
    assert result.released, result.decision.to_dict()
    return result.path


def test_release_writes_a_complete_bundle_whose_hashes_match(released: Path, small_csv: Path) -> None:
    manifest = json.loads((released / "manifest.json").read_text())
    assert manifest["released"] and manifest["verdict"] in ("PASS", "CONDITIONAL")
    expected = {"synthetic.parquet", "synthetic.csv", "audit.json", "report.html", "report.json"}
    assert expected <= set(manifest["files"])
    assert any(name.startswith("model/") for name in manifest["files"])
    for name, digest in manifest["files"].items():
        assert _sha(released / name) == digest, name
    # No plain digest of the private file (confirmation attacks); a keyed one only with a curator key.
    assert "sha256" not in manifest["input"] and "withheld" in manifest["input"]["digest"]
    assert _sha(small_csv) not in json.dumps(manifest)
    assert manifest["config"]["sha256"] == _sha(released.parent / "release.yaml")
    assert manifest["policy"]["sha256"] == load_policy("internal").sha256
    assert manifest["model"]["sha256"] == _sha(released / "model" / "weights.safetensors")
    assert manifest["privacy"]["is_dp"] and manifest["privacy"]["epsilon"] <= 3.0 + 1e-9
    assert manifest["privacy"]["ledger"]["entries"]
    assert {r["metric"] for r in manifest["gate"]["rules"]} == {r.metric for r in load_policy("internal").rules}
    assert manifest["tabsynth_version"] and manifest["created_at"].endswith("+00:00")
    synthetic = pd.read_parquet(released / "synthetic.parquet")
    assert len(synthetic) > 1000 and "income" in synthetic.columns
    assert not [p for p in released.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_a_rerun_never_overwrites_silently(released: Path) -> None:
    from tabsynth.cli.main import run

    before = _sha(released / "manifest.json")
    assert run(["release", str(released.parent / "release.yaml")]) == 2
    assert _sha(released / "manifest.json") == before


def test_a_blocked_release_writes_no_table_and_exits_4(small_csv: Path, tmp_path: Path) -> None:
    from tabsynth.cli.main import run

    policy = tmp_path / "strict.yaml"
    policy.write_text("name: strict\nrules:\n  - {metric: fidelity.quality, min: 0.999, rationale: impossible}\n")
    config = _config(tmp_path, small_csv, policy=str(policy), output=str(tmp_path / "out"))
    assert run(["release", str(config)]) == 4
    out = tmp_path / "out"
    names = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    assert names == {"audit.json", "report.html", "report.json", "manifest.json"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verdict"] == "FAIL" and not manifest["released"]
    assert manifest["gate"]["rules"][0]["outcome"] == "fail" and manifest["gate"]["rules"][0]["advice"]
    # the shareable manifest holds pass/fail per rule, never the judged values of real-data metrics
    assert "judged_value" not in json.dumps(manifest["gate"]) and "value" not in manifest["gate"]["rules"][0]
    assert "BLOCKED" in (out / "report.html").read_text()
    release_meta = json.loads((out / "audit.json").read_text())["meta"]["release"]
    assert release_meta["status"] == "BLOCKED" and release_meta["failing_rules"][0]["metric"] == "fidelity.quality"
    assert release_meta["failing_rules"][0]["advice"]
    assert run(["release", str(config), "--overwrite"]) == 4  # --overwrite replaces the blocked folder


def test_an_interrupted_release_leaves_nothing(
    small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tabsynth.pipeline as pipeline

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        release(_config(tmp_path, small_csv, output=str(tmp_path / "out")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release.yaml"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epsilonn": 1.0}, "epsilonn: unknown key"),
        ({"holdout": 0.999}, "holdout=0.999 leaves too few rows"),
        ({"holdout": 500}, "holdout: Input should be less than 1"),
        ({"target": None}, "set 'target'"),
        ({"policy": "partnr"}, "Policy 'partnr' not found"),
        ({"audit": {"n_atacks": 3}}, "Invalid 'audit' settings"),
        ({"formats": []}, "at least one output format"),
    ],
)
def test_bad_configs_fail_fast_with_exit_2(
    small_csv: Path, tmp_path: Path, overrides: dict, message: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    from tabsynth.cli.main import run

    config = _config(tmp_path, small_csv, output=str(tmp_path / "out"), **overrides)
    assert run(["release", str(config)]) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")
    assert not (tmp_path / "out").exists()


def test_release_from_python_with_a_mapping(small_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="input: Field required"):
        release({"output": str(tmp_path / "x")})


def test_gate_rejudges_an_audit(released: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tabsynth.cli.main import run

    assert run(["gate", str(released / "audit.json"), "--policy", "internal", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["policy"]["name"] == "internal" and decision["released"]
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: s\nrules:\n  - {metric: privacy.epsilon, max: 0.1, rationale: tiny}\n")
    assert run(["gate", str(released / "audit.json"), "--policy", str(strict)]) == 4  # epsilon read from the audit
    assert run(["gate", str(tmp_path / "missing.json"), "--policy", "internal"]) == 2


# ---- the partner policy's must-hold cases ---------------------------------------------------------
@pytest.fixture(scope="module")
def split(adult: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return adult.iloc[:12000], adult.iloc[12000:18000], adult.iloc[18000:26000].reset_index(drop=True)


def _judge(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, str]:
    report = run_audit(
        train,
        synthetic,
        holdout=holdout,
        target="income",
        sensitive=["sex", "race"],
        epsilon_claimed=1.0,
        config=AuditConfig(mia_rows=2000, detection_rows=4000),  # default attack sizes: their intervals matter
    )
    decision = evaluate_policy(load_policy("partner"), report, privacy={"epsilon": 1.0, "delta": 1e-6, "is_dp": True})
    return {"verdict": decision.verdict.value, **{o.rule.metric: o.outcome.value for o in decision.outcomes}}


def _failed(outcomes: dict[str, str]) -> set[str]:
    return {metric for metric, outcome in outcomes.items() if outcome == "fail"}


def test_a_real_holdout_passes_the_partner_policy(split: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, unseen = split
    outcomes = _judge(train, unseen, holdout)
    assert outcomes["verdict"] == Verdict.PASS.value, _failed(outcomes)


def test_a_copy_of_the_training_rows_fails_on_privacy(split: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, _ = split
    failed = _failed(_judge(train, train.iloc[:8000].reset_index(drop=True), holdout))
    assert {"privacy.exact_match_rate", "privacy.dcr_share", "privacy.mia_auc"} <= failed
    assert all(m.startswith("privacy.") for m in failed)


def test_erasing_one_sexs_positive_label_fails_on_fairness(split: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, unseen = split
    biased = unseen.copy()
    biased.loc[biased["sex"] == "Female", "income"] = "<=50K"
    failed = _failed(_judge(train, biased, holdout))
    assert failed and all(m.startswith("fairness.") for m in failed), failed
    assert "fairness.downstream_eo_gap" in failed


def test_shuffled_columns_fail_on_fidelity(split: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, unseen = split
    rng = np.random.default_rng(0)
    shuffled = unseen.apply(lambda col: pd.Series(rng.permutation(col.to_numpy()), name=col.name))
    failed = _failed(_judge(train, shuffled, holdout))
    assert "fidelity.tstr_auc" in failed, failed


def test_the_example_release_config_is_valid() -> None:
    from tabsynth.pipeline import load_release_config

    config, digest = load_release_config(Path(__file__).resolve().parents[2] / "examples" / "release_adult.yaml")
    assert config.input.is_file() and config.table_schema is not None and config.table_schema.is_file()
    assert config.policy == "partner" and config.epsilon == 1.0 and len(digest) == 64


@pytest.mark.filterwarnings("ignore::tabsynth.exceptions.PrivacyWarning")
def test_keyed_input_digest_needs_the_curator_key(small_csv: Path, tmp_path: Path) -> None:
    import hmac

    key = tmp_path / "curator.key"
    key.write_bytes(b"0123456789abcdef-secret")
    result = release(_config(tmp_path, small_csv, curator_key=str(key), epsilon=None))
    manifest = json.loads((result.path / "manifest.json").read_text())
    expected = hmac.new(b"0123456789abcdef-secret", small_csv.read_bytes(), hashlib.sha256).hexdigest()
    assert manifest["input"]["hmac_sha256"] == expected


def test_budget_store_refuses_past_the_lifetime_before_reading(small_csv: Path, tmp_path: Path) -> None:
    from tabsynth.exceptions import BudgetExceededError
    from tabsynth.privacy.store import BudgetStore

    store = tmp_path / "budget.json"
    BudgetStore(store).reserve("earlier release", epsilon=2.5, delta=1e-6, lifetime_epsilon=4.0)
    missing = tmp_path / "not-there.csv"  # the refusal must come before the data is read
    config = _config(tmp_path, missing, budget_store=str(store), lifetime_epsilon=4.0, epsilon=3.0)
    with pytest.raises(BudgetExceededError, match="earlier release") as info:
        release(config)
    assert "2.5 of its lifetime epsilon 4" in str(info.value)
    assert not (tmp_path / "release").exists()
    assert len(BudgetStore(store).releases()) == 1


def test_budget_store_counts_a_failed_release(small_csv: Path, tmp_path: Path) -> None:
    from tabsynth.exceptions import DataError
    from tabsynth.privacy.store import BudgetStore

    store = tmp_path / "budget.json"
    config = _config(tmp_path, tmp_path / "missing.csv", budget_store=str(store), lifetime_epsilon=4.0)
    with pytest.raises(DataError):
        release(config)
    [record] = BudgetStore(store).releases()
    assert record.epsilon == 3.0 and record.status == "failed"  # a crash still spent its reservation
