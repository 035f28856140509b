"""The position, the account, and what orders and exits do to them.

The backtest kernel keeps its state in two records passed and returned by
value, :class:`Position` and :class:`Account`; the helpers here take them and
return the changed copies, so a call site shows which state it changes. The
helpers are inlined and the records hold only scalars, which numba keeps in
registers: the full bar body runs as fast as with the loose locals the records
replaced. Only the kernel's routine-bar loops unpack the position (see
:func:`_loop_state` and ``simulate_nb``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from engine._nb.enums import (
    ACT_CLOSE,
    ACT_LONG,
    EXIT_LIQUIDATION,
    EXIT_SIGNAL,
    EXIT_SL,
    EXIT_TP,
    EXIT_TRAIL,
    F_FEE,
    F_LEVERAGE,
    F_MIN_QTY,
    F_QTY_STEP,
    F_SIZE,
    F_SL,
    F_SLIPPAGE,
    F_TP,
    F_TRAIL,
    F_TRAIL_ACTIVATION,
    S_BEST_RET,
    S_DURATION_SUM,
    S_EQUITY_GONE_BAR,
    S_EXITS_BASE,
    S_FEES,
    S_GROSS_LOSS,
    S_GROSS_PROFIT,
    S_LOSS_PNL_SUM,
    S_MAX_CONSEC_LOSSES,
    S_N_LOSSES,
    S_N_SKIPPED_NO_EQUITY,
    S_N_TRADES,
    S_N_WINS,
    S_PNL_M2,
    S_PNL_MEAN,
    S_RET_SUM,
    S_WIN_PNL_SUM,
    S_WORST_RET,
    SAME_OHLC_PATH,
    SAME_TP_FIRST,
    SIZE_EQUITY_FRACTION,
    SIZE_FIXED_QTY,
    T_ENTRY_IDX,
    T_ENTRY_PRICE,
    T_EXIT_IDX,
    T_EXIT_PRICE,
    T_EXIT_REASON,
    T_FEES,
    T_FUNDING,
    T_PNL,
    T_QTY,
    T_RETURN,
    T_SIDE,
)


class Position(NamedTuple):
    """The open position and its exit levels. Flat is ``side == 0.0``; the other
    fields then still hold the last position's values and are not read."""

    side: float  # 1.0 long, -1.0 short, 0.0 flat
    qty: float
    entry_price: float  # the fill, after slippage
    entry_idx: int
    entry_fee: float
    funding_paid: float  # by this position so far (negative: received)
    sl_level: float  # levels that are off: -inf for longs, +inf for shorts
    tp_level: float  # (+inf for longs, -inf for shorts)
    liq_level: float
    peak: float  # best price since entry: the trailing stop's anchor
    stop: float  # the tightest of sl_level, the trailing stop and liq_level
    stop_reason: int  # EXIT_SL, EXIT_TRAIL or EXIT_LIQUIDATION: which one `stop` is


