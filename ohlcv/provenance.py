"""Where candles came from, in words: the one place that decides how data is labelled.

Every surface that shows a result, a chart, a note or an export asks
`describe_data(source, synthetic)`, so synthetic data is never passed off as
market data, and candles read from the store are never called "sample".
`source` is how the caller loaded the candles: `sample` (the engine's generated
series), `store` (the local candle store), `file` (CSV/Parquet), `exchange`
(read through the store from the Bybit client), or None when unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["DataLabel", "describe_data"]


@dataclass(frozen=True)
class DataLabel:
    """The wording for one (source, synthetic) pair.

    `tag`: a few words for chart titles and table cells ("" for market data of
    unknown origin); `text`: the phrase for sentences; `synthetic`: whether the
    data must not be taken for market data."""

    synthetic: bool
    tag: str
    text: str

    @property
    def note(self) -> str | None:
        """The sentence a result carries about its data (None for market data)."""
        if not self.synthetic:
            return None
        return f"{self.text[:1].upper()}{self.text[1:]}: not evidence about the real market."


_SYNTHETIC: Final[dict[str | None, tuple[str, str]]] = {
    "sample": ("SYNTHETIC sample series", "synthetic sample series (source='sample')"),
    "store": (
        "SYNTHETIC: offline fake Bybit, via the store",
        "synthetic candles from the offline fake Bybit, read from the store",
    ),
    "file": ("SYNTHETIC file data", "synthetic candles from a file labelled synthetic"),
    "exchange": ("SYNTHETIC: offline fake Bybit", "synthetic candles from the offline fake Bybit"),
    None: ("SYNTHETIC data", "synthetic candles"),
}
_MARKET: Final[dict[str | None, tuple[str, str]]] = {
    "store": ("Bybit data, via the store", "Bybit candles read from the local store"),
    "file": ("file data", "candles read from a file"),
    "exchange": ("Bybit data", "Bybit candles"),
    None: ("", "market candles"),
}


def describe_data(source: str | None, synthetic: bool) -> DataLabel:
    """The label of candles loaded from `source` (see the module docstring); the
    sample is synthetic whatever the flag says, and an unknown source is described
    by the flag alone."""
    synthetic = synthetic or source == "sample"
    table = _SYNTHETIC if synthetic else _MARKET
    tag, text = table.get(source, table[None])
    return DataLabel(synthetic, tag, text)
