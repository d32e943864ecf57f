"""Constraints users declare, enforced on every synthetic row by construction.

Declared in the schema (``constraints:``) or in Python (:func:`with_constraints`)::

    constraints:
      - {type: inequality, low: start, high: end}                     # end >= start
      - {type: derived, column: charge, expression: "0.17 * minutes"} # arithmetic on other columns
      - {type: combinations, columns: [city, country], allowed: [[Paris, FR], [Lyon, FR], [Berlin, DE]]}
      - {type: range, column: age, min: 0, max: 120}

Each constraint is a reversible transform applied before fitting and inverted after sampling,
so generated rows meet it without rejection (exact conditional counts stay exact):

- ``inequality``: ``high`` is modelled as the difference ``high - low``, and rebuilt as
  ``low + max(difference, 0)``. A row with a missing ``low`` gets a missing ``high``.
- ``derived``: the column is dropped before training and computed from the others after
  sampling (``decimals: 2`` rounds it, as a currency column would be). Expressions hold
  numbers, column names (``name`` or ```a name with spaces```), ``+ - * /`` and parentheses;
  they are parsed, never evaluated as code. Division by zero gives a missing value.
- ``combinations``: the columns are merged into one categorical column whose categories are the
  allowed combinations (declared, so public: no budget is spent discovering them).
- ``range``: the column's bounds are the declared range (public: no budget spent on bounds)
  and generated values are clipped into it.

Constraints are public knowledge: enforcing them costs no privacy budget. A constraint the data
itself violates is an error at fit that names the constraint and says that some rows violate
it, never which rows, how many or what values. :meth:`Constraint.violations` counts the rows of
a table that violate a constraint (0 is expected for generated rows) and
:meth:`Constraint.violating` marks them, for the audit (``constraints.violation_rate``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from .exceptions import SchemaError

if TYPE_CHECKING:
    from .schema import ColumnSpec, TableSchema

__all__ = [
    "ColumnOrder",
    "Combinations",
    "Constraint",
    "Derived",
    "Expression",
    "Inequality",
    "Range",
    "apply_constraints",
    "parse_constraint",
    "parse_constraints",
    "restore_constraints",
    "violations",
    "with_constraints",
]


class Constraint(Protocol):
    """What every constraint provides."""

    type: ClassVar[str]

    def columns(self) -> tuple[str, ...]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def violations(self, frame: pd.DataFrame) -> int: ...
    def violating(self, frame: pd.DataFrame) -> np.ndarray: ...
    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]: ...
    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame: ...


# ---- expressions ---------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|`(?P<quoted>[^`]+)`|(?P<op>[-+*/()]))"
)


@dataclass(frozen=True, slots=True)
class Expression:
    """Arithmetic on columns, parsed by a small recursive-descent parser (no ``eval``).

    Grammar: ``expr := term (('+'|'-') term)*``, ``term := factor (('*'|'/') factor)*``,
    ``factor := ('+'|'-') factor | number | name | '(' expr ')'``.
    """

    text: str
    tree: Any

    @classmethod
    def parse(cls, text: str) -> Expression:
        if not isinstance(text, str) or not text.strip():
            raise SchemaError(f"An expression must be non-empty text, got {text!r}.")
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise SchemaError(
                    f"Expression {text!r}: unexpected character at position {pos + 1}; only numbers, column "
                    "names, + - * / and parentheses are allowed."
                )
            kind = match.lastgroup or ""
            tokens.append(("name" if kind == "quoted" else kind, match[kind]))
            pos = match.end()
        parser = _Parser(text, tokens)
        tree = parser.expr()
        if parser.pos != len(tokens):
            raise SchemaError(f"Expression {text!r}: unexpected {tokens[parser.pos][1]!r}.")
        return cls(text, tree)

    def names(self) -> tuple[str, ...]:
        found: list[str] = []

        def walk(node: Any) -> None:
            if node[0] == "name":
                found.append(node[1])
            elif node[0] in "+-*/":
                walk(node[1])
                walk(node[2])
            elif node[0] == "neg":
                walk(node[1])

        walk(self.tree)
        return tuple(dict.fromkeys(found))

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """The expression on every row, as float64 (missing inputs and division by zero give NaN)."""

        def ev(node: Any) -> np.ndarray:
            kind = node[0]
            if kind == "num":
                return np.full(len(frame), node[1], dtype=np.float64)
            if kind == "name":
                return _numeric(frame[node[1]])
            if kind == "neg":
                return -ev(node[1])
            left, right = ev(node[1]), ev(node[2])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                if kind == "+":
                    out: np.ndarray = left + right
                elif kind == "-":
                    out = left - right
                elif kind == "*":
                    out = left * right
                else:
                    out = left / right
            return out

        result = ev(self.tree)
        result[~np.isfinite(result)] = np.nan
        return result


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text, self.tokens, self.pos = text, tokens, 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op" else None

    def expr(self) -> Any:
        node = self.term()
        while self._peek() in ("+", "-"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            node = (op, node, self.term())
        return node

    def term(self) -> Any:
        node = self.factor()
        while self._peek() in ("*", "/"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            node = (op, node, self.factor())
        return node

    def factor(self) -> Any:
        if self.pos >= len(self.tokens):
            raise SchemaError(f"Expression {self.text!r} ends too early.")
        kind, value = self.tokens[self.pos]
        self.pos += 1
        if kind == "num":
            return ("num", float(value))
        if kind == "name":
            return ("name", value)
        if value in ("+", "-"):
            inner = self.factor()
            return ("neg", inner) if value == "-" else inner
        if value == "(":
            node = self.expr()
            if self._peek() != ")":
                raise SchemaError(f"Expression {self.text!r}: a '(' is not closed.")
            self.pos += 1
            return node
        raise SchemaError(f"Expression {self.text!r}: unexpected {value!r}.")


# ---- helpers ---------------------------------------------------------------------------------
def _numeric(series: pd.Series) -> np.ndarray:
    values: np.ndarray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _spec(schema: TableSchema, name: str, where: str) -> ColumnSpec:
    if name not in schema.names:
        raise SchemaError(f"{where}: column {name!r} is not in the schema; columns are {list(schema.names)}.")
    return schema[name]


def _numeric_spec(schema: TableSchema, name: str, where: str) -> ColumnSpec:
    from .schema import ColumnKind

    spec = _spec(schema, name, where)
    if spec.kind not in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER):
        raise SchemaError(f"{where}: column {name!r} is {spec.kind.value}; it must be continuous or integer.")
    return spec


def _not_a_role(schema: TableSchema, names: Sequence[str], where: str) -> None:
    roles = [n for n in names if n == schema.target or n in schema.sensitive]
    if roles:
        raise SchemaError(
            f"{where}: {roles} is the target or a sensitive column, which the model conditions on; "
            "a constraint may not transform it."
        )


def _replace_spec(schema: TableSchema, name: str, spec: ColumnSpec | None) -> TableSchema:
    columns = tuple(spec if c.name == name else c for c in schema.columns if c.name != name or spec is not None)
    return replace(schema, columns=tuple(c for c in columns if c is not None))


def _refuse(constraint: Constraint, frame: pd.DataFrame) -> None:
    """The data must meet the constraint; the error names it and never the rows, counts or values."""
    if constraint.violations(frame) > 0:
        raise SchemaError(
            f"Some rows of the data violate the constraint {_describe(constraint)}. Fix or remove those rows, "
            "or remove the constraint from the schema."
        )


def _describe(constraint: Constraint) -> str:
    return json.dumps(constraint.to_dict(), ensure_ascii=False)


def _canonical(value: Any) -> str | None:
    """Text of a category value, alike for 1, 1.0 and '1'; None for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


