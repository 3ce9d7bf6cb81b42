"""The exception handlers: every error as its status code (:func:`service.errors.status_for`),
said as JSON or as a page depending on who asked (:func:`is_page`).

* ``/api/*`` (and the OGC, health and docs endpoints): JSON ``{"detail": "<中文说明>",
  "problems": [...]}`` (:func:`service.errors.error_body`).
* the web pages (``/``, ``/login``, ``/squad/…``, ``/planner``, ``/admin``, ``/maps/…``, and
  unknown addresses opened in a browser): 401 redirects a browser (``Accept: text/html``) to
  ``/login?next=<page>``; every other error — and a 401 for a client that does not accept HTML,
  such as a script fetching ``/maps/…`` — renders the Chinese ``templates/error.html`` with the
  same status code (:func:`error_page`).

:func:`install` registers the handlers on an app (:func:`service.app.create_app` does).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import XunchaError
from service.errors import RateLimited, error_body, status_for
from service.web import error_page_user, login_redirect, templates
from service.workflow import ROLE_NAMES

__all__ = ["MACHINE_PREFIXES", "PAGE_PREFIXES", "PAGE_TITLES", "error_body", "error_page",
           "handle_error", "install", "is_page", "status_for"]

log = logging.getLogger("xuncha.service")

PAGE_PREFIXES: tuple[str, ...] = ("/login", "/logout", "/squad", "/planner", "/admin", "/maps")
"""Paths (and their sub-paths) of the web pages, besides ``/`` itself."""
MACHINE_PREFIXES: tuple[str, ...] = ("/api", "/ogc", "/collections", "/conformance", "/health",
                                     "/static", "/docs", "/redoc", "/openapi.json")
"""Paths that always answer JSON, whatever the client accepts."""

PAGE_TITLES: dict[int, str] = {
    400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "找不到页面", 405: "不支持的操作",
    409: "与当前状态冲突", 413: "文件太大", 422: "填写的内容有误", 429: "操作太频繁",
    500: "服务器内部错误"}


def is_page(request: Request) -> bool:
    """Whether ``request`` came from the web pages (answer with HTML) rather than an API client."""
    path = request.url.path
    if path == "/" or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES):
        return True
    if any(path == p or path.startswith(p + "/") for p in MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, exc: BaseException, code: int,
               headers: dict[str, str] | None = None) -> Response:
    """The Chinese error page (``templates/error.html``) for ``exc`` with status ``code``."""
    body = error_body(exc)
    if isinstance(exc, StarletteHTTPException) and code == 404:
        body["detail"] = "这个地址没有对应的页面；请检查地址，或从首页进入。"
    elif isinstance(exc, StarletteHTTPException) and code == 405:
        body["detail"] = "这个页面不支持这种操作；请从页面上的按钮或表单提交。"
    ctx = {"user": error_page_user(request), "role_names": ROLE_NAMES, "status": code,
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
