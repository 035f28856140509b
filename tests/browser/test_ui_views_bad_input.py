"""Views handed data they cannot draw (as a plain page, data embedded): each says what is
wrong in the page, and nothing throws or logs an error in the console."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from apps_testkit import WAIT_MS, view

from mcp_server.ui import view_html

SETTLED = "() => window.__view && window.__view.state !== 'loading'"
T0 = 1_700_000_100


def _report(n: int = 6) -> dict[str, Any]:
    times = [T0 + 900 * k for k in range(n)]
    return {
        "kind": "report", "id": "bad0", "strategy": "ema_cross", "params": {"fast": 5},
        "symbol": "BTCUSDT", "interval": "15", "source": "sample", "synthetic": True, "bars": n,
        "bucket": 1, "gaps": 0, "metrics": {"total_return": 0.01, "n_trades": 2}, "notes": [],
        "candles": {"time": times, "open": [100.0] * n, "high": [101.0] * n,
                    "low": [99.0] * n, "close": [100.5] * n},
        "equity": [1000.0] * n, "drawdown": [0.0] * n, "buy_hold": [1000.0] * n,
        "trades": {"side": [1, -1], "entry_time": [times[1], times[2]],
                   "exit_time": [times[3], times[4]], "entry_price": [100.0, 100.2],
                   "exit_price": [100.5, 100.1], "pnl": [5.0, 1.0], "return": [0.005, 0.001],
                   "reason": [0, 0], "reasons": ["signal"]},
    }  # fmt: skip


def _show(page: Any, kind: str, data: Any) -> dict[str, Any]:
    page.set_content(view_html(kind, data))
    page.wait_for_function(SETTLED, timeout=WAIT_MS)
    return view(page)


def _broken(change: str) -> dict[str, Any]:
    d = copy.deepcopy(_report())
    if change == "times out of order":
        t = d["candles"]["time"]
        t[2], t[3] = t[3], t[2]
    elif change == "a short trades column":
        d["trades"]["pnl"] = [5.0]
    elif change == "no trades":
        del d["trades"]
    elif change == "a trade without a time":
        d["trades"]["exit_time"][1] = None
    elif change == "no equity":
        d["equity"] = None
    return d


def test_a_well_formed_report_is_drawn(page: Any) -> None:
    """The baseline the cases below break: this one draws, so they fail for their fault."""
    v = _show(page, "report", _report())
    assert v["state"] == "ready" and v["rows"] == 2 and v["markers"] == 4, v
    assert page.errors == []


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("times out of order", "not ascending"),
        ("a short trades column", "pnl column has 1 values, not 2"),
        ("no trades", "no trades"),
        ("a trade without a time", "a trade has no time"),
        ("no equity", "no equity column"),
    ],
)
def test_a_report_it_cannot_draw_is_said(page: Any, change: str, said: str) -> None:
    v = _show(page, "report", _broken(change))
    assert v["state"] == "error" and said in v["message"], v
    assert page.locator("#status").inner_text() == v["message"]
    assert page.errors == []


def test_a_trade_time_beyond_the_calendar_shows_a_dash(page: Any) -> None:
    d = _report()
    d["trades"]["exit_time"][1] = 1e20  # finite, but no date: the table says so
    v = _show(page, "report", d)
    assert v["state"] == "ready", v
    assert "–" in page.locator('.trades .tr[data-i="1"]').inner_text()
    assert page.errors == []


@pytest.mark.parametrize(
    ("kind", "data"),
    [("heatmap", {"kind": "heatmap", "id": "h"}), ("walkforward", {"kind": "walkforward"}),
     ("report", {"kind": "report"}), ("report", [1, 2])],
)  # fmt: skip
def test_other_views_given_husks_say_so(page: Any, kind: str, data: Any) -> None:
    v = _show(page, kind, data)
    assert v["state"] == "error" and v["message"], v
    assert page.errors == []
