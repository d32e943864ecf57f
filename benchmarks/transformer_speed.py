"""Time the DP table transformer's fit + transform (+ inverse) on a wide 1M-row table.

Usage: python benchmarks/transformer_speed.py [--rows 1000000] [--cols 50]
Prints JSON with the timings; numbers are quoted in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from tabsynth.privacy import PrivacyLedger
from tabsynth.schema import infer_schema
from tabsynth.transform import DPTableTransformer


def make_table(n_rows: int, n_cols: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for j in range(n_cols):
        kind = j % 5
        if kind in (0, 1):  # continuous, skewed
            cols[f"num{j}"] = rng.lognormal(3, 1, n_rows)
        elif kind == 2:  # integer with an atom at 0
            cols[f"int{j}"] = np.where(rng.random(n_rows) < 0.6, 0, rng.integers(1, 5000, n_rows))
        elif kind == 3:  # categorical, 12 levels, skewed
            cols[f"cat{j}"] = rng.choice([f"level{i}" for i in range(12)], n_rows, p=np.arange(12, 0, -1) / 78)
        else:  # categorical with nulls and a long tail
            v = rng.choice([f"v{i}" for i in range(200)], n_rows).astype(object)
            v[rng.random(n_rows) < 0.05] = None
            cols[f"tail{j}"] = v
    return pd.DataFrame(cols)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    args = parser.parse_args()
    frame = make_table(args.rows, args.cols)
    t0 = time.perf_counter()
    schema = infer_schema(frame)
    t1 = time.perf_counter()
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    transformer = DPTableTransformer().fit(frame, schema, ledger=ledger, epsilon=0.1, random_state=0)
    t2 = time.perf_counter()
    encoded = transformer.transform(frame)
    t3 = time.perf_counter()
    transformer.inverse_transform(encoded)
    t4 = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": args.rows,
                "cols": args.cols,
                "infer_s": round(t1 - t0, 2),
                "fit_s": round(t2 - t1, 2),
                "transform_s": round(t3 - t2, 2),
                "fit_plus_transform_s": round(t3 - t1, 2),
                "inverse_s": round(t4 - t3, 2),
                "epsilon_spent": round(ledger.spent()[0], 4),
                "mechanisms": len(ledger.entries),
                "encoded_mb": round((encoded.slots.nbytes + encoded.positions.nbytes) / 2**20, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
