"""Bybit market data: v5 client, fake Bybit server, local candle store, cache, MarketData service.

`market` imports only the floor (`ohlcv`: candles, intervals, resampling, times);
`mcp_server` wires it to settings, the CLI and the engine's sample generator.
"""

from market._fake_data import CandleSource, random_walk_candles
from market._fake_faults import Fault
from market._fake_ws_faults import FakeClock, WsFault
from market._http import MAINNET_URL, SYNTHETIC_HEADER, ClientConfig
from market._limiter import RateLimiter
from market._ws_protocol import (
    MAINNET_WS_URL,
    TICKS_CHANNEL,
    TopicSpec,
    candle_channel,
    channel_names,
    ticker_channel,
)
from market._ws_status import (
    ConnectionStatus,
    LastCandle,
    LiveConfig,
    LiveStatus,
    RecordedGap,
    RejectedTopic,
)
from market.bybit import (
    BybitClient,
    FetchProgress,
    FundingRate,
    Gap,
    Instrument,
    Ticker,
)
from market.cache import Cache, CacheStats, MemoryCache, RedisCache, decode_arrays, encode_arrays
from market.errors import (
    ContinuityError,
    ExchangeError,
    ExchangeTimeoutError,
    ExchangeUnavailableError,
    ExchangeUnreachableError,
    InvalidRangeError,
    InvalidRequestError,
    IPBannedError,
    MalformedResponseError,
    MarketError,
    RateLimitedError,
    RetryableExchangeError,
    StoreError,
    StoreUnavailableError,
    UnknownIntervalError,
    UnknownSymbolError,
)
from market.fake_bybit import FakeBybit, FakeBybitConfig, FakeInstrument
from market.fake_stream import FakeStream, FakeStreamConfig
from market.fanout import (
    Fanout,
    FanoutMessage,
    FanoutUnavailableError,
    MemoryFanout,
    RedisFanout,
    Subscription,
    make_fanout,
)
from market.live import LiveStream
from market.serve import ServerThread
from market.service import BackfillReport, MarketData, Timeframe
from market.store import CandleStore, DatasetInfo, DatasetKey, default_data_dir

__all__ = [
    "MAINNET_URL",
    "MAINNET_WS_URL",
    "SYNTHETIC_HEADER",
    "TICKS_CHANNEL",
    "BackfillReport",
    "BybitClient",
    "Cache",
    "CacheStats",
    "CandleSource",
    "CandleStore",
    "ClientConfig",
    "ConnectionStatus",
    "ContinuityError",
    "DatasetInfo",
    "DatasetKey",
    "ExchangeError",
    "ExchangeTimeoutError",
    "ExchangeUnavailableError",
    "ExchangeUnreachableError",
    "FakeBybit",
    "FakeBybitConfig",
    "FakeClock",
    "FakeInstrument",
    "FakeStream",
    "FakeStreamConfig",
    "Fanout",
    "FanoutMessage",
    "FanoutUnavailableError",
    "Fault",
    "FetchProgress",
    "FundingRate",
    "Gap",
    "IPBannedError",
    "Instrument",
    "InvalidRangeError",
    "InvalidRequestError",
    "LastCandle",
    "LiveConfig",
    "LiveStatus",
    "LiveStream",
    "MalformedResponseError",
    "MarketData",
    "MarketError",
    "MemoryCache",
    "MemoryFanout",
    "RateLimitedError",
    "RateLimiter",
    "RecordedGap",
    "RedisCache",
    "RedisFanout",
    "RejectedTopic",
    "RetryableExchangeError",
    "ServerThread",
    "StoreError",
    "StoreUnavailableError",
    "Subscription",
    "Ticker",
    "Timeframe",
    "TopicSpec",
    "UnknownIntervalError",
    "UnknownSymbolError",
    "WsFault",
    "candle_channel",
    "channel_names",
    "decode_arrays",
    "default_data_dir",
    "encode_arrays",
    "make_fanout",
    "random_walk_candles",
    "ticker_channel",
]
