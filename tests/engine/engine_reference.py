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
    cash = cfg.capital
    pos: Position | None = None
    trades: list[RefTrade] = []
    equity: list[float] = []
    pending: str | None = None
    maker = cfg.fee if cfg.maker_fee is None else cfg.maker_fee

    def close(i: int, price: float, reason: str, fee_rate: float) -> None:
        nonlocal cash, pos
        assert pos is not None
        gross = pos.side * pos.qty * (price - pos.entry)
        exit_fee = pos.qty * price * fee_rate
        cash += gross - exit_fee
        pnl = gross - pos.entry_fee - exit_fee - pos.funding
        trades.append(RefTrade(pos.entry_idx, i, pos.side, pos.qty, pos.entry, price, pnl, reason))
        pos = None

    def open_(i: int, side: int, price: float) -> bool:
        nonlocal cash, pos
        fill = price * (1 + cfg.slippage * side)
        if cash <= 0:
            return False
        qty = cash * cfg.size_fraction * cfg.leverage / (fill * (1 + cfg.fee))
        if qty <= 0:
            return False
        fee = qty * fill * cfg.fee
        cash -= fee
        pos = Position(side, qty, fill, i, fee, peak=fill)
        return True

    def stop_level(p: Position) -> tuple[float | None, str]:
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

    for i in range(len(c)):
        # funding at the open
        if funding is not None and pos is not None and funding[i] != 0:
            pay = pos.side * pos.qty * o[i] * funding[i]
            cash -= pay
            pos.funding += pay
        entered = False
        if pending is not None:
            action, pending = pending, None
            if pos is not None and (action == "close" or (action == "long") != (pos.side == 1)):
                close(i, o[i] * (1 - pos.side * cfg.slippage), "signal", cfg.fee)
            if action != "close" and pos is None:
                entered = open_(i, 1 if action == "long" else -1, o[i])
        if pos is not None:
            if cfg.check_entry_bar or not entered:
                stop, reason = stop_level(pos)
                tp = pos.entry * (1 + pos.side * cfg.tp) if cfg.tp > 0 else None
                if pos.side == 1:
                    hit_s = stop is not None and low[i] <= stop
                    hit_t = tp is not None and h[i] >= tp
                    gap_s = hit_s and o[i] <= stop  # type: ignore[operator]
                    gap_t = hit_t and o[i] >= tp  # type: ignore[operator]
                else:
                    hit_s = stop is not None and h[i] >= stop
                    hit_t = tp is not None and low[i] <= tp
                    gap_s = hit_s and o[i] >= stop  # type: ignore[operator]
                    gap_t = hit_t and o[i] <= tp  # type: ignore[operator]
                use_stop = hit_s
                if hit_s and hit_t:
                    if gap_t:
                        use_stop = False
                    elif not gap_s:
                        if cfg.same_bar == "tp_first":
                            use_stop = False
                        elif cfg.same_bar == "ohlc_path":
                            bullish = c[i] >= o[i]
                            use_stop = bullish if pos.side == 1 else not bullish
                if hit_s and use_stop:
                    assert stop is not None
                    if reason == "liquidation":
                        close(i, stop, reason, cfg.fee)
                    else:
                        raw = o[i] if gap_s else stop
                        close(i, raw * (1 - pos.side * cfg.slippage), reason, cfg.fee)
                elif hit_t:
                    assert tp is not None
                    close(i, o[i] if gap_t else tp, "tp", maker)
            if pos is not None:
                pos.peak = max(pos.peak, h[i]) if pos.side == 1 else min(pos.peak, low[i])
        le, lx, se, sx = signals[i]
        action = _decide(0 if pos is None else pos.side, le, lx, se, sx, cfg.direction)
        if action is not None:
            if cfg.fill_close:
                if pos is not None and (action == "close" or (action == "long") != (pos.side == 1)):
                    close(i, c[i] * (1 - pos.side * cfg.slippage), "signal", cfg.fee)
                if action != "close" and pos is None:
                    open_(i, 1 if action == "long" else -1, c[i])
            elif i + 1 < len(c):
                pending = action
        value = cash + (pos.side * pos.qty * (c[i] - pos.entry) if pos is not None else 0.0)
        equity.append(value)
    if pos is not None:
        close(len(c) - 1, c[-1], "end", 0.0)
    return trades, equity


def close_enough(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
