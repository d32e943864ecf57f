"""``tabsynth audit-dp``: the JSON contract, exit codes, nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabsynth.cli.main import run
from tests.conftest import make_frame

KEYS = ("epsilon_lower_bound", "epsilon_claimed", "confidence", "canaries", "guesses", "correct")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.csv"
    make_frame(600, seed=4).to_csv(path, index=False)
    return path


def _audit(data: Path, out: Path, *extra: str) -> int:
    return run(["audit-dp", str(data), "--target", "label", "--out", str(out), "--epochs", "2", "--seed", "0", *extra])


def test_no_dp_audit_writes_the_contract_keys(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    assert _audit(data, out, "--epsilon", "none", "--canaries", "30") == 0
    result = json.loads(out.read_text())
    assert set(KEYS) <= set(result)
    assert result["epsilon_claimed"] is None and result["canaries"] == 30 and result["confidence"] == 0.95
    assert 0 <= result["correct"] <= result["guesses"] <= 30
    assert result["abstained"] == 30 - result["guesses"]
    assert result["epsilon_lower_bound"] >= 0 and result["internal"] is True and "INTERNAL" in result["notice"]
    assert 0 <= result["included"] <= 30
    assert "rows" not in json.dumps(result["tried"])  # the grid only: k, guesses, correct, bound


def test_dp_audit_records_the_claim(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    assert _audit(data, out, "--epsilon", "8", "--canaries", "20", "--delta", "1e-5") == 0
    result = json.loads(out.read_text())
    assert result["epsilon_claimed"] == 8.0 and result["delta"] == 1e-5
    assert 0 < result["epsilon_spent"] <= 8.0 + 1e-9
    assert result["epsilon_lower_bound"] <= 8.0  # 20 canaries cannot prove more than about 2


@pytest.mark.parametrize(
    "extra",
    [
        ("--epsilon", "none", "--canaries", "1"),
        ("--epsilon", "0", "--canaries", "20"),
        ("--epsilon", "lots", "--canaries", "20"),
        ("--epsilon", "1", "--canaries", "20", "--model", "dp-ctgan"),
        ("--epsilon", "1", "--canaries", "20", "--confidence", "1.5"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...]
) -> None:
    out = tmp_path / "audit.json"
    assert _audit(data, out, *extra) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_unknown_target_and_existing_out_exit_2(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    code = run(["audit-dp", str(data), "--target", "nope", "--epsilon", "1", "--canaries", "20", "--out", str(out)])
    assert code == 2 and not out.exists()
    out.write_text("{}")
    assert _audit(data, out, "--epsilon", "none", "--canaries", "20") == 2
    assert out.read_text() == "{}"


def test_audit_dp_help_does_not_load_torch() -> None:
    from tests.integration.test_cli_basics import _HEAVY, _modules_after

    code, modules, out = _modules_after(["audit-dp", "--help"])
    assert code == 0 and "--canaries" in out
    assert not modules & set(_HEAVY)


@pytest.mark.slow
def test_the_audit_has_power_without_dp() -> None:
    """Without DP the exact category list names the canaries trained on: the bound must clear 1."""
    import warnings

    from tabsynth.canary_audit import audit_dp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = audit_dp(make_frame(500, seed=5), target="label", epsilon=None, canaries=200, epochs=5, random_state=0)
    assert result.epsilon_lower_bound > 1.0, result.to_dict()
