"""Ticker state per symbol: snapshots replace it, deltas are merged in (as ccxt does)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TickerBook"]


class TickerBook:
    """Merged ticker fields by (category, symbol).

    Linear and inverse send a snapshot, then deltas holding only the fields that
    changed; spot sends snapshots only. A delta before any snapshot is dropped
    (and counted): published alone it would be a partial ticker. State is reset
    on every (re)connect, since the server starts again with a snapshot.
    """

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], dict[str, Any]] = {}
        self.dropped_deltas = 0

    def reset(self, category: str, topics: Iterable[str]) -> None:
        """Forget the tickers of these topics (`tickers.{symbol}`; others are ignored)."""
        for topic in topics:
            kind, _, symbol = topic.partition(".")
            if kind == "tickers":
                self._state.pop((category, symbol), None)

    def apply(
        self, category: str, symbol: str, kind: str, data: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The merged ticker after this message, or None when there is nothing to publish."""
        key = (category, symbol)
        if kind == "snapshot":
            self._state[key] = dict(data)
        elif kind == "delta":
            state = self._state.get(key)
            if state is None:
                self.dropped_deltas += 1
                return None
            state.update(data)
        else:
            raise ValueError(f"unknown ticker message type {kind!r}")
        merged = self._state[key]
        merged.setdefault("symbol", symbol)
        return dict(merged)

    def get(self, category: str, symbol: str) -> dict[str, Any] | None:
        state = self._state.get((category, symbol))
        return None if state is None else dict(state)
