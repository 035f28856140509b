"""Optimisation speed and memory, measured side by side in one run, printed as one table.

    uv run python bench/optimize.py                 # ours
    uv run --group bench python bench/optimize.py   # + vectorbt and backtesting.py

Rows: a 184-combination EMA-cross grid (fast 5..50 step 5 x slow 20..210 step 10,
fast < slow) on 1,000,000 one-minute bars, alone and with the overfitting report
(deflated Sharpe, PBO over 16 CSCV blocks, bootstrap CI); 200 optuna TPE trials on
100,000 bars; a 10-split rolling walk-forward of the same grid on 1,000,000 bars.
Each row runs in a fresh process after a warm-up call, so its peak RSS growth is its
own. Times are wall-clock on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OPTS = {"sl": 0.003, "tp": 0.006, "trail": 0.004, "fee": 0.00055}
GRID = {"fast": "5:50:5", "slow": "20:210:10"}  # 184 combinations with fast < slow

_PRELUDE = f"""
import json, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
import engine
from engine.optimize import make_space
OPTS = {OPTS!r}
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
"""

CASES: dict[str, str] = {
    "grid": """
from engine.optimize import optimize_grid
c = engine.sample_candles('BTCUSDT', '1', {bars})
space = make_space('ema_cross', {grid!r})
optimize_grid(c.slice(0, 20_000), space, 'sharpe', OPTS, overfit=False)
base = rss_mb(); t0 = time.perf_counter()
r = optimize_grid(c, space, 'sharpe', OPTS, overfit={overfit})
t = time.perf_counter() - t0
ov = r.overfit.to_dict() if r.overfit else {{}}
print(json.dumps({{"s": t, "mb": rss_mb() - base, "n": len(r), "dsr": ov.get("deflated_sharpe"),
                  "pbo": (ov.get("pbo") or {{}}).get("pbo")}}))
""",
    "rawgrid": """
c = engine.sample_candles('BTCUSDT', '1', {bars})
combos = make_space('ema_cross', {grid!r}).expand()
engine.run_grid(c.slice(0, 20_000), 'ema_cross', combos, OPTS)
base = rss_mb(); t0 = time.perf_counter()
g = engine.run_grid(c, 'ema_cross', combos, OPTS)
print(json.dumps({{"s": time.perf_counter() - t0, "mb": rss_mb() - base, "n": len(g)}}))
""",
    "bayes": """
from engine.optimize import optimize_bayes
c = engine.sample_candles('BTCUSDT', '1', {bars})
space = make_space('ema_cross', {{'fast': '2:100', 'slow': '10:400'}})
optimize_bayes(c.slice(0, 20_000), space, 8, 'sharpe', OPTS, overfit=False)
base = rss_mb(); t0 = time.perf_counter()
r = optimize_bayes(c, space, 200, 'sharpe', OPTS, seed=0, overfit={overfit})
t = time.perf_counter() - t0
print(json.dumps({{"s": t, "mb": rss_mb() - base, "n": len(r), "best": r.best["params"] if r.best else None}}))
""",
    "walk": """
from engine.optimize import walk_forward
c = engine.sample_candles('BTCUSDT', '1', {bars})
space = make_space('ema_cross', {grid!r})
walk_forward(c.slice(0, 40_000), space, 'sharpe', OPTS, n_splits=2)
base = rss_mb(); t0 = time.perf_counter()
r = walk_forward(c, space, 'sharpe', OPTS, n_splits=10, mode='rolling', ratio=4.0)
t = time.perf_counter() - t0
print(json.dumps({{"s": t, "mb": rss_mb() - base, "n": len(r.splits),
                  "wfe": r.efficiency["wfe_sharpe"]}}))
""",
}


def run_case(name: str, **fmt: object) -> dict[str, Any]:
    code = _PRELUDE + CASES[name].format(grid=GRID, **fmt)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800, env=dict(os.environ))
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-1500:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def vectorbt_grid(bars: int) -> tuple[float, str]:
    """vectorbt's broadcasting grid of the same 184 combos, in chunks of 23 to fit memory."""
    import time

    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    sys.path.insert(0, str(ROOT))  # the package, not bench/engine.py beside this file
    engine: Any = importlib.import_module("engine")

    c = engine.sample_candles("BTCUSDT", "1", bars)
    close = pd.Series(c.close)
    pairs = [(f, s) for f in range(5, 51, 5) for s in range(20, 211, 10) if f < s]
    t0 = time.perf_counter()
    best = -np.inf
    for k in range(0, len(pairs), 23):
        chunk = pairs[k:k + 23]
        fast = vbt.MA.run(close, [p[0] for p in chunk], ewm=True, short_name="fast")
        slow = vbt.MA.run(close, [p[1] for p in chunk], ewm=True, short_name="slow")
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        pf = vbt.Portfolio.from_signals(close, entries, exits, short_entries=exits,
                                        short_exits=entries, sl_stop=0.003, tp_stop=0.006,
                                        fees=0.00055, freq="1min")
        best = max(best, float(np.nanmax(pf.sharpe_ratio().values)))
    return time.perf_counter() - t0, f"{len(pairs)} combos in chunks of 23; best Sharpe {best:.2f}"


