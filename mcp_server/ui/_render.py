"""`view_html`: one self-contained HTML document per view (script and style inline).

The document is the shell with the vendored chart library, the shared bridge and the
view's own script pasted in; nothing is fetched from anywhere, so it runs under the
MCP Apps default CSP (inline only, no network). With `data`, the same document carries
the result as JSON for a plain browser page; "</" is escaped so no value can close the
script element it sits in.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

__all__ = ["VIEW_KINDS", "view_html"]

VIEW_KINDS = ("report", "heatmap", "walkforward")
LIBRARY = "lightweight-charts.standalone.production.js"
_SCRIPTS: dict[str, tuple[str, ...]] = {
    "report": ("common.js", "trades.js", "markers.js", "report_render.js", "report.js"),
    "heatmap": ("common.js", "trades.js", "markers.js", "report_render.js", "heatmap.js"),
    "walkforward": ("common.js", "walkforward.js"),
}
_TITLES = {
    "report": "Backtest report",
    "heatmap": "Optimisation heatmap",
    "walkforward": "Walk-forward",
}
_SLOT = re.compile(r"@@([A-Z]+)@@")


def _read(folder: str, name: str) -> str:
    return (resources.files("mcp_server.ui") / folder / name).read_text(encoding="utf-8")


@functools.cache
def _parts(kind: str) -> dict[str, str]:
    return {
        "KIND": kind,
        "TITLE": _TITLES[kind],
        "STYLE": _read("views", "view.css"),
        "LIBRARY": _read("vendor", LIBRARY),
        "SCRIPT": "\n".join(_read("views", name) for name in _SCRIPTS[kind]),
    }


@functools.cache
def _shell() -> str:
    return _read("views", "shell.html")


def embed_json(data: Any) -> str:
    """`data` as JSON that is safe inside a <script> element."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def view_html(kind: str, data: dict[str, Any] | None = None) -> str:
    """The `kind` view: the static MCP Apps template (`data` None), or a page showing `data`."""
    if kind not in VIEW_KINDS:
        raise ValueError(f"unknown view {kind!r}: use one of {', '.join(VIEW_KINDS)}")
    slots = {**_parts(kind), "DATA": embed_json(data)}
    return _SLOT.sub(lambda m: slots[m.group(1)], _shell())  # one pass: pasted text is not re-read
