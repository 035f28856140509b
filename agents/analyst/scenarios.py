"""Stress scenarios with concrete parameters, tailored to what is known of the strategy."""

from __future__ import annotations

from typing import Any

from agents.analyst.backtest import metric
from agents.outputs import Scenario, TestScenarios
from agents.tasks import TestScenariosInput

__all__ = ["propose_scenarios"]

_BYBIT_TAKER = 0.00055


def _num(params: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = params.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _standard_scenarios(params: dict[str, Any]) -> list[Scenario]:
    """Cost, execution, market and validation stresses every strategy should survive."""
    fee = _num(params, "fee") or _BYBIT_TAKER
    slippage = _num(params, "slippage") or 0.0
    return [
        Scenario(
            name="double_costs",
            description="Double fees and add slippage: does the edge survive realistic costs?",
            parameters={"fee": round(fee * 2, 6), "slippage": max(slippage * 2, 0.0005)},
            expectation="profit_factor stays > 1.1 and total_return > 0",
        ),
        Scenario(
            name="fill_at_close_vs_next_open",
            description="Compare fill='close' with the default fill='next_open'; a large gap hints at look-ahead or fragile timing.",
            parameters={"fill": "close"},
            expectation="total_return within 20 % (relative) of the next_open run",
        ),
        Scenario(
            name="pessimistic_intrabar",
            description="Resolve SL/TP-on-the-same-bar both ways to bound the intrabar assumption.",
            parameters={"same_bar": ["stop_first", "tp_first", "ohlc_path"]},
            expectation="conclusions unchanged across the three",
        ),
        Scenario(
            name="bear_market_window",
            description="Run on a sustained decline (e.g. BTCUSDT 2022-05-01..2022-07-01).",
            parameters={"symbol": "BTCUSDT", "start": "2022-05-01", "end": "2022-07-01"},
            expectation="drawdown within tolerance; long-only strategies may sit out",
        ),
        Scenario(
            name="crash_gap",
            description="Inject a -15 % gap bar to see stop slippage and liquidation behaviour.",
            parameters={"gap_return": -0.15, "at": "middle"},
            expectation="worst_trade near the gap size, no liquidation at leverage 1",
        ),
        Scenario(
            name="volatility_x2",
            description="Scale bar returns around the trend by 2x to mimic a high-volatility regime.",
            parameters={"volatility_multiplier": 2.0},
            expectation="stops hit more often; max_drawdown rises less than 2x",
        ),
        Scenario(
            name="walk_forward",
            description="Optimise on 70 % of the data, test on the rest, rolling.",
            parameters={"train_fraction": 0.7, "n_splits": 5},
            expectation="out-of-sample Sharpe at least half the in-sample one",
        ),
    ]


def _neighbourhood(key: str, value: object) -> Scenario | None:
    """Vary a numeric parameter by ±20 %; None for anything that is not a tunable number."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 1:
        values: list[Any] = sorted({max(1, round(value * 0.8)), value, round(value * 1.2)})
        description = f"Vary {key} by ±20 % to check the result is a plateau, not a spike."
    elif isinstance(value, float) and 0 < value < 1 and key not in ("fee", "slippage"):
        # Costs are stressed by double_costs, not as tunable parameters.
        values = [round(value * 0.8, 6), value, round(value * 1.2, 6)]
        description = f"Vary {key} by ±20 %."
    else:
        return None
    return Scenario(
        name=f"param_{key}_neighbourhood",
        description=description,
        parameters={key: values},
        expectation="neighbouring values give similar Sharpe",
    )


def _evidence_scenarios(task: TestScenariosInput) -> list[Scenario]:
    """Stresses that the metrics, parameters or code call for."""
    m, p = task.metrics, task.params
    out = []
    n = metric(m, "n_trades")
    if n is not None and n < 30:
        out.append(
            Scenario(
                name="more_data",
                description=f"Only {int(n)} trades: extend the history 4x or add symbols.",
                parameters={"history_multiplier": 4, "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"]},
                expectation="n_trades >= 30 with similar expectancy",
            )
        )
    if metric(m, "n_liquidations") or (_num(p, "leverage") or 1) > 1:
        out.append(
            Scenario(
                name="leverage_sweep",
                description="Sweep leverage to find where liquidations start.",
                parameters={"leverage": [1, 2, 3, 5, 10], "maintenance_margin": 0.005},
                expectation="no liquidations at the leverage you intend to use",
            )
        )
    if metric(m, "funding_paid") is not None or "funding" in p:
        out.append(
            Scenario(
                name="adverse_funding",
                description="Charge a constant adverse funding rate every 8 h.",
                parameters={"funding_rate": 0.0003},
                expectation="net return still positive",
            )
        )
    if task.code and "random" in task.code:
        out.append(
            Scenario(
                name="seed_stability",
                description="Run with several seeds.",
                parameters={"seeds": [0, 1, 2, 3, 4]},
                expectation="metrics vary little across seeds",
            )
        )
    return out


_LOOKAHEAD_WORDS = ("lookahead", "look-ahead", "centred_window", "future_index")


def _lookahead_scenarios(task: TestScenariosInput) -> list[Scenario]:
    """A leak check when an earlier step (e.g. the code review) reported look-ahead."""
    prior = " ".join(item.text for item in task.context).lower()
    if not any(word in prior for word in _LOOKAHEAD_WORDS):
        return []
    return [
        Scenario(
            name="lookahead_check",
            description="The review found look-ahead: shift every signal one more bar and rerun.",
            parameters={"signal_delay_bars": 1},
            expectation="a collapse in returns confirms the leak",
        )
    ]


def propose_scenarios(task: TestScenariosInput) -> TestScenarios:
    """Cost, execution, market and parameter stresses; extra ones driven by metrics and prior findings."""
    neighbourhoods = (_neighbourhood(key, value) for key, value in sorted(task.params.items()))
    # A confirmed leak makes every other result moot, so its check comes first.
    out = [
        *_lookahead_scenarios(task),
        *_standard_scenarios(task.params),
        *(scenario for scenario in neighbourhoods if scenario is not None),
        *_evidence_scenarios(task),
    ]
    name = task.strategy or "the strategy"
    return TestScenarios(summary=f"{len(out)} stress scenarios for {name}.", scenarios=out)
