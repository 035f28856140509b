"""The local candle store: one directory per data set, candles in chunked Parquet files.

Layout (under the platform user-data directory unless a root is given)::

    <root>/v1/<category>/<symbol>/<interval>/chunk-<first open ms>.parquet
                                             meta.json   ranges verified empty on the exchange,
                                                         and whether any candles were synthetic
                                             .lock       flock taken by writers

Each chunk holds the candles of a fixed time span (65,536 candle lengths), so an
upsert rewrites only the chunks it touches. Every write goes to a temporary
file in the same directory, is fsynced, then `os.replace`d over the old file
and the directory is fsynced: a reader (or a process killed at any instant)
sees either the old chunk or the new one, never a torn file. Upserts are keyed
by open time and the newest row wins, so writing the same candles twice
changes nothing.

A data set that ever received candles from a synthetic source (our fake Bybit
says so in every response) is marked synthetic for good: results computed on
it are labelled synthetic even if real candles were added later.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import pyarrow as pa
import pyarrow.parquet as pq

from market.bybit import Gap
from market.errors import StoreError, StoreUnavailableError
from ohlcv import COLUMNS, Candles, interval_ms, next_opens, normalize_interval

__all__ = ["CHUNK_CANDLES", "CandleStore", "DatasetInfo", "DatasetKey", "default_data_dir"]

CHUNK_CANDLES = 65_536
_CHUNK_RE = re.compile(r"^chunk-(\d{15})\.parquet$")
_SCHEMA = pa.schema([("time", pa.int64())] + [(c, pa.float64()) for c in COLUMNS[1:]])


def default_data_dir() -> Path:
    """Where candles live when no root is given (platformdirs' user data dir)."""
    return Path(platformdirs.user_data_dir("bybit-strategy-tester", appauthor=False)) / "candles"


@dataclass(frozen=True, order=True)
class DatasetKey:
    """Identifies one data set: (category, symbol, interval)."""

    category: str
    symbol: str
    interval: str

    @classmethod
    def of(cls, category: str, symbol: str, interval: str) -> DatasetKey:
        """Build a key with a normalised interval and an upper-case symbol."""
        return cls(category, symbol.upper(), normalize_interval(interval))

    def __str__(self) -> str:
        return f"{self.category}/{self.symbol}/{self.interval}"


@dataclass(frozen=True)
class DatasetInfo:
    """Summary of a stored data set."""

    key: DatasetKey
    candles: int
    first: int | None
    last: int | None
    chunks: int
    bytes: int
    synthetic: bool = False


class CandleStore:
    """Crash-safe, idempotent local candle store (see the module docstring)."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_data_dir()
        self._base = self.root / "v1"
        self._locks: dict[DatasetKey, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ---- paths and locking -------------------------------------------------
    def _dir(self, key: DatasetKey) -> Path:
        return self._base / key.category / key.symbol / key.interval

    @staticmethod
    def _span(key: DatasetKey) -> int:
        return CHUNK_CANDLES * interval_ms(key.interval)

    def chunk_span(self, key: DatasetKey) -> int:
        """Milliseconds of open times one chunk file covers (chunk i holds [i*span, (i+1)*span))."""
        return self._span(key)

    def check_writable(self) -> None:
        """Create the root and prove a file can be written there, or raise StoreUnavailableError."""
        try:
            self._base.mkdir(parents=True, exist_ok=True)
            probe = self._base / f".probe-{os.getpid()}-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreUnavailableError(
                f"data directory {self.root} is not writable: {exc.strerror or exc}"
            ) from exc

    @contextlib.contextmanager
    def _writer(self, key: DatasetKey) -> Iterator[Path]:
        with self._locks_guard:
            tlock = self._locks.setdefault(key, threading.Lock())
        directory = self._dir(key)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot write data set {key} under {self.root}: {exc.strerror or exc}"
            ) from exc
        with tlock:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # Under the lock no other writer is active, so any temp file is debris of a crash.
                for stale in directory.glob(".*.tmp-*"):
                    stale.unlink(missing_ok=True)
                yield directory
            finally:
                os.close(fd)  # closing releases the flock

    # ---- writing -----------------------------------------------------------
    def upsert(self, key: DatasetKey, candles: Candles, *, synthetic: bool | None = None) -> int:
        """Insert or replace candles by open time; returns how many open times were new.

        Synthetic candles (``candles.synthetic``, or ``synthetic=True``) mark the data set
        synthetic for good (see the module docstring)."""
        if len(candles) == 0:
            return 0
        synthetic = candles.synthetic if synthetic is None else synthetic
        incoming = candles.sorted_unique()
        span = self._span(key)
        chunk_ids = incoming.time // span
        bounds = np.flatnonzero(np.r_[True, chunk_ids[1:] != chunk_ids[:-1], True])
        added = 0
        with self._writer(key) as directory:
            if synthetic and not self.is_synthetic(key):  # marked before any synthetic chunk lands
                self._write_meta(directory, {**self._meta(key), "synthetic": True})
            for lo, hi in itertools.pairwise(bounds):
                part = incoming.take(slice(int(lo), int(hi)))
                path = directory / f"chunk-{int(chunk_ids[lo]) * span:015d}.parquet"
                existing = _read_chunk(path) if path.exists() else Candles.empty()
                merged = Candles.concat([existing, part]).sorted_unique()
                added += len(merged) - len(existing)
                _atomic_write(path, lambda tmp, m=merged: _write_chunk(m, tmp))
        return added

    def mark_empty(self, key: DatasetKey, start: int, end: int) -> None:
        """Record that the exchange has no candles in [start, end] (pre-listing, outages)."""
        with self._writer(key) as directory:
            ranges = _merge_ranges([*self._empty_ranges(key), (start, end)])
            self._write_meta(directory, {**self._meta(key), "verified_empty": ranges})

    def is_synthetic(self, key: DatasetKey) -> bool:
        """True when the data set ever received synthetic candles (e.g. from the fake Bybit)."""
        return bool(self._meta(key).get("synthetic", False))

    def _meta(self, key: DatasetKey) -> dict[str, object]:
        path = self._dir(key) / "meta.json"
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"unreadable {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise StoreError(f"unreadable {path}: expected a JSON object")
        return raw

    @staticmethod
    def _write_meta(directory: Path, meta: dict[str, object]) -> None:
        body = json.dumps(meta).encode()
        _atomic_write(directory / "meta.json", lambda tmp: Path(tmp).write_bytes(body))

    def _empty_ranges(self, key: DatasetKey) -> list[tuple[int, int]]:
        ranges = self._meta(key).get("verified_empty", [])
        assert isinstance(ranges, list)
        return [(int(a), int(b)) for a, b in ranges]

    # ---- reading -----------------------------------------------------------
    def _chunks(self, key: DatasetKey) -> list[tuple[int, Path]]:
        directory = self._dir(key)
        if not directory.is_dir():
            return []
        found = [
            (int(m.group(1)), directory / n)
            for n in os.listdir(directory)
            if (m := _CHUNK_RE.match(n))
        ]
        return sorted(found)

    def load(self, key: DatasetKey, start: int | None = None, end: int | None = None) -> Candles:
        """Stored candles with start <= open time <= end, ascending, labelled with the key
        and with `synthetic` when the data set ever received synthetic candles."""
        span = self._span(key)
        paths = [
            p for first, p in self._chunks(key)
            if (start is None or first + span > start) and (end is None or first <= end)
        ]  # fmt: skip
        parts = [_read_chunk(p) for p in paths]
        labels = {"symbol": key.symbol, "interval": key.interval, "category": key.category}
        return Candles.concat(parts).between(start, end).relabel(
            **labels, synthetic=self.is_synthetic(key)
        )

    def datasets(self) -> list[DatasetInfo]:
        """Every stored data set with counts and time bounds."""
        out: list[DatasetInfo] = []
        if not self._base.is_dir():
            return out
        for cat in sorted(p for p in self._base.iterdir() if p.is_dir()):
            for sym in sorted(p for p in cat.iterdir() if p.is_dir()):
                for itv in sorted(p for p in sym.iterdir() if p.is_dir()):
                    key = DatasetKey(cat.name, sym.name, itv.name)
                    chunks = self._chunks(key)
                    if not chunks:
                        continue
                    metas = [pq.read_metadata(p) for _, p in chunks]
                    first = _read_chunk(chunks[0][1]).time
                    last = _read_chunk(chunks[-1][1]).time
                    out.append(DatasetInfo(
                        key, sum(m.num_rows for m in metas),
                        int(first[0]) if len(first) else None, int(last[-1]) if len(last) else None,
                        len(chunks), sum(p.stat().st_size for _, p in chunks),
                        self.is_synthetic(key),
                    ))  # fmt: skip
        return out

    def gaps(self, key: DatasetKey, start: int | None = None, end: int | None = None) -> list[Gap]:
        """Holes between stored candles (within [start, end] if given), excluding verified-empty ranges."""
        t = self.load(key, start, end).time
        holes: list[tuple[int, int]] = []
        if len(t) > 1:
            nxt = next_opens(t[:-1], key.interval)
            idx = np.flatnonzero(t[1:] != nxt)
            holes = [(int(nxt[i]), int(t[i + 1]) - 1) for i in idx]
        return [Gap(a, b) for a, b in _subtract(holes, self._empty_ranges(key))]

    def missing(self, key: DatasetKey, start: int, end: int) -> list[Gap]:
        """Ranges inside [start, end] (open times) with no stored candle and not known empty."""
        if start > end:
            return []
        t = self.load(key, start, end).time
        holes: list[tuple[int, int]] = []
        cursor = start
        if len(t):
            if t[0] > start:
                holes.append((start, int(t[0]) - 1))
            nxt = next_opens(t[:-1], key.interval)
            idx = np.flatnonzero(t[1:] != nxt)
            holes += [(int(nxt[i]), int(t[i + 1]) - 1) for i in idx]
            cursor = int(next_opens(t[-1:], key.interval)[0])
        if cursor <= end:
            holes.append((cursor, end))
        return [Gap(a, b) for a, b in _subtract(holes, self._empty_ranges(key))]


def _to_table(c: Candles) -> pa.Table:
    return pa.Table.from_arrays([pa.array(getattr(c, name)) for name in COLUMNS], schema=_SCHEMA)


def _write_chunk(c: Candles, path: str) -> None:
    # Uncompressed, no dictionary pages: decoding then is a plain memcpy, which is
    # what keeps a 1M-candle load under 100 ms. Price data barely compresses anyway.
    pq.write_table(
        _to_table(c), path, compression="none", use_dictionary=False, write_statistics=False
    )


def _read_chunk(path: Path) -> Candles:
    try:
        # One open file: given a path, pyarrow opens it again for the pages, and a writer's
        # atomic replace in between pairs the old footer with the new file's pages.
        with pa.OSFile(str(path)) as source:
            table = pq.read_table(source)
    except (OSError, pa.ArrowInvalid) as exc:
        raise StoreError(f"unreadable chunk {path}: {exc}") from exc
    cols = [table.column(name).to_numpy() for name in COLUMNS]
    return Candles(cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6])


def _atomic_write(path: Path, write: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(str(tmp))  # type: ignore[operator]
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreUnavailableError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(holes: list[tuple[int, int]], empty: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in holes:
        pieces = [(a, b)]
        for ea, eb in empty:
            nxt: list[tuple[int, int]] = []
            for pa_, pb in pieces:
                if eb < pa_ or ea > pb:
                    nxt.append((pa_, pb))
                    continue
                if pa_ < ea:
                    nxt.append((pa_, ea - 1))
                if pb > eb:
                    nxt.append((eb + 1, pb))
            pieces = nxt
        out += pieces
    return out
