"""publicTrade messages: dedupe by trade id and build the trade event (spec §5)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TradeDeduper", "trade_channel", "trade_event"]


def trade_channel(category: str, symbol: str) -> str:
    """Redis / relay channel of one symbol's public trades."""
    return f"bybit:trade:{category}:{symbol}"


def trade_event(category: str, symbol: str, trades: Sequence[Mapping[str, Any]], ts: int) -> str:
    """`{"v":1,"kind":"trade","category","symbol","data":[trades as Bybit sends them],"ts"}`."""
    event = {"v": 1, "kind": "trade", "category": category, "symbol": symbol,
             "data": [dict(t) for t in trades], "ts": ts}  # fmt: skip
    return json.dumps(event, separators=(",", ":"))


class TradeDeduper:
    """Drops trades whose id `i` was seen among the last `keep` of a symbol (a resent batch
    after a reconnect, several messages sharing a `seq`)."""

    def __init__(self, keep: int = 10_000):
        self.keep = keep
        self._seen: dict[tuple[str, str], OrderedDict[str, None]] = {}
        self.duplicates = 0

    def fresh(self, category: str, symbol: str, data: Sequence[Any]) -> list[Mapping[str, Any]]:
        """The trades of `data` not seen before, in order; raises ValueError on a bad shape."""
        seen = self._seen.setdefault((category, symbol), OrderedDict())
        out: list[Mapping[str, Any]] = []
        for trade in data:
            if not isinstance(trade, Mapping) or not isinstance(trade.get("i"), str):
                raise ValueError("a trade without a string id 'i'")
            tid = trade["i"]
            if tid in seen:
                self.duplicates += 1
                continue
            seen[tid] = None
            out.append(trade)
        while len(seen) > self.keep:
            seen.popitem(last=False)
        return out