class Account(NamedTuple):
    """Cash and the running counts that orders and closed trades change."""

    cash: float  # cash balance: realised PnL, fees and funding included
    entry_fees: float  # fees paid on entries (exit fees go straight to the stats)
    n_skipped: int  # orders below the minimum quantity
    n_trades: int  # closed trades, also the next row of the trade records
    consec_losses: int  # current run of losing trades


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _flat():  # type: ignore[no-untyped-def]
    """No position: the kernel's state before the first entry (no level is read while flat)."""
    inf = np.inf
    return Position(0.0, 0.0, 0.0, 0, 0.0, 0.0, -inf, inf, -inf, 0.0, -inf, EXIT_SL)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _exit_band(pos):  # type: ignore[no-untyped-def]
    """(lower, upper): the bar's low at or below ``lower`` or its high at or above
    ``upper`` touches the stop or the take-profit."""
    if pos.side > 0.0:
        return pos.stop, pos.tp_level
    return pos.tp_level, pos.stop


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _loop_state(pos, acct):  # type: ignore[no-untyped-def]
    """What the kernel's routine-bar loops read of a held position, as loose scalars:
    (side, qty, entry price, cash, peak, stop, stop_reason, lower, upper); ``lower``
    and ``upper`` as in :func:`_exit_band`. The loops run faster on these than on
    the record (measured: see ``simulate_nb``); :func:`_with_stop` writes back what
    they change."""
    lower, upper = _exit_band(pos)
    return pos.side, pos.qty, pos.entry_price, acct.cash, pos.peak, pos.stop, pos.stop_reason, lower, upper


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _entry_qty(equity, fill, fc, size_mode):  # type: ignore[no-untyped-def]
    """Order quantity for a new position, 0.0 when it cannot be placed."""
    if equity <= 0.0:
        return 0.0
    if size_mode == SIZE_EQUITY_FRACTION:
        # leave room for the entry fee, as an exchange would
        qty = equity * fc[F_SIZE] * fc[F_LEVERAGE] / (fill * (1.0 + fc[F_FEE]))
    elif size_mode == SIZE_FIXED_QTY:
        qty = fc[F_SIZE]
    else:
        qty = fc[F_SIZE] / fill
    step = fc[F_QTY_STEP]
    if step > 0.0:
        qty = np.floor(qty / step + 1e-9) * step
    if qty <= 0.0 or qty < fc[F_MIN_QTY]:
        return 0.0
    return qty


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _protective_stop(side, entry, sl_lvl, liq_lvl, peak, trail, trail_act):  # type: ignore[no-untyped-def]
    """The tightest of stop-loss, trailing stop and liquidation, with its reason.

    Levels that are off are -inf for longs and +inf for shorts, so the caller's
    per-bar test is two comparisons. Computed at entry and, with a trailing
    stop, after every bar (:func:`_trail_step`)."""
    stop = sl_lvl
    reason = EXIT_SL
    if trail > 0.0 and (trail_act <= 0.0 or side * (peak - entry) >= trail_act * entry):
        ts = peak * (1.0 - side * trail)
        if side * (ts - stop) > 0.0:
            stop = ts
            reason = EXIT_TRAIL
    if side * (liq_lvl - stop) > 0.0:
        stop = liq_lvl
        reason = EXIT_LIQUIDATION
    return stop, reason


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _open_position(side, qty, fill, i, fee, fc, liq_on, liq_dist):  # type: ignore[no-untyped-def]
    """A new position of ``qty`` filled at ``fill`` on bar ``i``, its levels set from the fill."""
    inf = np.inf
    sl = fc[F_SL]
    tp = fc[F_TP]
    sl_lvl = fill * (1.0 - side * sl) if sl > 0.0 else -side * inf
    tp_lvl = fill * (1.0 + side * tp) if tp > 0.0 else side * inf
    liq_lvl = fill * (1.0 - side * liq_dist) if liq_on else -side * inf
    stop, reason = _protective_stop(side, fill, sl_lvl, liq_lvl, fill, fc[F_TRAIL], fc[F_TRAIL_ACTIVATION])
    return Position(
        side=side, qty=qty, entry_price=fill, entry_idx=i, entry_fee=qty * fill * fee,
        funding_paid=0.0, sl_level=sl_lvl, tp_level=tp_lvl, liq_level=liq_lvl, peak=fill,
        stop=stop, stop_reason=reason,
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _trail_levels(side, h, lo, peak, entry, sl_lvl, liq_lvl, trail, trail_act):  # type: ignore[no-untyped-def]
    """Move the trailing peak with this bar's extreme: (peak, stop, stop_reason) for the next bar.

    Recomputed every bar rather than behind "did the peak move?": that test is
    a coin flip per bar and its mispredictions cost more."""
    ext = h if side > 0.0 else lo
    peak = ext if side * (ext - peak) > 0.0 else peak
    stop, reason = _protective_stop(side, entry, sl_lvl, liq_lvl, peak, trail, trail_act)
    return peak, stop, reason


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _with_stop(pos, peak, stop, reason):  # type: ignore[no-untyped-def]
    """``pos`` with its trailing peak and protective stop replaced."""
    return Position(
        side=pos.side, qty=pos.qty, entry_price=pos.entry_price, entry_idx=pos.entry_idx,
        entry_fee=pos.entry_fee, funding_paid=pos.funding_paid, sl_level=pos.sl_level,
        tp_level=pos.tp_level, liq_level=pos.liq_level, peak=peak, stop=stop, stop_reason=reason,
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _trail_step(pos, h, lo, trail, trail_act):  # type: ignore[no-untyped-def]
    """The position after its trailing peak moved with this bar's extreme (see :func:`_trail_levels`)."""
    peak, stop, reason = _trail_levels(
        pos.side, h, lo, pos.peak, pos.entry_price, pos.sl_level, pos.liq_level, trail, trail_act
    )
    return _with_stop(pos, peak, stop, reason)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pay_funding(pos, acct, pay):  # type: ignore[no-untyped-def]
    """The position and account after the position paid ``pay`` of funding (negative: received)."""
    pos = Position(
        side=pos.side, qty=pos.qty, entry_price=pos.entry_price, entry_idx=pos.entry_idx,
        entry_fee=pos.entry_fee, funding_paid=pos.funding_paid + pay, sl_level=pos.sl_level,
        tp_level=pos.tp_level, liq_level=pos.liq_level, peak=pos.peak, stop=pos.stop,
        stop_reason=pos.stop_reason,
    )
    acct = Account(
        cash=acct.cash - pay, entry_fees=acct.entry_fees, n_skipped=acct.n_skipped,
        n_trades=acct.n_trades, consec_losses=acct.consec_losses,
    )
    return pos, acct


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _intrabar_exit(pos, o, h, lo, c, same_bar, slip):  # type: ignore[no-untyped-def]
    """Resolve a bar that touched the stop or the take-profit: (reason, fill, ambiguous).

    A bar opening beyond the stop fills at the open; a take-profit fills at
    its level or the better open; both touched is settled by ``same_bar``."""
    side = pos.side
    stop = pos.stop
    tp_lvl = pos.tp_level
    if side > 0.0:
        hit_stop = lo <= stop
        hit_tp = h >= tp_lvl
        gap_stop = o <= stop
        gap_tp = o >= tp_lvl
    else:
        hit_stop = h >= stop
        hit_tp = lo <= tp_lvl
        gap_stop = o >= stop
        gap_tp = o <= tp_lvl
    take_stop = hit_stop
    ambiguous = False
    if hit_stop and hit_tp:
        if gap_tp:
            take_stop = False
        elif not gap_stop:
            ambiguous = True
            if same_bar == SAME_TP_FIRST:
                take_stop = False
            elif same_bar == SAME_OHLC_PATH:
                low_first = c >= o  # bullish bars run O-L-H-C, bearish O-H-L-C
                take_stop = low_first if side > 0.0 else not low_first
    if take_stop:
        if pos.stop_reason == EXIT_LIQUIDATION:
            return pos.stop_reason, stop, ambiguous  # isolated margin: the loss stops at the liquidation price
        raw = o if gap_stop else stop
        return pos.stop_reason, raw * (1.0 - side * slip), ambiguous
    return EXIT_TP, (o if gap_tp else tp_lvl), ambiguous


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _close_trade(pos, acct, fill, exit_fee, i, reason, stats, trades, record):  # type: ignore[no-untyped-def]
    """Close ``pos`` at ``fill`` on bar ``i``: the account after it (cash, trade
    count, losing run), with the trade streamed into ``stats`` (and written to
    ``trades`` when recording). The caller sets the position flat.

    The trade buffer is sized up front and never replaced: reassigning an array
    inside the bar loop would put reference counting on the hot path."""
    side = pos.side
    qty = pos.qty
    entry = pos.entry_price
    cash = acct.cash + (side * qty * (fill - entry) - exit_fee)
    pnl = side * qty * (fill - entry) - pos.entry_fee - exit_fee - pos.funding_paid
    ret = pnl / (qty * entry)
    n = stats[S_N_TRADES] + 1.0
    stats[S_N_TRADES] = n
    delta = pnl - stats[S_PNL_MEAN]
    stats[S_PNL_MEAN] += delta / n
    stats[S_PNL_M2] += delta * (pnl - stats[S_PNL_MEAN])
    stats[S_RET_SUM] += ret
    if n == 1.0 or ret > stats[S_BEST_RET]:
        stats[S_BEST_RET] = ret
    if n == 1.0 or ret < stats[S_WORST_RET]:
        stats[S_WORST_RET] = ret
    stats[S_DURATION_SUM] += i - pos.entry_idx
    consec = acct.consec_losses
    if pnl > 0.0:
        stats[S_N_WINS] += 1.0
        stats[S_GROSS_PROFIT] += pnl
        stats[S_WIN_PNL_SUM] += pnl
        consec = 0
    else:
        if pnl < 0.0:
            stats[S_N_LOSSES] += 1.0
            stats[S_GROSS_LOSS] -= pnl
            stats[S_LOSS_PNL_SUM] += pnl
        consec += 1
        if consec > stats[S_MAX_CONSEC_LOSSES]:
            stats[S_MAX_CONSEC_LOSSES] = consec
    stats[S_EXITS_BASE + reason] += 1.0
    stats[S_FEES] += exit_fee
    nt = acct.n_trades
    if record:
        t = trades[nt]
        t[T_ENTRY_IDX] = pos.entry_idx
        t[T_EXIT_IDX] = i
        t[T_SIDE] = side
        t[T_QTY] = qty
        t[T_ENTRY_PRICE] = entry
        t[T_EXIT_PRICE] = fill
        t[T_PNL] = pnl
        t[T_RETURN] = ret
        t[T_FEES] = pos.entry_fee + exit_fee
        t[T_FUNDING] = pos.funding_paid
        t[T_EXIT_REASON] = reason
    return Account(
        cash=cash, entry_fees=acct.entry_fees, n_skipped=acct.n_skipped, n_trades=nt + 1,
        consec_losses=consec,
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _market_order(act, price, i, pos, acct, fc, size_mode, liq_on, liq_dist, stats, trades, record):  # type: ignore[no-untyped-def]
    """Fill a market order ``act`` at ``price`` (before slippage) on bar ``i``:
    close the position if the order closes or reverses it, then open the new one
    if there is one. Returns (position, account, whether a position was opened).

    One piece of code for the fills at the open and at the close."""
    slip = fc[F_SLIPPAGE]
    fee = fc[F_FEE]
    side = pos.side
    if side != 0.0 and (act == ACT_CLOSE or (act == ACT_LONG) == (side < 0.0)):
        fill = price * (1.0 - side * slip)
        acct = _close_trade(pos, acct, fill, pos.qty * fill * fee, i, EXIT_SIGNAL, stats, trades, record)
        side = 0.0
    if act == ACT_CLOSE or side != 0.0:
        return (_flat() if side == 0.0 else pos), acct, False
    new_side = 1.0 if act == ACT_LONG else -1.0
    fill = price * (1.0 + slip * new_side)
    q = _entry_qty(acct.cash, fill, fc, size_mode)
    if q <= 0.0:
        if acct.cash <= 0.0:  # told apart from orders below min_qty: the capital is gone
            stats[S_N_SKIPPED_NO_EQUITY] += 1.0
            if stats[S_EQUITY_GONE_BAR] == 0.0:
                stats[S_EQUITY_GONE_BAR] = i + 1.0
        acct = Account(
            cash=acct.cash, entry_fees=acct.entry_fees, n_skipped=acct.n_skipped + 1,
            n_trades=acct.n_trades, consec_losses=acct.consec_losses,
        )
        return _flat(), acct, False
    pos = _open_position(new_side, q, fill, i, fee, fc, liq_on, liq_dist)
    acct = Account(
        cash=acct.cash - pos.entry_fee, entry_fees=acct.entry_fees + pos.entry_fee,
        n_skipped=acct.n_skipped, n_trades=acct.n_trades, consec_losses=acct.consec_losses,
    )
    return pos, acct, True
