"""Backtest ids outlive the in-memory result, and never answer with another backtest's data."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import engine
import market as M
from mcp_server.cache import make_cache
from mcp_server.candles import CandleSource, DataSet, DataSpec
from mcp_server.errors import ResultNotFoundError
from mcp_server.results import BacktestResults
from mcp_server.telemetry import Telemetry


def _results(tmp_path: Path) -> BacktestResults:
    candles = CandleSource(M.CandleStore(tmp_path))
    return BacktestResults(candles, make_cache("memory://", 3600), Telemetry(), slots=1)


def test_an_evicted_id_is_rebuilt_from_the_cache(tmp_path: Path) -> None:
    results = _results(tmp_path)
    config = engine.BacktestConfig()

    async def run() -> None:
        a = await results.candles.load(DataSpec(bars=2000, seed=1))
        first = await results.run(a, "sma_cross", {}, config, chart=False)
        b = await results.candles.load(DataSpec(bars=2000, seed=2))
        await results.run(b, "sma_cross", {}, config, chart=False)  # one slot: evicts the first
        again = await results.get(first.id)
        assert again.result is not None and first.result is not None
        assert again.result.trade_dicts() == first.result.trade_dicts()

    anyio.run(run)


def test_an_id_on_transformed_data_is_not_answered_with_other_data(tmp_path: Path) -> None:
    results = _results(tmp_path)
    config = engine.BacktestConfig()

    async def run() -> None:
        ds = await results.candles.load(DataSpec(bars=2000))
        crashed = DataSet(engine.with_gap(ds.candles, -0.3), ds.spec)  # a stress scenario's data
        stressed = await results.run(crashed, "sma_cross", {}, config, chart=False)
        await results.run(ds, "ema_cross", {}, config, chart=False)  # evicts it from memory
        assert (await results.get(stressed.id, need_result=False)).summary["synthetic"]
        with pytest.raises(ResultNotFoundError, match="no longer loads the same way"):
            await results.get(stressed.id)

    anyio.run(run)
