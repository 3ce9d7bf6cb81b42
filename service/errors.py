"""Domain errors → HTTP: one table from exception class to status code, and two ways of saying it.

Every error the library or the service raises on purpose is a :class:`geo.errors.XunchaError`.
Its status code is that of the most specific class listed in :data:`STATUS` (looked up along the
exception's MRO, so a subclass inherits its parent's code unless it is listed itself); the same
table covers request-validation and database errors and anything unexpected (500).

How the error is said depends on who asked (:func:`is_page`):

* ``/api/*`` (and the OGC, health and docs endpoints): JSON ``{"detail": "<中文说明>",
  "problems": [...]}``.
* the web pages (``/``, ``/login``, ``/squad/…``, ``/planner``, ``/admin``, ``/maps/…``, and
  unknown addresses opened in a browser): 401 redirects a browser (``Accept: text/html``) to
  ``/login?next=<page>``; every other error — and a 401 for a client that does not accept HTML,
  such as a script fetching ``/maps/…`` — renders the Chinese ``templates/error.html`` with the
  same status code.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.cases import visible
from geo.errors import (
    CRSError,
    FileReadError,
    InfeasibleError,
    InputError,
    NotFoundError,
    SolverError,
    ValidationError,
    XunchaError,
)
from geo.io.tables import ReadLimitError

log = logging.getLogger("xuncha.service")


class AuthError(XunchaError):
    """Not signed in, or the token / session is invalid or expired (401)."""


class PermissionDenied(XunchaError):  # noqa: N818 (reads better at raise sites)
    """Signed in, but the user's role or squad does not allow this (403)."""


class ConflictError(InputError):
    """The request clashes with the current state, e.g. an illegal status transition (409)."""


class PayloadTooLarge(FileReadError):  # noqa: N818
    """An upload exceeds ``XUNCHA_MAX_UPLOAD_MB`` (413)."""


class RateLimited(XunchaError):  # noqa: N818
    """Too many failed sign-ins (429); ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


STATUS: dict[type[BaseException], int] = {
    ValidationError: 422,
    RequestValidationError: 422,
    PayloadTooLarge: 413,
    ReadLimitError: 413,
    FileReadError: 400,
    NotFoundError: 404,
    CRSError: 400,
    ConflictError: 409,
    InputError: 400,
    InfeasibleError: 409,
    SolverError: 500,
    AuthError: 401,
    PermissionDenied: 403,
    RateLimited: 429,
    IntegrityError: 409,
    DataError: 400,
    XunchaError: 500,
}
"""The one table from error class to HTTP status code (most specific class wins; anything else,
500). Starlette's own ``HTTPException`` (unknown route 404, wrong method 405) keeps its code."""

PAGE_PREFIXES: tuple[str, ...] = ("/login", "/logout", "/squad", "/planner", "/admin", "/maps")
"""Paths (and their sub-paths) of the web pages, besides ``/`` itself."""
MACHINE_PREFIXES: tuple[str, ...] = ("/api", "/ogc", "/collections", "/conformance", "/health",
                                     "/static", "/docs", "/redoc", "/openapi.json")
"""Paths that always answer JSON, whatever the client accepts."""

PAGE_TITLES: dict[int, str] = {
    400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "找不到页面", 405: "不支持的操作",
    409: "与当前状态冲突", 413: "文件太大", 422: "填写的内容有误", 429: "操作太频繁",
    500: "服务器内部错误"}
_INTERNAL = "服务器内部错误；请稍后重试，或把出错时间告诉管理员查看日志。"
_MESSAGES: dict[type[BaseException], str] = {
    IntegrityError: "与已有数据冲突（可能是重复编号或同时提交）；请刷新后重试。",
    DataError: "输入包含数据库无法保存的值（如 NUL 字符或超出范围的数字）。",
}


