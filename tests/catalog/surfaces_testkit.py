"""Stored runs for the tests of the catalog's reading surfaces: real backtests of the
sample data written straight into a Catalog (as the server or a worker records them)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import engine as E
from mcp_server.catalog import Catalog, catalog_url, run_item
from mcp_server.settings import CatalogSettings, RouterSettings, ServerSettings, Settings

__all__ = ["open_test_catalog", "server_settings", "store_run", "three_runs"]

DAY = 86_400.0


def server_settings(tmp: Path, url: str) -> Settings:
    """A server's settings, blind to the environment, on the catalog at `url`."""
    server = ServerSettings(_env_file=None, data_dir=tmp / "store", cache_url="memory://")  # type: ignore[call-arg]
    router = RouterSettings(_env_file=None, router_mode="live")  # type: ignore[call-arg]
    return Settings(server, router, catalog=CatalogSettings(database_url=url))  # type: ignore[call-arg]


def three_runs(url: str) -> dict[str, dict[str, Any]]:
    """ema (BTCUSDT, 2025-06-15), sma (BTCUSDT, 06-16) and rsi (ETHUSDT, 06-17) stored at
    `url`; their summaries with ids."""
    catalog = open_test_catalog(url)
    t0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
    runs = {
        "ema": store_run(catalog, params={"fast": 10, "slow": 30}, created=t0),
        "sma": store_run(catalog, strategy="sma_cross", created=t0 + DAY),
        "rsi": store_run(catalog, strategy="rsi", symbol="ETHUSDT", created=t0 + 2 * DAY),
    }
    catalog.close()
    return runs


def open_test_catalog(url: str) -> Catalog:
    return Catalog(catalog_url(url, Path(".")))


def store_run(
    catalog: Catalog,
    *,
    strategy: str = "ema_cross",
    params: dict[str, Any] | None = None,
    symbol: str = "BTCUSDT",
    interval: str = "15",
    bars: int = 1500,
    seed: int = 7,
    created: float | None = None,
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Backtest `strategy` on the seeded sample and record it; its summary (with `id`)."""
    candles = E.sample_candles(symbol, interval, bars, seed=seed)
    strat = E.get_strategy(strategy)
    resolved = strat.resolve_params(params or {})
    config = E.BacktestConfig()
    result = E.backtest(candles, strat, resolved, config)
    data = {"source": "sample", "symbol": symbol, "interval": interval, "bars": bars,
            "seed": seed, "category": "linear"}  # fmt: skip
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
    request = {"data": data, "fingerprint": fingerprint, "strategy": strat.name,
               "params": resolved, "config": config.model_dump(mode="json")}  # fmt: skip
    summary = result.summary()
    summary["metrics"] = {k: _plain(v) for k, v in result.metrics.items()}
    summary.update(source="sample", category="linear", config=result.config)
    key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    item = run_item(key, request, summary, result, role="cli", created=created)
    catalog.write(item)
    if tags:
        catalog.tag_run(item.id, list(tags), [], None)
    return {**summary, "id": item.id}


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v.item() if hasattr(v, "item") else v
