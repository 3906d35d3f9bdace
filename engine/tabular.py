"""Untrusted CSV uploads -> clean numeric columns, or an InputError the page can translate."""

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.errors import InputError


@dataclass(frozen=True)
class TableLimits:
    max_bytes: int = 20_000_000     # refuse larger uploads outright
    max_rows: int = 20_000          # keep this many rows beyond it:
    sample_rows: bool = True        # a random sample (scatter data), or the first ones (a time series)


@dataclass(frozen=True)
class NumericTable:
    columns: dict[str, np.ndarray]   # column name -> float64 values (may contain NaN / inf)
    total_rows: int                  # rows in the file
    sampled: bool                    # True when only `max_rows` rows were kept


def read_numeric_csv(data: bytes, limits: TableLimits = TableLimits(), min_columns: int = 2) -> NumericTable:
    """Parse a CSV (any common separator) and keep the columns that are mostly numbers; fewer than
    `min_columns` of them is an error."""
    if not data.strip():
        raise InputError("empty_file")
    if len(data) > limits.max_bytes:
        raise InputError("file_too_big", mb=round(len(data) / 1e6, 1), max_mb=limits.max_bytes // 1_000_000)
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=None, engine="python", encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError("csv_unreadable", detail=str(exc)[:120]) from exc
    if frame.empty:
        raise InputError("csv_no_rows")
    total = len(frame)
    sampled = total > limits.max_rows
    if sampled:
        frame = (frame.sample(n=limits.max_rows, random_state=0).sort_index() if limits.sample_rows
                 else frame.head(limits.max_rows))
    columns = {}
    for name in frame.columns:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        if np.isfinite(values).mean() >= 0.5:      # mostly numbers: a numeric column with a few gaps
            columns[str(name)] = values
    if len(columns) < min_columns:
        key = "csv_need_two_numeric" if min_columns == 2 else "csv_need_numeric"
        raise InputError(key, found=len(columns))
    return NumericTable(columns, total, sampled)


MAX_ABS = 1e15      # models train in float32 (largest 3.4e38): squared errors of bigger values overflow


def paired_finite(x: np.ndarray, y: np.ndarray, minimum: int = 4,
                  max_abs: float = MAX_ABS) -> tuple[np.ndarray, np.ndarray, int]:
    """Keep rows where both x and y are finite; returns x, y and how many rows were dropped.
    Values beyond `max_abs` are refused: in float32 they (or their squares) become inf."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < minimum:
        raise InputError("too_few_points", count=int(keep.sum()), minimum=minimum)
    largest = float(max(np.abs(x[keep]).max(), np.abs(y[keep]).max()))
    if largest > max_abs:
        raise InputError("values_too_large", largest=f"{largest:.3g}", limit=f"{max_abs:.0e}".replace("e+", "e"))
    return x[keep], y[keep], int((~keep).sum())
