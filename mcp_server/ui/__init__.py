"""The interactive views: a backtest report, an optimisation heatmap and a walk-forward
timeline, each one self-contained HTML document (TradingView's lightweight-charts 5.2.1
vendored inline, see vendor/NOTICE).

The same document serves two hosts: an MCP Apps host (the `ui://` resource, `data`
None: it loads its data through the host with resources/read), and a plain browser
page (`view_html(kind, data)`: the data embedded, heatmap clicks sent to
POST /ui/api/backtest-cell). The `*_data` functions build the JSON each view draws.
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
