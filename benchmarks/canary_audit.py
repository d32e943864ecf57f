"""The one-run canary audit (``tabsynth audit-dp``) on real tables: validity at epsilon 1 and 3, power without DP.

Usage (from the repo root, with the shared folder next to it):

    python benchmarks/canary_audit.py [--tables credit_default,adult] [--epsilons 1,3,none]
        [--seeds 0,1,2] [--canaries 200] [--adult-rows 8000] [--no-dp-epochs 0] [--schema]
        [--out benchmarks/results/canary_audit.json]

Each run calls :func:`tabsynth.canary_audit.audit_dp` exactly as the command does: fresh
canaries, secret coins, one fit with the ``fit`` defaults (DP-TVAE), the three scores.
credit_default is the 70% training split of the shared convention (stratified on the target,
``random_state=0``); Adult is a seeded subsample of ``adult_train.csv`` (``--adult-rows``, 0 for
all 32,561 rows). Without DP the fit runs ``--no-dp-epochs`` epochs (0: the default 30).
``--schema`` declares the benchmark schema (closed category lists: no canary value of its own,
so only the loss scores can find members). Appends one JSON line per run to ``--out``; the
summary is in docs/audit.md ("Measured: the canary audit").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import pandas as pd

from tabsynth.canary_audit import audit_dp
from tabsynth.schema import load_schema

DATA = Path(os.environ.get("TABSYNTH_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
if not (DATA / "adult_train.csv").exists():
    DATA = Path("/work/shared/datasets")
HERE = Path(__file__).resolve().parent


def _table(name: str, adult_rows: int) -> tuple[pd.DataFrame, str, tuple[str, ...], Path | None]:
    if name == "credit_default":
        from sklearn.model_selection import train_test_split

        frame = pd.read_csv(DATA / "credit_default.csv")
        train, _ = train_test_split(frame, test_size=0.3, stratify=frame["default"], random_state=0)
        return train.reset_index(drop=True), "default", ("student",), HERE / "schema_credit_default.yaml"
    if name == "adult":
        frame = pd.read_csv(DATA / "adult_train.csv")
        if adult_rows and adult_rows < len(frame):
            frame = frame.sample(adult_rows, random_state=0)
        return frame.reset_index(drop=True), "income", ("sex", "race"), HERE / "schema_adult.yaml"
    raise SystemExit(f"unknown table {name!r}: credit_default or adult")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="credit_default,adult")
    parser.add_argument("--epsilons", default="1,3,none")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--no-dp-seeds", default="0", help="Seeds of the runs without DP.")
    parser.add_argument("--canaries", type=int, default=200)
    parser.add_argument("--adult-rows", type=int, default=8000)
    parser.add_argument("--no-dp-epochs", type=int, default=0, help="Epochs without DP (0: the fit default).")
    parser.add_argument("--schema", action="store_true", help="Pass the benchmark schema (declared domain).")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "canary_audit.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name in args.tables.split(","):
        frame, target, sensitive, schema_path = _table(name, args.adult_rows)
        schema = load_schema(schema_path) if args.schema and schema_path is not None else None
        for raw in args.epsilons.split(","):
            epsilon = None if raw == "none" else float(raw)
            seeds = args.no_dp_seeds if epsilon is None else args.seeds
            for seed in (int(s) for s in seeds.split(",")):
                result = audit_dp(
                    frame,
                    target=target,
                    epsilon=epsilon,
                    canaries=args.canaries,
                    schema=schema,
                    sensitive=sensitive,
                    epochs=args.no_dp_epochs if epsilon is None and args.no_dp_epochs else None,
                    random_state=seed,
                )
                record = {"table": name, "seed": seed, "schema": schema is not None, **result.to_dict()}
                record.pop("notice", None)
                record.pop("method", None)
                line = json.dumps(record)
                print(line, flush=True)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with args.out.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
