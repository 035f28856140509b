"""Child process of :class:`engine.precompile.CompileAhead`: one small backtest.

``python -m engine._compile_child '{"strategy": ..., "params": {...}, "config": {...}}'``
runs the strategy on synthetic bars with the same argument types as the parent's
backtest, so numba compiles and caches exactly the kernels the parent will load.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from engine.backtest import backtest
from engine.candles import make_candles


def main(job_json: str) -> None:
    job = json.loads(job_json)
    params = job.get("params") or {}
    numbers = [abs(float(v)) for v in params.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    # enough bars for the longest indicator window among the parameters
    n = int(min(2_000 + 4 * max(numbers, default=0.0), 1_000_000))
    i = np.arange(n)
    close = 30_000.0 * np.exp(0.02 * np.sin(i / 37.0) + 0.01 * np.sin(i / 5.0))
    open_ = np.concatenate((close[:1], close[:-1]))
    candles = make_candles(
        1_700_000_000_000 + 900_000 * i,
        open_,
        np.maximum(open_, close) * 1.001,
        np.minimum(open_, close) * 0.999,
        close,
        np.ones(n),
        symbol="BTCUSDT",
        interval="15",
        synthetic=True,
    )
    backtest(candles, job["strategy"], params, job.get("config"))


if __name__ == "__main__":
    main(sys.argv[1])
