"""Reading and writing tables (CSV, TSV and Parquet), through polars, handed on as pandas.

Every write goes to a temporary file in the destination folder and is renamed into place,
so a failed or interrupted write never leaves a half-written file behind.

Error messages about a table's content name the column and the kind of problem. They quote a
value from the file only when asked to (``show_values=True``): the tables tabsynth reads are
private, and under DP an error message is an output too.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import yaml

from .exceptions import DataError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "atomic_path",
    "check_output",
    "read_table",
    "read_yaml_mapping",
    "sha256_file",
    "write_table",
    "write_tables",
    "write_text",
]

#: File types tabsynth reads and writes, by extension: CSV (comma), TSV (tab), Parquet.
SUPPORTED_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq")
_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_SEP_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_NULLS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"]
_PARSE_ERROR = re.compile(r"could not parse `(?P<value>.*?)` as dtype `(?P<dtype>[^`]+)` at column '(?P<column>.*?)'")
_DTYPE_WORDS = {"i": "integers", "u": "integers", "f": "numbers", "b": "true/false values", "d": "dates"}


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _SEPARATORS:
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(
        f"Unsupported file type {path.suffix or '(none)'!r} for {path}: tabsynth reads and writes "
        f"CSV (.csv), TSV (.tsv, .tab) and Parquet (.parquet, .pq). Rename the file or convert it."
    )


def _separator(path: Path, sep: str | None) -> str:
    if sep is None:
        return _SEPARATORS.get(path.suffix.lower(), ",")
    sep = _SEP_NAMES.get(sep.lower(), sep)
    if len(sep) != 1 or sep in '"\r\n':
        raise DataError(f"--sep must be one character (or 'tab'), got {sep!r}.")
    return sep


def check_output(path: str | os.PathLike[str], *, overwrite: bool, table: bool = True) -> Path:
    """Refuse to replace an existing ``path`` unless ``overwrite``; check a table's extension.

    Called before any work is done, so that a refused command writes nothing.

    Raises:
        DataError: ``path`` exists and ``overwrite`` is false, or (``table``) its extension is not
            a supported table type.
    """
    path = Path(path)
    if table:
        _format_of(path)
    if path.exists() and not overwrite:
        raise DataError(
            f"{path} already exists: tabsynth never replaces a file or folder silently. "
            "Choose another path or pass --overwrite."
        )
    return path


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096)
    return b"\x00" in head


def _check_rectangular(path: Path, sep: str) -> None:
    """Raise on the first row whose field count differs from the header's (polars pads short rows)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=sep)
        header = next(reader, None)
        if header is None:
            return
        for line_no, row in enumerate(reader, start=2):
            if row and len(row) != len(header):
                raise DataError(
                    f"{path} is ragged: line {line_no} has {len(row)} fields but the header has {len(header)}. "
                    f"Fix that line (quote values that contain the separator {sep!r}) and try again."
                )


def _parse_error(path: Path, message: str, *, show_values: bool) -> DataError:
    """Name the column and what was found in it, from polars' parse error."""
    match = _PARSE_ERROR.search(message)
    if match is None:
        first = message.strip().splitlines()[0] if message.strip() else "unreadable"
        if not show_values:  # polars may quote a field of the file
            first = "a field could not be parsed"
        return DataError(f"Could not parse {path} as a delimited text table ({first}).")
    column, dtype = match["column"], match["dtype"]
    kind = _DTYPE_WORDS.get(dtype[:1], f"{dtype} values")
    found = f" (found {match['value']!r})" if show_values else ""
    return DataError(
        f"{path}: column {column!r} holds {kind} in its first rows but further down also values that are "
        f"not {kind}{found}, such as a placeholder for 'other' or 'unknown', or a typo. Replace those "
        "entries with an empty field (read as missing) or correct them, then try again."
    )


