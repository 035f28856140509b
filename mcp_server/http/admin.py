"""The seeds' admin backfill API, with credentials of its own.

    POST /api/v1/admin/backfill            run (mode=sync) or queue (mode=async) a backfill
    GET  /api/v1/admin/backfill/{task_id}  an async backfill's status, from its events

Checks, in order: 503 while no admin credentials are configured (there is no default
password), 401 without valid HTTP Basic (BST_ADMIN_USER/BST_ADMIN_PASSWORD) or token
(BST_ADMIN_TOKEN as `X-Admin-Token` or `Authorization: Bearer`), 422 for a body that is
not the seeds' shape (one line per field), 403 for a symbol or interval outside
BST_ADMIN_SYMBOLS / BST_ADMIN_INTERVALS. The Guard still applies its Host and Origin
checks here but leaves authentication to this module. Credentials are never logged."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from typing import Annotated

import anyio
from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from mcp_server.backfill import (
    BackfillRequest,
    backfill_status,
    new_task_id,
    run_backfill,
    start_backfill,
)
from mcp_server.context import AppContext
from mcp_server.http.routes import _answer
from mcp_server.settings import AdminSettings
from ohlcv import normalize_interval

__all__ = ["add_admin_routes"]

log = logging.getLogger("mcp_server.http.admin")
TaskId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
_REALM = [("WWW-Authenticate", 'Basic realm="bybit-strategy-tester admin"')]


def _fail(
    status: int, detail: str | list[str], headers: list[tuple[str, str]] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=dict(headers or []))


def _same(given: str, wanted: str) -> bool:
    return hmac.compare_digest(given.encode(), wanted.encode())


def _basic(header: str) -> tuple[str, str] | None:
    if header[:6].lower() != "basic ":
        return None
    try:
        user, sep, password = (
            base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def authenticate(admin: AdminSettings, request: Request) -> JSONResponse | None:
    """None when the request carries valid admin credentials, else the refusal."""
    if not admin.configured:
        return _fail(503, "the admin API is off until credentials are configured: set "
                          "BST_ADMIN_USER and BST_ADMIN_PASSWORD (HTTP Basic) or BST_ADMIN_TOKEN")  # fmt: skip
    auth = request.headers.get("authorization", "")
    token = request.headers.get("x-admin-token") or (
        auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    )
    if admin.token is not None and token and _same(token, admin.token.get_secret_value()):
        return None
    basic = _basic(auth)
    if basic is not None and admin.user and admin.password is not None:
        user_ok = _same(basic[0], admin.user)
        if _same(basic[1], admin.password.get_secret_value()) and user_ok:
            return None
    client = request.client.host if request.client else "?"
    log.warning("admin API: refused %s %s from %s (missing or wrong credentials)",
                request.method, request.url.path, client)  # fmt: skip
    return _fail(401, "send HTTP Basic credentials (BST_ADMIN_USER) or X-Admin-Token", _REALM)


def _field_lines(exc: ValidationError) -> list[str]:
    """`page_limit: Input should be less than or equal to 1000`, one per field."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return lines


def _allowed(values: list[str], value: str, normalize: bool = False) -> bool:
    if "*" in values:
        return True
    allowed = set()
    for v in values:
        try:
            allowed.add(normalize_interval(v) if normalize else v.upper())
        except ValueError:
            continue  # a bad entry allows nothing
    return value in allowed


def _forbidden(admin: AdminSettings, body: BackfillRequest) -> JSONResponse | None:
    if not _allowed(admin.symbols, body.symbol):
        return _fail(
            403, f"symbol {body.symbol} is not in BST_ADMIN_SYMBOLS ({','.join(admin.symbols)})"
        )
    if not _allowed(admin.intervals, body.interval, normalize=True):
        return _fail(
            403,
            f"interval {body.interval} is not in BST_ADMIN_INTERVALS ({','.join(admin.intervals)})",
        )
    return None


def add_admin_routes(app: FastAPI, context: AppContext) -> frozenset[str]:
    """Mount the admin routes on `app`; their paths."""
    router = APIRouter()
    admin = context.settings.admin

    @router.post("/api/v1/admin/backfill")
    async def backfill(request: Request) -> JSONResponse:
        refusal = authenticate(admin, request)
        if refusal is not None:
            return refusal
        try:
            body = BackfillRequest.model_validate_json(await request.body() or b"null")
        except ValidationError as exc:
            return _fail(422, _field_lines(exc))
        refusal = _forbidden(admin, body)
        if refusal is not None:
            return refusal
        if body.mode == "async":
            task_id = await _answer(context, start_backfill(context, body), "jobs")
            return JSONResponse({"mode": "async", "task_id": task_id}, status_code=202)
        result = await _answer(context, run_backfill(context, body, new_task_id()), "market")
        return JSONResponse(result.model_dump())

    @router.get("/api/v1/admin/backfill/{task_id}")
    async def backfill_task(task_id: TaskId, request: Request) -> JSONResponse:
        refusal = authenticate(admin, request)
        if refusal is not None:
            return refusal
        read = anyio.to_thread.run_sync(backfill_status, context.jobs, task_id)
        status = await _answer(context, read, "jobs")
        if status is None:
            return _fail(
                404,
                f"no backfill task {task_id}; POST /api/v1/admin/backfill with mode=async starts one",
            )
        return JSONResponse(status.model_dump())

    app.include_router(router)
    return frozenset(getattr(r, "path", "") for r in router.routes) - {""}
