"""The analyst tells orders skipped because equity was gone from orders below min size."""

from __future__ import annotations

from typing import Any

from agents_testkit import GOOD_METRICS

import engine
from agents import TaskKind
from agents.analyst import analyze, find_red_flags
from agents.tasks import parse_task_input

# What the engine reports after a fixed 1 BTC size on 10,000 USDT wiped the account out.
WIPED_OUT: dict[str, Any] = {
    **GOOD_METRICS,
    "total_return": -0.9977,
    "final_equity": 22.85,
    "n_skipped_orders": 966,
    "n_skipped_no_equity": 966,
    "n_skipped_min_qty": 0,
    "equity_exhausted_bar_time": "2024-03-05T14:15:00+00:00",
}


def _analyze(metrics: dict[str, Any]) -> dict[str, Any]:
    task = parse_task_input(TaskKind.ANALYZE_BACKTEST, {"metrics": metrics})
    return analyze(TaskKind.ANALYZE_BACKTEST, task).model_dump()


def _by_code(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in out["red_flags"]}


def test_orders_skipped_for_no_equity_say_the_capital_is_gone() -> None:
    out = _analyze(WIPED_OUT)
    flags = _by_code(out)
    assert "skipped_orders" not in flags  # not "raise equity or lower min size"
    flag = flags["equity_exhausted"]
    assert flag["severity"] == "critical" and flag["metric"] == "n_skipped_no_equity"
    assert flag["value"] == 966
    assert flag["message"] == (
        "Equity ran out at 2024-03-05T14:15:00+00:00: 966 order(s) could not be placed; "
        "the strategy lost its capital (check fees/size/leverage)."
    )
    assert out["verdict"] == "losing"
    assert not any("lower min size" in s for s in out["suggestions"])
    assert any("lost its capital" in s and "0.00055" in s for s in out["suggestions"])


def test_orders_below_min_size_keep_the_min_size_advice() -> None:
    m = {**GOOD_METRICS, "n_skipped_orders": 4, "n_skipped_no_equity": 0, "n_skipped_min_qty": 4}
    out = _analyze(m)
    flags = _by_code(out)
    assert "equity_exhausted" not in flags
    flag = flags["skipped_orders"]
    assert flag["severity"] == "warning" and flag["metric"] == "n_skipped_min_qty"
    assert flag["value"] == 4 and "minimum order size" in flag["message"]
    assert any("Raise equity or lower min size" in s for s in out["suggestions"])


def test_both_causes_are_reported_separately() -> None:
    m = {**WIPED_OUT, "n_skipped_orders": 12, "n_skipped_no_equity": 10, "n_skipped_min_qty": 2}
    flags = _by_code(_analyze(m))
    assert flags["equity_exhausted"]["value"] == 10 and flags["skipped_orders"]["value"] == 2
    assert "10 order(s) could not be placed" in flags["equity_exhausted"]["message"]


def test_exhaustion_without_a_time_or_with_one_half_missing() -> None:
    m = {**WIPED_OUT, "n_skipped_orders": 7, "n_skipped_min_qty": 0}
    del m["equity_exhausted_bar_time"], m["n_skipped_no_equity"]
    flag = _by_code(_analyze(m))["equity_exhausted"]
    # The missing half is the total minus the reported one.
    assert flag["value"] == 7 and flag["message"].startswith("Equity ran out: 7 order(s)")
    # Epoch milliseconds (the engine's time unit) are shown as ISO UTC.
    m["equity_exhausted_bar_time"] = 1_707_501_600_000
    flag = _by_code(_analyze(m))["equity_exhausted"]
    assert flag["message"].startswith("Equity ran out at 2024-02-09T18:00+00:00: 7 order(s)")


def test_old_mappings_without_the_split_keep_todays_flag() -> None:
    m = {k: v for k, v in GOOD_METRICS.items() if not k.startswith(("n_skipped_", "equity_"))}
    m["n_skipped_orders"] = 3
    skipped = [f for f in find_red_flags(m) if "skipped" in f.code or "equity" in f.code]
    assert [(f.code, f.metric, f.value) for f in skipped] == [
        ("skipped_orders", "n_skipped_orders", 3.0)
    ]
    assert "too small to fill" in skipped[0].message
    out = _analyze(m)
    assert any("Raise equity or lower min size" in s for s in out["suggestions"])


def test_clean_mapping_with_the_new_keys_has_no_skip_flag() -> None:
    assert not [f for f in find_red_flags(GOOD_METRICS) if "skip" in f.code or "equity" in f.code]


def test_text_metric_values_do_not_break_other_tasks() -> None:
    # The time is text in a numeric mapping: every metrics task must still validate and run.
    for kind, data in (
        (TaskKind.RISK_ADVICE, {"metrics": WIPED_OUT}),
        (TaskKind.TEST_SCENARIOS, {"metrics": WIPED_OUT}),
        (
            TaskKind.COMPARE_STRATEGIES,
            {
                "strategies": [
                    {"name": "a", "metrics": WIPED_OUT},
                    {"name": "b", "metrics": GOOD_METRICS},
                ]
            },
        ),
    ):
        out = analyze(kind, parse_task_input(kind, data)).model_dump()
        assert out["summary"]
    risk = analyze(
        TaskKind.RISK_ADVICE, parse_task_input(TaskKind.RISK_ADVICE, {"metrics": WIPED_OUT})
    )
    assert risk.position_fraction == 0.0
    assert any(f.code == "equity_exhausted" for f in risk.red_flags)
    # Numbers sent as text are still numbers.
    task = parse_task_input(TaskKind.ANALYZE_BACKTEST, {"metrics": {"n_trades": "12"}})
    assert task.metrics["n_trades"] == 12.0  # type: ignore[attr-defined]


def test_the_engines_own_mapping_of_a_wiped_out_account() -> None:
    # The README's mistake: a fixed 1 BTC size on 10,000 USDT. The engine's keys, not ours.
    candles = engine.sample_candles(bars=20_000)
    result = engine.backtest(
        candles, "ema_cross", {"fast": 20, "slow": 50}, size_mode="fixed_qty", size=1, fee=0.00055
    )
    skipped = result.metrics["n_skipped_no_equity"]
    assert skipped > 0 and result.metrics["n_skipped_min_qty"] == 0
    out = _analyze(dict(result.metrics))
    flags = _by_code(out)
    assert "skipped_orders" not in flags and out["verdict"] == "losing"
    assert flags["equity_exhausted"]["value"] == skipped
    assert f"{skipped} order(s) could not be placed" in flags["equity_exhausted"]["message"]
