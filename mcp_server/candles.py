"""The one candle source: a `DataSpec` in, validated candles out, for every surface.

MCP tools, REST routes and CLI commands all describe the data they want with a
`DataSpec` and load it here:

- `sample`: the engine's deterministic synthetic series (no network, no store);
- `store`: candles already in the local store, never fetched behind the caller's back
  (fill the store with the `fetch_history` tool or `bybit-tester data fetch`);
- `file`: a CSV or Parquet file (columns time, open, high, low, close[, volume]).

Whatever the source, the candles keep their labels: data that did not come from
the exchange says `synthetic`, and so does every result made from it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import engine as E
import market as M
from mcp_server.errors import DataUnavailableError
from ohlcv import (
    Candles,
    Interval,
    IntervalLabel,
    TtlLru,
    describe_data,
    format_iso,
    now_ms,
    parse_time_ms,
)

__all__ = [
    "DEFAULT_BARS", "DEFAULT_INTERVAL", "DEFAULT_SEED", "DEFAULT_SYMBOL", "BarsArg",
    "CandleSource", "Category", "CategoryArg", "DataSet", "DataSpec", "IntervalArg", "LocalDataSpec",
    "SeedArg", "SymbolArg",
    "TimeArg", "read_candles_file", "write_candles_file",
]  # fmt: skip

log = logging.getLogger("mcp_server.candles")

Source = Literal["sample", "store", "file"]
Category = Literal["linear", "spot", "inverse"]

DEFAULT_SYMBOL = "BTCUSDT"
DEFAULT_INTERVAL: IntervalLabel = "15"
DEFAULT_BARS = 35_040  # a year of 15-minute bars
DEFAULT_SEED = 42
MAX_BARS = 200_000
_SAMPLE_SLOTS = 8


SourceArg = Annotated[
    Source,
    Field(
        description="sample: synthetic BTC-like series, offline; store: candles saved by "
        "fetch_history; file: CSV/Parquet at `path`"
    ),
]
SymbolArg = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,24}$")]
IntervalArg = IntervalLabel  # minutes, D, W or M: the enum says it
_BARS_HELP = (
    "Bar count: the sample's, or the newest stored up to `end` when no `start`"
)
BarsArg = Annotated[int, Field(ge=2, le=MAX_BARS, description=_BARS_HELP)]
CategoryArg = Category
TimeArg = Annotated[
    str | None, Field(max_length=32, description="UTC ISO time (2024-03-01T12:00) or epoch s/ms")
]
EndArg = Annotated[str | None, Field(max_length=32, description="As start")]
SeedArg = Annotated[int, Field(ge=0, le=2**31 - 1, description="Sample seed")]
PathArg = Annotated[
    str | None, Field(max_length=1024, description="CSV/Parquet file for source=file")
]


class DataSpec(BaseModel):
    """Which candles: the same fields, defaults and limits on every surface."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: SourceArg = "sample"
    symbol: SymbolArg = DEFAULT_SYMBOL
    interval: IntervalArg = DEFAULT_INTERVAL
    bars: BarsArg = DEFAULT_BARS
    category: CategoryArg = "linear"
    start: TimeArg = None
    end: EndArg = None
    seed: SeedArg = DEFAULT_SEED
    path: PathArg = None

    def label(self) -> str:
        """Short text for messages and result headers."""
        if self.source == "file":
            return f"file:{self.path}"
        span = f" {self.start or ''}..{self.end or ''}" if self.start or self.end else ""
        return f"{self.source}:{self.category}/{self.symbol}/{self.interval} x{self.bars}{span}"


class LocalDataSpec(DataSpec):
    """A DataSpec from the user's own shell: no server limit on `bars` (the machine is theirs)."""

    bars: Annotated[int, Field(ge=2, description=_BARS_HELP)] = DEFAULT_BARS


@dataclass(frozen=True)
class DataSet:
    """Candles with their fingerprint (computed once) and what the caller should know."""

    candles: Candles
    spec: DataSpec
    notes: tuple[str, ...] = field(default=())

    @property
    def fingerprint(self) -> str:
        return self.candles.fingerprint()


class _Samples:
    """The generated samples, one store per process: they are deterministic, so every
    source shares them (the embedded job worker's too, which then does not generate again
    what the server just loaded to submit the job). Locked: worker threads load too."""

    def __init__(self, slots: int) -> None:
        self._lru: TtlLru[str, DataSet] = TtlLru(slots)
        self._lock = threading.Lock()

    @staticmethod
    def _key(spec: DataSpec) -> str:
        return spec.model_dump_json()  # a DataSpec and a LocalDataSpec of the same candles: one key

    def get(self, spec: DataSpec) -> DataSet | None:
        with self._lock:
            return self._lru.get(self._key(spec))

    def put(self, spec: DataSpec, data: DataSet) -> DataSet:
        """Keep `data`; the entry another thread stored first, if any (one object per spec)."""
        with self._lock:
            first = self._lru.get(self._key(spec))
            if first is not None:
                return first
            self._lru.set(self._key(spec), data)
            return data


