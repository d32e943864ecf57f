"""Table schemas: what each column is, which roles it plays, and what is public about it.

A :class:`TableSchema` is either declared (YAML, reviewed by a person) or inferred from a
frame. Inference reads the private table, so it only records *types and names*: the kind of
each column and whether it looks like an identifier. Bounds, category lists and frequencies
are public knowledge the user declares; whatever is not declared is later estimated with DP
mechanisms and paid for from the privacy budget, never read off the data for free.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .exceptions import SchemaError
from .io import write_text

__all__ = [
    "ColumnKind",
    "ColumnSpec",
    "IdentifierHandling",
    "TableSchema",
    "infer_schema",
    "load_schema",
]

SCHEMA_VERSION = 1
Category = str | int | float | bool


class ColumnKind(StrEnum):
    CATEGORICAL = "categorical"
    CONTINUOUS = "continuous"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"
    TEXT = "text"

    @property
    def is_numeric(self) -> bool:
        return self in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER, ColumnKind.DATETIME)

    @property
    def is_discrete(self) -> bool:
        return self in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN)

    @property
    def is_modelled(self) -> bool:
        return self not in (ColumnKind.IDENTIFIER, ColumnKind.TEXT)


class IdentifierHandling(StrEnum):
    """What happens to an identifier or free-text column in synthetic data."""

    DROP = "drop"  # the column is left out of the synthetic table
    FAKE = "fake"  # the column is filled with generated values that were never in the data


FAKE_STYLES = ("sequence", "uuid", "email", "phone", "name", "text")


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSpec:
    """One column: its kind and the public knowledge about it.

    Args:
        name: column name.
        kind: a :class:`ColumnKind`.
        nullable: whether the column may hold missing values (public; default True).
        bounds: public (lower, upper) for numeric columns; datetimes in seconds since epoch.
        categories: the public list of categories of a categorical column.
        frequencies: public relative frequencies of ``categories`` (optional).
        handling: for identifier/text columns, ``drop`` or ``fake``.
        fake: the style of fake values (``sequence``, ``uuid``, ``email``, ``phone``,
            ``name``, ``text``) when ``handling`` is ``fake``.
    """

    name: str
    kind: ColumnKind
    nullable: bool = True
    bounds: tuple[float, float] | None = None
    categories: tuple[Category, ...] | None = None
    frequencies: tuple[float, ...] | None = None
    handling: IdentifierHandling | None = None
    fake: str | None = None

    def problems(self) -> list[str]:
        """Every inconsistency in this spec (empty when valid)."""
        out: list[str] = []
        where = f"column {self.name!r}"
        if self.bounds is not None:
            if not self.kind.is_numeric:
                out.append(f"{where}: bounds are only allowed for continuous, integer or datetime columns.")
            lo, hi = self.bounds
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                out.append(f"{where}: bounds must be two finite numbers with lower < upper, got {list(self.bounds)}.")
        if self.categories is not None:
            if not self.kind.is_discrete:
                out.append(f"{where}: categories are only allowed for categorical or boolean columns.")
            elif len(set(self.categories)) != len(self.categories) or not self.categories:
                out.append(f"{where}: categories must be a non-empty list without duplicates.")
        if self.frequencies is not None:
            if self.categories is None or len(self.frequencies) != len(self.categories):
                out.append(f"{where}: frequencies need a categories list of the same length.")
            elif any(f < 0 for f in self.frequencies) or not math.isclose(sum(self.frequencies), 1.0, abs_tol=1e-6):
                out.append(f"{where}: frequencies must be non-negative and sum to 1.")
        if self.kind.is_modelled and self.handling is not None:
            out.append(f"{where}: 'handling' only applies to identifier and text columns.")
        if self.fake is not None and self.fake not in FAKE_STYLES:
            out.append(f"{where}: fake must be one of {', '.join(FAKE_STYLES)}, got {self.fake!r}.")
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "nullable": self.nullable}
        if self.kind.is_numeric or self.bounds is not None:
            out["bounds"] = None if self.bounds is None else _bounds_out(self.kind, self.bounds)
        if self.kind.is_discrete:
            out["categories"] = None if self.categories is None else list(self.categories)
        if self.frequencies is not None:
            out["frequencies"] = list(self.frequencies)
        if not self.kind.is_modelled:
            out["handling"] = (self.handling or IdentifierHandling.DROP).value
            if self.fake is not None:
                out["fake"] = self.fake
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any], errors: list[str]) -> ColumnSpec | None:
        """Build a spec, appending every problem to ``errors`` (returns None if unusable)."""
        where = f"column {name!r}"
        if not isinstance(data, Mapping):
            errors.append(f"{where}: expected a mapping with at least 'kind', got {data!r}.")
            return None
        allowed = {"kind", "nullable", "bounds", "categories", "frequencies", "handling", "fake"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            errors.append(f"{where}: unknown keys {unknown}; allowed keys are {sorted(allowed)}.")
        try:
            kind = ColumnKind(str(data.get("kind")))
        except ValueError:
            kinds = ", ".join(k.value for k in ColumnKind)
            errors.append(f"{where}: kind must be one of {kinds}, got {data.get('kind')!r}.")
            return None
        n_before = len(errors)
        nullable = data.get("nullable", True)
        if not isinstance(nullable, bool):
            errors.append(f"{where}: nullable must be true or false, got {nullable!r}.")
        bounds = _bounds_in(where, kind, data.get("bounds"), errors)
        categories = data.get("categories")
        if isinstance(categories, str):  # a public vocabulary by name, e.g. categories: us_states
            from .vocab import VOCABULARIES

            if categories in VOCABULARIES:
                categories = list(VOCABULARIES[categories])
            else:
                errors.append(
                    f"{where}: categories must be a list or a public vocabulary "
                    f"({', '.join(sorted(VOCABULARIES))}), got {categories!r}."
                )
        elif categories is not None and not isinstance(categories, list):
            errors.append(f"{where}: categories must be a list, got {categories!r}.")
        frequencies = data.get("frequencies")
        if frequencies is not None and not (
            isinstance(frequencies, list) and all(isinstance(f, (int, float)) for f in frequencies)
        ):
            errors.append(f"{where}: frequencies must be a list of numbers.")
        handling = data.get("handling")
        if handling is not None and handling not in {h.value for h in IdentifierHandling}:
            errors.append(f"{where}: handling must be 'drop' or 'fake', got {handling!r}.")
        if len(errors) > n_before:
            return None
        spec = cls(
            name=name,
            kind=kind,
            nullable=nullable,
            bounds=bounds,
            categories=None if categories is None else tuple(categories),
            frequencies=None if frequencies is None else tuple(float(f) for f in frequencies),
            handling=None if handling is None else IdentifierHandling(handling),
            fake=data.get("fake"),
        )
        errors.extend(spec.problems())
        return spec


def _bounds_out(kind: ColumnKind, bounds: tuple[float, float]) -> list[Any]:
    if kind is ColumnKind.DATETIME:
        return [pd.Timestamp(b, unit="s").isoformat() for b in bounds]
    if kind is ColumnKind.INTEGER:
        return [int(b) for b in bounds]
    return [float(b) for b in bounds]


def _bounds_in(where: str, kind: ColumnKind, raw: Any, errors: list[str]) -> tuple[float, float] | None:
    if raw is None:
        return None
    if not (isinstance(raw, (list, tuple)) and len(raw) == 2):
        errors.append(f"{where}: bounds must be a list [lower, upper], got {raw!r}.")
        return None
    try:
        if kind is ColumnKind.DATETIME:
            lo, hi = (pd.Timestamp(b).timestamp() for b in raw)
        else:
            lo, hi = (float(b) for b in raw)
    except (TypeError, ValueError):
        errors.append(f"{where}: bounds must be numbers (or ISO dates for datetimes), got {raw!r}.")
        return None
    return (lo, hi)


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSchema:
    """The columns of a table, their roles (target, sensitive) and public knowledge.

    Example:
        >>> schema = TableSchema(columns=(ColumnSpec(name="x", kind=ColumnKind.CONTINUOUS),))
        >>> schema.names
        ('x',)
    """

    columns: tuple[ColumnSpec, ...]
    target: str | None = None
    sensitive: tuple[str, ...] = field(default_factory=tuple)
    constraints: tuple[Any, ...] = ()  # tabsynth.constraints objects (public knowledge, enforced at fit/sample)
    #: The column naming the person each row belongs to (issue 18): the guarantee then protects
    #: whole entities. Never modelled; it need not be among ``columns``.
    entity: str | None = None

    def __post_init__(self) -> None:
        errors = [p for c in self.columns for p in c.problems()]
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            errors.append(f"Duplicate column names in the schema: {dupes}.")
        for role, col in [("target", self.target), *[("sensitive", s) for s in self.sensitive]]:
            if col is None:
                continue
            if col not in names:
                errors.append(f"The {role} column {col!r} is not in the table; columns are {names}.")
            elif role == "target" and not self[col].kind.is_discrete:
                errors.append(
                    f"The {role} column {col!r} is {self[col].kind.value}; a {role} column must be "
                    "categorical or boolean (declare it with kind: categorical)."
                )
            elif not self[col].kind.is_modelled:
                errors.append(
                    f"The {role} column {col!r} is an {self[col].kind.value} column, which is never modelled."
                )
        if self.entity is not None and (self.entity == self.target or self.entity in self.sensitive):
            errors.append(
                f"The entity column {self.entity!r} is also the target or a sensitive column: the entity key is "
                "never modelled. Choose another column for one of the roles."
            )
        if errors:
            raise SchemaError(errors)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def modelled(self) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.kind.is_modelled)

    def __getitem__(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def with_roles(self, *, target: str | None = None, sensitive: Sequence[str] | None = None) -> TableSchema:
        """A copy with the given roles; an integer target without bounds becomes categorical."""
        columns = list(self.columns)
        for i, spec in enumerate(columns):
            if spec.name == target and spec.kind is ColumnKind.INTEGER and spec.bounds is None:
                columns[i] = replace(spec, kind=ColumnKind.CATEGORICAL)
        return TableSchema(
            columns=tuple(columns),
            target=self.target if target is None else target,
            sensitive=self.sensitive if sensitive is None else tuple(sensitive),
            constraints=self.constraints,
            entity=self.entity,
        )

    def with_categories(self, column: str, categories: Sequence[Any]) -> TableSchema:
        """A copy declaring ``column``'s categories as public knowledge (no budget spent on discovering them).

        Example:
            >>> schema = infer_schema(frame, target="y").with_categories("y", ["No", "Yes"])  # doctest: +SKIP
        """
        spec = self[column]
        if not spec.kind.is_discrete:
            raise SchemaError(f"Column {column!r} is {spec.kind.value}; only categorical columns take categories.")
        columns = tuple(
            replace(c, categories=tuple(_category_key(v) for v in categories)) if c.name == column else c
            for c in self.columns
        )
        return TableSchema(
            columns=columns,
            target=self.target,
            sensitive=self.sensitive,
            constraints=self.constraints,
            entity=self.entity,
        )

    def without_entity(self) -> TableSchema:
        """The schema of the modelled table: the entity column (if listed) and the entity role removed."""
        return TableSchema(
            columns=tuple(c for c in self.columns if c.name != self.entity),
            target=self.target,
            sensitive=self.sensitive,
            constraints=self.constraints,
        )

    # ---- validation against data ---------------------------------------------------
    def validate_frame(self, frame: pd.DataFrame, *, private: bool = False) -> None:
        """Check ``frame`` against the schema; raise one :class:`SchemaError` listing all problems.

        With ``private=True`` (a DP fit) the messages name columns and kinds of problem only, never
        values or counts from the rows, and values outside a declared category list are not an
        error (the encoder maps them to the missing slot): the error is itself an output.
        """
        errors: list[str] = []
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            errors.append(f"Columns in the schema but not in the data: {missing}. Fix the schema or the file.")
        extra = [str(c) for c in frame.columns if c not in self.names]
        if extra:
            errors.append(f"Columns in the data but not in the schema: {extra}. Add them to the schema or drop them.")
        for spec in self.columns:
            if spec.name in frame.columns:
                errors.extend(_column_problems(spec, frame[spec.name], private=private))
        if errors:
            raise SchemaError(errors)

    # ---- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
            "version": SCHEMA_VERSION,
            "target": self.target,
            "sensitive": list(self.sensitive),
            "columns": {c.name: c.to_dict() for c in self.columns},
        }
        if self.constraints:  # tabsynth.constraints hook
            out["constraints"] = [c.to_dict() for c in self.constraints]
        if self.entity is not None:
            out["entity"] = self.entity
        return out

    @classmethod
    def from_dict(cls, data: Any) -> TableSchema:
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), Mapping):
            raise SchemaError("A schema must be a mapping with a 'columns' mapping (name -> {kind: ...}).")
        errors: list[str] = []
        unknown = sorted(set(data) - {"version", "target", "sensitive", "columns", "constraints", "entity"})
        if unknown:
            errors.append(
                f"Unknown top-level schema keys {unknown}; allowed: version, target, sensitive, entity, columns, "
                "constraints."
            )
        entity = data.get("entity")
        if entity is not None and not isinstance(entity, str):
            errors.append(f"'entity' must be a column name, got {entity!r}.")
            entity = None
        from .constraints import parse_constraints  # tabsynth.constraints hook

        constraints = parse_constraints(data.get("constraints") or [], errors)
        if data.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
            errors.append(f"Schema version {data.get('version')!r} is not supported (expected {SCHEMA_VERSION}).")
        sensitive = data.get("sensitive") or []
        if not isinstance(sensitive, list):
            errors.append(f"'sensitive' must be a list of column names, got {sensitive!r}.")
            sensitive = []
        specs = [ColumnSpec.from_dict(str(n), d, errors) for n, d in data["columns"].items()]
        if errors:
            raise SchemaError(errors)
        return cls(
            columns=tuple(s for s in specs if s is not None),
            target=data.get("target"),
            sensitive=tuple(str(s) for s in sensitive),
            constraints=constraints,
            entity=entity,
        )

    def to_yaml(self) -> str:
        header = (
            "# tabsynth table schema. Review before use: everything declared here is treated as\n"
            "# PUBLIC knowledge and spends no privacy budget. Leave bounds/categories null to have\n"
            "# tabsynth estimate them with DP mechanisms (paid from the epsilon budget).\n"
            "# kinds: categorical, continuous, integer, boolean, datetime, identifier, text.\n"
            "# identifier/text columns are never modelled: handling 'drop' or 'fake'.\n"
        )
        return header + str(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))

    def save(self, path: str | Path) -> Path:
        return write_text(self.to_yaml(), path)


class _SchemaLoader(yaml.SafeLoader):  # type: ignore[misc]
    """``yaml.SafeLoader`` where only ``true``/``false`` are booleans.

    YAML 1.1 reads ``no``, ``yes``, ``on``, ``off`` (any case) as booleans, so ``categories: [no, yes]``
    would become ``[False, True]`` and no longer match the data's strings. Here they stay the
    strings the user wrote; ``true``/``false`` keep meaning booleans (``nullable: false``).
    """


_SchemaLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_schema(path: str | Path) -> TableSchema:
    """Read a schema YAML file (safe loading only; ``no``/``yes``/``on``/``off`` stay strings).

    ``categories`` may name a public vocabulary (``us_states``, ``iso_countries``, ``yes_no``,
    ``sex``, ...; see :mod:`tabsynth.vocab`) instead of listing them.
    """
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"Schema file not found: {path}. Create one with 'tabsynth schema infer DATA --out {path}'.")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SchemaLoader)  # noqa: S506 (a SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return TableSchema.from_dict(data)


# ---- checking a column against its spec ----------------------------------------------
def _column_problems(spec: ColumnSpec, col: pd.Series, *, private: bool = False) -> list[str]:
    where = f"column {spec.name!r}"
    out: list[str] = []
    nulls = int(col.isna().sum())
    if nulls == len(col) and spec.kind.is_modelled:
        return [f"{where} has no values (every row is missing): drop it or declare it 'kind: identifier'."]
    if nulls and not spec.nullable:
        some = "some rows" if private else f"{nulls} rows"
        out.append(f"{where} is declared nullable: false but {some} are missing: declare nullable: true.")
    values = col.dropna()
    if spec.kind.is_numeric and spec.kind is not ColumnKind.DATETIME:
        bad = int(pd.to_numeric(values, errors="coerce").isna().sum())
        if bad:
            some = "some values are" if private else f"{bad} values are"
            out.append(f"{where} is declared {spec.kind.value} but {some} not numbers: fix the file or the kind.")
    elif spec.kind is ColumnKind.DATETIME:
        bad = int(pd.to_datetime(values, errors="coerce", format="mixed").isna().sum())
        if bad:
            some = "some values are" if private else f"{bad} values are"
            out.append(f"{where} is declared datetime but {some} not dates: fix the file or the kind.")
    elif spec.categories is not None and not private:
        allowed = {_category_key(c) for c in spec.categories}
        unseen = sorted({str(v) for v in values.unique() if _category_key(v) not in allowed})
        if unseen:
            shown = ", ".join(unseen[:5]) + (" ..." if len(unseen) > 5 else "")
            out.append(f"{where} has {len(unseen)} values outside the declared categories ({shown}): add them.")
    return out


def _category_key(value: Any) -> str:
    """Compare categories across types (YAML 1 vs CSV 1.0 vs '1')."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


