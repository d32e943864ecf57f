"""Augmentation benchmark: write augmented tables for the shared judge (HGB on the real test rows).

For each seed, ``tabsynth.augment`` is run on the judge's training split (70/30 stratified,
``random_state=0``) and the augmented table is written as CSV; the judge then compares real only,
real + generated (mean over the seeds) and real + SMOTE-NC.

    python benchmarks/augment.py credit_default --epsilon none --seeds 0 1 2 --share 0.2
    python ../shared/judge/augment.py credit_default reports/augment-bench/credit_default-none-*.csv
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUDGE = ROOT.parent / "shared" / "judge"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--epsilon", default="1")
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-filter", dest="quality_filter", action="store_false")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "augment-bench")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(JUDGE))
    import score  # the judge's loader: same split as its scores

    from tabsynth import PrivacyWarning, augment

    train, _, spec = score.load(args.dataset)
    epsilon = None if args.epsilon.lower() == "none" else float(args.epsilon)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "none" if epsilon is None else f"eps{epsilon:g}"
    for seed in args.seeds:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PrivacyWarning)
            result = augment(
                train,
                target=spec["target"],
                minority=str(spec["positive"]),
                share=args.share,
                epsilon=epsilon,
                seed=seed,
                quality_filter=args.quality_filter,
            )
        path = args.out / f"{args.dataset}-{tag}{'' if args.quality_filter else '-nofilter'}-{seed}.csv"
        result.table.to_csv(path, index=False)
        print(f"{path}  generated={result.card['generated_rows']}  {time.perf_counter() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