_SHARED_SAMPLES = _Samples(_SAMPLE_SLOTS)


@dataclass
class CandleSource:
    """Loads a `DataSpec`: `max_bars` (None: no limit) caps what a caller may load, and
    files must lie under `file_root` (None: anywhere, for the CLI on the user's machine)."""

    store: M.CandleStore
    max_bars: int | None = MAX_BARS
    file_root: Path | None = None
    engine_lane: anyio.CapacityLimiter | None = None
    # Only the sample is remembered: it is deterministic, while the store and files change.
    _samples: _Samples = field(default_factory=lambda: _SHARED_SAMPLES)

    async def load(self, spec: DataSpec) -> DataSet:
        """The candles of `spec`, validated for the engine."""
        if self.max_bars is not None and spec.bars > self.max_bars:
            raise DataUnavailableError(
                f"bars={spec.bars} is above this server's limit of {self.max_bars}; ask for fewer bars"
            )
        if spec.source == "sample":
            hit = self._samples.get(spec)
            if hit is None:
                hit = await anyio.to_thread.run_sync(_sample, spec, limiter=self.engine_lane)
                hit = self._samples.put(spec, hit)
            return hit
        loader = self._stored if spec.source == "store" else self._file
        return await anyio.to_thread.run_sync(loader, spec, limiter=self.engine_lane)

    def _stored(self, spec: DataSpec) -> DataSet:
        step = Interval.parse(spec.interval).ms
        end = parse_time_ms(spec.end, name="end")
        start = parse_time_ms(spec.start, name="start")
        _check_order(start, end)
        now = now_ms()
        hi = end if end is not None else now
        # the newest closed bar opens up to two bars before `hi` (now): a wider window, then tail
        lo = start if start is not None else hi - (spec.bars + 2) * step
        key = M.DatasetKey.of(spec.category, spec.symbol, spec.interval)
        stored = self.store.load(key, lo, hi)
        if start is None:
            stored = stored.tail(spec.bars)
        if self.max_bars is not None and len(stored) > self.max_bars:
            raise DataUnavailableError(
                f"{spec.label()} holds {len(stored)} stored bars, above this server's limit of "
                f"{self.max_bars}; shorten the range or use a longer interval"
            )
        if len(stored) < 2:
            raise DataUnavailableError(_nothing_stored(spec, key, len(stored)))
        candles = _for_engine(stored)
        wanted = spec.bars if start is None else _bars_between(spec.interval, lo, min(hi, now))
        notes = []
        if len(candles) < wanted:
            notes.append(
                f"only {len(candles)} of the {wanted} bars asked for are stored "
                f"({format_iso(int(candles.time[0]))} .. {format_iso(int(candles.time[-1]))}); "
                "fetch_history can fill the rest"
            )
        return DataSet(candles, spec, tuple(notes))

    def _file(self, spec: DataSpec) -> DataSet:
        if not spec.path:
            raise DataUnavailableError("source='file' needs `path`: a .csv or .parquet file")
        path = self._allowed(spec.path)
        # The sample's default symbol means "not given": then the file's name labels the data.
        symbol = spec.symbol if spec.symbol != DEFAULT_SYMBOL else ""
        try:
            candles = read_candles_file(path, symbol=symbol)
        except E.InvalidDataError as exc:
            if self.file_root is None:  # the user's own shell: show what the file holds
                raise
            # A client must not read a file's header or cells back through our errors.
            raise DataUnavailableError(
                f"{path.name} is not an OHLCV table; it needs columns time, open, high, low, "
                "close (and volume), one row per bar in time order"
            ) from exc
        lo, hi = parse_time_ms(spec.start, name="start"), parse_time_ms(spec.end, name="end")
        _check_order(lo, hi)
        if lo is not None or hi is not None:
            candles = candles.between(lo, hi)
            if len(candles) < 2:
                raise DataUnavailableError(
                    f"{path.name} has fewer than 2 candles between {spec.start} and {spec.end}; "
                    "widen the range"
                )
        return DataSet(candles, spec)

    def _allowed(self, raw: str) -> Path:
        """The file `raw` names: a .csv/.tsv/.parquet file, inside `file_root` when one is set."""
        try:
            path = Path(raw).expanduser()
            if self.file_root is not None:
                root = self.file_root.resolve()
                path = (root / path).resolve()
                inside = path.is_relative_to(root)
                if not inside or any(p.startswith(".") for p in path.relative_to(root).parts):
                    raise DataUnavailableError(
                        f"path {raw!r} is outside this server's files folder ({self.file_root}) "
                        "or hidden; put the file there or set BST_FILES_DIR"
                    )
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the OS
            raise DataUnavailableError(f"path {raw[:80]!r} is not a usable file name ({exc})") from None
        if path.suffix.lower() not in _FILE_TYPES:
            raise DataUnavailableError(
                f"{path.name}: unsupported file type {path.suffix or '(none)'!r}; use .csv or .parquet"
            )
        return path


