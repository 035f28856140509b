"""The app under uvicorn with the test-only MCP Apps host page (apps_host.html) at /test-host,
and helpers to open a view in it and read what the view and the host recorded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from servers_testkit import free_port

from mcp_server.errors import describe, lookup
from mcp_server.http import build_http_app
from mcp_server.settings import RouterSettings, ServerSettings, Settings
from mcp_server.ui import heatmap_data, report_data, run_cell, view_html, walkforward_data

HOST_PAGE = (Path(__file__).parent / "apps_host.html").read_text(encoding="utf-8")
WAIT_MS = 90_000  # a loaded 2-core machine: generous, the tests poll


_DATA = {"report": report_data, "heatmap": heatmap_data, "walkforward": walkforward_data}


def _add_plain_routes(app: FastAPI) -> None:
    """Stand-ins for the app's /ui pages (another module's job), enough to load a view as a
    plain page: its data embedded, or the error in its place; the cell route as JSON."""

    async def data(kind: str, rid: str) -> JSONResponse:
        return JSONResponse(await _DATA[kind](app.state.context, rid))

    async def page(kind: str, rid: str) -> HTMLResponse:
        try:
            body = await _DATA[kind](app.state.context, rid)
        except Exception as exc:
            if lookup(exc) is None:
                raise
            body = {"error": describe(exc)}
        return HTMLResponse(view_html(kind, body))

    async def cell(request: Request) -> JSONResponse:
        ask = await request.json()
        try:
            return JSONResponse(
                await run_cell(app.state.context, ask["optimization_id"], ask["params"])
            )
        except Exception as exc:
            problem = lookup(exc)
            if problem is None:
                raise
            return JSONResponse({"detail": describe(exc)}, status_code=problem.http)

    app.add_api_route("/test-data/{kind}/{rid}", data, methods=["GET"])
    app.add_api_route("/test-plain/{kind}/{rid}", page, methods=["GET"])
    app.add_api_route("/test-api/backtest-cell", cell, methods=["POST"])


@contextmanager
def app_server(tmp: Path) -> Iterator[str]:
    """The FastAPI app (MCP at /mcp/) with /test-host, on a free loopback port; its base URL."""
    server = ServerSettings(_env_file=None, data_dir=tmp / "store", cache_url="memory://")  # type: ignore[call-arg]
    settings = Settings(server, RouterSettings(_env_file=None, router_mode="live"))  # type: ignore[call-arg]
    port = free_port()
    app = build_http_app(settings, host="127.0.0.1", port=port)
    app.add_api_route("/test-host", lambda: HTMLResponse(HOST_PAGE), methods=["GET"])
    _add_plain_routes(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, name=f"apps-host:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not runner.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start under uvicorn")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        runner.should_exit = True
        thread.join(timeout=15)


def open_view(page: Any, base: str, tool: str, args: dict[str, Any], **query: str) -> Any:
    """Load `tool`'s view in the host page (calling `tool` with `args`); the view's frame once
    the view has settled (drawn, or said why not)."""
    params = {"tool": tool, "args": json.dumps(args), **query}
    page.goto(f"{base}/test-host?{urlencode(params)}")
    page.wait_for_function("window.__harness && window.__harness.done", timeout=WAIT_MS)
    frame = page.wait_for_selector("#view").content_frame()
    assert frame is not None
    # a function, not an expression: Playwright evals expressions, which the view's CSP forbids
    frame.wait_for_function(
        "() => window.__view && window.__view.state !== 'loading'", timeout=WAIT_MS
    )
    return frame


def harness(page: Any) -> dict[str, Any]:
    """What the host page recorded (`window.__harness` without its functions)."""
    return page.evaluate("JSON.parse(JSON.stringify(window.__harness))")  # type: ignore[no-any-return]


def view(frame: Any) -> dict[str, Any]:
    return frame.evaluate("JSON.parse(JSON.stringify(window.__view))")  # type: ignore[no-any-return]


_INK = """(sel) => {
  // pixels that differ from the canvas's first pixel, over a grid of samples
  let ink = 0;
  for (const c of document.querySelectorAll(sel)) {
    if (!c.width || !c.height) continue;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const step = Math.max(4, Math.floor(d.length / 4 / 20000)) * 4;
    for (let i = step; i < d.length; i += step) {
      if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) ink++;
    }
  }
  return ink;
}"""


def inked_pixels(frame: Any, selector: str = ".chart canvas") -> int:
    """How many sampled pixels of the chart's canvases are not background: 0 = blank."""
    return int(frame.evaluate(_INK, selector))


_ROWS = """async ([sel, fractions]) => {
  // the trades table is a virtual list: scroll it to each place, let it draw, read its rows
  const wrap = document.querySelector(sel);
  const frames = () => new Promise((r) => requestAnimationFrame(() =>
    requestAnimationFrame(() => requestAnimationFrame(r))));
  const seen = new Map();
  let most = 0;
  const span = wrap.scrollHeight - wrap.clientHeight;
  const tops = fractions === null
    ? Array.from({length: Math.ceil(span / wrap.clientHeight) + 1}, (_, k) => k * wrap.clientHeight)
    : fractions.map((f) => Math.round(f * span));
  for (const top of tops) {
    wrap.scrollTop = top;
    await frames();
    const rows = wrap.querySelectorAll('.tbody .tr');
    most = Math.max(most, rows.length);
    for (const tr of rows) seen.set(Number(tr.getAttribute('data-i')), tr.textContent.trim().split(/ +/)[0]);
  }
  wrap.scrollTop = 0;
  await frames();
  return {index: [...seen.keys()].sort((a, b) => a - b), labels: Object.fromEntries(seen), most};
}"""


def listed_rows(
    target: Any, scope: str = "", at: list[float] | None = None
) -> tuple[list[int], int]:
    """The trades table's rows a reader can reach: the trade indices drawn while scrolling it
    from top to bottom (or only to the fractions `at` of its height), each checked to show
    its own number; and the most rows in the DOM at once (the list draws only those in view)."""
    got = target.evaluate(_ROWS, [f"{scope} .table-wrap".strip(), at])
    for i in got["index"]:
        assert got["labels"][str(i)] == str(i + 1), (i, got["labels"][str(i)])
    return list(got["index"]), int(got["most"])
