"""The fake Bybit's kline pages: which rows a request gets (the spec's row rules) and
their JSON text, encoded once per block of rows and served as string slices."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from market._fake_data import PREMIUM
from ohlcv import Candles, floor_time

__all__ = ["RowCache", "format_number", "format_rows", "select_range"]


def select_range(
    series: Candles, interval: str, start: int | None, end: int | None, limit: int, *, now: int
) -> tuple[int, int]:
    """The spec's row rules (§1): the index range [lo, hi) of the rows to serve."""
    visible_end = (
        now if end is None else min(end, now)
    )  # the open candle is visible, future ones are not
    hi = int(np.searchsorted(series.time, visible_end, side="right"))
    if start is None:
        return max(0, hi - limit), hi
    lo = int(np.searchsorted(series.time, floor_time(start, interval), side="left"))
    if end is None:
        return lo, min(hi, lo + limit)
    return (max(lo, hi - limit), hi) if hi > lo else (0, 0)


RowKey = tuple[str, str, str, str]  # (category, symbol, interval, kind)


class RowCache:
    """Kline rows encoded as JSON text once, in blocks, and served as slices.

    The rows of a generated series never change (the open candle is served with
    its final values), so each block of `block` rows is encoded on first use
    (newest first, comma separated, exactly as `json.dumps` of `format_rows`
    would write them) with the offset of every row; a page is then one or two
    string slices. A regenerated series (a new `Candles` object) drops its
    blocks. At most `max_blocks` blocks are kept, least recently used first out.
    """

    def __init__(self, *, block: int = 1024, max_blocks: int = 1024):
        self.block = block
        self.max_blocks = max_blocks
        self._blocks: OrderedDict[tuple[RowKey, int], tuple[str, list[int], list[int]]] = (
            OrderedDict()
        )
        self._series: dict[RowKey, Candles] = {}
        self._lock = threading.Lock()
        self.encoded_rows = 0

    def page(self, series: Candles, key: RowKey, lo: int, hi: int) -> str:
        """Rows [lo, hi) of `series`, newest first, as the inside of a JSON list."""
        if hi <= lo:
            return ""
        with self._lock:
            if self._series.get(key) is not series:
                for k in [k for k in self._blocks if k[0] == key]:
                    del self._blocks[k]
                self._series[key] = series
            parts: list[str] = []
            size = self.block
            for b in range((hi - 1) // size, lo // size - 1, -1):
                text, starts, ends = self._get_block(series, key, b)
                base = b * size
                top = min(base + size, len(series)) - 1  # series index of the block's first row
                a, z = max(lo, base), min(hi, base + size) - 1  # series indices, inclusive
                parts.append(text[starts[top - z] : ends[top - a]])
            return ",".join(parts)

    def _get_block(self, series: Candles, key: RowKey, b: int) -> tuple[str, list[int], list[int]]:
        found = self._blocks.get((key, b))
        if found is not None:
            self._blocks.move_to_end((key, b))
            return found
        part = series.take(slice(b * self.block, min((b + 1) * self.block, len(series))))
        rows = _encode_rows(part, key[3], key[0])
        ends = np.cumsum([len(r) + 1 for r in rows]) - 1  # +1: the comma after each row
        starts = ends - np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        found = (",".join(rows), starts.tolist(), ends.tolist())
        self._blocks[(key, b)] = found
        self.encoded_rows += len(rows)
        while len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)
        return found


_KLINE_ROW = '["%d","%r","%r","%r","%r","%r","%r"]'
_PRICE_ROW = '["%d","%r","%r","%r","%r"]'
_PREMIUM_ROW = '["%d","%.6f","%.6f","%.6f","%.6f"]'  # Bybit writes ratios as "-0.000587"


def _encode_rows(c: Candles, kind: str, category: str) -> list[str]:
    """Each row of `format_rows(c, ...)` as compact JSON text, newest first."""
    fmt = _KLINE_ROW if kind == "kline" else _PREMIUM_ROW if kind == PREMIUM else _PRICE_ROW
    rows = zip(c.time[::-1].tolist(), *_columns(c, kind, category), strict=True)
    # Only a float's repr can end a field with '.0"': drop it, as `format_number` does.
    return [(fmt % row).replace('.0"', '"') for row in rows]


def _columns(c: Candles, kind: str, category: str) -> list[list[float]]:
    """The numbers of each row, newest first: OHLC, then volume and turnover for klines."""
    cols = [getattr(c, name)[::-1].tolist() for name in ("open", "high", "low", "close")]
    if kind != "kline":
        return cols
    vol, turn = c.volume[::-1].tolist(), c.turnover[::-1].tolist()
    # Bybit reports inverse volume in USD and turnover in coin.
    return [*cols, *((turn, vol) if category == "inverse" else (vol, turn))]


def format_number(x: float) -> str:
    """The shortest text that reads back as `x`; whole numbers without ".0", as Bybit's "17071"."""
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def format_rows(c: Candles, kind: str, category: str) -> list[list[str]]:
    """Rows as lists of strings, newest first: the reference `RowCache` must reproduce."""
    text = (lambda x: f"{x:.6f}") if kind == PREMIUM else format_number
    rows = zip(c.time[::-1].tolist(), *_columns(c, kind, category), strict=True)
    return [[str(t), *map(text, vals)] for t, *vals in rows]
