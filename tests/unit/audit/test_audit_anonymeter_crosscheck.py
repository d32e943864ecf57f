"""Cross-check of the native singling-out, linkability and inference risks against anonymeter.

anonymeter pins numpy < 1.27, so it is not in the project's environment and this test is
skipped there. To run it: ``python -m venv /tmp/anon-venv && /tmp/anon-venv/bin/pip install
anonymeter torch pyyaml pytest``, then from the repository root ``PYTHONPATH=.
/tmp/anon-venv/bin/python -m pytest -m slow tests/unit/audit/test_audit_anonymeter_crosscheck.py``.
docs/audit.md quotes the numbers.

To compare like with like, every row is attacked (``n_attacks`` = all rows, so neither side
samples targets) and the singling-out query space is searched exhaustively (both find every
isolating predicate). The success counts must then agree: exactly for linkability and
singling out, within 1% of the targets for inference (ties between equally distant
synthetic rows are broken differently), and the risks within their confidence intervals.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig
from tabsynth.audit._data import prepare
from tabsynth.audit.privacy import draw_samples
from tabsynth.audit.risks import inference_risk, linkability_risk, singling_out_risk

from .conftest import perturbed_copy, population

N_ROWS = 1000
MAX_ATTEMPTS = 200_000
COLUMNS = ["age", "income", "group", "region", "hours"]
AUX = (("age", "group", "hours"), ("income", "region"))
SECRET = "group"


def tables(kind: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Training, holdout and synthetic tables; "leaky" synthetic rows are noisy training rows."""
    train = population(N_ROWS, seed=11)[COLUMNS]
    holdout = population(N_ROWS, seed=12)[COLUMNS]
    synth = perturbed_copy(train, seed=13, cell_share=0.3) if kind == "leaky" else population(N_ROWS, seed=14)
    return train, holdout, synth[COLUMNS]


def anonymeter_counts(train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame) -> dict[str, Any]:
    """(successes, control successes, risk, ci) per attack, from anonymeter itself."""
    evaluators = pytest.importorskip("anonymeter.evaluators")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        so = evaluators.SinglingOutEvaluator(
            ori=train, syn=synth, control=holdout, n_attacks=N_ROWS, n_cols=3, seed=0, max_attempts=MAX_ATTEMPTS
        ).evaluate(mode="multivariate")
        link = evaluators.LinkabilityEvaluator(
            ori=train, syn=synth, control=holdout, n_attacks=N_ROWS, aux_cols=(list(AUX[0]), list(AUX[1]))
        ).evaluate(n_jobs=1)
        inf = evaluators.InferenceEvaluator(
            ori=train,
            syn=synth,
            control=holdout,
            n_attacks=N_ROWS,
            secret=SECRET,
            aux_cols=[c for c in COLUMNS if c != SECRET],
        ).evaluate(n_jobs=1)
        out = {}
        for name, ev in (("singling_out", so), ("linkability", link), ("inference", inf)):
            res, risk = ev.results(), ev.risk()
            out[name] = (int(res.n_success), int(round(res.n_control)), risk.value, risk.ci)
    return out


def native_counts(train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame) -> dict[str, Any]:
    """The same four numbers from tabsynth's native attacks."""
    config = AuditConfig(
        n_attacks=N_ROWS,
        singling_out_n_cols=3,
        singling_out_max_attempts=MAX_ATTEMPTS,
        linkability_aux_cols=AUX,
        inference_secrets=(SECRET,),
    )
    data = prepare(train, synth, holdout=holdout, target=SECRET, sensitive=(), schema=None, config=config)
    samples = draw_samples(data, config, np.random.default_rng(0))
    out = {}
    for name, attack in (
        ("singling_out", singling_out_risk),
        ("linkability", linkability_risk),
        ("inference", inference_risk),
    ):
        result = attack(data, samples, config, np.random.default_rng(0))
        d = result.details
        out[name] = (int(d["n_success"]), int(d["n_control_success"]), result.value, result.ci)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["leaky", "fresh"])
def test_native_attacks_agree_with_anonymeter(kind: str) -> None:
    pytest.importorskip("anonymeter")
    frames = tables(kind)
    theirs, ours = anonymeter_counts(*frames), native_counts(*frames)
    for name in ("singling_out", "linkability"):
        assert ours[name][:2] == theirs[name][:2], (name, ours[name], theirs[name])
    assert abs(ours["inference"][0] - theirs["inference"][0]) <= 0.01 * N_ROWS
    assert abs(ours["inference"][1] - theirs["inference"][1]) <= 0.01 * N_ROWS
    for name in ours:
        (_, _, v1, ci1), (_, _, v2, ci2) = ours[name], theirs[name]
        assert ci1[0] <= v2 <= ci1[1] and ci2[0] <= v1 <= ci2[1], (name, ours[name], theirs[name])
