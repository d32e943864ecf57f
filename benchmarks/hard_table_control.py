"""A hard lending-style table (TRTR about 0.66, a 51-level sensitive state column) for the gate's
positive control.

Writes hard_{train,syn,hold}.csv to the current folder; then run tabsynth audit and tabsynth gate --policy partner
as in docs/policies.md.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
n = 10000
states = [f"S{i:02d}" for i in range(51)]
p = rng.dirichlet(np.ones(51) * 2)
df = pd.DataFrame(
    {
        "state": rng.choice(states, n, p=p),
        "gender": rng.choice(["F", "M"], n),
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.lognormal(10.5, 0.5, n), 2),
        "loan": np.round(rng.lognormal(9, 0.8, n), 2),
        "grade": rng.choice(list("ABCDEFG"), n),
        "term": rng.choice([36, 60], n),
    }
)
z = (
    0.5 * (df.grade.map(dict(zip("ABCDEFG", range(7), strict=True))) - 3) / 2
    + 0.3 * np.log(df.loan / df.income)
    + rng.normal(0, 1.2, n)
)
df["default"] = np.where(z > np.quantile(z, 0.8), "yes", "no")
df.iloc[:7000].to_csv("hard_train.csv", index=False)
df.iloc[7000:8500].to_csv("hard_syn.csv", index=False)
df.iloc[8500:].to_csv("hard_hold.csv", index=False)
