"""The interactive views: a backtest report, an optimisation heatmap and a walk-forward
timeline, each one self-contained HTML document (TradingView's lightweight-charts 5.2.1
vendored inline, see vendor/NOTICE).

The same document serves two hosts: an MCP Apps host (the `ui://` resource, `data`
None: it loads its data through the host with resources/read), and a plain browser
page (`view_html(kind, data)`: the data embedded, heatmap clicks sent to
POST /ui/api/backtest-cell). The `*_data` functions build the JSON each view draws:

    report       {kind: "report", id, strategy, params, symbol, interval, source, synthetic,
                  bars, bucket (bars per drawn bar), gaps, metrics, notes,
                  candles: {time (UTC s), open, high, low, close}  (at most 2,000 drawn bars),
                  equity, drawdown, buy_hold (one per drawn bar),
                  trades: {side (1/-1), entry_time, exit_time, entry_price, exit_price, pnl,
                           return, reason (index into reasons), reasons}}
                 run_cell adds optimization_id.
    heatmap      {kind: "heatmap", id, method, strategy, objective, varied, axes [x, y], x, y
                  (axis values), cells [{x, y (indexes), score, params, n_trades, best}], best
                  (row), overfit, evaluated}
    walkforward  {kind: "walkforward", id, strategy, mode, objective, oos, efficiency, symbol,
                  interval, synthetic, candles, splits [table row + train_s, test_s (UTC s)]}

A page may embed {"error": "..."} instead: the view shows that message. The view exposes
what it drew on `window.__view` (state, message, bars, trades, markers, rows, cells, splits,
cellRuns, renders, timing, protocol, sizes, teardown) for tests and the bench.
"""

from __future__ import annotations

from mcp_server.ui._apps import VIEW_URIS, view_apps
from mcp_server.ui._optimization import heatmap_data, run_cell, walkforward_data
from mcp_server.ui._render import VIEW_KINDS, view_html
from mcp_server.ui._report import report_data

__all__ = [
    "VIEW_KINDS",
    "VIEW_URIS",
    "heatmap_data",
    "report_data",
    "run_cell",
    "view_apps",
    "view_html",
    "walkforward_data",
]
