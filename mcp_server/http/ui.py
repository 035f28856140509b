"""The web pages: `/ui/` (recent results), one page per result with its view and data
embedded, the heatmap click's REST route, and the signed-link login (see `ui_links`).

Every page carries a strict Content-Security-Policy (`_ui_html.PAGE_CSP`). An expired id or
an id of another kind is a plain HTML page with the error table's status, never a traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator

from mcp_server.context import AppContext
from mcp_server.errors import describe, lookup
from mcp_server.http._ui_html import error_page, index_page, login_page, page
from mcp_server.results import stored_recent
from mcp_server.ui import heatmap_data, report_data, run_cell, view_html, walkforward_data
from mcp_server.ui_links import (
    COOKIE_NAME,
    COOKIE_TTL_S,
    LINK_TTL_S,
    LOGIN_PATH,
    UiSigner,
    is_page_path,
)

__all__ = ["CellRequest", "PageLink", "PageLinkRequest", "add_ui_routes"]

LINKS_ROUTE = "/api/v1/ui/links"
ResultId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class CellRequest(BaseModel):
    """A heatmap click: the cell's parameters on the optimisation's data and config."""

    optimization_id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    params: dict[str, int | float] = Field(max_length=32)


async def _view(kind: str, data: Awaitable[dict[str, Any]]) -> HTMLResponse:
    """The `kind` view with `data` embedded; a known error as a plain page with its status."""
    try:
        body = await data
    except Exception as exc:
        problem = lookup(exc)
        if problem is None:
            raise
        return error_page(problem.http, describe(exc))
    return page(view_html(kind, body))


class PageLinkRequest(BaseModel):
    page: str = Field(
        "/ui/", max_length=512, description="The page to open, e.g. /ui/backtests/<id>"
    )

    @field_validator("page")
    @classmethod
    def _page(cls, value: str) -> str:
        if not is_page_path(value.split("?", 1)[0]):
            raise ValueError("page must be a path under /ui/, e.g. /ui/backtests/<id>")
        return value


class PageLink(BaseModel):
    url: str = Field(
        description="Open this in a browser (signed and short-lived when a token is set)"
    )
    signed: bool
    expires_in_s: int | None


def add_ui_routes(app: FastAPI, context: AppContext, signer: UiSigner | None) -> frozenset[str]:
    """Mount the pages and their routes on `app`; their paths."""
    router = APIRouter()

    @router.get("/ui", include_in_schema=False)
    async def ui_root() -> Response:
        return RedirectResponse("/ui/", status_code=307)

    @router.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        """No icon, said plainly: a 404 here is a console error on every page."""
        return Response(status_code=204)

    @router.get("/ui/")
    async def index() -> HTMLResponse:
        recent = [*context.results.recent(), *context.optimizations.recent()]
        held = {r.id for r in recent}
        recent += [r for r in await stored_recent(context.recording) if r.id not in held]
        return index_page(sorted(recent, key=lambda r: r.created, reverse=True))

    @router.get("/ui/backtests/{bid}")
    async def backtest_page(bid: ResultId) -> HTMLResponse:
        return await _view("report", report_data(context, bid))

    @router.get("/ui/optimizations/{oid}")
    async def optimization_page(oid: ResultId) -> HTMLResponse:
        return await _view("heatmap", heatmap_data(context, oid))

    @router.get("/ui/walk-forward/{oid}")
    async def walk_forward_page(oid: ResultId) -> HTMLResponse:
        return await _view("walkforward", walkforward_data(context, oid))

    @router.post("/ui/api/backtest-cell")
    async def backtest_cell(body: CellRequest) -> JSONResponse:
        """The heatmap click of a plain page: that cell's backtest, as the report view's data."""
        try:
            return JSONResponse(await run_cell(context, body.optimization_id, dict(body.params)))
        except Exception as exc:
            problem = lookup(exc)
            if problem is None:
                raise
            return JSONResponse({"detail": describe(exc)}, status_code=problem.http)

    @router.get(LOGIN_PATH)
    async def login(
        to: Annotated[str, Query(max_length=512)] = "/ui/",
        exp: Annotated[str, Query(max_length=20)] = "",
        sig: Annotated[str, Query(max_length=128)] = "",
    ) -> Response:
        if not is_page_path(to.split("?", 1)[0]):
            return error_page(400, "This link does not point at a page under /ui/.")
        if signer is None:  # no token: pages are open, the link is just the page
            return RedirectResponse(to, status_code=303)
        if not signer.link_ok(to, exp, sig):
            return error_page(403, "This link has expired or is not valid. Ask for a new one: "
                                   "`bybit-tester ui-link`, or POST /api/v1/ui/links with the token.")  # fmt: skip
        cookie = (f"{COOKIE_NAME}={signer.session_value()}; Path=/ui; Max-Age={COOKIE_TTL_S}; "
                  "HttpOnly; SameSite=Strict")  # fmt: skip
        return login_page(to, cookie)

    @router.post(LINKS_ROUTE)
    async def mint_link(body: PageLinkRequest, request: Request) -> PageLink:
        """A link that opens `page` in a browser; the bearer token authorises this call."""
        base = str(request.base_url).rstrip("/")
        if signer is None:
            return PageLink(url=base + body.page, signed=False, expires_in_s=None)
        return PageLink(url=f"{base}{LOGIN_PATH}?{signer.link_query(body.page)}", signed=True,
                        expires_in_s=LINK_TTL_S)  # fmt: skip

    app.include_router(router)
    return frozenset(getattr(r, "path", "") for r in router.routes) - {""}
