"""What a backtest's numbers mean: the buy-and-hold benchmark curve, and one line
saying why the strategy did what it did, chosen from the metrics alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["buy_and_hold_equity", "explain_result"]

F64 = npt.NDArray[np.float64]

# Costs "dominate" a loss when they are at least this share of it.
_COSTLY = 0.25
_FEW_TRADES = 30
# Returns closer than this (a fraction of capital) are level with buy-and-hold.
_LEVEL = 0.01


def buy_and_hold_equity(open_: F64, close: F64, *, capital: float, fee: float, slippage: float = 0.0) -> F64:
    """Equity of buying with all of `capital` at the first open and selling at each
    bar's close, with the run's fee and slippage on both fills: the value at the last
    close is what buying and holding would have ended with."""
    if open_.size == 0:
        return np.zeros(0)
    qty = capital / (float(open_[0]) * (1.0 + slippage) * (1.0 + fee))
    return np.asarray(qty * close * (1.0 - slippage) * (1.0 - fee), dtype=np.float64)


@dataclass(frozen=True)
class _Facts:
    capital: float
    n: int
    net: float
    fees: float
    gross: float  # PnL before fees and funding
    ret: float
    win_rate: float | None
    profit_factor: float | None
    payoff: float | None
    exposure: float | None
    bh: float | None

    @classmethod
    def of(cls, m: Mapping[str, Any], capital: float) -> _Facts:
        fees = _f(m.get("fees_paid")) or 0.0
        final = _f(m.get("final_equity"))
        net = (final - capital) if final is not None else (_f(m.get("total_return")) or 0.0) * capital
        gross = net + fees + (_f(m.get("funding_paid")) or 0.0)
        return cls(
            capital, int(m.get("n_trades") or 0), net, fees, gross, net / capital,
            _f(m.get("win_rate")), _f(m.get("profit_factor")), _f(m.get("payoff_ratio")),
            _f(m.get("exposure")), _f(m.get("buy_and_hold_return")),
        )  # fmt: skip

    @property
    def trades(self) -> str:
        return f"{self.n:,} trade{'s' if self.n != 1 else ''}"

    @property
    def record(self) -> str:
        """'won 23 % of 771 trades, profit factor 0.60'"""
        pf = "" if self.profit_factor is None else f", profit factor {self.profit_factor:.2f}"
        return f"won {_pct(self.win_rate)} of {self.trades}{pf}"

    @property
    def versus_hold(self) -> str:
        if self.bh is None:
            return ""
        gap = self.ret - self.bh
        word = "in line with" if abs(gap) < _LEVEL else ("ahead of" if gap > 0 else "behind")
        return f"; {word} buy-and-hold's {_signed_pct(self.bh)}"


def explain_result(metrics: Mapping[str, Any], initial_capital: float) -> str:
    """One line on why a backtest ended where it did, from its metrics (the keys of
    `engine.METRIC_KEYS`): fees against the gross edge, trade count, win rate and
    profit factor, time in the market, and buy-and-hold. The first rule that
    applies wins, so the line names the dominant cause."""
    facts = _Facts.of(metrics, initial_capital)
    for rule in _RULES:
        line = rule(facts)
        if line:
            return line
    raise AssertionError("the last rule always applies")  # pragma: no cover


def _no_trades(f: _Facts) -> str | None:
    if f.n:
        return None
    hold = f" while buy-and-hold made {_signed_pct(f.bh)}" if f.bh is not None else ""
    return f"no trades: the entry signal never fired, so the capital sat in cash{hold}"


def _costs(f: _Facts) -> str | None:
    if f.net >= 0 or (f.gross < 0 and f.fees < _COSTLY * -f.net):
        return None
    why = "costs turned a winning edge into a loss" if f.gross >= 0 else "costs and a losing edge"
    return (
        f"{f.trades} paid {_money(f.fees)} in fees, {_pct(f.fees / f.capital)} of starting capital, "
        f"on a gross edge of {_money(f.gross, sign=True)}: {why}{f.versus_hold}"
    )


def _losing_edge(f: _Facts) -> str | None:
    if f.net >= 0:
        return None
    sizes = ""
    if f.win_rate is not None and f.win_rate >= 0.5 and f.payoff:
        sizes = f", but losers were {1 / f.payoff:.1f}x the size of winners"
    return (
        f"a losing edge: {f.record}{sizes}; fees ({_money(f.fees)}) were a small part of the loss"
        f"{f.versus_hold}"
    )


def _sat_out_the_trend(f: _Facts) -> str | None:
    if f.bh is None or f.exposure is None or f.exposure >= 0.5 or f.bh <= f.ret:
        return None
    return (
        f"in the market only {_pct(f.exposure)} of the time: made {_signed_pct(f.ret)} "
        f"while buy-and-hold made {_signed_pct(f.bh)}"
    )


def _too_few(f: _Facts) -> str | None:
    if f.n >= _FEW_TRADES:
        return None
    return f"{_signed_pct(f.ret)} from only {f.trades}: too few to tell skill from luck{f.versus_hold}"


def _winning(f: _Facts) -> str:
    if f.win_rate is not None and f.win_rate < 0.5 and f.payoff is not None:
        return f"{f.record}: winners {f.payoff:.1f}x the size of losers carried it{f.versus_hold}"
    return f"{f.record}{f.versus_hold}"


_RULES: tuple[Callable[[_Facts], str | None], ...] = (
    _no_trades, _costs, _losing_edge, _sat_out_the_trend,
    _too_few, _winning,
)  # fmt: skip


def _f(x: Any) -> float | None:
    return None if x is None or x != x else float(x)


def _pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x * 100:.0f} %" if abs(x) >= 0.095 else f"{x * 100:.1f} %"


def _signed_pct(x: float | None) -> str:
    return "n/a" if x is None else ("+" if x >= 0 else "-") + _pct(abs(x))


def _money(x: float, *, sign: bool = False) -> str:
    prefix = ("-" if x < 0 else "+") if sign else ("-" if x < 0 else "")
    return f"{prefix}${abs(x):,.0f}"
