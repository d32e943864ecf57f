"""Reading and writing tables (CSV and Parquet), through polars, handed on as pandas.

Every write goes to a temporary file in the destination folder and is renamed into place,
so a failed or interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import yaml

from .exceptions import DataError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "atomic_path",
    "read_table",
    "read_yaml_mapping",
    "sha256_file",
    "write_table",
    "write_text",
]

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
_NULLS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(
        f"Unsupported file type {path.suffix or '(none)'!r} for {path}: expected one of "
        f"{', '.join(SUPPORTED_SUFFIXES)}. Rename the file or convert it to CSV or Parquet."
    )


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096)
    return b"\x00" in head


def _check_rectangular(path: Path) -> None:
    """Raise on the first row whose field count differs from the header's (polars pads short rows)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        for line_no, row in enumerate(reader, start=2):
            if row and len(row) != len(header):
                raise DataError(
                    f"{path} is ragged: line {line_no} has {len(row)} fields but the header has {len(header)}. "
                    "Fix that line (quote values that contain commas) and try again."
                )


def _read_csv(path: Path) -> pl.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: expected a header line and at least one data row.")
    if _looks_binary(path):
        raise DataError(f"{path} is not a text CSV file (it holds binary data). Export it as CSV or Parquet.")
    _check_rectangular(path)
    try:
        frame = pl.read_csv(path, null_values=_NULLS, infer_schema_length=10_000, try_parse_dates=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"Could not parse {path} as CSV ({first}). Check that every row has the same number "
            "of comma-separated fields as the header."
        ) from None
    return frame


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for corrupt files
        raise DataError(f"Could not read {path} as Parquet ({type(exc).__name__}). Is the file complete?") from None


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file into a pandas DataFrame.

    Raises:
        DataError: the path does not exist, the format is unsupported, or the file is empty,
            header-only, ragged or not a table.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"File not found: {path}. Check the path (it is relative to {Path.cwd()}).")
    if path.is_dir():
        raise DataError(f"{path} is a folder; expected a CSV or Parquet file.")
    fmt = _format_of(path)
    frame = _read_csv(path) if fmt == "csv" else _read_parquet(path)
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


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` as CSV or Parquet (chosen by the extension), atomically."""
    path = Path(path)
    fmt = _format_of(path)
    table = pl.from_pandas(frame)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            table.write_csv(tmp)
        else:
            table.write_parquet(tmp)
    return path


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
