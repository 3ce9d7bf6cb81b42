"""FastAPI dependencies and their aliases: the storage, the settings and the signed-in user.

Use the aliases in route signatures (as in the full-stack FastAPI template)::

    @router.get("/things")
    def things(storage: StorageDep, user: CurrentUser) -> ...

``CurrentUser`` accepts a bearer token (API clients, QGIS with an "API header" auth config) or the
session cookie of the web pages. Unsafe methods authenticated by cookie alone must come from the
same origin (a cross-site form cannot post with the user's cookie even where SameSite is ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from service.auth import COOKIE_NAME, LoginLimiter, Principal, decode_token, load_principal
from service.errors import AuthError, PermissionDenied
from service.settings import Settings
from service.storage import Storage

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_storage(request: Request) -> Storage:
    """The app's :class:`Storage` (``app.state.storage``)."""
    storage: Storage = request.app.state.storage
    return storage


async def get_settings(request: Request) -> Settings:
    """The app's validated :class:`Settings` (``app.state.settings``)."""
    settings: Settings = request.app.state.settings
    return settings


def signing_key(request: Request) -> str:
    """The token signing key: ``XUNCHA_SECRET_KEY`` or the one persisted in the database."""
    state = request.app.state
    key: str | None = getattr(state, "signing_key", None)
    if key is None:
        key = state.settings.secret_key or state.storage.secret()
        state.signing_key = key
    return key


async def get_limiter(request: Request) -> LoginLimiter:
    """The process-wide failed-login limiter."""
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyDep = Annotated[str, Depends(signing_key)]
LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def get_current_user(request: Request, storage: StorageDep, key: KeyDep,
                     bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    """The signed-in, active user; :class:`AuthError` (401) otherwise."""
    token = bearer or request.cookies.get(COOKIE_NAME)
    if not token:
        raise AuthError("请先登录（Authorization: Bearer 令牌或登录页面）。")
    if not bearer and request.method not in _SAFE_METHODS and not _same_origin(request):
        raise PermissionDenied("跨站请求被拒绝；请从本系统页面提交。")
    username = decode_token(token, key=key)
    user = load_principal(storage, username)
    if user is None:
        raise AuthError("用户不存在或已停用，请重新登录。")
    return user


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that passes only users with one of ``roles`` (403 otherwise)."""

    def _check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise PermissionDenied(f"角色 {user.role} 无权执行此操作（需要：{'、'.join(roles)}）。")
        return user

    return _check


AdminUser = Annotated[Principal, Depends(require_roles("admin"))]
