"""A plain-Python reference of the execution rules in the spec, written
independently of the numba kernel (objects, no arrays of state), so property
tests can compare the two trade for trade."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Position:
    side: int
    qty: float
    entry: float
    entry_idx: int
    entry_fee: float
    funding: float = 0.0
    peak: float = 0.0


@dataclass
class RefTrade:
    entry_idx: int
    exit_idx: int
    side: int
    qty: float
    entry_price: float
    exit_price: float
    pnl: float
    reason: str


@dataclass
class RefConfig:
    capital: float = 10_000.0
    fill_close: bool = False
    direction: str = "both"
    sl: float = 0.0
    tp: float = 0.0
    trail: float = 0.0
    trail_activation: float = 0.0
    check_entry_bar: bool = True
    same_bar: str = "stop_first"
    fee: float = 0.00055
    maker_fee: float | None = None
    slippage: float = 0.0
    size_fraction: float = 1.0
    leverage: float = 1.0
    liquidation: bool = False
    mmr: float = 0.005


def _decide(side: int, le: bool, lx: bool, se: bool, sx: bool, direction: str) -> str | None:
    can_long = direction in ("long", "both")
    can_short = direction in ("short", "both")
    if side == 1:
        if se and can_short:
            return "short"
        if lx or se:
            return "close"
        return None
    if side == -1:
        if le and can_long:
            return "long"
        if sx or le:
            return "close"
        return None
    if le and can_long:
        return "long"
    if se and can_short:
        return "short"
    return None


def simulate(o, h, low, c, signals, cfg: RefConfig, funding=None):  # type: ignore[no-untyped-def]
    """Run the reference; ``signals[i]`` = (le, lx, se, sx). Returns (trades, equity)."""
    acct = Account(cfg)
    bars = [Bar(i, o[i], h[i], low[i], c[i]) for i in range(len(c))]
    for bar in bars:
        if funding is not None:
            acct.pay_funding(bar, funding[bar.i])
        entered = acct.fill_pending(bar)
        if acct.pos is not None and (cfg.check_entry_bar or not entered):
            acct.check_exits(bar)
        if acct.pos is not None:
            acct.move_peak(bar)
        acct.on_signal(bar, signals[bar.i], last=bar.i + 1 == len(c))
        acct.equity.append(acct.value(bar.close))
    if acct.pos is not None:
        acct.close(len(c) - 1, c[-1], "end", 0.0)
    return acct.trades, acct.equity


@dataclass(frozen=True)
class Bar:
    i: int
    open: float
    high: float
    low: float
    close: float


class Account:
    """Cash, the open position, the pending order and the record, changed one step at a time."""

    def __init__(self, cfg: RefConfig) -> None:
        self.cfg = cfg
        self.cash = cfg.capital
        self.pos: Position | None = None
        self.pending: str | None = None
        self.trades: list[RefTrade] = []
        self.equity: list[float] = []
        self.maker = cfg.fee if cfg.maker_fee is None else cfg.maker_fee

    # -- fills ------------------------------------------------------------------------
    def close(self, i: int, price: float, reason: str, fee_rate: float) -> None:
        pos = self.pos
        assert pos is not None
        gross = pos.side * pos.qty * (price - pos.entry)
        exit_fee = pos.qty * price * fee_rate
        self.cash += gross - exit_fee
        pnl = gross - pos.entry_fee - exit_fee - pos.funding
        self.trades.append(RefTrade(pos.entry_idx, i, pos.side, pos.qty, pos.entry, price, pnl, reason))
        self.pos = None

    def open_(self, i: int, side: int, price: float) -> bool:
        cfg = self.cfg
        fill = price * (1 + cfg.slippage * side)
        if self.cash <= 0:
            return False
        qty = self.cash * cfg.size_fraction * cfg.leverage / (fill * (1 + cfg.fee))
        if qty <= 0:
            return False
        fee = qty * fill * cfg.fee
        self.cash -= fee
        self.pos = Position(side, qty, fill, i, fee, peak=fill)
        return True

    def act(self, i: int, action: str, price: float) -> bool:
        """Carry out a decided action at ``price``: close a position it ends or reverses,
        then open the new side. True when a position was opened."""
        pos = self.pos
        if pos is not None and (action == "close" or (action == "long") != (pos.side == 1)):
            self.close(i, price * (1 - pos.side * self.cfg.slippage), "signal", self.cfg.fee)
        if action != "close" and self.pos is None:
            return self.open_(i, 1 if action == "long" else -1, price)
        return False

    # -- one bar's steps, in order ----------------------------------------------------
    def pay_funding(self, bar: Bar, rate: float) -> None:
        """Funding at the open, to the position held into the bar."""
        if self.pos is not None and rate != 0:
            pay = self.pos.side * self.pos.qty * bar.open * rate
            self.cash -= pay
            self.pos.funding += pay

    def fill_pending(self, bar: Bar) -> bool:
        """The order decided on the previous close fills at this open; True if it entered."""
        if self.pending is None:
            return False
        action, self.pending = self.pending, None
        return self.act(bar.i, action, bar.open)

    def check_exits(self, bar: Bar) -> None:
        """Stop (SL, trailing, liquidation) or take-profit inside the bar, gaps at the open."""
        pos = self.pos
        assert pos is not None
        stop, reason = self.stop_level(pos)
        tp = pos.entry * (1 + pos.side * self.cfg.tp) if self.cfg.tp > 0 else None
        hit_s, gap_s = _touch(pos.side, bar, stop, adverse=True)
        hit_t, gap_t = _touch(pos.side, bar, tp, adverse=False)
        if hit_s and self.stop_first(pos, bar, hit_t, gap_s, gap_t):
            assert stop is not None
            if reason == "liquidation":
                self.close(bar.i, stop, reason, self.cfg.fee)
            else:
                raw = bar.open if gap_s else stop
                self.close(bar.i, raw * (1 - pos.side * self.cfg.slippage), reason, self.cfg.fee)
        elif hit_t:
            assert tp is not None
            self.close(bar.i, bar.open if gap_t else tp, "tp", self.maker)

    def stop_first(self, pos: Position, bar: Bar, hit_t: bool, gap_s: bool, gap_t: bool) -> bool:
        """Whether a touched stop wins over the take-profit on the same bar: the one the
        bar opens beyond (the take-profit first), else the same_bar rule."""
        if not hit_t:
            return True
        if gap_t:
            return False
        if gap_s:
            return True
        if self.cfg.same_bar == "tp_first":
            return False
        if self.cfg.same_bar == "ohlc_path":
            bullish = bar.close >= bar.open
            return bullish if pos.side == 1 else not bullish
        return True

    def move_peak(self, bar: Bar) -> None:
        """The trailing stop's best price moves with the bar's extreme, after the exits."""
        pos = self.pos
        assert pos is not None
        pos.peak = max(pos.peak, bar.high) if pos.side == 1 else min(pos.peak, bar.low)

    def on_signal(self, bar: Bar, signal: tuple[bool, bool, bool, bool], *, last: bool) -> None:
        """Decide on the close: act now (fill at close) or at the next open."""
        le, lx, se, sx = signal
        side = 0 if self.pos is None else self.pos.side
        action = _decide(side, le, lx, se, sx, self.cfg.direction)
        if action is None:
            return
        if self.cfg.fill_close:
            self.act(bar.i, action, bar.close)
        elif not last:
            self.pending = action

    def value(self, close: float) -> float:
        pos = self.pos
        return self.cash + (pos.side * pos.qty * (close - pos.entry) if pos is not None else 0.0)

    def stop_level(self, p: Position) -> tuple[float | None, str]:
        cfg = self.cfg
        candidates: list[tuple[float, str]] = []
        if cfg.sl > 0:
            candidates.append((p.entry * (1 - p.side * cfg.sl), "sl"))
        if cfg.trail > 0:
            gain = p.side * (p.peak - p.entry)
            if cfg.trail_activation <= 0 or gain >= cfg.trail_activation * p.entry:
                candidates.append((p.peak * (1 - p.side * cfg.trail), "trail"))
        if cfg.liquidation:
            candidates.append((p.entry * (1 - p.side * (1 / cfg.leverage - cfg.mmr)), "liquidation"))
        if not candidates:
            return None, ""
        # tightest = closest to the price: highest for longs, lowest for shorts
        best = candidates[0]
        for cand in candidates[1:]:
            if p.side * (cand[0] - best[0]) > 0:
                best = cand
        return best


def _touch(side: int, bar: Bar, level: float | None, *, adverse: bool) -> tuple[bool, bool]:
    """(the bar reaches ``level``, it opens beyond it). A stop (adverse) lies below a
    long and above a short; a take-profit the other way round."""
    if level is None:
        return False, False
    below = (side == 1) == adverse
    if below:
        return bar.low <= level, bar.low <= level and bar.open <= level
    return bar.high >= level, bar.high >= level and bar.open >= level


def close_enough(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
