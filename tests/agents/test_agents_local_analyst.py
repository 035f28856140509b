"""The offline analyst on engine-shaped inputs: every task kind, deterministic."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from agents_testkit import BAD_METRICS, GOOD_METRICS

from agents import MCPRouter, TaskKind
from agents.analyst import METRICS, analyze
from agents.analyst.indicators_doc import INDICATORS
from agents.tasks import parse_task_input

SPEC = Path("/work/shared/specs/engine-semantics.md")
ENGINE_KEYS = [
    "total_return",
    "cagr",
    "final_equity",
    "buy_and_hold_return",
    "exposure",
    "fees_paid",
    "funding_paid",
    "max_drawdown",
    "max_drawdown_duration",
    "volatility_ann",
    "ulcer_index",
    "sharpe",
    "sortino",
    "calmar",
    "sharpe_daily",
    "n_trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "expectancy_return",
    "avg_win",
    "avg_loss",
    "payoff_ratio",
    "best_trade",
    "worst_trade",
    "avg_trade_duration",
    "max_consecutive_losses",
    "sqn",
    "exits_signal",
    "exits_sl",
    "exits_tp",
    "exits_trail",
    "exits_liquidation",
    "exits_end",
    "n_ambiguous_bars",
    "n_skipped_orders",
    "n_skipped_no_equity",
    "n_skipped_min_qty",
    "equity_exhausted_bar_time",
    "n_liquidations",
    "periods_per_year",
]


def run(kind: TaskKind, data: dict) -> dict:
    return analyze(kind, parse_task_input(kind, data)).model_dump()


def test_every_engine_metric_key_is_explained() -> None:
    assert set(ENGINE_KEYS) <= set(METRICS)
    for key in ENGINE_KEYS:
        out = run(TaskKind.EXPLAIN_METRIC, {"metric": key, "value": GOOD_METRICS[key]})
        assert (
            out["metric"] == key
            and out["formula"]
            and out["meaning"]
            and out["good"]
            and out["bad"]
        )


def test_metric_keys_match_the_engine_spec_when_available() -> None:
    if not SPEC.exists():
        pytest.skip("shared engine spec not present")
    metrics_section = SPEC.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", metrics_section))
    assert len(named) > 25
    assert named <= set(METRICS)


def test_explain_assesses_values_and_handles_unknown_keys() -> None:
    assert (
        "bad"
        in run(TaskKind.EXPLAIN_METRIC, {"metric": "max_drawdown", "value": 0.5})["assessment"]
    )
    assert "good" in run(TaskKind.EXPLAIN_METRIC, {"metric": "Sharpe", "value": 1.8})["assessment"]
    unknown = run(TaskKind.EXPLAIN_METRIC, {"metric": "sharp"})
    assert "Unknown metric" in unknown["summary"] and "sharpe" in unknown["summary"]


def test_good_backtest_is_promising_without_red_flags() -> None:
    out = run(TaskKind.ANALYZE_BACKTEST, {"metrics": GOOD_METRICS})
    assert out["verdict"] == "promising"
    assert [f for f in out["red_flags"] if f["severity"] != "info"] == []
    assert any("Sharpe" in s for s in out["strengths"])


def test_bad_backtest_raises_every_red_flag() -> None:
    out = run(TaskKind.ANALYZE_BACKTEST, {"metrics": BAD_METRICS, "max_drawdown_tolerance": 0.3})
    codes = {f["code"] for f in out["red_flags"]}
    assert {
        "few_trades",
        "losing",
        "profit_factor_below_1",
        "drawdown_beyond_tolerance",
        "fees_exceed_edge",
        "exposure_near_one",
        "liquidations",
        "skipped_orders",
        "sharpe_too_good",
        "long_losing_streak",
    } <= codes
    assert out["verdict"] == "losing"
    assert out["red_flags"][0]["severity"] == "critical"
    dd = next(f for f in out["red_flags"] if f["code"] == "drawdown_beyond_tolerance")
    assert dd["threshold"] == 0.3 and "30%" in dd["message"]


def test_fees_eating_the_edge_and_exposure_near_zero() -> None:
    # gross before fees = 1000 + 900 = 1900; fees 900 = 47 % -> not yet; 1100 -> 52 %
    m = {
        **GOOD_METRICS,
        "final_equity": 11_000.0,
        "total_return": 0.1,
        "fees_paid": 1_100.0,
        "funding_paid": 0.0,
        "exposure": 0.01,
    }
    codes = {f["code"] for f in run(TaskKind.ANALYZE_BACKTEST, {"metrics": m})["red_flags"]}
    assert {"fees_eat_edge", "exposure_near_zero"} <= codes


def test_null_metrics_from_the_engine_are_handled() -> None:
    m = {**GOOD_METRICS, "sharpe": None, "profit_factor": None, "n_trades": 0, "sortino": None}
    out = run(TaskKind.ANALYZE_BACKTEST, {"metrics": m})
    assert out["verdict"] == "unreliable"
    assert any(f["code"] == "non_finite_metric" for f in out["red_flags"])


def test_compare_ranks_risk_adjusted_and_penalises_few_trades() -> None:
    lucky = {**GOOD_METRICS, "sharpe": 4.0, "n_trades": 6}
    deep = {**GOOD_METRICS, "sharpe": 1.9, "max_drawdown": 0.45}
    out = run(
        TaskKind.COMPARE_STRATEGIES,
        {
            "strategies": [
                {"name": "lucky", "metrics": lucky},
                {"name": "solid", "metrics": GOOD_METRICS},
                {"name": "deep_dd", "metrics": deep},
            ]
        },
    )
    assert [r["name"] for r in out["ranking"]] == ["solid", "lucky", "deep_dd"]
    assert out["best"] == "solid"
    assert any("only 6 trades" in r for r in out["ranking"][1]["reasons"])
    assert any("beyond" in r for r in out["ranking"][2]["reasons"])


def test_risk_advice_sizes_to_the_drawdown_tolerance() -> None:
    out = run(
        TaskKind.RISK_ADVICE,
        {
            "metrics": {**GOOD_METRICS, "max_drawdown": 0.3},
            "max_drawdown_tolerance": 0.2,
            "account_equity": 10_000,
        },
    )
    assert 0 < out["position_fraction"] <= 0.2 / (1.5 * 0.3) + 1e-9
    assert out["stop_loss_hint"] is not None
    assert any("10,000" in a for a in out["advice"])
    losing = run(TaskKind.RISK_ADVICE, {"metrics": BAD_METRICS})
    assert losing["position_fraction"] == 0 and losing["max_leverage"] == 0


def _series(kind: str, n: int = 400, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    if kind == "trend":
        rets = 0.002 + rng.normal(0, 0.002, n)
    elif kind == "range":
        rets = np.sin(np.arange(n) / 3.0) * 0.01 + rng.normal(0, 0.001, n)
    else:
        scale = np.where(np.arange(n) > n - 60, 0.05, 0.004)
        rets = rng.normal(0, 1, n) * scale
    return list(100 * np.exp(np.cumsum(rets)))


@pytest.mark.parametrize(
    ("kind", "regime", "direction"),
    [("trend", "trend", "up"), ("range", "range", None), ("shock", "high_volatility", None)],
)
def test_market_regime_from_closes(kind: str, regime: str, direction: str | None) -> None:
    out = run(TaskKind.MARKET_REGIME, {"closes": _series(kind)})
    assert out["regime"] == regime
    if direction:
        assert out["direction"] == direction
    assert 0 <= out["confidence"] <= 1 and out["reasons"]


def test_market_regime_from_given_features() -> None:
    assert (
        run(TaskKind.MARKET_REGIME, {"features": {"adx": 35, "sma_slope": -0.001}})["regime"]
        == "trend"
    )
    assert (
        run(
            TaskKind.MARKET_REGIME,
            {"features": {"adx": 14, "efficiency_ratio": 0.1, "sma_slope": 1e-6}},
        )["regime"]
        == "range"
    )
    assert (
        run(TaskKind.MARKET_REGIME, {"features": {"volatility_percentile": 0.97}})["regime"]
        == "high_volatility"
    )


STRATEGY = """
import numpy as np
import pandas as pd