def _sample(spec: DataSpec) -> DataSet:
    kwargs: dict[str, Any] = {"seed": spec.seed}
    start = parse_time_ms(spec.start, name="start")
    if start is not None:
        kwargs["start_ms"] = start
    candles = E.sample_candles(spec.symbol, spec.interval, spec.bars, **kwargs)
    candles.fingerprint()  # hashed here, in the worker thread, and kept with the candles
    return DataSet(candles, spec)


def _bars_between(interval: str, lo: int, hi: int) -> int:
    """Closed-form count of bars opening in [lo, hi] (months counted at their 31-day bound)."""
    step = Interval.parse(interval)
    first = step.floor(lo) if step.floor(lo) == lo else step.next_open(step.floor(lo))
    return max(0, (step.floor(hi) - first) // step.ms + 1)


def _check_order(start: int | None, end: int | None) -> None:
    if start is not None and end is not None and start >= end:
        raise DataUnavailableError("start must be before end; swap them")


def _nothing_stored(spec: DataSpec, key: M.DatasetKey, n: int) -> str:
    what = f"{n} stored candle{'s' if n != 1 else ''}" if n else "no stored candles"
    if spec.start:
        where = f"from {spec.start}" + (f" to {spec.end}" if spec.end else "")
    else:
        where = f"in the newest {spec.bars} bars" + (f" up to {spec.end}" if spec.end else "")
    return (
        f"{what} for {key} {where}; fetch them first (MCP tool fetch_history, or "
        f"`bybit-tester data fetch {key.symbol} --interval {key.interval} --days 30`), "
        "or use source='sample'"
    )


def _for_engine(stored: Candles) -> Candles:
    """Store rows validated for the engine: mark and index klines have no volume (NaN -> 0)."""
    cols = stored.columns()
    cols["volume"] = np.nan_to_num(cols["volume"], nan=0.0)
    cols["turnover"] = np.nan_to_num(cols["turnover"], nan=0.0)
    candles = stored.with_rows(list(cols.values()), validated=False)
    E.validate_candles(candles)
    return candles


# -- files ----------------------------------------------------------------------------
_SYNTHETIC_COLUMN = "synthetic"
_META_SYNTHETIC = b"bybit_tester.synthetic"
_META_DATA = b"bybit_tester.data"
_FILE_TYPES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


def read_candles_file(path: Path, *, symbol: str = "", interval: str = "") -> Candles:
    """Candles from a CSV or Parquet file (columns matched case-insensitively). A
    `synthetic` column (as `write_candles_file` writes for synthetic data) labels them."""
    import pandas as pd

    if not path.exists():
        raise DataUnavailableError(f"no such file: {path}; check the path")
    if path.is_dir():
        raise DataUnavailableError(f"{path} is a directory; pass a .csv or .parquet file")
    suffix = path.suffix.lower()
    if suffix not in _FILE_TYPES:
        raise DataUnavailableError(f"{path.name}: unsupported file type {suffix or '(none)'!r}; use .csv or .parquet")
    try:
        frame: Any
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:  # pandas' C parser: the python one is ~50x slower on big files
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as exc:  # pandas raises many types for unreadable input
        reason = " ".join(str(exc).split())[:160]
        raise DataUnavailableError(f"cannot read {path.name} as {suffix.lstrip('.')}: {reason}") from None
    cols = {str(c).strip().lower(): c for c in frame.columns}
    synthetic = _SYNTHETIC_COLUMN in cols and bool(frame[cols[_SYNTHETIC_COLUMN]].map(_truthy).any())
    synthetic = synthetic or (suffix in (".parquet", ".pq") and _parquet_says_synthetic(path))
    candles = E.candles_from_frame(frame, symbol=symbol or path.stem.upper(), interval=interval)
    return candles.relabel(synthetic=synthetic) if synthetic else candles


def _truthy(value: Any) -> bool:
    """A `synthetic` cell as written by us or edited by hand (True, 1, "true", "yes")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value) and bool(value == value)  # NaN (an empty cell) is not a label


def _parquet_says_synthetic(path: Path) -> bool:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return meta.get(_META_SYNTHETIC, b"").lower() == b"true"


def write_candles_file(candles: Candles, path: Path, *, source: str | None = None) -> None:
    """Candles to `.parquet` or `.csv` (time in epoch ms) with a `synthetic` column, so
    the label survives the round trip; Parquet also says it in the file's metadata,
    with where the data came from (`source`: how it was loaded) in words."""
    import pandas as pd

    frame = pd.DataFrame(candles.columns())
    frame[_SYNTHETIC_COLUMN] = candles.synthetic
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        label = describe_data(source, candles.synthetic)
        meta = {**(table.schema.metadata or {}), _META_SYNTHETIC: str(label.synthetic).lower().encode(),
                _META_DATA: label.text.encode()}  # fmt: skip
        pq.write_table(table.replace_schema_metadata(meta), path)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise DataUnavailableError(f"--out must end in .parquet or .csv, not {suffix or '(none)'}")
