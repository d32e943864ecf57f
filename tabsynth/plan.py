"""What DP preprocessing at a given epsilon will keep or collapse, said before anything is spent.

:func:`plan_table` reads **public information only**:

* the schema (declared kinds, bounds, categories, frequencies, nullable), or, without one, the
  column names and the storage types a file declares in its header (Parquet metadata; for a
  CSV only the header line, so every column is planned as numeric unless it is the target or
  a sensitive column);
* the roles (target, sensitive columns), epsilon, delta, the preprocessing share and the
  transformer's settings (``n_bins``, ``min_category_count``);
* optionally a row count the user declares (``n_rows``), used only to express figures as shares.

It never reads a value of the private table, so the plan costs no budget and can be shown to
anyone. The noise levels are those :class:`~tabsynth.transform.DPTableTransformer` will use:
they depend on the schema and the budget only (:func:`~tabsynth.transform.table.mechanism_weights`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

from .entity import (
    AUTO,
    DEFAULT_MAX_ROWS_PER_ENTITY,
    PLAN_MAX_ROWS_PER_ENTITY,
    BoundSuggestion,
    check_entity,
    entity_warning,
    looks_like_key_name,
    suggest_contribution_bound,
)
from .exceptions import ConfigError
from .inference import MIN_ROWS_PER_SIGMA
from .marginals import MAX_PAIRS, MIN_ROWS_PER_CELL, N_SELECTED_PAIRS, SELECTION_SHARE
from .privacy.calibration import gaussian_noise_for, split_budget, threshold_for
from .privacy.mechanisms import range_bar
from .privacy.plan import SCHEMA_INFERENCE_SHARE, marginals_share_for
from .schema import ColumnKind, ColumnSpec, TableSchema
from .transform.categorical import (
    CANDIDATE_FALSE_POSITIVE,
    CODE_CANDIDATES,
    MAX_PLACEHOLDER_SHARE,
    SLOT_FALSE_POSITIVE,
    VOCABULARY_Z,
)
from .transform.table import DPTableTransformer, mechanism_weights
from .vocab import candidate_values

__all__ = ["ColumnPlan", "TablePlan", "plan_table", "public_schema_of"]

_Z95 = NormalDist().inv_cdf(0.95)
_VOCAB_HINTS = {"state": "us_states", "country": "iso_countries", "sex": "sex", "gender": "sex"}

PUBLIC_INPUTS = (
    "schema (kinds, bounds, categories, frequencies, nullable) or the file's header and declared storage types",
    "column roles (target, sensitive)",
    "epsilon, delta, preprocessing share, whether a schema is declared, whether the quality filter is on",
    "transformer settings (n_bins, min_category_count)",
    "the row count, only when the user declares it (n_rows)",
)


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """The expected outcome of DP preprocessing for one column (all counts in rows)."""

    column: str
    kind: str
    role: str
    statistics: dict[str, float]  # label -> noise standard deviation, in rows
    keeps: str
    collapses: str
    advice: str
    rows_to_survive: float | None = None  # a category with this many rows is kept with 95% probability


@dataclass(frozen=True, slots=True)
class StagePlan:
    """A stage of the fit outside per-column preprocessing (DP schema inference, the filter's marginals).

    ``min_rows``: below this many rows the stage refuses the table (the fit exits with a clear
    error before anything else is spent); ``None`` when it never refuses.
    """

    stage: str
    epsilon: float
    noise_sd_rows: float
    text: str
    min_rows: float | None = None


@dataclass(frozen=True, slots=True)
class TablePlan:
    """Per-column plan plus what it was computed from."""

    epsilon: float
    delta: float
    preprocessing_epsilon: float
    columns: tuple[ColumnPlan, ...]
    public_inputs: tuple[str, ...] = PUBLIC_INPUTS
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    stages: tuple[StagePlan, ...] = field(default_factory=tuple)

    @property
    def min_rows(self) -> float | None:
        """The fewest rows the planned fit accepts (``None``: no stage refuses small tables)."""
        bars = [st.min_rows for st in self.stages if st.min_rows is not None]
        return max(bars) if bars else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "preprocessing_epsilon": self.preprocessing_epsilon,
            "public_inputs": list(self.public_inputs),
            "assumptions": list(self.assumptions),
            "min_rows": None if self.min_rows is None else math.ceil(self.min_rows),
            "stages": [
                {
                    "stage": st.stage,
                    "epsilon": st.epsilon,
                    "noise_sd_rows": round(st.noise_sd_rows, 1),
                    "min_rows": None if st.min_rows is None else math.ceil(st.min_rows),
                    "text": st.text,
                }
                for st in self.stages
            ],
            "columns": [
                {
                    "column": c.column,
                    "kind": c.kind,
                    "role": c.role,
                    "noise_sd_rows": {k: round(v, 1) for k, v in c.statistics.items()},
                    "rows_to_survive": None if c.rows_to_survive is None else math.ceil(c.rows_to_survive),
                    "keeps": c.keeps,
                    "collapses": c.collapses,
                    "advice": c.advice,
                }
                for c in self.columns
            ],
        }

    def to_text(self) -> str:
        lines = [
            f"DP preprocessing plan at epsilon={self.epsilon:g} (preprocessing share "
            f"{self.preprocessing_epsilon:.3g}), delta={self.delta:g}. Computed from public information only, "
            "nothing is spent:",
            *(f"  - {p}" for p in self.public_inputs),
            *(f"Assumption: {a}" for a in self.assumptions),
            *(f"Stage {st.stage} (epsilon {st.epsilon:.3g}): {st.text}" for st in self.stages),
            "",
        ]
        for c in self.columns:
            noise = ", ".join(f"{k.split(':')[0]} ±{v:.0f}" for k, v in c.statistics.items()) or "none (public)"
            lines.append(
                f"{c.column} [{c.kind}{', ' + c.role if c.role != 'column' else ''}]  noise (rows, 1 sd): {noise}"
            )
            lines.append(f"    keeps: {c.keeps}")
            if c.collapses:
                lines.append(f"    collapses: {c.collapses}")
            if c.advice:
                lines.append(f"    declare: {c.advice}")
        return "\n".join(lines)


def _role(schema: TableSchema, name: str) -> str:
    return "target" if name == schema.target else "sensitive" if name in schema.sensitive else "column"


def _vocab_hint(name: str) -> str:
    low = name.lower()
    for word, vocab in _VOCAB_HINTS.items():
        if word in low:
            return f" (or 'categories: {vocab}', a public vocabulary)"
    return ""


def _share(rows: float, n_rows: int | None) -> str:
    return f"{rows:.0f} rows" + (f" ({rows / n_rows:.1%} of {n_rows})" if n_rows else "")


def _plan_column(
    spec: ColumnSpec,
    role: str,
    sigmas: dict[str, float],
    threshold_delta: float,
    min_count: float,
    n_rows: int | None,
    k: int = 1,
) -> ColumnPlan:
    mine = {label: sd for label, sd in sigmas.items() if label.split(":", 1)[1] == spec.name}
    slot = NormalDist().inv_cdf(1 - SLOT_FALSE_POSITIVE)
    if spec.kind.is_numeric:
        bins = mine.get(f"bins:{spec.name}", 0.0)
        bounds = mine.get(f"bounds:{spec.name}")
        keeps = (
            f"quantile bins whose cells hold more than about {_share(3 * bins, n_rows)}; "
            f"missing values if more than {_share(slot * bins, n_rows)} are missing"
        )
        if bounds is not None:
            keeps = (
                f"a DP range ending at the outermost half power of two holding about {_share(2 * bounds, n_rows)} "
                f"or more; {keeps}"
            )
            collapses = (
                "sparser tails are clipped to the range's ends; no range at all (the fit is refused) unless one "
                f"power of two of its magnitudes holds about {_share(range_bar(bounds), n_rows)}"
            )
            advice = "bounds: [lower, upper] (public limits of the column) saves a mechanism and keeps the tails"
        else:
            collapses, advice = "", ""
        if spec.kind is ColumnKind.DATETIME:
            keeps += "; dates vs times of day decided by a DP count (or the storage type)"
        return ColumnPlan(spec.name, spec.kind.value, role, mine, keeps, collapses, advice)
    if spec.kind is ColumnKind.CATEGORICAL and spec.categories is None:
        sd = mine[f"categories:{spec.name}"]
        # threshold_for(sigma) = 1 + sigma c per row; one entity holds up to k rows of a key: k + k sigma c
        threshold = max(threshold_for(sd, threshold_delta) + (k - 1), min_count)
        survive = threshold + _Z95 * sd
        n_cand = max(len(CODE_CANDIDATES), len(candidate_values()))
        cand = max(sd * NormalDist().inv_cdf(1 - CANDIDATE_FALSE_POSITIVE / n_cand), min_count) + _Z95 * sd
        keeps = (
            f"categories with at least {_share(survive, n_rows)} (95% chance; threshold {threshold:.0f}); "
            f"small integer codes (-1..100) and public-vocabulary values from {_share(cand, n_rows)}; "
            f"a column written in one public vocabulary (US states, ISO countries, sub-grades A1..G5, months, "
            f"weekdays, ...) keeps all of it once the vocabulary holds half the rows and "
            f"{VOCABULARY_Z:g} times the noise of its summed counts"
        )
        collapses = (
            "rarer categories: in a coded column they become the nearest discovered code; in a text column "
            f"the placeholder '<other>' while at most {MAX_PLACEHOLDER_SHARE:.0%} of rows, else discovered categories"
        )
        advice = "categories: [...]" + _vocab_hint(spec.name)
        if role != "column":
            advice += f"; as the {role} column its classes are what the model and the audit need most"
        return ColumnPlan(spec.name, spec.kind.value, role, mine, keeps, collapses, advice, rows_to_survive=survive)
    sd = mine.get(f"counts:{spec.name}", 0.0)
    keeps = "every declared category" + (f"; shares noisy by ±{_share(sd, n_rows)}" if sd else " (public shares)")
    advice = "" if spec.frequencies is not None or not sd else "frequencies: [...] (if public) makes the marginal free"
    return ColumnPlan(spec.name, spec.kind.value, role, mine, keeps, "", advice)


def public_schema_of(
    path: str | Path, *, target: str | None = None, sensitive: Sequence[str] = ()
) -> tuple[TableSchema, tuple[str, ...]]:
    """A planning schema from a file's header and declared storage types only (no values read)."""
    import polars as pl

    path = Path(path)
    notes: list[str] = []
    if path.suffix.lower() in (".parquet", ".pq"):
        types = {name: str(dtype) for name, dtype in pl.read_parquet_schema(path).items()}
        notes.append("kinds come from the Parquet storage types (integers planned as numeric unless a role)")
    else:
        with path.open(encoding="utf-8", errors="replace") as fh:
            header = fh.readline().strip()
        import csv

        names = next(csv.reader([header])) if header else []
        types = {name: "" for name in names}
        notes.append("a CSV declares no types: every column without a role is planned as numeric")
    roles = {target, *sensitive} - {None}
    specs = []
    for name, dtype in types.items():
        low = dtype.lower()
        if name in roles or low.startswith(("str", "utf8", "cat", "enum")):
            kind = ColumnKind.CATEGORICAL
        elif low.startswith("bool"):
            kind = ColumnKind.BOOLEAN
        elif low.startswith(("date", "datetime")):
            kind = ColumnKind.DATETIME
        elif low.startswith(("int", "uint")):
            kind = ColumnKind.INTEGER
        else:
            kind = ColumnKind.CONTINUOUS
        specs.append(ColumnSpec(name=name, kind=kind))
    schema = TableSchema(columns=tuple(specs), target=target, sensitive=tuple(sensitive))
    return schema, tuple(notes)


def _schema_stage(n_columns: int, epsilon: float, delta: float, k: int) -> StagePlan:
    """DP schema inference (no schema declared): one histogram and one distinct count per column."""
    eps = epsilon * SCHEMA_INFERENCE_SHARE
    sd = gaussian_noise_for(eps, delta, n_mechanisms=2 * n_columns) * k
    need = MIN_ROWS_PER_SIGMA * sd
    text = (
        f"no schema is declared, so column kinds are decided from DP counts of value classes, ±{sd:.0f} rows "
        f"per count; the fit refuses tables under about {need:.0f} rows (noisy row count under "
        f"{MIN_ROWS_PER_SIGMA:g} times the noise) and leaves out columns with fewer than about {need:.0f} "
        "values present. Declaring a reviewed schema (tabsynth schema infer DATA --out schema.yaml) removes "
        "this stage and its limit and gives its share to training"
    )
    return StagePlan("schema-inference", eps, sd, text, min_rows=need)


def _marginals_stage(schema: TableSchema, epsilon: float, delta: float, k: int) -> StagePlan | None:
    """The quality filter's DP marginals: the noise per cell when every candidate table is measured
    (an upper bound: a table averaging under ``MIN_ROWS_PER_CELL`` DP rows a cell is skipped)."""
    n = len(schema.modelled)
    if n == 0 or epsilon <= 0:
        return None
    names = {c.name for c in schema.modelled}
    anchors = [c for c in dict.fromkeys([schema.target, *schema.sensitive]) if c in names]
    a = len(anchors)
    role_pairs = min(MAX_PAIRS, a * (n - 1) - a * (a - 1) // 2)
    rounds = min(N_SELECTED_PAIRS, n * (n - 1) // 2 - role_pairs)
    share = SELECTION_SHARE if rounds else 0.0
    sd = gaussian_noise_for(epsilon, delta, n_mechanisms=(n + role_pairs + rounds) / (1 - share)) * k
    text = (
        f"the quality filter measures the 1-way table of every modelled column, up to {role_pairs} 2-way tables "
        f"of the target and sensitive columns and up to {rounds} more chosen by DP selection, ±{sd:.0f} rows per "
        f"cell at most (a 2-way table is measured only where it averages {MIN_ROWS_PER_CELL:g} DP rows a cell); "
        "then rakes a pool of synthetic rows to them (post-processing). --no-filter gives its share to training"
    )
    return StagePlan("marginals", epsilon, sd, text)


def plan_table(
    schema: TableSchema,
    *,
    epsilon: float,
    delta: float = 1e-6,
    preprocessing_share: float = 0.2,
    target: str | None = None,
    sensitive: Sequence[str] | None = None,
    min_category_count: float = 10.0,
    n_rows: int | None = None,
    assumptions: Sequence[str] = (),
    max_rows_per_entity: int | None = None,
    infer_schema: bool = False,
    filter_on: bool = False,
    n_columns: int | None = None,
) -> TablePlan:
    """Plan the DP preprocessing of ``schema`` at ``epsilon`` (public inputs only; see the module doc).

    With ``max_rows_per_entity`` (entity-level DP, issue 18) every histogram's noise and every
    discovery threshold, in rows, is that many times the row-level one (one entity can move one
    cell by k rows).

    With ``infer_schema`` (no schema declared: ``schema`` is the planning schema of the file's
    header) the plan adds the DP schema-inference stage over ``n_columns`` columns (all of the
    file's, by default ``schema``'s), with the row count under which the fit refuses the table;
    with ``filter_on`` the quality filter's marginals stage. Both use the fit's own budget split.

    Example:
        >>> print(plan_table(schema, epsilon=1.0, target="income").to_text())  # doctest: +SKIP
    """
    if not (isinstance(epsilon, (int, float)) and epsilon > 0 and math.isfinite(epsilon)):
        raise ConfigError(f"plan needs a positive finite epsilon, got {epsilon!r}.")
    if not (0 < preprocessing_share < 1):
        raise ConfigError(f"preprocessing_share must be in (0, 1), got {preprocessing_share!r}.")
    if target is not None or sensitive is not None:
        schema = schema.with_roles(target=target, sensitive=sensitive)
    pre = split_budget(epsilon, {"pre": preprocessing_share, "train": 1 - preprocessing_share})["pre"]
    base, threshold_delta, sigmas = DPTableTransformer.noise_levels(schema, epsilon=pre, delta=delta)
    k = 1 if max_rows_per_entity is None else max_rows_per_entity
    base, sigmas = base * k, {label: sd * k for label, sd in sigmas.items()}
    columns = [
        _plan_column(spec, _role(schema, spec.name), sigmas, threshold_delta, min_category_count, n_rows, k)
        for spec in schema.modelled
    ]
    notes = [*assumptions, f"the row count is released with noise ±{base:.0f} rows (1 sd)"]
    stages = []
    if infer_schema:
        stages.append(_schema_stage(n_columns or len(schema.names), epsilon, delta, k))
    marginals = marginals_share_for(preprocessing_share, infer_schema=infer_schema, filter_on=filter_on)
    if marginals:
        stage = _marginals_stage(schema, epsilon * marginals, delta, k)
        stages += [stage] if stage is not None else []
    need = max((st.min_rows for st in stages if st.min_rows is not None), default=None)
    if need is not None and n_rows is not None and n_rows < need:
        notes.append(
            f"the declared {n_rows} rows are under the {need:.0f} the fit needs at this budget: it will be refused; "
            "declare a schema or raise epsilon"
        )
    if max_rows_per_entity is not None:
        notes.append(
            f"entity-level DP: at most {k} rows per entity, so every count's noise and threshold above is {k}x "
            "the row-level one (DP-SGD's noise is not)"
        )
    if not mechanism_weights(schema):
        notes.append("no modelled column")
    return TablePlan(float(epsilon), float(delta), pre, tuple(columns), assumptions=tuple(notes), stages=tuple(stages))


def plan_command_text(
    data: str | Path,
    schema_path: str | Path | None,
    epsilon: float,
    delta: float,
    target: str | None,
    sensitive: Sequence[str],
    entity: str | None = None,
    max_rows_per_entity: int | str = DEFAULT_MAX_ROWS_PER_ENTITY,
    suggest_bound_epsilon: float | None = None,
    filter_on: bool = True,
) -> str:
    """The text ``tabsynth plan`` prints (the CLI stays a thin wrapper).

    With ``suggest_bound_epsilon`` (and an entity) the entity column is read and one DP histogram
    of rows per entity suggests ``max_rows_per_entity``: a separate release that spends that
    epsilon on top of the planned fit's budget (the text says so). Everything else reads public
    information only.
    """
    if schema_path is not None:
        from .schema import load_schema

        notes: tuple[str, ...] = ("kinds and public knowledge from the declared schema",)
        schema = load_schema(schema_path)
    else:
        if not Path(data).exists():
            raise ConfigError(f"File not found: {data}.")
        schema, notes = public_schema_of(data, target=target, sensitive=sensitive)
    entity = entity if entity is not None else schema.entity
    warning = ""
    if entity is not None:
        check_entity(
            [*schema.names, entity],
            entity,
            target=target or schema.target,
            sensitive=tuple(sensitive) or schema.sensitive,
            max_rows_per_entity=max_rows_per_entity,
        )
        schema = replace(schema, entity=entity).without_entity()
        if suggest_bound_epsilon is not None:
            suggestion = _suggest_bound(data, entity, suggest_bound_epsilon, delta)
            notes = (*notes, _suggestion_note(suggestion))
            if max_rows_per_entity == AUTO:
                max_rows_per_entity = suggestion.max_rows_per_entity
        if max_rows_per_entity == AUTO:
            notes = (
                *notes,
                "max_rows_per_entity=auto: the bound is chosen at fit time from a DP histogram of rows per entity "
                f"(often 2 to 5 on tables of 1-2 rows per person); the figures assume {PLAN_MAX_ROWS_PER_ENTITY} "
                "and scale with the bound",
            )
    else:
        if suggest_bound_epsilon is not None:
            raise ConfigError("--suggest-bound needs --entity (or 'entity:' in the schema): nothing to bound.")
        keyish = [n for n in schema.names if looks_like_key_name(n)]
        if keyish:
            warning = entity_warning(keyish) + "\n\n"
    plan = plan_table(
        schema,
        epsilon=epsilon,
        delta=delta,
        target=target,
        sensitive=tuple(sensitive) or None,
        assumptions=notes,
        max_rows_per_entity=None if entity is None else _planned_bound(max_rows_per_entity),
        infer_schema=schema_path is None,
        filter_on=filter_on,
    )
    text = plan.to_text()
    if suggest_bound_epsilon is not None:
        text = text.replace(
            "Computed from public information only, nothing is spent:",
            "Computed from public information only, except the DP suggestion for max_rows_per_entity below "
            f"(which spent epsilon={suggest_bound_epsilon:g} on its own):",
            1,
        )
    return warning + text


def _suggest_bound(data: str | Path, entity: str, epsilon: float, delta: float) -> BoundSuggestion:
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"--suggest-bound must be a positive epsilon, got {epsilon!r}.")
    from .io import read_table

    frame = read_table(data)
    if entity not in frame.columns:
        raise ConfigError(f"Entity column {entity!r} is not in {data}; columns are {list(frame.columns)}.")
    return suggest_contribution_bound(frame[entity], epsilon=epsilon, delta=delta)


def _suggestion_note(s: BoundSuggestion) -> str:
    return (
        f"DP suggestion: max_rows_per_entity = {s.max_rows_per_entity} (keeps about {s.rows_kept_share:.0%} of the "
        f"rows the histogram sees: its cells carry noise ±{s.noise_sd:.0f} entities and count as empty under 3 sd, "
        f"so rarer entity sizes are not seen). It read the entity column and spent epsilon = {s.epsilon:g}, "
        f"delta = {s.delta:g} "
        "on one histogram of rows per entity, ON TOP of the fit's budget: add it to the dataset's total. The "
        "figures below assume this bound; pass it to fit as --max-rows-per-entity to spend nothing more on it"
    )


def _planned_bound(max_rows_per_entity: int | str) -> int:
    return PLAN_MAX_ROWS_PER_ENTITY if max_rows_per_entity == AUTO else int(max_rows_per_entity)