def _read_csv(path: Path, sep: str, *, show_values: bool) -> pl.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: expected a header line and at least one data row.")
    if _looks_binary(path):
        raise DataError(f"{path} is not a text table (it holds binary data). Export it as CSV or Parquet.")
    _check_rectangular(path, sep)
    try:
        frame = pl.read_csv(path, separator=sep, null_values=_NULLS, infer_schema_length=10_000, try_parse_dates=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as exc:
        raise _parse_error(path, str(exc), show_values=show_values) from None
    return frame


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for corrupt files
        raise DataError(f"Could not read {path} as Parquet ({type(exc).__name__}). Is the file complete?") from None


def read_table(path: str | os.PathLike[str], *, sep: str | None = None, show_values: bool = False) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file into a pandas DataFrame.

    Args:
        path: ``.csv``, ``.tsv``/``.tab`` or ``.parquet``/``.pq``.
        sep: field separator of a text table (one character, or ``"tab"``); default: by extension.
        show_values: quote the offending value in parse errors. Off by default: the table is
            private and, under DP, an error message must not echo what it holds.

    Raises:
        DataError: the path does not exist, the format is unsupported, or the file is empty,
            header-only, ragged, not a table, or a column holds a value of the wrong kind.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"File not found: {path}. Check the path (it is relative to {Path.cwd()}).")
    if path.is_dir():
        raise DataError(f"{path} is a folder; expected a CSV, TSV or Parquet file.")
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    fmt = "csv" if sep is not None and not is_parquet else _format_of(path)  # --sep reads any text file
    if fmt == "csv":
        frame = _read_csv(path, _separator(path, sep), show_values=show_values)
    else:
        frame = _read_parquet(path)
    if frame.width == 0:
        raise DataError(f"{path} has no columns: expected a header line naming the columns.")
    if frame.height == 0:
        raise DataError(f"{path} has a header but no data rows: expected at least one row.")
    return frame.to_pandas()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _one_type_per_column(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns that mix value types (``True`` next to ``'<other>'``) written as text.

    Parquet and Arrow need one type per column; a synthetic categorical column can hold the
    generator's "other" slot beside booleans or numbers. Missing values stay missing.
    """
    mixed = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            kinds = {type(v) for v in column.dropna()}
            if len(kinds) > 1:
                mixed.append(name)
    if not mixed:
        return frame
    out = frame.copy()
    for name in mixed:
        column = out[name]
        out[name] = column.where(column.isna(), column.astype(str)).astype(object)
    return out


def _write_frame(frame: pd.DataFrame, path: Path, tmp: Path) -> None:
    table = pl.from_pandas(_one_type_per_column(frame))
    if _format_of(path) == "csv":
        table.write_csv(tmp, separator=_separator(path, None))
    else:
        table.write_parquet(tmp)


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` as CSV, TSV or Parquet (chosen by the extension), atomically."""
    path = Path(path)
    _format_of(path)
    with atomic_path(path) as tmp:
        _write_frame(frame, path, tmp)
    return path


def write_tables(tables: Mapping[str | os.PathLike[str], pd.DataFrame]) -> list[Path]:
    """Write several tables all or nothing: each goes to a temporary file, renamed once all are written."""
    paths = [Path(p) for p in tables]
    for path in paths:
        _format_of(path)
    with contextlib.ExitStack() as stack:
        temps = [stack.enter_context(atomic_path(path)) for path in paths]
        for path, tmp, frame in zip(paths, temps, tables.values(), strict=True):
            _write_frame(frame, path, tmp)
    return paths


def write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write a text file atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_yaml_mapping(
    path: Path, *, what: str, expected: str, error: type[Exception] = DataError
) -> tuple[dict[str, Any], bytes]:
    """A YAML file that must hold a mapping, and its bytes (for hashing).

    Raises ``error`` saying what was expected when the YAML is invalid or not a mapping.
    """
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise error(f"{what} {path}: invalid YAML ({exc}).") from None
    if not isinstance(raw, dict):
        raise error(f"{what} {path}: expected a mapping with {expected}, found {type(raw).__name__}.")
    return raw, raw_bytes