def status_for(exc: BaseException) -> int:
    """The HTTP status code for ``exc`` (500 for anything not in :data:`STATUS`)."""
    if isinstance(exc, StarletteHTTPException):
        return int(exc.status_code)
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "header", "cookie")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _problems(exc: BaseException) -> list[dict[str, Any]]:
    if isinstance(exc, RequestValidationError):
        return [{"row": 0, "column": _loc(e.get("loc", ())),
                 "value": visible(str(e.get("input", "")), limit=200), "message": str(e.get("msg", ""))}
                for e in exc.errors()]
    return [dict(vars(p)) for p in getattr(exc, "problems", [])]


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON body for ``exc``: ``detail`` (Chinese message) and ``problems`` (per-row list).

    Only messages written for users are shown: an unexpected exception's text stays in the log.
    """
    problems = _problems(exc)
    if isinstance(exc, RequestValidationError):
        detail = f"请求参数有 {len(problems)} 处问题；请按 problems 修正后重试。"
    elif isinstance(exc, XunchaError):
        detail = (str(exc).split("\n", 1)[0] if problems else str(exc)) or type(exc).__name__
    elif isinstance(exc, StarletteHTTPException):
        detail = str(exc.detail)
    else:
        detail = next((m for c, m in _MESSAGES.items() if isinstance(exc, c)), _INTERNAL)
    return {"detail": detail, "problems": problems}


def is_page(request: Request) -> bool:
    """Whether ``request`` came from the web pages (answer with HTML) rather than an API client."""
    path = request.url.path
    if path == "/" or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES):
        return True
    if any(path == p or path.startswith(p + "/") for p in MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _same_origin_path(request: Request) -> str | None:
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc != request.headers.get("host", "") or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_redirect(request: Request) -> RedirectResponse:
    """303 to ``/login?next=…``: back to the page asked for (a form post returns to the page it
    was posted from), and the stale session cookie, if any, removed."""
    from service.auth import clear_session_cookie

    if request.method in ("GET", "HEAD"):
        target: str | None = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = _same_origin_path(request)
    if target and (target.startswith("//") or target.startswith("/login")):
        target = None
    location = f"/login?next={quote(target, safe='')}" if target else "/login"
    response = RedirectResponse(location, status_code=303)
    if request.cookies:
        clear_session_cookie(response)
    return response


def _page_user(request: Request) -> Any:
    """The signed-in user for the page header, or None (never raises: this is an error page)."""
    try:
        from service.deps import get_current_user, signing_key

        return get_current_user(request, request.app.state.storage, signing_key(request), None)
    except Exception:  # the error page must render whatever went wrong
        return None


def error_page(request: Request, exc: BaseException, code: int,
               headers: dict[str, str] | None = None) -> Response:
    """The Chinese error page (``templates/error.html``) for ``exc`` with status ``code``."""
    from service.pages_views import ROLE_NAMES
    from service.routers.pages import templates

    body = error_body(exc)
    if isinstance(exc, StarletteHTTPException) and code == 404:
        body["detail"] = "这个地址没有对应的页面；请检查地址，或从首页进入。"
    elif isinstance(exc, StarletteHTTPException) and code == 405:
        body["detail"] = "这个页面不支持这种操作；请从页面上的按钮或表单提交。"
    ctx = {"user": _page_user(request), "role_names": ROLE_NAMES, "status": code,
           "title": PAGE_TITLES.get(code, "出错了"), "detail": body["detail"],
           "problems": body["problems"][:50], "msg": None, "err": False,
           "login_url": login_redirect(request).headers["location"] if code == 401 else ""}
    return templates.TemplateResponse(request, "error.html", ctx, status_code=code,
                                      headers=headers)


async def handle_error(request: Request, exc: Exception) -> Response:
    """Every error → its status code (:func:`status_for`) as JSON or as a page (:func:`is_page`)."""
    code = status_for(exc)
    if code >= 500 and isinstance(exc, XunchaError):
        log.exception("内部错误", exc_info=exc)
    headers: dict[str, str] = dict(getattr(exc, "headers", None) or {})
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if is_page(request):
        if code == 401 and "text/html" in request.headers.get("accept", ""):
            return login_redirect(request)
        return error_page(request, exc, code, headers or None)
    if isinstance(exc, StarletteHTTPException):
        return await http_exception_handler(request, exc)
    if code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc), status_code=code, headers=headers or None)


def install(app: FastAPI) -> None:
    """Register :func:`handle_error` for every :class:`XunchaError`, request-validation errors,
    database errors caused by the request's values (bad bytes → 400, uniqueness clashes → 409),
    Starlette's HTTP errors (unknown route, wrong method) and, last, any other exception (500)."""
    for cls in (XunchaError, DataError, IntegrityError, RequestValidationError,
                StarletteHTTPException, Exception):
        app.add_exception_handler(cls, handle_error)
