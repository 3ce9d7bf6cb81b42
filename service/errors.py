"""Domain errors → HTTP: one table from exception class to status code, one JSON body shape.

Every error the library or the service raises on purpose is a :class:`geo.errors.XunchaError`.
The service answers it with ``{"detail": "<中文说明>", "problems": [...]}`` and the status code of the
most specific class listed in :data:`STATUS` (looked up along the exception's MRO, so a subclass
inherits its parent's code unless it is listed itself).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError

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
    PayloadTooLarge: 413,
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
    XunchaError: 500,
}
"""The one table from error class to HTTP status code (most specific class wins)."""


def status_for(exc: BaseException) -> int:
    """The HTTP status code for ``exc`` (500 for anything not in :data:`STATUS`)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON body for ``exc``: ``detail`` (Chinese message) and ``problems`` (per-row list)."""
    problems = [vars(p) for p in getattr(exc, "problems", [])]
    detail = str(exc).split("\n", 1)[0] if problems else str(exc)
    return {"detail": detail or type(exc).__name__, "problems": problems}


async def _xuncha_handler(_request: Request, exc: Exception) -> JSONResponse:
    code = status_for(exc)
    if code >= 500:
        log.exception("内部错误", exc_info=exc)
    headers: dict[str, str] = {}
    if code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(error_body(exc), status_code=code, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "header", "cookie")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


async def _request_validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    problems = [{"row": 0, "column": _loc(e.get("loc", ())),
                 "value": str(e.get("input", ""))[:200], "message": str(e.get("msg", ""))}
                for e in errors]
    return JSONResponse({"detail": f"请求参数有 {len(problems)} 处问题；请按 problems 修正后重试。",
                         "problems": problems}, status_code=422)


async def _db_data_handler(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, IntegrityError):
        return JSONResponse({"detail": "与已有数据冲突（可能是重复编号或同时提交）；请刷新后重试。",
                             "problems": []}, status_code=409)
    return JSONResponse({"detail": "输入包含数据库无法保存的值（如 NUL 字符或超出范围的数字）。",
                         "problems": []}, status_code=400)


def install(app: FastAPI) -> None:
    """Register the handlers: every :class:`XunchaError`, request-validation errors, and database
    errors caused by the request's values (bad bytes → 400, uniqueness clashes → 409)."""
    app.add_exception_handler(XunchaError, _xuncha_handler)
    app.add_exception_handler(DataError, _db_data_handler)
    app.add_exception_handler(IntegrityError, _db_data_handler)
    app.add_exception_handler(RequestValidationError, _request_validation_handler)
