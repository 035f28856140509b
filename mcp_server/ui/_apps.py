"""The views as MCP Apps resources: one `ui://` template per view kind, for the SDK's
`Apps` extension (built before the server: extensions are applied at construction)."""

from __future__ import annotations

from mcp.server.apps import Apps

from mcp_server.ui._render import VIEW_KINDS, view_html

__all__ = ["VIEW_URIS", "view_apps"]

VIEW_URIS: dict[str, str] = {k: f"ui://bybit-strategy-tester/{k}" for k in VIEW_KINDS}
_DESCRIPTIONS = {
    "report": "Backtest report: candles with the trades, equity, drawdown, metrics, trades table",
    "heatmap": "Optimisation heatmap with overfitting statistics; a cell click runs its backtest",
    "walkforward": "Walk-forward: in-sample and out-of-sample windows with their metrics",
}


def view_apps() -> Apps:
    """An `Apps` extension holding the three view templates (static: data comes later,
    in the tool result and through resources/read)."""
    apps = Apps()
    for kind, uri in VIEW_URIS.items():
        apps.add_html_resource(
            uri, view_html(kind), name=f"{kind}-view", description=_DESCRIPTIONS[kind],
            prefers_border=True,
        )  # fmt: skip
    return apps
