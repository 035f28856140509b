"""Reading users' candle files (CSV or Parquet) into engine candles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import engine


class DataFileError(Exception):
    """The file cannot be read as a candle table; the message says why and what to do."""


def read_candles_file(path: Path, *, symbol: str = "", interval: str = "") -> engine.Candles:
    """Candles from a CSV or Parquet file (columns matched case-insensitively)."""
    import pandas as pd

    if not path.exists():
        raise DataFileError(f"no such file: {path}; check the --data path")
    if path.is_dir():
        raise DataFileError(f"{path} is a directory; pass a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        frame: Any
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".tsv", ""):
            frame = pd.read_csv(path, sep=None, engine="python") if suffix == ".tsv" else pd.read_csv(path)
        else:
            raise DataFileError(f"{path.name}: unsupported file type {suffix!r}; use .csv or .parquet")
    except DataFileError:
        raise
    except Exception as exc:  # pandas raises many types for unreadable input
        raise DataFileError(f"cannot read {path.name} as {suffix.lstrip('.') or 'csv'}: {exc}") from None
    return engine.candles_from_frame(frame, symbol=symbol or path.stem.upper(), interval=interval)
