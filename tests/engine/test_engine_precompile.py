"""CompileAhead: kernels compiled in a child process land in the cache the parent reads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[2]


def test_a_warm_cache_starts_no_child() -> None:
    c = engine.sample_candles("BTCUSDT", "15", 500)
    engine.backtest(c, "ema_cross", {"fast": 5, "slow": 20})  # the test session's cache is now warm
    assert engine.kernel_cache_is_warm()
    with engine.CompileAhead("ema_cross", {"fast": 5, "slow": 20}) as ahead:
        assert not ahead.started
        assert ahead.wait() is False  # nothing to wait for


# Runs in a fresh interpreter with an empty numba cache: the only way to see a cold start.
_COLD = textwrap.dedent(
    """
    import time
    import engine
    from engine._nb.backtest_nb import simulate_nb

    assert not engine.kernel_cache_is_warm()

    bad = engine.CompileAhead("no_such_strategy", {})
    assert bad.started
    assert bad.wait(timeout=120) is False, "a failing child reports False"

    stopped = engine.CompileAhead("ema_cross", {"fast": 20, "slow": 50})
    assert stopped.started
    stopped.close()
    assert stopped._proc.returncode != 0, "close() stops a running child"
    assert not engine.kernel_cache_is_warm()

    params = {"fast": 20, "slow": 50}
    with engine.CompileAhead("ema_cross", params) as ahead:
        assert ahead.started
        candles = engine.sample_candles("BTCUSDT", "15", 2000)
        assert ahead.wait(timeout=600) is True
    assert engine.kernel_cache_is_warm()
    t = time.perf_counter()
    result = engine.backtest(candles, "ema_cross", params)
    took = time.perf_counter() - t
    hits = sum(simulate_nb.stats.cache_hits.values())
    misses = sum(simulate_nb.stats.cache_misses.values())
    assert (hits, misses) == (1, 0), f"the parent compiled again: hits={hits} misses={misses}"
    assert result.metrics["n_trades"] > 0
    print(f"OK backtest after wait: {took:.2f} s")
    """
)


def test_a_cold_cache_is_filled_by_the_child_with_the_kernels_the_parent_needs(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    proc = subprocess.run(
        [sys.executable, "-c", _COLD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK backtest after wait" in proc.stdout
