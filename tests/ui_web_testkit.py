"""The HTTP app under uvicorn (a ServerThread) for the web-page tests, with or without a
token, and helpers to put results into its context."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client
from pydantic import SecretStr

from market import ServerThread
from mcp_server.context import AppContext
from mcp_server.http import build_http_app
from mcp_server.server import build_server
from mcp_server.settings import CatalogSettings, RouterSettings, ServerSettings, Settings


@dataclass
class UiServer:
    thread: ServerThread
    context: AppContext
    settings: Settings

    @property
    def url(self) -> str:
        return self.thread.url

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=60, **kw)

    def backtest(self, headers: dict[str, str] | None = None, **body: Any) -> str:
        """Run a backtest through the REST route (so the server holds it); its id."""
        r = self.post("/api/v1/backtests", json={"bars": 3000, **body}, headers=headers)
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def call_tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Call an MCP tool in process on the server's own context (its results are then
        the pages' results); its structured result."""

        async def call() -> dict[str, Any]:
            server, _ = build_server(self.settings, context=self.context)
            async with Client(server) as client:
                r = await client.call_tool(name, args)
            assert not r.is_error and r.structured_content is not None, r.content
            return r.structured_content

        # its own thread: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(anyio.run, call).result()

    def grid(self, bars: int = 3000) -> str:
        """An optimize_grid on the sample (4 x 4 cells); its id."""
        args = {"bars": bars, "strategy": "ema_cross",
                "params": {"fast": "5:20:5", "slow": "30:60:10"}}  # fmt: skip
        return str(self.call_tool("optimize_grid", args)["id"])

    def walk_forward(self, bars: int = 4000) -> str:
        """A 3-split walk-forward of a small grid; its id."""
        args = {"bars": bars, "strategy": "ema_cross", "n_splits": 3,
                "params": {"fast": "5:15:5", "slow": "30:50:10"}}  # fmt: skip
        return str(self.call_tool("walk_forward", args)["id"])


def ui_settings(tmp: Path, token: str | None = None, cache_url: str = "memory://") -> Settings:
    server = ServerSettings(_env_file=None, data_dir=tmp / "ui-store", cache_url=cache_url,  # type: ignore[call-arg]
                            http_token=SecretStr(token) if token else None)  # fmt: skip
    catalog = CatalogSettings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/ui-catalog.sqlite3")  # type: ignore[call-arg]
    # a catalog of the test's own: the web index lists what it holds
    return Settings(server, RouterSettings(_env_file=None), catalog=catalog)  # type: ignore[call-arg]


@contextmanager
def ui_server(
    tmp: Path, token: str | None = None, cache_url: str = "memory://"
) -> Iterator[UiServer]:
    settings = ui_settings(tmp, token, cache_url)
    app = build_http_app(settings, host="127.0.0.1", port=0)
    with ServerThread(app) as thread:
        yield UiServer(thread, app.state.context, settings)
