"""Sharing a medical cohort under the strict medical policy (flchain).

The serum free light chain cohort (7,874 people; target ``death``; sensitive ``sex`` and
``age``) goes through the gated release pipeline with DP-TVAE at epsilon = 1, delta = 1e-6 and
``policies/medical.yaml`` (leakage <= 0.53, tight fairness bounds, CONDITIONAL does not
release). ``futime`` and ``chapter`` describe the death itself (follow-up time, cause) and are
dropped before release, as a data steward would.

    python examples/medical_sharing.py [--data ../shared/datasets/flchain.csv] [--out reports/flchain]

Prints the verdict, the privacy spent and where the release (or the blocked report) went.
The strict policy may well block a cohort this small at epsilon = 1: read the report's advice.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from tabsynth.pipeline import ReleaseConfig, ReleaseResult, release

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "flchain.csv"
LEAKY = ("futime", "chapter")


def main(argv: list[str] | None = None) -> ReleaseResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--target", default="death")
    parser.add_argument("--sensitive", nargs="*", default=["sex", "age"])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "flchain-release")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    frame = pd.read_csv(args.data).drop(columns=[c for c in LEAKY if c in pd.read_csv(args.data, nrows=0).columns])
    frame[args.target] = frame[args.target].astype(str)  # 0/1 outcome as a category
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "cohort.parquet"
        frame.to_parquet(prepared)
        config = ReleaseConfig(
            input=prepared,
            output=args.out,
            target=args.target,
            sensitive=tuple(args.sensitive),
            holdout=0.3,
            epsilon=args.epsilon,
            delta=1e-6,
            epochs=args.epochs,
            policy="medical",
            formats=("csv",),
            report={"audience": "partner"},
        )
        result = release(config, overwrite=args.overwrite)
    print(f"verdict {result.decision.verdict.value}; epsilon spent {result.privacy['epsilon']:.3f}, delta 1e-6")
    for failure in result.decision.failures:
        print(f"  - {failure.summary}")
    state = "released to" if result.released else "BLOCKED; audit and report in"
    print(f"{state} {result.path}")
    return result


if __name__ == "__main__":
    main()
