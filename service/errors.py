"""The service's own exception classes and the one table from exception class to HTTP status.

A leaf module: it imports nothing else from :mod:`service`, so every layer may raise these errors.

Every error the library or the service raises on purpose is a :class:`geo.errors.XunchaError`.
Its status code is that of the most specific class listed in :data:`STATUS` (looked up along the
exception's MRO, so a subclass inherits its parent's code unless it is listed itself); the same
table covers request-validation and database errors and anything unexpected (500).
:func:`error_body` is what is said about an error (JSON ``{"detail": "<中文说明>", "problems":
[...]}``); how it is said — JSON or a page — is :mod:`service.handlers`.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
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
