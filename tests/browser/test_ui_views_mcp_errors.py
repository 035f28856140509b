"""Bad input inside the MCP Apps host: an expired id, a result of another kind, a tool
error. The view says what is wrong in the page and nothing throws."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from apps_testkit import app_server, harness, open_view, view

GRID = {"strategy": "ema_cross", "params": {"fast": [5, 20, 5], "slow": [30, 60, 10]}, "bars": 2000}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with app_server(tmp_path_factory.mktemp("errors")) as url:
        yield url


def _said(page: Any, frame: Any, *words: str) -> str:
    v = view(frame)
    assert v["state"] == "error", v
    for w in words:
        assert w in v["message"], v["message"]
    assert frame.locator("#status").inner_text().split() == v["message"].split()
    assert harness(page)["errors"] == [] and page.errors == []
    return str(v["message"])


def test_an_expired_backtest_id(page: Any, base: str) -> None:
    gone = "0" * 16
    result = {"content": [{"type": "text", "text": "old"}], "isError": False,
              "structuredContent": {"id": gone, "resources": {"trades": f"backtest://{gone}/trades"}}}  # fmt: skip
    frame = open_view(page, base, "run_backtest", {}, result=json.dumps(result))
    _said(page, frame, "Could not load backtest", "no backtest with id")


def test_a_result_of_another_kind(page: Any, base: str) -> None:
    frame = open_view(page, base, "walk_forward", {**GRID, "n_splits": 2}, view="optimize_grid")
    _said(page, frame, "shows heatmap results", "walkforward result")
    frame = open_view(page, base, "walk_forward", {**GRID, "n_splits": 2}, view="run_backtest")
    _said(page, frame, "shows backtest results")


def test_a_tool_error(page: Any, base: str) -> None:
    frame = open_view(page, base, "run_backtest", {"strategy": "no_such_strategy"})
    assert harness(page)["result"]["isError"] is True
    _said(page, frame, "The tool reported an error", "strategy: must be one of")


def test_a_text_only_result(page: Any, base: str) -> None:
    result = {"content": [{"type": "text", "text": "just words"}], "isError": False}
    frame = open_view(page, base, "run_backtest", {}, result=json.dumps(result))
    v = view(frame)
    assert v["state"] == "empty" and "just words" in v["message"]
    assert page.errors == []