def signals(df):
    fast = df.close.ewm(span=10).mean()
    slow = df.close.rolling(50, center=True).mean()
    future = df.close.shift(-1)
    noise = np.random.normal(0, 1, len(df))
    out = []
    for i in range(len(df) - 1):
        out.append(df.close[i + 1] > fast[i])
    df = df.fillna(method="bfill")
    return fast > slow
"""


def test_code_review_finds_lookahead_costs_and_randomness() -> None:
    out = run(TaskKind.CODE_REVIEW, {"code": STRATEGY})
    rules = {f["rule"]: f for f in out["findings"]}
    assert {
        "centred_window",
        "lookahead_shift",
        "future_index",
        "unseeded_randomness",
        "missing_costs",
        "backfill",
    } <= set(rules)
    assert rules["lookahead_shift"]["line"] == 8 and rules["centred_window"]["line"] == 7
    assert out["passed"] is False


def test_code_review_clean_code_passes_and_broken_code_still_scanned() -> None:
    clean = "def signals(df, fee=0.00055):\n    rng = np.random.default_rng(42)\n    return df.close.shift(1) > df.close.rolling(20).mean()\n"
    assert run(TaskKind.CODE_REVIEW, {"code": clean}) == {
        "summary": "No look-ahead, cost or randomness problems found.",
        "passed": True,
        "findings": [],
    }
    broken = run(TaskKind.CODE_REVIEW, {"code": "def f(:\n    x = s.shift(-2)\n"})
    assert {f["rule"] for f in broken["findings"]} >= {"syntax_error", "lookahead_shift"}


def test_scenarios_have_parameters_and_follow_context() -> None:
    out = run(
        TaskKind.TEST_SCENARIOS,
        {
            "strategy": "ema_cross",
            "params": {"fast": 10, "slow": 50, "sl": 0.003, "leverage": 3},
            "metrics": BAD_METRICS,
            "context": [
                {
                    "step": "review",
                    "agent": "local",
                    "text": "[critical] lookahead_shift",
                    "untrusted": False,
                }
            ],
        },
    )
    names = [s["name"] for s in out["scenarios"]]
    assert names[0] == "lookahead_check"
    assert {
        "double_costs",
        "param_fast_neighbourhood",
        "param_sl_neighbourhood",
        "leverage_sweep",
        "more_data",
    } <= set(names)
    assert all(s["parameters"] for s in out["scenarios"])
    double = next(s for s in out["scenarios"] if s["name"] == "double_costs")
    assert double["parameters"]["fee"] == pytest.approx(0.0011)


@pytest.mark.parametrize(
    "name", ["EMA", "sma", "RSI", "atr", "MACD", "Bollinger Bands", "donchian"]
)
def test_indicator_research_for_every_builtin(name: str) -> None:
    out = run(TaskKind.INDICATOR_RESEARCH, {"indicator": name})
    assert out["formula"] != "unknown offline" and out["pitfalls"] and out["usual_params"]
    assert len(INDICATORS) == 7


def test_ask_answers_from_tables() -> None:
    out = run(
        TaskKind.ASK,
        {"question": "What does profit factor mean and how is RSI computed? Any look-ahead risk?"},
    )
    assert {"profit_factor", "RSI (Wilder)", "lookahead"} <= set(out["topics"])


async def test_every_kind_through_the_router_is_deterministic() -> None:
    inputs = {
        TaskKind.ANALYZE_BACKTEST: {"metrics": BAD_METRICS},
        TaskKind.COMPARE_STRATEGIES: {
            "strategies": [
                {"name": "a", "metrics": GOOD_METRICS},
                {"name": "b", "metrics": BAD_METRICS},
            ]
        },
        TaskKind.RISK_ADVICE: {"metrics": GOOD_METRICS},
        TaskKind.INDICATOR_RESEARCH: {"indicator": "macd"},
        TaskKind.EXPLAIN_METRIC: {"metric": "ulcer_index", "value": 0.2},
        TaskKind.MARKET_REGIME: {"closes": _series("trend")},
        TaskKind.CODE_REVIEW: {"code": STRATEGY},
        TaskKind.TEST_SCENARIOS: {"params": {"fast": 10}},
        TaskKind.ASK: {"question": "what is sqn"},
    }
    assert set(inputs) == set(TaskKind)
    async with MCPRouter() as router:
        for kind, data in inputs.items():
            a, b = await router.run(kind, data), await router.run(kind, data)
            assert a.agent == "local" and a.output == b.output and a.text == b.text and a.text
            assert a.untrusted is False
            assert not any(
                isinstance(v, float) and math.isnan(v) for v in (a.output or {}).values()
            )


def test_market_regime_with_too_few_closes_says_so() -> None:
    out = run(TaskKind.MARKET_REGIME, {"closes": [100.0, 101.0, 102.0]})
    assert out["regime"] == "range" and out["confidence"] <= 0.2
