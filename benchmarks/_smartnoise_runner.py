"""Fit one SmartNoise synthesizer and write its synthetic table; run by ``benchmarks/peers.py``.

Runs inside SmartNoise's own virtual environment (its pins, opacus 0.14 and mbi < 2, conflict
with tabsynth's), so it imports nothing from tabsynth or the judge:

    /tmp/sn-venv/bin/python benchmarks/_smartnoise_runner.py --train train.csv --system mst \
        --epsilon 1 --out-csv synth.csv --out-json timing.json [--n-rows N] [--threads 2]

Categorical columns are the non-numeric ones; numeric columns are declared continuous, so
SmartNoise infers their bounds with ``--preprocessor-share`` of epsilon (its default transformer
bins them into 10 bins for MST/AIM and min-max scales them for DPCTGAN); the rest is the
synthesizer's. Missing categories enter as the token ``__missing__`` and leave as NaN.
The epsilon DPCTGAN reports is computed by opacus 0.14 as if batches were Poisson-sampled;
SmartNoise draws shuffled fixed-size batches, so that epsilon is not a proven bound for what runs.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

MISSING = "__missing__"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--system", required=True, choices=["dpctgan", "mst", "aim"])
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--preprocessor-share", type=float, default=0.1)
    parser.add_argument("--n-rows", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-csv", required=True)
    parser.add_argument("--out-json", required=True)
    args = parser.parse_args()

    import torch
    from snsynth import Synthesizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002 (SmartNoise draws from the legacy global RNG)
    train = pd.read_csv(args.train)
    categorical = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])]
    continuous = [c for c in train.columns if c not in categorical]
    data = train.copy()
    for c in categorical:
        data[c] = data[c].fillna(MISSING).astype(str)
    if data[continuous].isna().any().any():
        raise SystemExit("numeric columns with missing values are not handled by this runner")

    kwargs: dict = {"verbose": False}
    if args.system == "dpctgan":
        kwargs |= {"cuda": False, "delta": args.delta}
    else:
        kwargs |= {"delta": args.delta}
    synth = Synthesizer.create(args.system, epsilon=args.epsilon, **kwargs)
    preprocessor_eps = args.preprocessor_share * args.epsilon
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit(
            data,
            categorical_columns=categorical,
            continuous_columns=continuous,
            preprocessor_eps=preprocessor_eps,
        )
    fit_s = time.perf_counter() - started
    n_rows = args.n_rows or len(train)
    started = time.perf_counter()
    sampled = synth.sample(n_rows)
    sample_s = time.perf_counter() - started
    synthetic = pd.DataFrame(sampled if isinstance(sampled, pd.DataFrame) else list(sampled))
    if not isinstance(sampled, pd.DataFrame):
        synthetic.columns = list(train.columns)
    synthetic = synthetic[list(train.columns)]
    for c in categorical:
        synthetic[c] = synthetic[c].astype(object).where(synthetic[c].astype(str) != MISSING, np.nan)
    synthetic.to_csv(args.out_csv, index=False)
    info = {
        "fit_s": round(fit_s, 2),
        "sample_s": round(sample_s, 3),
        "sample_rows_per_s": round(n_rows / sample_s) if sample_s > 0 else None,
        "preprocessor_eps": preprocessor_eps,
        "epsilon_requested": args.epsilon,
        "delta": args.delta,
        "threads": args.threads,
    }
    if args.system == "dpctgan":
        gan = getattr(synth, "gan", synth)
        eps_list = getattr(gan, "epsilon_list", None)
        if eps_list:
            info["epsilon_reported_by_opacus"] = float(eps_list[-1])
            info["epochs_run"] = len(eps_list)
    print(json.dumps(info), flush=True)
    with open(args.out_json, "w") as fh:
        json.dump(info, fh)


if __name__ == "__main__":
    main()
