"""One metric catalog feeds the runner, the policy schema, the gate and the report; the policy package is light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tabsynth.audit import CATALOG, METRIC_NAMES
from tabsynth.policy import METRICS
from tabsynth.policy.gate import _advice
from tabsynth.policy.model import Rule
from tabsynth.report._document import METRIC_LABELS

REPO = Path(__file__).resolve().parents[3]


def test_every_consumer_reads_the_catalog() -> None:
    audit_metrics = [name for name, info in CATALOG.items() if info.source == "audit"]
    assert list(METRIC_NAMES) == audit_metrics
    assert set(METRICS) == set(CATALOG)
    for name, info in CATALOG.items():
        assert METRICS[name].direction is info.direction and (METRICS[name].low, METRICS[name].high) == (
            info.low,
            info.high,
        )
        assert METRIC_LABELS[name] == info.label and info.fix and info.computable
        bound = "min" if info.direction.value == "higher_is_better" else "max"
        rule = Rule.model_validate(
            {"metric": name, bound: info.low if bound == "min" else max(info.low, 0.0)} | {"rationale": "r"}
        )
        assert _advice(rule) == info.fix


def test_importing_the_policy_package_loads_no_torch_sklearn_or_fairlearn() -> None:
    code = (
        "import json, sys; import tabsynth.policy; "
        "print(json.dumps([m for m in ('torch', 'sklearn', 'fairlearn') if m in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
