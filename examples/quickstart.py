"""tabsynth's Python API in 20 lines: DP fit, exact conditional sampling, audit, gate, report.

python examples/quickstart.py            # about a minute on a laptop CPU
"""

import sys

import pandas as pd

from tabsynth import Synthesizer, evaluate_policy, load_policy, run_audit, write_report
from tabsynth.demo import demo_table_path

smoke = "--smoke" in sys.argv  # tiny settings for the test suite
frame = pd.read_parquet(demo_table_path()).sample(frac=0.15 if smoke else 1.0, random_state=0)
train, holdout = frame.iloc[: int(0.7 * len(frame))], frame.iloc[int(0.7 * len(frame)) :]

synth = Synthesizer("dp-tvae", epsilon=1.0, delta=1e-6, random_state=0, epochs=2 if smoke else None)
synth.fit(train, target="income", sensitive=["sex"])  # every statistic paid from epsilon = 1
synthetic = synth.sample(len(train))  # a whole table
rich = synth.sample(500, conditions={"income": ">50K"})  # exactly 500 rows of the minority class

audit = run_audit(train, synthetic, holdout=holdout, target="income", sensitive=["sex"], epsilon_claimed=1.0)
decision = evaluate_policy(load_policy("partner"), audit, privacy=synth.privacy_card())
html, _ = write_report(
    "reports/quickstart.html", audit=audit, decision=decision.to_dict(), privacy=synth.privacy_card()
)
print(
    f"verdict {decision.verdict.value}; epsilon spent {synth.privacy_spent()['epsilon']:.3f}; "
    f"{(rich['income'] == '>50K').sum()} minority rows; report {html}"
)
