"""Codes and array layouts shared by the kernels and their Python wrappers.

Numba reads module-level ints as compile-time constants, so these stay plain ints.
"""

from __future__ import annotations

# Signal rules: how a strategy's indicator lines become entries and exits.
RULE_CROSS = 0  # rows (a, b): long entry a crosses above b, short entry a crosses below b
RULE_LEVELS = 1  # row a with params (lower, upper): oscillator levels (RSI)
RULE_BANDS = 2  # rows (price, mid, std) with param k: mean reversion to the band middle
RULE_BREAKOUT = 3  # rows (price, upper, lower, exit_upper, exit_lower) of the previous bar
RULE_HOLD = 4  # long at the first allowed bar, never exit
RULE_SIGNALS = 5  # rows are precomputed 0/1 signals: long entry, long exit, short entry, short exit

N_ROWS = 5
N_RPARAMS = 2

# Pending/resolved order actions.
ACT_NONE = 0
ACT_LONG = 1
ACT_SHORT = 2
ACT_CLOSE = 3

# Float config layout.
F_INIT_CAPITAL = 0
F_SL = 1
F_TP = 2
F_TRAIL = 3
F_TRAIL_ACTIVATION = 4
F_FEE = 5
F_MAKER_FEE = 6
F_SLIPPAGE = 7
F_SIZE = 8
F_LEVERAGE = 9
F_QTY_STEP = 10
F_MIN_QTY = 11
F_MAINT_MARGIN = 12
N_FCFG = 13

# Int config layout.
I_FILL_CLOSE = 0  # 0 next open, 1 close
I_DIRECTION = 1  # 0 long, 1 short, 2 both
I_SAME_BAR = 2  # 0 stop_first, 1 tp_first, 2 ohlc_path
I_CHECK_ENTRY_BAR = 3
I_SIZE_MODE = 4  # 0 equity_fraction, 1 fixed_qty, 2 fixed_notional
I_LIQUIDATION = 5
I_HAS_FUNDING = 6
N_ICFG = 7

DIR_LONG = 0
DIR_SHORT = 1
DIR_BOTH = 2
SAME_STOP_FIRST = 0
SAME_TP_FIRST = 1
SAME_OHLC_PATH = 2
SIZE_EQUITY_FRACTION = 0
SIZE_FIXED_QTY = 1
SIZE_FIXED_NOTIONAL = 2

# Exit reasons.
EXIT_SIGNAL = 0
EXIT_SL = 1
EXIT_TP = 2
EXIT_TRAIL = 3
EXIT_LIQUIDATION = 4
EXIT_END = 5
EXIT_NAMES = ("signal", "sl", "tp", "trail", "liquidation", "end")

# Trade record columns (float64 matrix).
T_ENTRY_IDX = 0
T_EXIT_IDX = 1
T_SIDE = 2
T_QTY = 3
T_ENTRY_PRICE = 4
T_EXIT_PRICE = 5
T_PNL = 6
T_RETURN = 7
T_FEES = 8
T_FUNDING = 9
T_EXIT_REASON = 10
N_TCOLS = 11

# Streamed statistics (float64 vector): what the grid returns per combination.
S_FINAL_EQUITY = 0
S_N_BARS = 1
S_RET_SUM_BARS = 2
S_RET_SQ_BARS = 3
S_DOWN_SQ = 4
S_MAX_DD = 5
S_MAX_DD_DURATION = 6
S_EXPOSURE_BARS = 7
S_FEES = 8
S_FUNDING = 9
S_N_TRADES = 10
S_N_WINS = 11
S_GROSS_PROFIT = 12
S_GROSS_LOSS = 13
S_PNL_MEAN = 14
S_PNL_M2 = 15
S_RET_SUM = 16
S_BEST_RET = 17
S_WORST_RET = 18
S_DURATION_SUM = 19
S_MAX_CONSEC_LOSSES = 20
S_N_AMBIGUOUS = 21
S_N_SKIPPED = 22
S_EXITS_BASE = 23  # + exit reason code, six slots
S_ENDED_OPEN = 29
S_WIN_PNL_SUM = 30
S_LOSS_PNL_SUM = 31
S_N_LOSSES = 32
S_DD_SQ = 33
S_DAYS = 34
S_DAY_RET_SUM = 35
S_DAY_RET_SQ = 36
S_N_SKIPPED_NO_EQUITY = 37  # of S_N_SKIPPED: orders with no equity left to place them
S_EQUITY_GONE_BAR = 38  # 1 + the bar of the first such order (0 = never)
N_STATS = 39