# ---- inference -----------------------------------------------------------------------
_ID_NAME = re.compile(
    r"(^|[_\s.-])(id|uuid|guid|ssn|key)$|^id([_\s.-]|$)|e-?mail|phone|mobile|(^|_)(first|last|full|sur|user)?_?name$"
    r"|surname|address|street|iban|passport|account_?(number|no)|ip_?addr",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")


def _looks_like(pattern: re.Pattern[str], values: pd.Series) -> bool:
    sample = values.astype(str).head(1000)
    return bool(len(sample)) and float(sample.str.match(pattern).mean()) >= 0.9


def _infer_string_kind(name: str, values: pd.Series) -> tuple[ColumnKind, str | None]:
    n = len(values)
    unique_ratio = values.nunique() / n if n else 0.0
    if _looks_like(_EMAIL, values):
        return ColumnKind.IDENTIFIER, "email"
    if _looks_like(_PHONE, values) and unique_ratio > 0.5:
        return ColumnKind.IDENTIFIER, "phone"
    if _ID_NAME.search(name) and (unique_ratio >= 0.5 or values.nunique() > 50):
        return ColumnKind.IDENTIFIER, "name" if "name" in name.lower() else "uuid"
    mean_len = float(values.head(1000).astype(str).str.len().mean()) if n else 0.0
    if mean_len > 40 and unique_ratio > 0.5:
        return ColumnKind.TEXT, "text"
    if n >= 20 and unique_ratio > 0.9:
        return ColumnKind.IDENTIFIER, "uuid"
    return ColumnKind.CATEGORICAL, None


def _infer_numeric_kind(name: str, col: pd.Series, values: pd.Series) -> tuple[ColumnKind, str | None]:
    as_float = values.astype(float)
    is_int = pd.api.types.is_integer_dtype(col) or bool(np.all(np.mod(as_float, 1) == 0))
    n_unique = values.nunique()
    if is_int and n_unique == len(values) and len(values) >= 20:
        consecutive = as_float.max() - as_float.min() + 1 == len(values)
        if consecutive or _ID_NAME.search(name):
            return ColumnKind.IDENTIFIER, "sequence"
    if n_unique <= 2:
        return ColumnKind.CATEGORICAL, None
    return (ColumnKind.INTEGER if is_int else ColumnKind.CONTINUOUS), None


def _infer_column(name: str, col: pd.Series, errors: list[str]) -> ColumnSpec | None:
    values = col.dropna()
    if values.empty:
        errors.append(
            f"Column {name!r} has no values (every row is missing): remove it from the file, or declare it "
            "in a schema with 'kind: identifier, handling: drop'."
        )
        return None
    if values.nunique() == 1 and len(values) > 1:
        errors.append(
            f"Column {name!r} is constant (one value in every row), so there is nothing to model: remove it, "
            "or declare it in a schema with 'kind: identifier, handling: drop'."
        )
        return None
    fake: str | None
    if pd.api.types.is_bool_dtype(col):
        kind, fake = ColumnKind.BOOLEAN, None
    elif pd.api.types.is_datetime64_any_dtype(col):
        kind, fake = ColumnKind.DATETIME, None
    elif pd.api.types.is_numeric_dtype(col):
        kind, fake = _infer_numeric_kind(name, col, values)
    else:
        kind, fake = _infer_string_kind(name, values)
    handling = None if kind.is_modelled else IdentifierHandling.DROP
    return ColumnSpec(name=name, kind=kind, handling=handling, fake=fake)


def infer_schema(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    sensitive: Iterable[str] = (),
) -> TableSchema:
    """Infer column kinds and identifier flags; record no bounds, categories or counts.

    Raises:
        SchemaError: listing every unusable column (all missing, constant) and unknown roles.
    """
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise SchemaError(f"Cannot infer a schema from a table with shape {frame.shape}: it needs rows and columns.")
    errors: list[str] = []
    specs = [_infer_column(str(name), frame[name], errors) for name in frame.columns]
    sensitive = tuple(sensitive)
    for role_col in [c for c in (target, *sensitive) if c is not None]:
        if role_col not in frame.columns:
            errors.append(
                f"Column {role_col!r} (given as target/sensitive) is not in the table; "
                f"columns are {list(frame.columns)}."
            )
    if errors:
        raise SchemaError(errors)
    schema = TableSchema(columns=tuple(s for s in specs if s is not None))
    return schema.with_roles(target=target, sensitive=sensitive)
