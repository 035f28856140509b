"""`bybit-tester ui-link`, and the web-page addresses `backtest --open` and `demo` print.

A CLI command runs in its own process, so the HTTP server (`serve --transport http`, found
through its run file) cannot see the CLI's results. To get a page, the CLI asks that server
to run the same backtest (`POST /api/v1/backtests`, the same arguments: the engine is
deterministic and the server caches it), then prints or opens the page's address, signed
when a token is set.
"""

from __future__ import annotations

import webbrowser
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from mcp_server.cli._app import app
from mcp_server.cli._errors import EXIT_USAGE, error_line
from mcp_server.runfile import running_server
from mcp_server.settings import Settings
from mcp_server.ui_links import is_page_path, page_link, page_path

__all__ = ["NO_SERVER", "backtest_page", "show_page", "ui_link"]

NO_SERVER = (
    "no HTTP server is running for this data dir: start `bybit-tester serve --transport http`"
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class PageUnavailableError(Exception):
    """The running HTTP server did not give the page (it refused or failed the request)."""


def backtest_page(settings: Settings, request: dict[str, Any]) -> str | None:
    """The address of the web page of backtest `request` (POST /api/v1/backtests's body) on
    the running HTTP server, or None when none runs."""
    server = running_server(settings.server.data_dir)
    if server is None:
        return None
    token = settings.server.http_token
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    try:
        answer = httpx.post(
            server.url + "/api/v1/backtests", json=request, headers=headers, timeout=300
        )
    except httpx.HTTPError as exc:
        raise PageUnavailableError(
            f"the HTTP server at {server.url} did not answer: {exc}"
        ) from None
    if answer.status_code != 200:
        detail = answer.text[:300]
        raise PageUnavailableError(
            f"the HTTP server at {server.url} refused the backtest ({answer.status_code}): {detail}"
        )
    return page_link(settings, server.url, page_path("backtest", str(answer.json()["id"])))


def show_page(
    settings: Settings, request: dict[str, Any], *, open_it: bool, to_stderr: bool = False
) -> None:
    """Print (and with `open_it` open) the web page of `request` (on stderr with `to_stderr`,
    when stdout carries JSON); a missing server or a refusal is a note on stderr, since the
    command's own result is already printed."""
    try:
        link = backtest_page(settings, request)
    except PageUnavailableError as exc:
        err.print(f"[yellow]note:[/yellow] no web page: {exc}", highlight=False)
        return
    if link is None:
        if open_it:
            err.print(f"[yellow]note:[/yellow] no web page: {NO_SERVER}", highlight=False)
        return
    (err if to_stderr else out).print(f"Web page: {link}", highlight=False)
    if open_it:
        webbrowser.open(link)


@app.command("ui-link")
def ui_link(
    page: Annotated[str, typer.Argument(help="The page, e.g. /ui/ or /ui/backtests/<id>")] = "/ui/",
    open_it: Annotated[bool, typer.Option("--open", help="Also open it in the browser")] = False,
) -> None:
    """Print the address of a web page of the running HTTP server: a short-lived signed link
    when BST_HTTP_TOKEN is set (the token itself never goes into a URL)."""
    if not is_page_path(page.split("?", 1)[0]):
        error_line(f"the page must be a path under /ui/, got {page!r}")
        raise typer.Exit(EXIT_USAGE)
    settings = Settings()
    server = running_server(settings.server.data_dir)
    if server is None:
        error_line(NO_SERVER)
        raise typer.Exit(1)
    link = page_link(settings, server.url, page)
    out.print(link, highlight=False)
    if open_it:
        webbrowser.open(link)
