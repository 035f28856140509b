"""How fast the web pages' views render and respond, in headless chromium, as one table.

    uv run python bench/views.py                      # the table
    uv run python bench/views.py --screenshots docs/img   # also the docs' screenshots

Rows:
- the report page of a backtest on 100,000 15-minute bars with about 5,000 trades
  (ema_cross 8/20): navigation start to chart drawn (the page's own clock, two frames
  after the view says ready), split into the server's answer (time to first byte) and the
  rest (transfer, parse, the view's script, the first paint); median of --runs fresh pages;
- pan and zoom on that chart: --steps mouse-wheel zoom steps then --steps drag steps, the
  wall time per step and the frame intervals the page saw meanwhile (requestAnimationFrame);
- the heatmap page of a 184-cell grid (fast 5..50 step 5 x slow 20..210 step 10, fast < slow)
  to its table drawn, and a cell click to that cell's report drawn (one backtest on the server).

The server is the real app under uvicorn on loopback; the browser is Debian's chromium
(`apt-get install chromium`). Times are wall-clock on a shared machine: read medians.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path and bench/mcp.py would shadow the SDK.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests"))  # browser_testkit: the one place that finds chromium

import anyio  # noqa: E402
import httpx  # noqa: E402
from browser_testkit import LAUNCH_ARGS, find_chromium  # noqa: E402
from mcp import Client  # noqa: E402

from market import ServerThread  # noqa: E402
from mcp_server.http import build_http_app  # noqa: E402
from mcp_server.server import build_server  # noqa: E402
from mcp_server.settings import RouterSettings, ServerSettings, Settings  # noqa: E402

REPORT = {"bars": 100_000, "strategy": "ema_cross", "params": {"fast": 8, "slow": 20}}
# 184 combinations: ema_cross keeps fast < slow itself
GRID = {"bars": 20_000, "strategy": "ema_cross", "params": {"fast": "5:50:5", "slow": "20:210:10"}}
READY = "() => window.__view && window.__view.state !== 'loading'"
# two frames from now: the chart library paints on the next animation frame
DRAWN_AT = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"
TTFB = "() => performance.getEntriesByType('navigation')[0].responseStart"
# Installed before the page's own scripts (an init script): stamps, on the page's clock, the
# first frame after the view says ready and the frame after that (when the chart has painted),
# so no round trip to the browser counts in the figure.
PAINT_PROBE = """(() => {
  const tick = () => {
    const v = window.__view;
    if (v && v.state === 'ready') {
      window.__readyAt = performance.now();
      requestAnimationFrame(() => requestAnimationFrame(() => { window.__drawnAt = performance.now(); }));
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""
FRAMES_START = """() => { window.__frames = []; window.__recording = true;
  const tick = (t) => { window.__frames.push(t); if (window.__recording) requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""
FRAMES_STOP = """() => { window.__recording = false; const f = window.__frames;
  return f.slice(1).map((t, i) => t - f[i]); }"""


def _call_tool(settings: Settings, context: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    async def call() -> dict[str, Any]:
        server, _ = build_server(settings, context=context)
        async with Client(server) as client:
            r = await client.call_tool(name, args)
        if r.is_error or r.structured_content is None:
            raise RuntimeError(f"{name} failed: {r.content}")
        return r.structured_content

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        return pool.submit(anyio.run, call).result()


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}..{max(values):,.0f})"


def _open(browser: Any, url: str, width: int = 1200, height: int = 800) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(PAINT_PROBE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="commit")
    page.wait_for_function(READY, timeout=120_000, polling="raf")
    if errors or page.evaluate("window.__view.state") != "ready":
        raise RuntimeError(
            f"{url} did not render: {errors or page.evaluate('window.__view.message')}"
        )
    return context, page


def _page_load(
    browser: Any, url: str, runs: int
) -> tuple[list[float], list[float], dict[str, Any]]:
    """Navigation to drawn (`PAINT_PROBE`) and time to first byte (ms) over `runs` fresh pages; the view state
    of the last, with `parts`: each run's split of the view's own time (window.__view.started:
    the document parsed up to the view's script; timing: the report's table, candles, markers)."""
    drawn: list[float] = []
    ttfb: list[float] = []
    state: dict[str, Any] = {}
    parts: dict[str, list[float]] = {}
    for _ in range(runs):
        context, page = _open(browser, url)
        page.wait_for_function(
            "() => window.__drawnAt !== undefined", timeout=120_000, polling="raf"
        )
        drawn.append(page.evaluate("window.__drawnAt"))
        parts.setdefault("first frame after ready at", []).append(page.evaluate("window.__readyAt"))
        ttfb.append(page.evaluate(TTFB))
        state = page.evaluate("() => ({...window.__view})")
        for name, value in {"parsed": state.get("started"), **(state.get("timing") or {})}.items():
            if isinstance(value, int | float):
                parts.setdefault(name, []).append(float(value))
        context.close()
    return drawn, ttfb, {**state, "parts": parts}


def _pan_zoom(browser: Any, url: str, steps: int) -> tuple[float, list[float]]:
    """Per-step wall time (ms) of `steps` zooms then `steps` drags, and the frame intervals."""
    context, page = _open(browser, url)
    box = page.locator(".chart").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 3
    page.mouse.move(x, y)
    page.evaluate(FRAMES_START)
    start = page.evaluate("performance.now()")
    for k in range(steps):  # zoom in, then back out
        page.mouse.wheel(0, -120 if k < steps // 2 else 120)
        page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
    page.mouse.down()
    for k in range(steps):
        page.mouse.move(x + (k % 20) * 15 - 150, y)
        page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
    page.mouse.up()
    per_step = (page.evaluate("performance.now()") - start) / (2 * steps)
    frames = page.evaluate(FRAMES_STOP)
    context.close()
    return per_step, frames


def _cell_click(browser: Any, url: str, runs: int) -> list[float]:
    times = []
    for k in range(runs):
        context, page = _open(browser, url)
        t0 = page.evaluate("performance.now()")
        page.locator("td.cell").nth(k * 7 % 184).click()
        page.wait_for_function("() => window.__view.cellRuns === 1", timeout=120_000, polling="raf")
        times.append(page.evaluate(DRAWN_AT) - t0)
        context.close()
    return times


def _screenshots(browser: Any, base: str, ids: dict[str, str], folder: Path) -> None:
    """Small viewport PNGs of each view for the docs (a few hundred KB in all)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in (("view-report", f"/ui/backtests/{ids['small']}"),
                       ("view-heatmap", f"/ui/optimizations/{ids['small_grid']}"),
                       ("view-walkforward", f"/ui/walk-forward/{ids['walk']}")):  # fmt: skip
        context, page = _open(browser, base + path, 960, 620)
        if name == "view-heatmap":
            page.locator("td.cell.best").click()
            page.wait_for_function("() => window.__view.cellRuns === 1", timeout=120_000)
        page.evaluate(DRAWN_AT)
        target = folder / f"{name}.png"
        page.screenshot(path=str(target), full_page=name == "view-heatmap")
        context.close()
        _shrink(target)
        print(f"wrote {folder / name}.png", file=sys.stderr)


def _shrink(path: Path) -> None:
    """256 colours: a chart screenshot keeps its look at a third of the bytes."""
    from PIL import Image

    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _row(view: str, data: str, what: str, value: str, note: str = "") -> str:
    return f"| {view} | {data} | {what} | {value} | {note} |"


def _results(
    call: Callable[[str, dict[str, Any]], dict[str, Any]], url: str, docs: bool
) -> dict[str, Any]:
    """The results the pages show: the big report and the 184-cell grid (and small ones for
    the docs' screenshots)."""
    ids: dict[str, Any] = {"big": httpx.post(url + "/api/v1/backtests", json=REPORT, timeout=600).json(),
                           "grid": call("optimize_grid", GRID)["id"]}  # fmt: skip
    if docs:
        ids["small"] = call("run_backtest", {"bars": 2000, "params": {"fast": 10, "slow": 30}})[
            "id"
        ]
        ids["small_grid"] = call("optimize_grid", {**GRID, "bars": 3000,
                                                  "params": {"fast": "5:25:5", "slow": "30:70:10"}})["id"]  # fmt: skip
        ids["walk"] = call("walk_forward", {"bars": 4000, "n_splits": 4, "strategy": "ema_cross",
                                            "params": {"fast": "5:15:5", "slow": "30:50:10"}})["id"]  # fmt: skip
    return ids


def _measure(browser: Any, url: str, ids: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The table's rows."""
    report_url = f"{url}/ui/backtests/{ids['big']['id']}"
    heat_url = f"{url}/ui/optimizations/{ids['grid']}"
    _page_load(browser, report_url, 1)  # warm-up: the server's first report_data, chromium's caches
    drawn, ttfb, state = _page_load(browser, report_url, args.runs)
    per_step, frames = _pan_zoom(browser, report_url, args.steps)
    heat_drawn, heat_ttfb, heat_state = _page_load(browser, heat_url, args.runs)
    clicks = _cell_click(browser, heat_url, args.runs)
    frames = sorted(frames) or [0.0]
    p95 = frames[int(0.95 * (len(frames) - 1))]
    big = ids["big"]
    data = f"{big['bars']:,} bars, {big['metrics']['n_trades']:,} trades"
    cells = f"{heat_state['cells']} cells"
    return [
        _row("report", data, "navigation → chart drawn", _median(drawn),
             f"{state['bars']:,} drawn bars, {state['markers']:,} markers"
             f" ({state.get('markersDrawn', state['markers']):,} drawn), {state['rows']:,} table rows"),
        _row("report", data, "of which server answer (TTFB)", _median(ttfb), "report_data + the page"),
        _row("report", data, "of which the view's parts", ", ".join(
            f"{k} {statistics.median(v):,.0f}" for k, v in state["parts"].items()) or "n/a",
            "ms since navigation: the first frame after the view is ready, the document parsed up to the view's script; ms spent: its table, candles, markers, total"),
        _row("report", data, f"pan/zoom: wall time per step ({2 * args.steps} steps)", f"{per_step:,.1f}",
             f"frame interval p50 {statistics.median(frames):.1f}, p95 {p95:.1f}, "
             f"max {frames[-1]:.1f} over {len(frames)} frames"),
        _row("heatmap", cells, "navigation → grid drawn", _median(heat_drawn), f"TTFB {_median(heat_ttfb)}"),
        _row("heatmap", cells, "cell click → its report drawn", _median(clicks),
             f"one backtest of {GRID['bars']:,} bars on the server"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh page loads per row")
    parser.add_argument("--steps", type=int, default=40, help="zoom steps and drag steps")
    parser.add_argument(
        "--screenshots", type=Path, help="also write the docs' view screenshots here"
    )
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        sys.exit("chromium not found: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-views-"))
    settings = Settings(ServerSettings(_env_file=None, data_dir=tmp, cache_url="memory://"),  # type: ignore[call-arg]
                        RouterSettings(_env_file=None))  # type: ignore[call-arg]  # fmt: skip
    app = build_http_app(settings, host="127.0.0.1", port=0)
    call = functools.partial(_call_tool, settings, app.state.context)
    with ServerThread(app) as srv, sync_playwright() as pw:
        ids = _results(call, srv.url, args.screenshots is not None)
        browser = pw.chromium.launch(executable_path=binary, args=LAUNCH_ARGS)
        rows = _measure(browser, srv.url, ids, args)
        if args.screenshots:
            _screenshots(browser, srv.url, ids, args.screenshots)
        browser.close()
    print(f"chromium {binary}; {args.runs} runs per row; ms: median (min..max)\n")
    print("| view | data | measure | ms | notes |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
