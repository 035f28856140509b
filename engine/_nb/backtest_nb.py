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
    ACT_CLOSE,
    ACT_LONG,
    ACT_NONE,
    ACT_SHORT,
    DIR_LONG,
    DIR_SHORT,
    EXIT_END,
    EXIT_LIQUIDATION,
    EXIT_SIGNAL,
    EXIT_SL,
    EXIT_TP,
    EXIT_TRAIL,
    F_FEE,
    F_INIT_CAPITAL,
    F_LEVERAGE,
    F_MAINT_MARGIN,
    F_MAKER_FEE,
    F_MIN_QTY,
    F_QTY_STEP,
    F_SIZE,
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
    RULE_BANDS,
    RULE_CROSS,
    RULE_HOLD,
    RULE_LEVELS,
    RULE_SIGNALS,
    S_BEST_RET,
    S_DAY_RET_SQ,
    S_DAY_RET_SUM,
    S_DAYS,
    S_DD_SQ,
    S_DOWN_SQ,
    S_DURATION_SUM,
    S_ENDED_OPEN,
    S_EXITS_BASE,
    S_EXPOSURE_BARS,
    S_FEES,
    S_FINAL_EQUITY,
    S_FUNDING,
    S_GROSS_LOSS,
    S_GROSS_PROFIT,
    S_LOSS_PNL_SUM,
    S_MAX_CONSEC_LOSSES,
    S_MAX_DD,
    S_MAX_DD_DURATION,
    S_N_AMBIGUOUS,
    S_N_BARS,
    S_N_LOSSES,
    S_N_SKIPPED,
    S_N_TRADES,
    S_N_WINS,
    S_PNL_M2,
    S_PNL_MEAN,
    S_RET_SQ_BARS,
    S_RET_SUM,
    S_RET_SUM_BARS,
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
from engine._nb.hints import unlikely

SIG_LE = 1
SIG_LX = 2
SIG_SE = 4
SIG_SX = 8
SIG_ORDERS = SIG_LE | SIG_LX | SIG_SE | SIG_SX