def backtesting_py_optimize(bars: int) -> tuple[float, str]:
    """backtesting.py's Backtest.optimize (its process pool) over the same grid on the first 20k bars."""
    import time

    import pandas as pd
    from backtesting import Backtest

    sys.path.insert(0, str(ROOT))  # the package, not bench/engine.py beside this file
    engine: Any = importlib.import_module("engine")
    from _btpy import Cross  # module level, so the optimiser's process pool can pickle it

    m = min(bars, 20_000)
    c = engine.sample_candles("BTCUSDT", "1", bars)
    df = pd.DataFrame({"Open": c.open[:m], "High": c.high[:m], "Low": c.low[:m],
                       "Close": c.close[:m], "Volume": c.volume[:m]},
                      index=pd.to_datetime(c.time[:m], unit="ms"))

    bt = Backtest(df, Cross, commission=0.00055, cash=1e9, finalize_trades=True)
    t0 = time.perf_counter()
    bt.optimize(fast=range(5, 51, 5), slow=range(20, 211, 10), constraint=lambda p: p.fast < p.slow,
                maximize="Sharpe Ratio")
    t = time.perf_counter() - t0
    return t * bars / m, f"EMA cross without stops, measured on {m:,} bars, scaled x{bars / m:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--bayes-bars", type=int, default=100_000)
    args = ap.parse_args()
    n = args.bars
    rows: list[tuple[str, float, str, str]] = []

    def add(name: str, case: str, target: str, **fmt: object) -> None:
        try:
            r = run_case(case, **fmt)
        except Exception as exc:  # a failed row is reported, not fatal
            rows.append((name, float("nan"), "-", f"failed: {str(exc)[-200:]}"))
            return
        extra = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in r.items() if k not in ("s", "mb"))
        rows.append((name, float(r["s"]), f"+{float(r['mb']):,.0f} MB", f"{extra}; {target}"))

    add(f"engine run_grid alone (yardstick), {n:,} bars", "rawgrid", "the kernel optimize builds on",
        bars=n)
    add(f"ours: grid 184 combos, {n:,} bars", "grid", "target <= 1.2 s, < 1 GB",
        bars=n, overfit=False)
    add(f"ours: grid 184 + overfit report, {n:,} bars", "grid", "DSR + PBO(16 blocks) + CI",
        bars=n, overfit=True)
    add(f"ours: optuna TPE 200 trials, {args.bayes_bars:,} bars", "bayes", "batches via grid kernel",
        bars=args.bayes_bars, overfit=True)
    add(f"ours: walk-forward 10 splits x 184, {n:,} bars", "walk", "target <= 15 s", bars=n)
    for name, fn, module in (
        ("vectorbt: broadcast grid 184 combos", vectorbt_grid, "vectorbt"),
        ("backtesting.py: optimize 184 combos", backtesting_py_optimize, "backtesting"),
    ):
        try:
            __import__(module)
        except ImportError:
            rows.append((name, float("nan"), "-", "skipped: not installed (`uv sync --group bench`)"))
            continue
        try:
            t, note = fn(n)
            rows.append((name, t, "-", note))
        except Exception as exc:  # a third-party failure is a row, not a crash
            rows.append((name, float("nan"), "-", f"failed: {type(exc).__name__}: {str(exc)[:80]}"))

    width = max(len(r[0]) for r in rows)
    print(f"\noptimize bench: 1-minute synthetic BTCUSDT, EMA cross with SL/TP/trail and fees, "
          f"{os.cpu_count()} cores")
    print(f"{'case':<{width}}  {'seconds':>8}  {'peak RSS':>10}  note")
    for name, t, mem, note in rows:
        print(f"{name:<{width}}  {t:>8.3f}  {mem:>10}  {note}")


if __name__ == "__main__":
    main()
