"""Engine speed, measured side by side in one run, printed as one table.

    uv run python bench/engine.py                 # ours and the bare numba loop
    uv run --group bench python bench/engine.py   # + vectorbt and backtesting.py

Rows: a single EMA(10, 50) cross backtest with SL 0.3 %, TP 0.6 %, trailing 0.4 % and
Bybit taker fees on 1,000,000 one-minute bars; the same strategy as a bare single-purpose
numba loop; a 184-combination (fast, slow) grid; the first backtest in a fresh process
with the numba cache warm; `bybit-tester demo` with a cold numba cache. Times are the best
of several runs; on a shared machine compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from _bare import bare_ema_cross  # noqa: E402

import engine  # noqa: E402
from ohlcv import Candles  # noqa: E402

OPTS = {"sl": 0.003, "tp": 0.006, "trail": 0.004, "fee": 0.00055}
GRID_FAST = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
GRID_SLOW = list(range(20, 220, 10))  # 20..210: 184 pairs with fast < slow


def grid_184() -> list[dict[str, int]]:
    combos = [{"fast": f, "slow": s} for f in GRID_FAST for s in GRID_SLOW if f < s]
    assert len(combos) == 184
    return combos


def best_of(fns: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best time of each function, the functions taking turns in every round, so that a
    slow spell of a shared machine hits all of them alike and their ratios hold."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def child(code: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return proc.stdout.strip().splitlines()[-1]


def measure_grid_memory(bars: int) -> tuple[float, float]:
    """Grid time and peak RSS growth, in a fresh process so other rows do not count."""
    inline = (
        "import resource, time, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from engine import sample_candles, run_grid\n"
        f"combos = {grid_184()!r}\n"
        f"opts = {OPTS!r}\n"
        f"c = sample_candles('BTCUSDT', '1', {bars})\n"
        "run_grid(c, 'ema_cross', combos[:2], opts)\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t0 = time.perf_counter(); run_grid(c, 'ema_cross', combos, opts); t = time.perf_counter() - t0\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(t, (peak - base) / 1024.0)\n"
    )
    out = child(inline)
    t, mb = out.split()
    return float(t), float(mb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--skip-cold", action="store_true", help="skip the cold-cache demo row (slow)")
    args = ap.parse_args()
    n = args.bars
    rows: list[tuple[str, float, str, str]] = []  # name, seconds, throughput, note

    c = engine.sample_candles("BTCUSDT", "1", n)
    engine.backtest(c, "ema_cross", {"fast": 10, "slow": 50}, **OPTS)  # compile / load cache
    bare_ema_cross(c.open, c.high, c.low, c.close, 10, 50, 0.003, 0.006, 0.00055)

    t_bare, t_ours = best_of(
        [
            lambda: bare_ema_cross(c.open, c.high, c.low, c.close, 10, 50, 0.003, 0.006, 0.00055),
            lambda: engine.backtest(c, "ema_cross", {"fast": 10, "slow": 50}, **OPTS),
        ],
        args.repeat,
    )
    res = engine.backtest(c, "ema_cross", {"fast": 10, "slow": 50}, **OPTS)
    rows.append(("bare numba loop (EMA cross, SL/TP/trail)", t_bare, f"{n / t_bare / 1e6:,.0f} M bars/s", "yardstick"))
    rows.append(("ours: single backtest, full result", t_ours, f"{n / t_ours / 1e6:,.0f} M bars/s",
                 f"{t_ours / t_bare:.2f}x bare; {res.n_trades:,} trades, all metrics"))

    combos = grid_184()
    t_grid, grid_mb = measure_grid_memory(n)
    rows.append(("ours: grid of 184 (fast, slow) combos", t_grid,
                 f"{n * len(combos) / t_grid / 1e6:,.0f} M bar-combos/s",
                 f"peak RSS +{grid_mb:,.0f} MB over the loaded data"))

    first = child(
        "import time; t0 = time.perf_counter()\n"
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "import engine\n"
        "c = engine.sample_candles('BTCUSDT', '1', 100_000)\n"
        "t1 = time.perf_counter()\n"
        f"engine.backtest(c, 'ema_cross', {{'fast': 10, 'slow': 50}}, **{OPTS!r})\n"
        "print(time.perf_counter() - t0, time.perf_counter() - t1)\n"
    )
    total, call = (float(x) for x in first.split())
    rows.append(("first backtest in a fresh process (cache warm)", total, "-",
                 f"import + sample + call; the call alone {call * 1000:.0f} ms"))

    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as cwd:
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "mcp_server.cli", "demo", "--out", str(Path(cwd) / "d.png")],
                cwd=ROOT, capture_output=True, text=True,
                env={**os.environ, "NUMBA_CACHE_DIR": cache}, timeout=900,
            )
            cold = time.perf_counter() - t0
            note = "numba cache empty: compiles every kernel" if proc.returncode == 0 else "FAILED"
        rows.append(("`bybit-tester demo`, cold numba cache", cold, "-", note))

    for name, fn in third_party(c):
        try:
            t, note = fn()
            rows.append((name, t, f"{n / t / 1e6:,.1f} M bars/s" if t > 0 else "-", note))
        except Exception as exc:  # a third-party failure is a row, not a crash
            rows.append((name, float("nan"), "-", f"failed: {type(exc).__name__}: {str(exc)[:80]}"))

    width = max(len(r[0]) for r in rows)
    print(f"\nengine bench: {n:,} bars of 1-minute synthetic BTCUSDT, {os.cpu_count()} cores, numba threads={engine_threads()}")
    print(f"{'case':<{width}}  {'seconds':>9}  {'throughput':>22}  note")
    for name, t, thr, note in rows:
        print(f"{name:<{width}}  {t:>9.4f}  {thr:>22}  {note}")


def engine_threads() -> int:
    import numba

    return int(numba.get_num_threads())


def third_party(c: Candles) -> list[tuple[str, Callable[[], tuple[float, str]]]]:
    out: list[tuple[str, Callable[[], tuple[float, str]]]] = []
    try:
        import vectorbt  # noqa: F401
    except ImportError:
        print("vectorbt not installed: `uv sync --group bench` adds it", file=sys.stderr)
    else:
        out.append(("vectorbt: EMA cross, SL/TP (no trailing), from_signals", lambda: run_vectorbt(c)))
    try:
        import backtesting  # noqa: F401
    except ImportError:
        print("backtesting.py not installed: `uv sync --group bench` adds it", file=sys.stderr)
    else:
        out.append(("backtesting.py: EMA cross, SL/TP (no trailing), 200k bars scaled", lambda: run_backtesting_py(c)))
    return out


def run_vectorbt(c: Candles) -> tuple[float, str]:
    import pandas as pd
    import vectorbt as vbt

    close = pd.Series(c.close)
    fast = vbt.MA.run(close, 10, ewm=True)
    slow = vbt.MA.run(close, 50, ewm=True)
    entries = fast.ma_crossed_above(slow)
    exits = fast.ma_crossed_below(slow)

    def once() -> Any:
        return vbt.Portfolio.from_signals(
            close, entries, exits, short_entries=exits, short_exits=entries, open=pd.Series(c.open),
            high=pd.Series(c.high), low=pd.Series(c.low), sl_stop=0.003, tp_stop=0.006,
            fees=0.00055, freq="1min",
        )

    once()
    (t,) = best_of([once], 3)
    return t, f"{once().trades.count()} trades (its own stop/fill rules)"


def run_backtesting_py(c: Candles) -> tuple[float, str]:
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    m = 200_000
    idx = pd.to_datetime(c.time[:m], unit="ms")
    df = pd.DataFrame({"Open": c.open[:m], "High": c.high[:m], "Low": c.low[:m], "Close": c.close[:m], "Volume": c.volume[:m]}, index=idx)

    from _btpy import ema

    class Cross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.f = self.I(ema, self.data.Close, 10)
            self.s = self.I(ema, self.data.Close, 50)

        def next(self) -> None:
            price = self.data.Close[-1]
            if crossover(self.f, self.s):
                self.position.close()
                self.buy(sl=price * 0.997, tp=price * 1.006)
            elif crossover(self.s, self.f):
                self.position.close()
                self.sell(sl=price * 1.003, tp=price * 0.994)

    bt = Backtest(df, Cross, cash=10_000_000, commission=0.00055, finalize_trades=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # one "order canceled: insufficient margin" line per bar otherwise
        warnings.simplefilter("ignore")
        stats = bt.run()
    t = (time.perf_counter() - t0) * len(c) / m
    return t, f"{stats['# Trades']} trades on {m:,} bars, time scaled to {len(c):,}"


if __name__ == "__main__":
    main()
