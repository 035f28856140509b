"""Every package's public surface, pinned: a name added or removed is a decision, made here."""

from __future__ import annotations

import importlib

import pytest

PUBLIC: dict[str, set[str]] = {
    "ohlcv": {
        "COLUMNS", "Candles", "DAY_MS", "INTERVALS", "Interval", "IntervalLabel",
        "InvalidTimeError", "MINUTE_MS", "OhlcvError", "ResampleError", "TtlLru",
        "UnknownIntervalError", "WEEK_MS", "can_resample", "epoch_ms_array", "floor_time",
        "floor_times", "format_iso", "format_minute", "interval_ms", "next_open", "next_opens",
        "normalize_interval", "now_ms", "parse_time_ms", "partial_edges", "resample",
        "to_epoch_ms",
    },
    "engine": {
        "BacktestConfig", "BacktestResult", "CompileAhead", "EngineError", "GridResult",
        "GridTooLargeError", "InvalidDataError", "InvalidParameterError", "METRIC_DOCS",
        "METRIC_KEYS", "Objective", "OptimizationResult", "ParamRange", "ParamSpec", "STRATEGIES",
        "SearchSpace", "Strategy", "UnknownStrategyError", "WalkForwardResult", "backtest",
        "backtest_signals", "candles_from_frame", "count_time_gaps", "day_ends", "default_params",
        "expand_grid", "generate_candles", "get_strategy", "indicators", "kernel_cache_is_warm",
        "list_strategies", "make_candles", "make_config", "make_space", "make_splits", "optimize",
        "optimize_bayes", "optimize_grid", "optimize_random", "parse_objective",
        "regime_features", "render_equity_png", "result_heatmap_png", "run_grid",
        "sample_candles", "validate_candles", "walk_forward", "with_gap", "with_volatility",
    },
    "engine.optimize": {
        "DEFAULT_MAX_COMBOS", "GridResult", "OBJECTIVE_METRICS", "Objective",
        "OptimizationResult", "OverfitReport", "PBOResult", "ParamRange", "ProgressFn",
        "RISK_KEYS", "SearchSpace", "SharpeCI", "Split", "SplitResult", "StopFn",
        "WalkForwardResult", "backtest_window", "bootstrap_sharpe_ci", "default_params",
        "deflated_sharpe", "expand_grid", "expected_max_sharpe", "make_space", "make_splits",
        "optimize_bayes", "optimize_grid", "optimize_random", "overfit_report", "parse_objective",
        "pbo_cscv", "pbo_from_block_stats", "probabilistic_sharpe", "render_heatmap_png",
        "result_heatmap_png", "run_grid", "stitch", "walk_forward",
    },
    "market": {
        "BackfillReport", "BybitClient", "Cache", "CacheStats", "CandleSource", "CandleStore",
        "ClientConfig", "ContinuityError", "DatasetInfo", "DatasetKey", "ExchangeError",
        "ExchangeTimeoutError", "ExchangeUnavailableError", "FakeBybit", "FakeBybitConfig",
        "FakeInstrument", "Fault", "FetchProgress", "FundingRate", "Gap", "IPBannedError",
        "Instrument", "InvalidRangeError", "InvalidRequestError", "MAINNET_URL",
        "MalformedResponseError", "MarketData", "MarketError", "MemoryCache", "RateLimitedError",
        "RateLimiter", "RedisCache", "RetryableExchangeError", "ServerThread", "StoreError",
        "StoreUnavailableError", "Ticker", "Timeframe", "UnknownIntervalError",
        "UnknownSymbolError", "decode_arrays", "default_data_dir", "encode_arrays",
        "random_walk_candles",
    },
    "agents": {
        "AgentResult", "AgentStatus", "AgentsError", "AllAgentsFailedError", "Attempt",
        "BadResponseError", "BreakerConfig", "BreakerSnapshot", "CacheBackend", "CallOptions",
        "CircuitBreaker", "ConfigError", "DEFAULT_ROUTING", "DeepSeekConfig", "DeepSeekPricing",
        "FatalRequestError", "FileCache", "InvalidTaskError", "MCPRouter", "MemoryCache",
        "ModelPrice", "PIPELINES", "PerplexityConfig", "PerplexityPricing", "Pipeline",
        "PipelineResult", "PriceTable", "ProviderConnectionError", "ProviderError",
        "ProviderHTTPError", "ProviderTimeoutError", "ReplayMissError", "RetryConfig",
        "RouterConfig", "RouterMode", "RouterStatus", "Source", "Step", "StepProgress",
        "TASK_INPUTS", "TASK_OUTPUTS", "TaskKind", "Usage", "Verdict", "cache_key", "classify",
        "mark_untrusted", "parse_task_input", "run_pipeline",
    },
    "mcp_server": {
        "__version__",
    },
    "mcp_server.tools": {
        "TOOLSET_MODULES", "TOOLSET_TOOLS", "register_tools",
    },
    "mcp_server.http": {
        "BacktestRequest", "build_http_app", "check_bind",
    },
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_surface_is_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PUBLIC[package]
    assert len(module.__all__) == len(set(module.__all__)), "a name is listed twice"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"

