"""Untrusted CSV uploads -> clean numeric columns, or an InputError the page can translate.

Files come from real spreadsheet programs, so the reader detects what they wrote: the text encoding
(a byte-order mark, UTF-8, GB18030/GBK as Excel saves on Chinese Windows, else Windows-1252/Latin-1),
the separator (tab, semicolon, comma or vertical bar) and the decimal comma of European exports.
"""

import codecs
import csv
import io
import re
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
    encoding: str = "utf8"           # how the bytes were read: a key of ENCODINGS
    separator: str = "comma"         # a key of SEPARATORS, or "none" for a single column
    decimal_comma: bool = False      # True when some column was read with "," as the decimal mark


# key -> Python codec; the keys name the detected encoding on the page
ENCODINGS = {"utf8_bom": "utf-8-sig", "utf16le": "utf-16-le", "utf16be": "utf-16-be", "utf8": "utf-8",
             "gb18030": "gb18030", "cp1252": "cp1252", "latin1": "latin-1"}
SEPARATORS = {"tab": "\t", "semicolon": ";", "comma": ",", "bar": "|"}   # tried in this order
SAMPLE_LINES = 50                    # lines read to detect the separator
# A non-ASCII run with ASCII letters on both sides ("gr鲞e" is "größe" in Latin-1 read as GBK)
# is a Western word misread, not Chinese.
_INSIDE_A_WORD = re.compile(r"[A-Za-z][^\x00-\x7f]+[A-Za-z]")
_DECIMAL_COMMA = re.compile(r"\s*[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d*)?\s*")   # 1.234,5 and 0,25


def decode(data: bytes) -> tuple[str, str]:
    """Bytes -> (text, encoding key): a byte-order mark wins; then UTF-16 without one (NUL bytes in
    every other place); then strict UTF-8; then GB18030 unless it splits Western words; then Windows-1252;
    Latin-1 last, which decodes any bytes."""
    boms = ((codecs.BOM_UTF8, "utf8_bom"), (codecs.BOM_UTF16_LE, "utf16le"), (codecs.BOM_UTF16_BE, "utf16be"))
    for bom, key in boms:
        if data.startswith(bom):
            return data[len(bom):].decode(ENCODINGS[key], errors="replace"), key
    head = data[:200]
    if len(head) >= 8 and len(head) % 2 == 0:
        for key, nuls in (("utf16le", head[1::2]), ("utf16be", head[0::2])):
            if nuls.count(0) == len(nuls):
                return data.decode(ENCODINGS[key], errors="replace"), key
    for key in ("utf8", "gb18030", "cp1252"):
        try:
            text = data.decode(ENCODINGS[key])
        except UnicodeDecodeError:
            continue
        if key != "gb18030" or not _INSIDE_A_WORD.search(text):
            return text, key
    return data.decode("latin-1"), "latin1"


def _separator(text: str) -> str:
    """The first separator that splits the header and most sampled lines into the same number (>= 2)
    of fields; "none" when no separator does (a single column)."""
    lines = [line for line in text[:200_000].splitlines()[:SAMPLE_LINES + 1] if line.strip()]
    if len(lines) > 2:
        lines = lines[:-1]                      # the last sampled line may be cut short
    for name, mark in SEPARATORS.items():
        counts = [len(fields) for fields in csv.reader(lines, delimiter=mark)]
        if counts and counts[0] >= 2 and counts.count(counts[0]) >= 0.8 * len(counts):
            return name
    return "none"


def _numbers(cells: pd.Series, decimal_comma: bool) -> np.ndarray:
    """Text cells -> float64 (NaN where a cell is not a number); with `decimal_comma`, "1.234,5" is 1234.5."""
    if decimal_comma:
        text = cells.astype(str)
        european = text.str.fullmatch(_DECIMAL_COMMA.pattern) & cells.notna()
        cells = cells.where(~european, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    return pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)


def _mostly_numbers(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).mean() >= 0.5)      # a numeric column with a few gaps


def read_numeric_csv(data: bytes, limits: TableLimits = TableLimits(), min_columns: int = 2) -> NumericTable:
    """Parse a CSV (encoding, separator and decimal mark detected) and keep the columns that are mostly
    numbers; fewer than `min_columns` of them is an error."""
    if not data.strip():
        raise InputError("empty_file")
    if len(data) > limits.max_bytes:
        raise InputError("file_too_big", mb=round(len(data) / 1e6, 1), max_mb=limits.max_bytes // 1_000_000)
    text, encoding = decode(data)
    if "\x00" in text:                         # a binary file (or UTF-16 with its mark cut off)
        raise InputError("csv_unreadable")
    separator = _separator(text)
    try:   # "none": one column, split on a character no text holds (NUL was refused above)
        frame = pd.read_csv(io.StringIO(text), sep=SEPARATORS.get(separator, "\x00"), dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise InputError("csv_unreadable") from exc
    if frame.empty:
        raise InputError("csv_no_rows")
    total = len(frame)
    sampled = total > limits.max_rows
    if sampled:
        frame = (frame.sample(n=limits.max_rows, random_state=0).sort_index() if limits.sample_rows
                 else frame.head(limits.max_rows))
    columns, decimal_comma = {}, False
    for name in frame.columns:
        values = _numbers(frame[name], decimal_comma=False)
        if separator != "comma":                 # "0,25" can only be a decimal comma here
            european = _numbers(frame[name], decimal_comma=True)
            if np.isfinite(european).sum() > np.isfinite(values).sum():
                values, decimal_comma = european, True
        if _mostly_numbers(values):
            columns[str(name).strip()] = values
    if len(columns) < min_columns:
        key = "csv_need_two_numeric" if min_columns == 2 else "csv_need_numeric"
        raise InputError(key, found=len(columns))
    return NumericTable(columns, total, sampled, encoding, separator, decimal_comma)


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
