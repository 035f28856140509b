"""`bybit-tester demo` and `bybit-tester backtest`, including the fixed --json contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import engine
from mcp_server.cli import app

runner = CliRunner()
TRADE_KEYS = {"entry_index", "exit_index", "entry_time", "exit_time", "side", "qty", "entry_price",
              "exit_price", "pnl", "return", "fees", "exit_reason"}


def test_demo_prints_headline_metrics_and_writes_chart(tmp_path: Path) -> None:
    png = tmp_path / "eq.png"
    res = runner.invoke(app, ["demo", "--out", str(png), "--bars", "3000"])
    assert res.exit_code == 0, res.output
    for label in ("Final capital", "Total return", "Trades", "Win rate", "Profit factor", "Sharpe", "Sortino", "Max drawdown", "SYNTHETIC"):
        assert label in res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "BTCUSDT 15m" in res.output and "Chart (strategy beside buy-and-hold)" in res.output
    # the story line is the one explain_result computes from the printed metrics
    result = engine.backtest(engine.sample_candles("BTCUSDT", "15", 3000), "ema_cross", {"fast": 20, "slow": 50})
    why = [line for line in res.output.splitlines() if line.startswith("Why: ")]
    assert why == ["Why: " + engine.explain_result(result.metrics, 10_000.0)], res.output


def test_demo_full_year_keeps_its_numbers_and_tells_why(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "eq.png")])
    assert res.exit_code == 0, res.output
    lines = [" ".join(line.split()) for line in res.output.splitlines()]
    for row in ("Trades 771", "Total return -89.99 %", "Fees paid $2,824.13", "Buy & hold return 131.44 %"):
        assert row in lines, res.output
    assert (
        "Why: 771 trades paid $2,824 in fees, 28 % of starting capital, on a gross edge of -$6,175: "
        "costs and a losing edge; behind buy-and-hold's +131 %"
    ) in lines, res.output


def _csv(tmp_path: Path) -> Path:
    c = engine.sample_candles("BTCUSDT", "1", 3000, seed=9)
    path = tmp_path / "btc.csv"
    pd.DataFrame({"Timestamp": c.time, "Open": c.open, "High": c.high, "Low": c.low, "Close": c.close, "Volume": c.volume}).to_csv(path, index=False)
    return path


def test_backtest_json_contract(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    args = ["backtest", "--data", str(path), "--strategy", "ema_cross", "--param", "fast=10", "--param", "slow=50",
            "--direction", "both", "--sl", "0.003", "--tp", "0.006", "--trail", "0", "--fee", "0.00055",
            "--slippage", "0", "--size-qty", "1", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert {"metrics", "periods_per_year", "trades"} <= set(payload)
    assert payload["periods_per_year"] == 525_600
    assert set(payload["metrics"]) == set(engine.METRIC_KEYS)
    assert payload["trades"] and set(payload["trades"][0]) >= TRADE_KEYS
    assert all(t["qty"] == 1 for t in payload["trades"])
    pq = tmp_path / "btc.parquet"
    pd.read_csv(path).to_parquet(pq)
    res2 = runner.invoke(app, [*args[:2], str(pq), *args[3:]])
    assert json.loads(res2.stdout)["metrics"] == payload["metrics"]


def test_backtest_on_sample_table_mode() -> None:
    res = runner.invoke(app, ["backtest", "--strategy", "donchian_breakout", "--interval", "60", "--bars", "2000"])
    assert res.exit_code == 0, res.output
    assert "Sharpe" in res.output and "SYNTHETIC" in res.output


def test_strategies_lists_catalogue() -> None:
    res = runner.invoke(app, ["strategies", "--json"])
    names = [s["name"] for s in json.loads(res.stdout)]
    assert len(names) >= 8 and {"ema_cross", "rsi", "buy_and_hold"} <= set(names)


def test_bad_input_exits_2_with_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    cases = [
        (["backtest", "--data", str(bad)], "not an OHLCV table"),
        (["backtest", "--data", str(tmp_path / "nope.csv")], "no such file"),
        (["backtest", "--strategy", "nope"], "unknown strategy"),
        (["backtest", "--param", "fast=1"], "out of range"),
        (["backtest", "--param", "speed=3"], "unknown parameter"),
        (["backtest", "--param", "fast"], "NAME=VALUE"),
        (["backtest", "--direction", "up"], "direction"),
        (["backtest", "--size-qty", "1", "--size-notional", "5"], "at most one"),
    ]
    for args, text in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert text in res.output, (args, res.output)
        assert "Traceback" not in res.output
    unsorted = tmp_path / "unsorted.csv"
    df = pd.read_csv(_csv(tmp_path)).iloc[::-1]
    df.to_csv(unsorted, index=False)
    res = runner.invoke(app, ["backtest", "--data", str(unsorted)])
    assert res.exit_code == 2 and "strictly increasing" in res.output


def test_backtest_on_stored_data(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`data fetch --source fake` fills the store; `backtest --start/--end` reads it."""
    monkeypatch.setenv("BST_DATA_DIR", str(tmp_path / "store"))
    fetched = runner.invoke(app, ["data", "fetch", "BTCUSDT", "--interval", "15", "--days", "20", "--source", "fake"])
    assert fetched.exit_code == 0, fetched.output
    res = runner.invoke(app, ["backtest", "--symbol", "BTCUSDT", "--interval", "15", "--start", "2000-01-01",
                              "--end", "2100-01-01", "--strategy", "sma_cross", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    # the fake served these candles, so the result says synthetic, not market data
    assert payload["synthetic"] is True and payload["bars"] >= 20 * 96 - 2
    missing = runner.invoke(app, ["backtest", "--symbol", "ETHUSDT", "--interval", "15", "--source", "store"])
    assert missing.exit_code == 2 and "data fetch ETHUSDT" in missing.output
