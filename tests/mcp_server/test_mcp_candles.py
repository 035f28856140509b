"""The one candle source (sample, store, file) and the one error table."""

from __future__ import annotations

from pathlib import Path

import anyio
import numpy as np
import pytest
from pydantic import ValidationError

import engine
import market as M
from mcp_server.candles import (
    CandleSource,
    DataSpec,
    LocalDataSpec,
    read_candles_file,
    write_candles_file,
)
from mcp_server.errors import PROBLEMS, DataUnavailableError, ResultNotFoundError, describe, lookup
from ohlcv import UnknownIntervalError, parse_time_ms


def _load(candles: CandleSource, **spec: object) -> object:
    return anyio.run(candles.load, DataSpec(**spec))  # type: ignore[arg-type]


def test_sample_is_deterministic_and_remembered(tmp_path: Path) -> None:
    source = CandleSource(M.CandleStore(tmp_path))
    a = _load(source, bars=500, seed=3)
    assert a is _load(source, bars=500, seed=3)  # the same data set, fingerprint included
    assert a.candles.synthetic and len(a.candles) == 500  # type: ignore[attr-defined]


def test_every_source_of_the_process_shares_the_samples(tmp_path: Path) -> None:
    # the embedded job worker's source (no bar limit, LocalDataSpec) must not generate again
    # what the server's source loaded to submit the job
    server = CandleSource(M.CandleStore(tmp_path / "a"))
    worker = CandleSource(M.CandleStore(tmp_path / "b"), max_bars=None)
    a = _load(server, bars=700, seed=11)
    assert a is anyio.run(worker.load, LocalDataSpec(bars=700, seed=11))
    assert a is not _load(server, bars=700, seed=12)


def test_store_is_read_never_fetched_and_keeps_its_label(tmp_path: Path) -> None:
    store = M.CandleStore(tmp_path)
    source = CandleSource(store)
    with pytest.raises(DataUnavailableError, match=r"fetch_history.*data fetch ETHUSDT --interval 60"):
        _load(source, source="store", symbol="ETHUSDT", interval="60", bars=100)
    c = engine.sample_candles("ETHUSDT", "60", 300)
    store.upsert(M.DatasetKey.of("linear", "ETHUSDT", "60"), c)  # sample candles: synthetic
    end = int(c.time[-1])
    got = _load(source, source="store", symbol="ETHUSDT", interval="60", bars=100, end=str(end))
    assert len(got.candles) == 100 and got.candles.time[-1] == end  # type: ignore[attr-defined]
    assert got.candles.synthetic and got.candles.symbol == "ETHUSDT"  # type: ignore[attr-defined]
    mid_bar = str(end + 5_400_000)  # "now" inside the bar after the newest closed one
    got = _load(source, source="store", symbol="ETHUSDT", interval="60", bars=100, end=mid_bar)
    assert len(got.candles) == 100 and not got.notes  # type: ignore[attr-defined]
    more = _load(source, source="store", symbol="ETHUSDT", interval="60", bars=500, end=str(end))
    assert len(more.candles) == 300 and "only 300 of the 500" in more.notes[0]  # type: ignore[attr-defined]
    ranged = _load(source, source="store", symbol="ETHUSDT", interval="60",
                   start=str(int(c.time[10])), end=str(int(c.time[19])))  # fmt: skip
    assert np.array_equal(ranged.candles.time, c.time[10:20])  # type: ignore[attr-defined]


def test_files_round_trip_with_their_label(tmp_path: Path) -> None:
    c = engine.sample_candles("BTCUSDT", "15", 200)
    for name in ("x.csv", "x.parquet"):
        write_candles_file(c, tmp_path / name)
        back = read_candles_file(tmp_path / name)
        assert back.synthetic and np.array_equal(back.close, c.close) and np.array_equal(back.time, c.time)
    real = engine.make_candles(c.time, c.open, c.high, c.low, c.close, c.volume)
    write_candles_file(real, tmp_path / "real.csv")
    assert not read_candles_file(tmp_path / "real.csv").synthetic
    with pytest.raises(DataUnavailableError, match=r"must end in \.parquet or \.csv"):
        write_candles_file(c, tmp_path / "x.txt")


def test_file_source_stays_inside_its_folder(tmp_path: Path) -> None:
    write_candles_file(engine.sample_candles("BTCUSDT", "15", 200), tmp_path / "mine.csv")
    source = CandleSource(M.CandleStore(tmp_path / "store"), file_root=tmp_path)
    assert len(_load(source, source="file", path="mine.csv").candles) == 200  # type: ignore[attr-defined]
    with pytest.raises(DataUnavailableError, match="outside this server's files folder"):
        _load(source, source="file", path="../../etc/passwd")
    with pytest.raises(DataUnavailableError, match="needs `path`"):
        _load(source, source="file")
    with pytest.raises(DataUnavailableError, match="no such file"):
        _load(source, source="file", path="missing.csv")
    (tmp_path / ".env").write_text("DEEPSEEK_API_KEY=sk-live-1234567890abcdef\n")
    (tmp_path / "keys.csv").write_text("DEEPSEEK_API_KEY=sk-live-1234567890abcdef\n1\n")
    for name, why in ((".env", "hidden"), ("keys.csv", "not an OHLCV table"), ("x\x00.csv", "usable")):
        with pytest.raises(DataUnavailableError, match=why) as info:
            _load(source, source="file", path=name)
        assert "sk-live" not in str(info.value)  # a client never reads a file back through errors
    local = CandleSource(M.CandleStore(tmp_path / "store"))  # the user's own shell: says what it found
    with pytest.raises(engine.InvalidDataError, match="DEEPSEEK_API_KEY"):
        _load(local, source="file", path=str(tmp_path / "keys.csv"))


def test_error_table_says_the_fix_once() -> None:
    assert lookup(KeyError("bug")) is None  # unknown errors are bugs, not table rows
    problem = lookup(M.UnknownSymbolError("NOPE", "linear"))
    assert problem is not None and problem.http == 400 and problem.exit_code == 2
    assert describe(ResultNotFoundError("no backtest with id 'x'")).endswith("run it again to get a fresh id")
    exchange = lookup(M.ExchangeTimeoutError("slow"))
    assert exchange is not None and exchange.http == 502 and exchange.exit_code == 1
    assert lookup(UnknownIntervalError("7", ["1"])) is PROBLEMS[UnknownIntervalError.__mro__[1]]
    with pytest.raises(ValidationError) as info:
        DataSpec(bars=0)
    text = describe(info.value)
    assert text == "bars: must be >= 2" and "http" not in text


def test_times_read_the_same_everywhere() -> None:
    assert parse_time_ms("2024-01-01") == parse_time_ms("1704067200") == parse_time_ms(1704067200000)
