"""Size (and render time) of the HTML report for a full Adult audit.

Usage (from the repository root, with the shared datasets folder next to it)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/report_size.py                    # quick DP-TVAE, eps=1
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/report_size.py --synthetic holdout  # no model: real rows

``dp-tvae``: adult_train.csv (32,561 rows) trains a DP-TVAE at epsilon = 1 for a few epochs
(``--epochs``, default 5) and as many synthetic rows are sampled; adult_test.csv (16,281
rows) is the holdout. ``holdout``: half of adult_test.csv plays the synthetic table and the
other half the holdout (a size check without a model). The audit runs with sensitive sex,
race and age, and both audiences' reports (and the audit JSON) are written to ``--out-dir``
(default ``reports/``, git-ignored). Prints one JSON line. This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from tabsynth.audit import run_audit
from tabsynth.io import read_table
from tabsynth.report import write_report

DATA = Path(os.environ.get("TABSYNTH_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
if not (DATA / "adult_train.csv").exists():
    DATA = Path("/work/shared/datasets")
TARGET, SENSITIVE = "income", ("sex", "race", "age")


def _dp_tvae(train: pd.DataFrame, epochs: int) -> tuple[pd.DataFrame, dict[str, Any], float]:
    from tabsynth.synthesizers import Synthesizer

    synth = Synthesizer("dp-tvae", epsilon=1.0, delta=1e-5, random_state=0, epochs=epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit(train, None, target=TARGET, sensitive=["sex", "race"])
    return synth.sample(len(train), random_state=1), synth.privacy_card(), 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", choices=["dp-tvae", "holdout"], default="dp-tvae")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, default=Path("reports"))
    args = parser.parse_args()
    train, test = read_table(DATA / "adult_train.csv"), read_table(DATA / "adult_test.csv")
    started = time.perf_counter()
    privacy: dict[str, Any] | None = None
    epsilon: float | None = None
    if args.synthetic == "dp-tvae":
        synthetic, privacy, epsilon = _dp_tvae(train, args.epochs)
        holdout = test
    else:
        shuffled = test.sample(frac=1.0, random_state=0).reset_index(drop=True)
        synthetic, holdout = shuffled.iloc[: len(test) // 2], shuffled.iloc[len(test) // 2 :]
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    audit = run_audit(train, synthetic, holdout=holdout, target=TARGET, sensitive=SENSITIVE, epsilon_claimed=epsilon)
    audit_s = time.perf_counter() - started
    sizes: dict[str, Any] = {}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for audience in ("internal", "partner"):
        started = time.perf_counter()
        html, js = write_report(
            args.out_dir / f"adult-{args.synthetic}-{audience}.html", audit=audit, privacy=privacy, audience=audience
        )
        sizes[audience] = {
            "html_bytes": html.stat().st_size,
            "json_bytes": js.stat().st_size,
            "render_s": round(time.perf_counter() - started, 3),
            "path": str(html),
        }
    audit_json = len(audit.to_json())
    (args.out_dir / f"adult-{args.synthetic}-audit.json").write_text(audit.to_json(), encoding="utf-8")
    figures_json = len(json.dumps(audit.to_dict()["figures"]))
    result = {
        "benchmark": "report_size",
        "synthetic": args.synthetic,
        "n_rows": audit.meta["n_rows"],
        "fit_s": round(fit_s, 1),
        "audit_s": round(audit_s, 1),
        "figures_s": audit.meta["seconds"].get("figures"),
        "audit_json_bytes": audit_json,
        "figures_json_bytes": figures_json,
        "n_figures": len(audit.figures),
        "reports": sizes,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
