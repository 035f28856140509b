"""The bar-by-bar simulation kernel (rules: shared/specs/engine-semantics.md).

One kernel serves single backtests (``record=True``: trade records and the
equity curve) and the parameter grid (``record=False``: only streamed
statistics, O(1) memory per combination), so both give the same numbers.

Per bar ``i`` the order of events is fixed:
1. funding due at this bar's open is charged to the position held into it;
2. the order decided at bar ``i-1``'s close fills at this open (reversal =
   close + open); the old position's stop is not tested on this bar;
3. intrabar exits: liquidation, stop-loss, trailing stop (as it stood at the
   open) and take-profit, with gap fills and the same-bar rule; then the
   trailing peak moves with this bar's extreme;
4. the strategy's signal on this bar's close becomes an order for the next
   open (or fills at this close with ``fill="close"``);
5. equity is marked to the close and the streamed statistics are updated.

Bars on which only step 5 and the trailing peak have work (93 % of them in the
1M-bar bench) run in a lean loop; the first bar with anything else, and each
day's last bar, goes through the full body.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine._nb.enums import (
    ACT_NONE,
    EXIT_END,
    EXIT_TP,
    F_FEE,
    F_INIT_CAPITAL,
    F_LEVERAGE,
    F_MAINT_MARGIN,
    F_MAKER_FEE,
    F_SL,
    F_SLIPPAGE,
    F_TP,
    F_TRAIL,
    F_TRAIL_ACTIVATION,
    I_CHECK_ENTRY_BAR,
    I_DIRECTION,
    I_FILL_CLOSE,
    I_HAS_FUNDING,
    I_LIQUIDATION,
    I_SAME_BAR,
    I_SIZE_MODE,
    N_STATS,
    N_TCOLS,
    RULE_CROSS,
    S_DAY_RET_SQ,
    S_DAY_RET_SUM,
    S_DAYS,
    S_DD_SQ,
    S_DOWN_SQ,
    S_ENDED_OPEN,
    S_EXPOSURE_BARS,
    S_FEES,
    S_FINAL_EQUITY,
    S_FUNDING,
    S_MAX_DD,
    S_MAX_DD_DURATION,
    S_N_AMBIGUOUS,
    S_N_BARS,
    S_N_SKIPPED,
    S_RET_SQ_BARS,
    S_RET_SUM_BARS,
)
from engine._nb.equity_nb import DayStats, _first_bar_stats, _mark_bar, _mark_day, day_ends_nb
from engine._nb.hints import unlikely
from engine._nb.orders_nb import (
    Account,
    _close_trade,
    _exit_band,
    _flat,
    _intrabar_exit,
    _loop_state,
    _market_order,
    _pay_funding,
    _trail_levels,
    _trail_step,
    _with_stop,
)
from engine._nb.signals_nb import (
    SIG_LE,
    SIG_LX,
    SIG_ORDERS,
    SIG_SE,
    SIG_SX,
    CrossState,
    EmaWeights,
    _bar_signal,
    _count_crosses,
    resolve_action,
    signal_start,
    signals_nb,
)

# The kernels' public names, importable from here as before the helpers moved out.
__all__ = [
    "SIG_LE",
    "SIG_LX",
    "SIG_ORDERS",
    "SIG_SE",
    "SIG_SX",
    "day_ends_nb",
    "grid_nb",
    "resolve_action",
    "signal_start",
    "signals_nb",
    "simulate_nb",
]


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_nb(open_, high, low, close, funding, sig, xa, xb, ema_n, xstart, day_ends, fc, ic, record):  # type: ignore[no-untyped-def]
    """Run one backtest and return (stats, equity, trades, n_trades).

    Signals come from one of three sources, checked in this order:
    - ``ema_n`` = (n_a, n_b): EMA(n_a) of the close crossing EMA(n_b) (the
      ``RULE_CROSS`` of ``signals_nb``), both EMAs computed here bar by bar
      exactly as ``ema_nb`` does: no line arrays to build, page in or read;
    - ``xa`` not empty: line ``xa`` crossing line ``xb``, computed bar by bar,
      so the cross strategies need no separate signal pass;
    - otherwise the bitmask ``sig`` (see :func:`signals_nb`).
    Crosses count from bar ``xstart`` on. ``day_ends`` (see
    :func:`day_ends_nb`) marks where daily returns are taken. The state is
    records of scalars passed by value (:class:`Position`, :class:`Account`,
    :class:`CrossState`, :class:`BarStats`, :class:`DayStats`), which numba
    keeps in registers (the routine-bar loops unpack the position: see there);
    arrays are written only when a trade closes."""
    n = close.shape[0]
    stats = np.zeros(N_STATS)
    equity_out = np.empty(n if record else 0)
    ema_mode = ema_n.shape[0] == 2
    ea_a = 2.0 / (ema_n[0] + 1.0) if ema_mode else 0.0
    eb_a = 2.0 / (ema_n[1] + 1.0) if ema_mode else 0.0
    ema_w = EmaWeights(ea_a, 1.0 - ea_a, eb_a, 1.0 - eb_a)
    ema_0 = close[0] if ema_mode and n > 0 else 0.0
    xs = CrossState(ema_a=ema_0, ema_b=ema_0, a_below=False, a_above=False)
    cap = 1
    if record:  # every trade opens on its own entry-signal bar
        if ema_mode:
            # Without the lines, the cross count is a guess: the loop stops if it runs
            # out and n_trades = -1 tells the caller to rerun from the lines.
            cap = min(n + 1, n // 8 + 1024)
        elif xa.shape[0] > 0:
            cap += _count_crosses(xa, xb, xstart)
        else:
            for i in range(n):
                if sig[i] & (SIG_LE | SIG_SE):
                    cap += 1
    trades = np.empty((cap, N_TCOLS))
    lines_mode = not ema_mode and xa.shape[0] > 0
    n_de = day_ends.shape[0]
    de_k = 0
    next_de = day_ends[0] if n_de > 0 else -1
    init = fc[F_INIT_CAPITAL]
    fill_close = ic[I_FILL_CLOSE] != 0
    direction = ic[I_DIRECTION]
    check_entry = ic[I_CHECK_ENTRY_BAR] != 0
    has_funding = ic[I_HAS_FUNDING] != 0
    same_bar = ic[I_SAME_BAR]
    size_mode = ic[I_SIZE_MODE]
    liq_on = ic[I_LIQUIDATION] != 0
    fee = fc[F_FEE]
    maker_fee = fc[F_MAKER_FEE]
    slip = fc[F_SLIPPAGE]
    trail = fc[F_TRAIL]
    trail_act = fc[F_TRAIL_ACTIVATION]
    liq_dist = 1.0 / fc[F_LEVERAGE] - fc[F_MAINT_MARGIN]
    trail_on = trail > 0.0
    pos = _flat()
    acct = Account(cash=init, entry_fees=0.0, n_skipped=0, n_trades=0, consec_losses=0)
    pending = ACT_NONE
    bars = _first_bar_stats(init)  # streamed per-bar statistics: see _mark_bar
    days = DayStats(start_eq=init, n_days=0, ret_sum=0.0, ret_sq=0.0)
    exposure = 0
    funding_total = 0.0
    n_amb = 0
    overflow = False
    i = 0
    while i < n:
        # The full bar body: every step of every rule. Routine bars run below.
        if unlikely(ema_mode and record and acct.n_trades + 3 > cap):  # at most three trades close on one bar
            overflow = True
            break
        in_market = pos.side != 0.0
        # 1. funding at this open, paid by the position held over the funding time
        if unlikely(has_funding and pos.side != 0.0):
            rate = funding[i]
            if rate != 0.0:
                pay = pos.side * pos.qty * open_[i] * rate
                pos, acct = _pay_funding(pos, acct, pay)
                funding_total += pay
        # 2. the order decided at the previous close fills at this open
        entered = False
        if pending != ACT_NONE:
            pos, acct, entered = _market_order(
                pending, open_[i], i, pos, acct, fc, size_mode, liq_on, liq_dist, stats, trades, record
            )
            pending = ACT_NONE
        # 3. intrabar exits on a position that lived through (part of) this bar
        c = close[i]
        if pos.side != 0.0:
            in_market = True
            h = high[i]
            lo = low[i]
            lower, upper = _exit_band(pos)
            if (lo <= lower or h >= upper) and (check_entry or not entered):
                reason, fill, amb = _intrabar_exit(pos, open_[i], h, lo, c, same_bar, slip)
                if amb:
                    n_amb += 1
                exit_fee = pos.qty * fill * (maker_fee if reason == EXIT_TP else fee)
                acct = _close_trade(pos, acct, fill, exit_fee, i, reason, stats, trades, record)
                pos = _flat()
            if trail_on and pos.side != 0.0:
                pos = _trail_step(pos, h, lo, trail, trail_act)
        # 4. the signal on this close
        s_i, xs = _bar_signal(ema_mode, lines_mode, i, i, c, xa, xb, sig, ema_w, xstart, xs)
        if s_i & SIG_ORDERS:
            act = resolve_action(pos.side, s_i, direction)
            if act != ACT_NONE:
                if not fill_close:
                    if i + 1 < n:
                        pending = act
                else:
                    pos, acct, _ = _market_order(
                        act, c, i, pos, acct, fc, size_mode, liq_on, liq_dist, stats, trades, record
                    )
        # 5. mark to the close and stream the per-bar statistics
        if pos.side != 0.0:
            in_market = True
            eq = acct.cash + pos.side * pos.qty * (c - pos.entry_price)
        else:
            eq = acct.cash
        if in_market:
            exposure += 1
        bars = _mark_bar(i, eq, bars)
        if i == next_de:
            days = _mark_day(eq, days)
            de_k += 1
            next_de = day_ends[de_k] if de_k < n_de else -1
        if record:
            equity_out[i] = eq
        i += 1
        if pending != ACT_NONE:
            continue
        # Routine bars up to the next event (a day's last bar takes the full body):
        # no exit level is touched, no funding is due and no signal fires. These
        # loops do only such bars' work (signal lines, trailing stop, equity,
        # statistics), so their few live values stay in registers, which the body
        # spills every bar. They stop at the first bar where something happens, its
        # state untouched, for the body. The body does the same steps with the same
        # helpers, so results are bit for bit the same either way (a test runs every
        # bar through the body and compares).
        #
        # The loops are written out four times on purpose: EMA crosses (the common
        # case) and the other sources, each flat and holding. Measured on 1M bars,
        # the same loops as helpers inlined by numba ran 12 % slower (25 % with
        # holding as a runtime flag), and one pair with the source as a runtime flag
        # 9 % slower for EMA crosses; all had the same cold compile time.
        #
        # They also hold the position as loose scalars (_loop_state), written back
        # to the record when the loop ends (_with_stop): carrying the Position
        # record through them, as the body does, ran 4-5 % slower on the bench's EMA
        # cross (2-5 % on the lines and the bitmask; medians of 5-7 rounds in three
        # runs, same results). The signal and equity records cost nothing measurable.
        lim = next_de if next_de >= 0 else n
        if ema_mode:
            if pos.side != 0.0:
                side, qty, entry, cash, peak, stop, stop_reason, lower, upper = _loop_state(pos, acct)
                while i < lim:
                    u = np.uint64(i)  # unsigned: numba adds no negative-index wraparound to each access
                    c = close[u]
                    h = high[u]
                    lo = low[u]
                    if unlikely(lo <= lower or h >= upper):
                        break
                    if unlikely(has_funding and funding[u] != 0.0):
                        break
                    s_i, nxs = _bar_signal(True, False, i, u, c, xa, xb, sig, ema_w, xstart, xs)
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    xs = nxs
                    if trail_on:
                        peak, stop, stop_reason = _trail_levels(
                            side, h, lo, peak, entry, pos.sl_level, pos.liq_level, trail, trail_act
                        )
                        lower = stop if side > 0.0 else pos.tp_level
                        upper = pos.tp_level if side > 0.0 else stop
                    exposure += 1
                    eq = cash + side * qty * (c - entry)
                    bars = _mark_bar(i, eq, bars)
                    if record:
                        equity_out[u] = eq
                    i += 1
                pos = _with_stop(pos, peak, stop, stop_reason)
            else:
                cash = acct.cash
                while i < lim:
                    u = np.uint64(i)
                    c = close[u]
                    s_i, nxs = _bar_signal(True, False, i, u, c, xa, xb, sig, ema_w, xstart, xs)
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    xs = nxs
                    eq = cash
                    bars = _mark_bar(i, eq, bars)
                    if record:
                        equity_out[u] = eq
                    i += 1
        else:
            if pos.side != 0.0:
                side, qty, entry, cash, peak, stop, stop_reason, lower, upper = _loop_state(pos, acct)
                while i < lim:
                    u = np.uint64(i)  # unsigned: numba adds no negative-index wraparound to each access
                    c = close[u]
                    h = high[u]
                    lo = low[u]
                    if unlikely(lo <= lower or h >= upper):
                        break
                    if unlikely(has_funding and funding[u] != 0.0):
                        break
                    s_i, nxs = _bar_signal(False, lines_mode, i, u, c, xa, xb, sig, ema_w, xstart, xs)
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    xs = nxs
                    if trail_on:
                        peak, stop, stop_reason = _trail_levels(
                            side, h, lo, peak, entry, pos.sl_level, pos.liq_level, trail, trail_act
                        )
                        lower = stop if side > 0.0 else pos.tp_level
                        upper = pos.tp_level if side > 0.0 else stop
                    exposure += 1
                    eq = cash + side * qty * (c - entry)
                    bars = _mark_bar(i, eq, bars)
                    if record:
                        equity_out[u] = eq
                    i += 1
                pos = _with_stop(pos, peak, stop, stop_reason)
            else:
                cash = acct.cash
                while i < lim:
                    u = np.uint64(i)
                    c = close[u]
                    s_i, nxs = _bar_signal(False, lines_mode, i, u, c, xa, xb, sig, ema_w, xstart, xs)
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    xs = nxs
                    eq = cash
                    bars = _mark_bar(i, eq, bars)
                    if record:
                        equity_out[u] = eq
                    i += 1
    if overflow:
        return stats, equity_out, trades[:0], -1
    # A position still open is closed at the last close for the metrics (no fee), flagged.
    if pos.side != 0.0 and n > 0:
        stats[S_ENDED_OPEN] = 1.0
        acct = _close_trade(pos, acct, close[n - 1], 0.0, n - 1, EXIT_END, stats, trades, record)
    stats[S_FEES] += acct.entry_fees
    stats[S_FUNDING] = funding_total
    stats[S_N_AMBIGUOUS] = n_amb
    stats[S_N_SKIPPED] = acct.n_skipped
    stats[S_FINAL_EQUITY] = bars.last_eq
    stats[S_N_BARS] = n
    stats[S_RET_SUM_BARS] = bars.ret_sum
    stats[S_RET_SQ_BARS] = bars.ret_sq
    stats[S_DOWN_SQ] = bars.down_sq
    stats[S_DD_SQ] = bars.dd_sq
    stats[S_DAYS] = days.n_days
    stats[S_DAY_RET_SUM] = days.ret_sum
    stats[S_DAY_RET_SQ] = days.ret_sq
    stats[S_MAX_DD] = bars.max_dd
    stats[S_MAX_DD_DURATION] = bars.max_dd_bars
    stats[S_EXPOSURE_BARS] = exposure
    nt = acct.n_trades
    return stats, equity_out, trades[:nt], nt


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def grid_nb(open_, high, low, close, funding, day_ends, lines, rule, rows, rps, warmups, risk, emas, fc, ic, n_workers):  # type: ignore[no-untyped-def]
    """Streamed statistics for many parameter combinations, in parallel.

    ``rows[k]`` picks combination k's lines from the shared ``lines`` matrix,
    ``rps[k]`` and ``warmups[k]`` complete its signal and ``risk[k]`` holds its
    (sl, tp, trail). When ``emas`` has a row per combination, its two EMA
    windows replace the lines (an EMA cross computed inside the kernel) and
    ``lines`` may be empty. Memory: O(combinations) on top of the shared lines."""
    m = rows.shape[0]
    n = close.shape[0]
    out = np.empty((m, N_STATS))
    n_chunks = min(m, max(1, n_workers))
    ema_mode = emas.shape[0] == m and m > 0
    fused = rule == RULE_CROSS
    for ch in prange(n_chunks):
        sig = np.empty(0 if fused else n, dtype=np.int8)  # one mask buffer per worker, reused
        no_line = np.empty(0)
        fck = fc.copy()
        for k in range(ch, m, n_chunks):
            r = rows[k]
            start = signal_start(rule, warmups[k])
            fck[F_SL] = risk[k, 0]
            fck[F_TP] = risk[k, 1]
            fck[F_TRAIL] = risk[k, 2]
            xa, xb, ema_n = no_line, no_line, no_line  # the bitmask `sig` unless set below
            if ema_mode:
                ema_n = emas[k]
            elif fused:
                xa, xb = lines[r[0]], lines[r[1]]
            else:
                signals_nb(
                    lines[r[0]], lines[r[1]], lines[r[2]], lines[r[3]], lines[r[4]],
                    rule, rps[k], start, sig,
                )
            stats, _, _, _ = simulate_nb(
                open_, high, low, close, funding, sig, xa, xb, ema_n, start, day_ends, fck, ic, False
            )
            out[k] = stats
    return out