# ---- the constraint types ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Inequality:
    """``high >= low`` on every row (both continuous or integer columns)."""

    low: str
    high: str
    type: ClassVar[str] = "inequality"

    def columns(self) -> tuple[str, ...]:
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "low": self.low, "high": self.high}

    def violating(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row: whether ``high < low`` (a missing value violates nothing)."""
        low, high = _numeric(frame[self.low]), _numeric(frame[self.high])
        with np.errstate(invalid="ignore"):
            out: np.ndarray = high < low
        return out

    def violations(self, frame: pd.DataFrame) -> int:
        return int(self.violating(frame).sum())

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        from .schema import ColumnKind

        where = f"constraint {_describe(self)}"
        low_spec, high_spec = _numeric_spec(schema, self.low, where), _numeric_spec(schema, self.high, where)
        if self.low == self.high:
            raise SchemaError(f"{where}: low and high must be two different columns.")
        _not_a_role(schema, [self.high], where)
        diff = _numeric(frame[self.high]) - _numeric(frame[self.low])
        integer = low_spec.kind is ColumnKind.INTEGER and high_spec.kind is ColumnKind.INTEGER
        bounds = None
        if low_spec.bounds is not None and high_spec.bounds is not None:
            bounds = (0.0, max(high_spec.bounds[1] - low_spec.bounds[0], 1.0))
        spec = replace(
            high_spec,
            kind=ColumnKind.INTEGER if integer else ColumnKind.CONTINUOUS,
            bounds=bounds,
            nullable=high_spec.nullable or low_spec.nullable,
        )
        out = frame.copy()
        out[self.high] = pd.array(np.round(diff), dtype="Int64") if integer else diff
        return out, _replace_spec(schema, self.high, spec)

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        integer = pd.api.types.is_integer_dtype(frame[self.high]) and pd.api.types.is_integer_dtype(frame[self.low])
        high = _numeric(frame[self.low]) + np.maximum(_numeric(frame[self.high]), 0.0)
        out[self.high] = pd.array(np.round(high), dtype="Int64") if integer else high
        return out


@dataclass(frozen=True, slots=True)
class Derived:
    """``column = expression`` on every row, computed after sampling rather than generated."""

    column: str
    expression: Expression
    decimals: int | None = None
    type: ClassVar[str] = "derived"

    def columns(self) -> tuple[str, ...]:
        return (self.column, *self.expression.names())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "column": self.column, "expression": self.expression.text}
        if self.decimals is not None:
            out["decimals"] = self.decimals
        return out

    def _compute(self, frame: pd.DataFrame) -> np.ndarray:
        values = self.expression.evaluate(frame)
        return values if self.decimals is None else np.round(values, self.decimals)

    def violating(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row: whether the column differs from the expression (beyond rounding)."""
        actual, expected = _numeric(frame[self.column]), self._compute(frame)
        tol = 1e-9 if self.decimals is None else 0.5 * 10.0 ** (-self.decimals)
        both = ~np.isnan(actual) & ~np.isnan(expected)
        with np.errstate(invalid="ignore"):
            wrong = both & (np.abs(actual - expected) > tol + 1e-6 * np.abs(expected))
        # a value where the expression gives none (or none where it gives one) violates it too
        out: np.ndarray = wrong | (np.isnan(actual) != np.isnan(expected))
        return out

    def violations(self, frame: pd.DataFrame) -> int:
        return int(self.violating(frame).sum())

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        where = f"constraint {_describe(self)}"
        _numeric_spec(schema, self.column, where)
        for name in self.expression.names():
            if name == self.column:
                raise SchemaError(f"{where}: the expression uses the column it defines.")
            _numeric_spec(schema, name, where)
        _not_a_role(schema, [self.column], where)
        return frame.drop(columns=[self.column]), _replace_spec(schema, self.column, None)

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        values = self._compute(frame)
        out[self.column] = values
        return out


@dataclass(frozen=True, slots=True)
class Combinations:
    """Only the listed combinations of values of ``columns`` are valid."""

    names: tuple[str, ...]
    allowed: tuple[tuple[str | None, ...], ...]
    type: ClassVar[str] = "combinations"

    def columns(self) -> tuple[str, ...]:
        return self.names

    @property
    def merged(self) -> str:
        return "+".join(self.names)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "columns": list(self.names), "allowed": [list(a) for a in self.allowed]}

    def _labels(self) -> list[str]:
        return [json.dumps(list(a), ensure_ascii=False) for a in self.allowed]

    def _keys(self, frame: pd.DataFrame) -> list[str]:
        parts = [[_canonical(v) for v in frame[n].astype(object)] for n in self.names]
        return [json.dumps(list(row), ensure_ascii=False) for row in zip(*parts, strict=True)]

    def violating(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row: whether its combination is not one of the allowed ones."""
        allowed = set(self._labels())
        return np.fromiter((key not in allowed for key in self._keys(frame)), dtype=bool, count=len(frame))

    def violations(self, frame: pd.DataFrame) -> int:
        return int(self.violating(frame).sum())

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        from .schema import ColumnKind, ColumnSpec

        where = f"constraint {_describe(self)}"
        for name in self.names:
            spec = _spec(schema, name, where)
            if not spec.kind.is_modelled:
                raise SchemaError(f"{where}: column {name!r} is {spec.kind.value}, which is never modelled.")
        _not_a_role(schema, self.names, where)
        if self.merged in schema.names:
            raise SchemaError(f"{where}: the merged column name {self.merged!r} is already a column.")
        spec = ColumnSpec(
            name=self.merged, kind=ColumnKind.CATEGORICAL, nullable=False, categories=tuple(self._labels())
        )
        first = schema.names.index(self.names[0])
        kept = [c for c in schema.columns if c.name not in self.names]
        position = sum(1 for c in schema.columns[:first] if c.name not in self.names)
        columns = (*kept[:position], spec, *kept[position:])
        out = frame.drop(columns=list(self.names))
        out.insert(min(position, len(out.columns)), self.merged, self._keys(frame))
        return out, replace(schema, columns=columns)

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        labels = self._labels()
        index = {label: i for i, label in enumerate(labels)}
        # a label outside the allowed list (the model's 'other' or 'missing' slot) becomes the first
        # allowed combination, so that every row meets the constraint
        rows = [self.allowed[index.get(str(v), 0)] for v in frame[self.merged].astype(object)]
        out = frame.drop(columns=[self.merged])
        for j, name in enumerate(self.names):
            out[name] = pd.Series([r[j] for r in rows], index=frame.index, dtype=object)
        return out


@dataclass(frozen=True, slots=True)
class Range:
    """``min <= column <= max`` (either end may be left out)."""

    column: str
    min: float | None = None
    max: float | None = None
    type: ClassVar[str] = "range"

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "column": self.column}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        return out

    def violating(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row: whether the value lies outside ``[min, max]`` (a missing value violates nothing)."""
        values = _numeric(frame[self.column])
        lo = -np.inf if self.min is None else self.min
        hi = np.inf if self.max is None else self.max
        with np.errstate(invalid="ignore"):
            out: np.ndarray = (values < lo) | (values > hi)
        return out

    def violations(self, frame: pd.DataFrame) -> int:
        return int(self.violating(frame).sum())

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        where = f"constraint {_describe(self)}"
        spec = _numeric_spec(schema, self.column, where)
        if self.min is not None and self.max is not None:
            lo, hi = self.min, self.max
            if spec.bounds is not None:  # both are public: the narrower wins
                lo, hi = max(lo, spec.bounds[0]), min(hi, spec.bounds[1])
            if lo < hi:
                schema = _replace_spec(schema, self.column, replace(spec, bounds=(float(lo), float(hi))))
        return frame, schema

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        column = out[self.column]
        clipped = column.clip(lower=self.min, upper=self.max)
        out[self.column] = clipped.astype(column.dtype) if pd.api.types.is_integer_dtype(column) else clipped
        return out


@dataclass(frozen=True, slots=True)
class ColumnOrder:
    """Internal: written by :func:`apply_constraints` so that sampling restores the column order."""

    names: tuple[str, ...]
    type: ClassVar[str] = "column_order"

    def columns(self) -> tuple[str, ...]:
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "columns": list(self.names)}

    def violations(self, frame: pd.DataFrame) -> int:
        return 0

    def violating(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame), dtype=bool)

    def forward(self, frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
        return frame, schema

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        order = [n for n in self.names if n in frame.columns]
        return frame[order + [c for c in frame.columns if c not in self.names]]


# ---- parsing ---------------------------------------------------------------------------------
_KEYS = {
    "inequality": ({"low", "high"}, set()),
    "derived": ({"column", "expression"}, {"decimals"}),
    "combinations": ({"columns", "allowed"}, set()),
    "range": ({"column"}, {"min", "max"}),
    "column_order": ({"columns"}, set()),
}


def _number_or_none(raw: Any, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise SchemaError(f"{where}: min and max must be finite numbers, got {raw!r}.")
    return float(raw)


def parse_constraint(raw: Any) -> Constraint:
    """One constraint from its schema form (see the module docstring).

    Raises:
        SchemaError: an unknown type, missing or unknown keys, or a bad expression or value.
    """
    if isinstance(raw, Inequality | Derived | Combinations | Range | ColumnOrder):
        return raw
    if not isinstance(raw, Mapping) or raw.get("type") not in _KEYS:
        kinds = ", ".join(k for k in _KEYS if k != "column_order")
        raise SchemaError(f"A constraint must be a mapping with 'type' one of {kinds}; got {raw!r}.")
    kind = str(raw["type"])
    required, optional = _KEYS[kind]
    where = f"constraint {kind}"
    missing = sorted(required - set(raw))
    unknown = sorted(set(raw) - required - optional - {"type"})
    if missing or unknown:
        raise SchemaError(
            f"{where}: missing keys {missing}, unknown keys {unknown}; it takes {sorted(required | optional)}."
        )
    for key in required & {"low", "high", "column"}:
        if not isinstance(raw[key], str) or not raw[key]:
            raise SchemaError(f"{where}: {key} must be a column name, got {raw[key]!r}.")
    if kind == "inequality":
        return Inequality(low=raw["low"], high=raw["high"])
    if kind == "derived":
        decimals = raw.get("decimals")
        if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0):
            raise SchemaError(f"{where}: decimals must be a whole number >= 0, got {decimals!r}.")
        return Derived(column=raw["column"], expression=Expression.parse(raw["expression"]), decimals=decimals)
    if kind == "range":
        lo, hi = _number_or_none(raw.get("min"), where), _number_or_none(raw.get("max"), where)
        if lo is None and hi is None:
            raise SchemaError(f"{where}: give min, max or both.")
        if lo is not None and hi is not None and lo > hi:
            raise SchemaError(f"{where}: min must not exceed max.")
        return Range(column=raw["column"], min=lo, max=hi)
    columns = raw["columns"]
    if not isinstance(columns, list | tuple) or not columns or not all(isinstance(c, str) for c in columns):
        raise SchemaError(f"{where}: columns must be a list of column names, got {columns!r}.")
    if kind == "column_order":
        return ColumnOrder(tuple(columns))
    if len(set(columns)) != len(columns) or len(columns) < 2:
        raise SchemaError(f"{where}: columns must name at least two different columns.")
    allowed = raw["allowed"]
    if not isinstance(allowed, list | tuple) or not allowed:
        raise SchemaError(f"{where}: allowed must be a non-empty list of combinations.")
    combos = []
    for combo in allowed:
        if not isinstance(combo, list | tuple) or len(combo) != len(columns):
            raise SchemaError(f"{where}: each allowed combination must list {len(columns)} values, got {combo!r}.")
        combos.append(tuple(_canonical(v) for v in combo))
    if len(set(combos)) != len(combos):
        raise SchemaError(f"{where}: allowed lists a combination twice.")
    return Combinations(names=tuple(columns), allowed=tuple(combos))


def parse_constraints(raw: Any, errors: list[str] | None = None) -> tuple[Constraint, ...]:
    """Every constraint of a schema's ``constraints:`` list; problems go to ``errors`` when given."""
    if not isinstance(raw, list | tuple):
        problem = f"'constraints' must be a list, got {type(raw).__name__}."
        if errors is None:
            raise SchemaError(problem)
        errors.append(problem)
        return ()
    out: list[Constraint] = []
    for i, item in enumerate(raw, start=1):
        try:
            out.append(parse_constraint(item))
        except SchemaError as exc:
            if errors is None:
                raise
            errors.append(f"constraints[{i}]: {exc}")
    return tuple(out)


def with_constraints(schema: TableSchema, constraints: Sequence[Any]) -> TableSchema:
    """A copy of ``schema`` with these constraints (objects or their schema mappings) added."""
    return replace(schema, constraints=(*schema.constraints, *parse_constraints(list(constraints))))


# ---- fit / sample hooks ---------------------------------------------------------------------
def apply_constraints(frame: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, TableSchema]:
    """Check the data against every constraint and transform table and schema for training.

    Every constraint is checked on the data as given. The transforms then run derived columns
    first, then inequalities and combinations, then ranges; sampling inverts them in the
    opposite order, so that ranges clip before an inequality rebuilds its ``high`` column and a
    derived column is computed last, from restored inputs. The returned schema carries the
    constraints (and the column order) so that :func:`restore_constraints` can invert the
    transforms on sampled rows, also after save and load.

    Raises:
        SchemaError: a constraint names an unknown or unsuitable column, two constraints
            transform the same column, or the data violates a constraint.
    """
    declared = tuple(c for c in schema.constraints if not isinstance(c, ColumnOrder))
    if not declared:
        return frame, schema
    for constraint in declared:
        for name in constraint.columns():
            _spec(schema, name, f"constraint {_describe(constraint)}")
            if name not in frame.columns:
                raise SchemaError(f"constraint {_describe(constraint)}: column {name!r} is not in the data.")
    for a in declared:
        for b in declared:
            used = b.columns()[:1] if isinstance(b, Derived) else b.columns()  # a derived column's inputs are free
            clash = sorted(set(_transformed(a)) & set(used)) if a is not b else []
            if clash:
                raise SchemaError(
                    f"The constraints {_describe(a)} and {_describe(b)} both involve {clash}, which the first "
                    "transforms; combining them is not supported (chains of inequalities neither)."
                )
    for constraint in declared:
        _refuse(constraint, frame)
    ordered = sorted(declared, key=_phase)
    order = ColumnOrder(tuple(str(c) for c in frame.columns))
    inner = replace(schema, constraints=())
    for constraint in ordered:
        frame, inner = constraint.forward(frame, inner)
    return frame, replace(inner, constraints=(*ordered, order))


def _phase(constraint: Constraint) -> int:
    return 0 if isinstance(constraint, Derived) else (2 if isinstance(constraint, Range) else 1)


def _transformed(constraint: Constraint) -> tuple[str, ...]:
    if isinstance(constraint, Inequality):
        return (constraint.high,)
    if isinstance(constraint, Derived):
        return (constraint.column,)
    if isinstance(constraint, Combinations):
        return constraint.names
    return ()


def restore_constraints(schema: TableSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Invert :func:`apply_constraints` on sampled rows (last constraint first, then the column order)."""
    if not schema.constraints:
        return frame
    order = [c for c in schema.constraints if isinstance(c, ColumnOrder)]
    for constraint in reversed([c for c in schema.constraints if not isinstance(c, ColumnOrder)]):
        frame = constraint.inverse(frame)
    for item in order:
        frame = item.inverse(frame)
    return frame.reset_index(drop=True)


def violations(frame: pd.DataFrame, constraints: Sequence[Constraint]) -> dict[str, int]:
    """Rows of ``frame`` that violate each constraint, keyed by the constraint's schema form (JSON)."""
    return {_describe(c): c.violations(frame) for c in constraints if not isinstance(c, ColumnOrder)}