@njit(cache=True, nogil=True, error_model="numpy")
def day_ends_nb(time):  # type: ignore[no-untyped-def]
    """Indices of the last bar of every UTC day (the last bar always counts), ascending.

    One comparison per bar: the next day boundary is recomputed only when crossed."""
    n = time.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    day_ms = 86_400_000
    out = np.empty(n, dtype=np.int64)
    k = 0
    boundary = (time[0] // day_ms + 1) * day_ms
    for i in range(n - 1):
        if time[i + 1] >= boundary:
            out[k] = i
            k += 1
            boundary = (time[i + 1] // day_ms + 1) * day_ms
    out[k] = n - 1
    return out[: k + 1].copy()


@njit(cache=True, nogil=True, error_model="numpy")
def signals_nb(a, b, c, d, e, rule, rp, start, out):  # type: ignore[no-untyped-def]
    """Write each bar's entry/exit flags into ``out`` as a bitmask (SIG_*).

    ``a``..``e`` are the strategy's lines, read per ``rule``. Bars before
    ``start`` (the warm-up) get no signal. One loop per rule: a rule switch
    inside the bar loop would cost more than the simulation itself."""
    n = out.shape[0]
    out[: min(start, n)] = 0
    if rule == RULE_HOLD:
        out[start:] = 0
        if start < n:
            out[start] = SIG_LE
        return
    if rule == RULE_SIGNALS:
        for i in range(start, n):
            out[i] = (
                SIG_LE * (a[i] != 0.0)
                + SIG_LX * (b[i] != 0.0)
                + SIG_SE * (c[i] != 0.0)
                + SIG_SX * (d[i] != 0.0)
            )
        return
    # The other rules compare bar i with bar i-1. They read through views shifted
    # by one and indexed from 0, because numba cannot prove ``i - 1 >= 0`` and
    # would wrap-check every access, which also stops vectorisation (10x slower).
    s = min(max(start, 1), n)
    o = out[s:]
    m = o.shape[0]
    a0 = a[s - 1 : n - 1]
    a1 = a[s:]
    if rule == RULE_CROSS:
        b0 = b[s - 1 : n - 1]
        b1 = b[s:]
        for j in range(m):
            up = (a0[j] < b0[j]) & (a1[j] > b1[j])
            dn = (b0[j] < a0[j]) & (b1[j] > a1[j])
            o[j] = (SIG_LE | SIG_SX) * up + (SIG_SE | SIG_LX) * dn
    elif rule == RULE_LEVELS:
        lower = rp[0]
        upper = rp[1]
        for j in range(m):
            p0 = a0[j]
            p1 = a1[j]
            o[j] = (
                SIG_LE * ((p0 < lower) & (p1 > lower))
                + SIG_SE * ((p0 > upper) & (p1 < upper))
                + SIG_LX * ((p0 < upper) & (p1 > upper))
                + SIG_SX * ((p0 > lower) & (p1 < lower))
            )
    elif rule == RULE_BANDS:
        k = rp[0]
        b0 = b[s - 1 : n - 1]
        b1 = b[s:]
        c0 = c[s - 1 : n - 1]
        c1 = c[s:]
        for j in range(m):
            p0 = a0[j]
            p1 = a1[j]
            m0 = b0[j]
            m1 = b1[j]
            o[j] = (
                SIG_LE * ((p0 > m0 - k * c0[j]) & (p1 < m1 - k * c1[j]))
                + SIG_SE * ((p0 < m0 + k * c0[j]) & (p1 > m1 + k * c1[j]))
                + SIG_LX * ((p0 < m0) & (p1 > m1))
                + SIG_SX * ((m0 < p0) & (m1 > p1))
            )
    else:  # RULE_BREAKOUT: price against the previous bar's channels
        b0 = b[s - 1 : n - 1]
        c0 = c[s - 1 : n - 1]
        d0 = d[s - 1 : n - 1]
        e0 = e[s - 1 : n - 1]
        for j in range(m):
            p = a1[j]
            o[j] = (
                SIG_LE * (p > b0[j])
                + SIG_SE * (p < c0[j])
                + SIG_SX * (p > d0[j])
                + SIG_LX * (p < e0[j])
            )


@njit(cache=True, nogil=True, error_model="numpy")
def signal_start(rule, warmup):  # type: ignore[no-untyped-def]
    """First bar that may signal: rules that compare with the previous bar never signal on bar 0."""
    return warmup if rule in (RULE_HOLD, RULE_SIGNALS) else max(warmup, 1)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def resolve_action(side, sig, direction):  # type: ignore[no-untyped-def]
    """Turn a signal bitmask into one order given the current position (no pyramiding)."""
    le = (sig & SIG_LE) != 0
    lx = (sig & SIG_LX) != 0
    se = (sig & SIG_SE) != 0
    sx = (sig & SIG_SX) != 0
    allow_long = direction != DIR_SHORT
    allow_short = direction != DIR_LONG
    if side > 0:
        if se and allow_short:
            return ACT_SHORT
        if lx or se:
            return ACT_CLOSE
    elif side < 0:
        if le and allow_long:
            return ACT_LONG
        if sx or le:
            return ACT_CLOSE
    else:
        if le and allow_long:
            return ACT_LONG
        if se and allow_short:
            return ACT_SHORT
    return ACT_NONE


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
def _book_trade(stats, trades, nt, record, side, qty, entry, entry_idx, entry_fee, funding_paid, fill, exit_fee, i, reason, consec):  # type: ignore[no-untyped-def]
    """Stream one closed trade into ``stats`` (and ``trades`` when recording).

    Returns the new trade count and the current run of losing trades. The
    buffer is sized up front and never replaced: reassigning an array inside
    the bar loop would put reference counting on the hot path."""
    pnl = side * qty * (fill - entry) - entry_fee - exit_fee - funding_paid
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
    stats[S_DURATION_SUM] += i - entry_idx
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
    if record:
        t = trades[nt]
        t[T_ENTRY_IDX] = entry_idx
        t[T_EXIT_IDX] = i
        t[T_SIDE] = side
        t[T_QTY] = qty
        t[T_ENTRY_PRICE] = entry
        t[T_EXIT_PRICE] = fill
        t[T_PNL] = pnl
        t[T_RETURN] = ret
        t[T_FEES] = entry_fee + exit_fee
        t[T_FUNDING] = funding_paid
        t[T_EXIT_REASON] = reason
    return nt + 1, consec


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _protective_stop(side, entry, sl_lvl, liq_lvl, peak, trail, trail_act):  # type: ignore[no-untyped-def]
    """The tightest of stop-loss, trailing stop and liquidation, with its reason.

    Levels that are off are -inf for longs and +inf for shorts, so the caller's
    per-bar test is two comparisons. Recomputed only when the peak moves."""
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
def _intrabar_exit(side, stop, stop_reason, tp_lvl, o, h, lo, c, same_bar, slip):  # type: ignore[no-untyped-def]
    """Resolve a bar that touched the stop or the take-profit: (reason, fill, ambiguous).

    A bar opening beyond the stop fills at the open; a take-profit fills at
    its level or the better open; both touched is settled by ``same_bar``."""
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
        if stop_reason == EXIT_LIQUIDATION:
            return stop_reason, stop, ambiguous  # isolated margin: the loss stops at the liquidation price
        raw = o if gap_stop else stop
        return stop_reason, raw * (1.0 - side * slip), ambiguous
    return EXIT_TP, (o if gap_tp else tp_lvl), ambiguous


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _market_order(act, price, i, side, qty, entry, entry_idx, entry_fee, fund_paid, cash, fees, n_skip, nt, consec, sl_lvl, tp_lvl, liq_lvl, peak, stop, stop_reason, stats, trades, record, fc, size_mode, liq_on, liq_dist):  # type: ignore[no-untyped-def]
    """Fill a market order at ``price`` (before slippage): close the position if
    the order closes or reverses it, then open the new one if there is one.

    Returns the updated position state and whether a position was opened.
    Inlined by numba, so the wide signature costs nothing at run time; it keeps
    the open-fill and close-fill paths one piece of code."""
    slip = fc[F_SLIPPAGE]
    fee = fc[F_FEE]
    entered = False
    if side != 0.0 and (act == ACT_CLOSE or (act == ACT_LONG) == (side < 0.0)):
        fill = price * (1.0 - side * slip)
        exit_fee = qty * fill * fee
        cash += side * qty * (fill - entry) - exit_fee
        nt, consec = _book_trade(
            stats, trades, nt, record, side, qty, entry, entry_idx, entry_fee,
            fund_paid, fill, exit_fee, i, EXIT_SIGNAL, consec,
        )
        side = 0.0
    if act != ACT_CLOSE and side == 0.0:
        new_side = 1.0 if act == ACT_LONG else -1.0
        fill = price * (1.0 + slip * new_side)
        q = _entry_qty(cash, fill, fc, size_mode)
        if q > 0.0:
            side = new_side
            qty = q
            entry = fill
            entry_idx = i
            entry_fee = q * fill * fee
            cash -= entry_fee
            fees += entry_fee
            fund_paid = 0.0
            inf = np.inf
            sl = fc[F_SL]
            tp = fc[F_TP]
            sl_lvl = fill * (1.0 - side * sl) if sl > 0.0 else -side * inf
            tp_lvl = fill * (1.0 + side * tp) if tp > 0.0 else side * inf
            liq_lvl = fill * (1.0 - side * liq_dist) if liq_on else -side * inf
            peak = fill
            stop, stop_reason = _protective_stop(
                side, entry, sl_lvl, liq_lvl, peak, fc[F_TRAIL], fc[F_TRAIL_ACTIVATION]
            )
            entered = True
        else:
            n_skip += 1
    return (side, qty, entry, entry_idx, entry_fee, fund_paid, cash, fees, n_skip, nt, consec,
            sl_lvl, tp_lvl, liq_lvl, peak, stop, stop_reason, entered)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _cross_bits(gt, lt, prev_lt, prev_gt, live):  # type: ignore[no-untyped-def]
    """The RULE_CROSS bitmask of one bar from this bar's and the previous bar's order of the lines."""
    return ((SIG_LE | SIG_SX) * (prev_lt & gt) + (SIG_SE | SIG_LX) * (prev_gt & lt)) * live


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _bar_signal(ema_on, lines_on, i, u, c, xa, xb, sig, ema_x, ema_y, ema_k, prev_lt, prev_gt, xstart):  # type: ignore[no-untyped-def]
    """Bar ``i``'s signal bitmask and the signal state after it: (bits, ema_x, ema_y, lt, gt).

    The source is the in-kernel EMA pair, the two lines ``xa``/``xb`` or the
    bitmask ``sig`` (see :func:`simulate_nb`); ``u`` is ``i`` as the array index."""
    if not (ema_on or lines_on):
        return np.int64(sig[u]), ema_x, ema_y, prev_lt, prev_gt
    if ema_on:
        if i > 0:  # bar 0 is the seed, as in ema_nb
            ema_x = ema_k[0] * c + ema_k[1] * ema_x
            ema_y = ema_k[2] * c + ema_k[3] * ema_y
        a_i = ema_x
        b_i = ema_y
    else:
        a_i = xa[u]
        b_i = xb[u]
    gt = a_i > b_i
    lt = b_i > a_i
    return _cross_bits(gt, lt, prev_lt, prev_gt, i >= xstart), ema_x, ema_y, lt, gt


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _trail_step(side, h, lo, peak, entry, sl_lvl, liq_lvl, trail, trail_act):  # type: ignore[no-untyped-def]
    """Move the trailing peak with this bar's extreme: (peak, stop, stop_reason) for the next bar.

    Recomputed every bar rather than behind "did the peak move?": that test is
    a coin flip per bar and its mispredictions cost more."""
    ext = h if side > 0.0 else lo
    peak = ext if side * (ext - peak) > 0.0 else peak
    stop, reason = _protective_stop(side, entry, sl_lvl, liq_lvl, peak, trail, trail_act)
    return peak, stop, reason


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _mark_bar(i, eq, acc):  # type: ignore[no-untyped-def]
    """Stream bar ``i``'s closing equity into the per-bar statistics ``acc``.

    Divisions dominate this cost, so each bar does at most one: 1/eq is reused
    as the next bar's 1/prev, and 1/peak changes only on new highs."""
    prev_eq, inv_prev, peak_eq, inv_peak, dd_start, max_dd, max_dd_dur, ret_sum, ret_sq, down_sq, dd_sq = acc
    if eq != prev_eq:
        r = eq * inv_prev - 1.0 if prev_eq > 0.0 else 0.0
        inv_prev = 1.0 / eq if eq > 0.0 else 0.0
        ret_sum += r
        ret_sq += r * r
        neg = min(r, 0.0)  # branch-free: the sign of r is a coin flip per bar
        down_sq += neg * neg
    if eq >= peak_eq:
        peak_eq = eq
        inv_peak = 1.0 / eq if eq > 0.0 else 0.0
        dd_start = i
    else:
        dd = 1.0 - eq * inv_peak if peak_eq > 0.0 else 1.0
        dd_sq += dd * dd
        if dd > max_dd:
            max_dd = dd
        if i - dd_start > max_dd_dur:
            max_dd_dur = i - dd_start
    return eq, inv_prev, peak_eq, inv_peak, dd_start, max_dd, max_dd_dur, ret_sum, ret_sq, down_sq, dd_sq


@njit(cache=True, nogil=True, error_model="numpy")
def _count_crosses(a, b, start):  # type: ignore[no-untyped-def]
    """How many bars from ``start`` on see ``a`` cross ``b`` either way (RULE_CROSS entries)."""
    s = min(max(start, 1), a.shape[0])
    a0 = a[s - 1 : a.shape[0] - 1]
    a1 = a[s:]
    b0 = b[s - 1 : a.shape[0] - 1]
    b1 = b[s:]
    count = 0
    for j in range(a1.shape[0]):  # shifted views: see signals_nb
        count += ((a0[j] < b0[j]) & (a1[j] > b1[j])) | ((b0[j] < a0[j]) & (b1[j] > a1[j]))
    return count


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
    :func:`day_ends_nb`) marks where daily returns are taken. Position state
    lives in local scalars; arrays are written only when a trade closes."""
    n = close.shape[0]
    stats = np.zeros(N_STATS)
    equity_out = np.empty(n if record else 0)
    ema_mode = ema_n.shape[0] == 2
    ea_a = 2.0 / (ema_n[0] + 1.0) if ema_mode else 0.0
    eb_a = 2.0 / (ema_n[1] + 1.0) if ema_mode else 0.0
    ema_k = (ea_a, 1.0 - ea_a, eb_a, 1.0 - eb_a)  # the two EMAs' (alpha, 1 - alpha), as ema_nb
    ema_x = close[0] if ema_mode and n > 0 else 0.0
    ema_y = ema_x
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
    prev_lt = False
    prev_gt = False
    n_de = day_ends.shape[0]
    de_k = 0
    next_de = day_ends[0] if n_de > 0 else -1
    nt = 0
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
    # position
    cash = init
    side = 0.0
    qty = 0.0
    entry = 0.0
    entry_idx = 0
    entry_fee = 0.0
    fund_paid = 0.0
    inf = np.inf
    sl_lvl = -inf
    tp_lvl = inf
    liq_lvl = -inf
    stop = -inf
    stop_reason = EXIT_SL
    peak = 0.0
    consec = 0
    pending = ACT_NONE
    # streamed per-bar statistics: see _mark_bar
    acc = (init, 1.0 / init, init, 1.0 / init, 0, 0.0, 0, 0.0, 0.0, 0.0, 0.0)
    exposure = 0
    fees = 0.0
    funding_total = 0.0
    n_amb = 0
    n_skip = 0
    day_start_eq = init
    d_n = 0
    d_sum = 0.0
    d_sq = 0.0
    overflow = False
    i = 0
    while i < n:
        # The full bar body: every step of every rule. Routine bars run below.
        if unlikely(ema_mode and record and nt + 3 > cap):  # at most three trades close on one bar
            overflow = True
            break
        in_market = side != 0.0
        # 1. funding at this open, paid by the position held over the funding time
        if unlikely(has_funding and side != 0.0):
            rate = funding[i]
            if rate != 0.0:
                pay = side * qty * open_[i] * rate
                cash -= pay
                fund_paid += pay
                funding_total += pay
        # 2. the order decided at the previous close fills at this open
        entered = False
        if pending != ACT_NONE:
            act = pending
            pending = ACT_NONE
            (side, qty, entry, entry_idx, entry_fee, fund_paid, cash, fees, n_skip, nt, consec,
             sl_lvl, tp_lvl, liq_lvl, peak, stop, stop_reason, entered) = _market_order(
                act, open_[i], i, side, qty, entry, entry_idx, entry_fee, fund_paid, cash, fees, n_skip,
                nt, consec, sl_lvl, tp_lvl, liq_lvl, peak, stop, stop_reason,
                stats, trades, record, fc, size_mode, liq_on, liq_dist,
            )
        # 3. intrabar exits on a position that lived through (part of) this bar
        c = close[i]
        if side != 0.0:
            in_market = True
            h = high[i]
            lo = low[i]
            lower = stop if side > 0.0 else tp_lvl
            upper = tp_lvl if side > 0.0 else stop
            if (lo <= lower or h >= upper) and (check_entry or not entered):
                reason, fill, amb = _intrabar_exit(
                    side, stop, stop_reason, tp_lvl, open_[i], h, lo, c, same_bar, slip
                )
                if amb:
                    n_amb += 1
                exit_fee = qty * fill * (maker_fee if reason == EXIT_TP else fee)
                cash += side * qty * (fill - entry) - exit_fee
                nt, consec = _book_trade(
                    stats, trades, nt, record, side, qty, entry, entry_idx, entry_fee,
                    fund_paid, fill, exit_fee, i, reason, consec,
                )
                side = 0.0
            if trail_on and side != 0.0:
                peak, stop, stop_reason = _trail_step(side, h, lo, peak, entry, sl_lvl, liq_lvl, trail, trail_act)
        # 4. the signal on this close
        s_i, ema_x, ema_y, prev_lt, prev_gt = _bar_signal(
            ema_mode, lines_mode, i, i, c, xa, xb, sig, ema_x, ema_y, ema_k, prev_lt, prev_gt, xstart
        )
        if s_i & SIG_ORDERS:
            act = resolve_action(side, s_i, direction)
            if act != ACT_NONE:
                if not fill_close:
                    if i + 1 < n:
                        pending = act
                else:
                    (side, qty, entry, entry_idx, entry_fee, fund_paid, cash, fees, n_skip, nt, consec,
                     sl_lvl, tp_lvl, liq_lvl, peak, stop, stop_reason, _) = _market_order(
                        act, c, i, side, qty, entry, entry_idx, entry_fee, fund_paid, cash, fees,
                        n_skip, nt, consec, sl_lvl, tp_lvl, liq_lvl, peak, stop, stop_reason,
                        stats, trades, record, fc, size_mode, liq_on, liq_dist,
                    )
        # 5. mark to the close and stream the per-bar statistics
        if side != 0.0:
            in_market = True
            eq = cash + side * qty * (c - entry)
        else:
            eq = cash
        if in_market:
            exposure += 1
        acc = _mark_bar(i, eq, acc)
        if i == next_de:
            dr = eq / day_start_eq - 1.0 if day_start_eq > 0.0 else 0.0
            d_n += 1
            d_sum += dr
            d_sq += dr * dr
            day_start_eq = eq
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
        lim = next_de if next_de >= 0 else n
        if ema_mode:
            if side != 0.0:
                lower = stop if side > 0.0 else tp_lvl
                upper = tp_lvl if side > 0.0 else stop
                while i < lim:
                    u = np.uint64(i)  # unsigned: numba adds no negative-index wraparound to each access
                    c = close[u]
                    h = high[u]
                    lo = low[u]
                    if unlikely(lo <= lower or h >= upper):
                        break
                    if unlikely(has_funding and funding[u] != 0.0):
                        break
                    s_i, nx, ny, lt, gt = _bar_signal(
                        True, False, i, u, c, xa, xb, sig, ema_x, ema_y, ema_k, prev_lt, prev_gt, xstart
                    )
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    ema_x = nx
                    ema_y = ny
                    prev_lt = lt
                    prev_gt = gt
                    if trail_on:
                        peak, stop, stop_reason = _trail_step(side, h, lo, peak, entry, sl_lvl, liq_lvl, trail, trail_act)
                        lower = stop if side > 0.0 else tp_lvl
                        upper = tp_lvl if side > 0.0 else stop
                    exposure += 1
                    eq = cash + side * qty * (c - entry)
                    acc = _mark_bar(i, eq, acc)
                    if record:
                        equity_out[u] = eq
                    i += 1
            else:
                while i < lim:
                    u = np.uint64(i)
                    c = close[u]
                    s_i, nx, ny, lt, gt = _bar_signal(
                        True, False, i, u, c, xa, xb, sig, ema_x, ema_y, ema_k, prev_lt, prev_gt, xstart
                    )
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    ema_x = nx
                    ema_y = ny
                    prev_lt = lt
                    prev_gt = gt
                    eq = cash
                    acc = _mark_bar(i, eq, acc)
                    if record:
                        equity_out[u] = eq
                    i += 1
        else:
            if side != 0.0:
                lower = stop if side > 0.0 else tp_lvl
                upper = tp_lvl if side > 0.0 else stop
                while i < lim:
                    u = np.uint64(i)  # unsigned: numba adds no negative-index wraparound to each access
                    c = close[u]
                    h = high[u]
                    lo = low[u]
                    if unlikely(lo <= lower or h >= upper):
                        break
                    if unlikely(has_funding and funding[u] != 0.0):
                        break
                    s_i, nx, ny, lt, gt = _bar_signal(
                        False, lines_mode, i, u, c, xa, xb, sig, ema_x, ema_y, ema_k, prev_lt, prev_gt, xstart
                    )
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    ema_x = nx
                    ema_y = ny
                    prev_lt = lt
                    prev_gt = gt
                    if trail_on:
                        peak, stop, stop_reason = _trail_step(side, h, lo, peak, entry, sl_lvl, liq_lvl, trail, trail_act)
                        lower = stop if side > 0.0 else tp_lvl
                        upper = tp_lvl if side > 0.0 else stop
                    exposure += 1
                    eq = cash + side * qty * (c - entry)
                    acc = _mark_bar(i, eq, acc)
                    if record:
                        equity_out[u] = eq
                    i += 1
            else:
                while i < lim:
                    u = np.uint64(i)
                    c = close[u]
                    s_i, nx, ny, lt, gt = _bar_signal(
                        False, lines_mode, i, u, c, xa, xb, sig, ema_x, ema_y, ema_k, prev_lt, prev_gt, xstart
                    )
                    if unlikely((s_i & SIG_ORDERS) != 0):
                        break
                    ema_x = nx
                    ema_y = ny
                    prev_lt = lt
                    prev_gt = gt
                    eq = cash
                    acc = _mark_bar(i, eq, acc)
                    if record:
                        equity_out[u] = eq
                    i += 1
    prev_eq, _, _, _, _, max_dd, max_dd_dur, ret_sum, ret_sq, down_sq, dd_sq = acc
    if overflow:
        return stats, equity_out, trades[:0], -1
    # A position still open is closed at the last close for the metrics (no fee), flagged.
    if side != 0.0 and n > 0:
        stats[S_ENDED_OPEN] = 1.0
        nt, consec = _book_trade(
            stats, trades, nt, record, side, qty, entry, entry_idx, entry_fee,
            fund_paid, close[n - 1], 0.0, n - 1, EXIT_END, consec,
        )
    stats[S_FEES] += fees
    stats[S_FUNDING] = funding_total
    stats[S_N_AMBIGUOUS] = n_amb
    stats[S_N_SKIPPED] = n_skip
    stats[S_FINAL_EQUITY] = prev_eq
    stats[S_N_BARS] = n
    stats[S_RET_SUM_BARS] = ret_sum
    stats[S_RET_SQ_BARS] = ret_sq
    stats[S_DOWN_SQ] = down_sq
    stats[S_DD_SQ] = dd_sq
    stats[S_DAYS] = d_n
    stats[S_DAY_RET_SUM] = d_sum
    stats[S_DAY_RET_SQ] = d_sq
    stats[S_MAX_DD] = max_dd
    stats[S_MAX_DD_DURATION] = max_dd_dur
    stats[S_EXPOSURE_BARS] = exposure
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
