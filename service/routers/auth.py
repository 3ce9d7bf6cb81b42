"""Sign-in: ``POST /api/auth/token`` (OAuth2 password form) for API clients, the session cookie
for the web pages (``POST /api/auth/session``, ``POST /api/auth/logout``), and ``GET /api/auth/me``.

Failed sign-ins are rate-limited per username and client address (``XUNCHA_LOGIN_ATTEMPTS_PER_MINUTE``;
the address is :func:`service.deps.client_ip`, which believes ``X-Forwarded-For`` only from
``XUNCHA_TRUSTED_PROXIES``).

Signing out revokes on the server, not just in the browser: it bumps the user's token version
(:func:`service.auth.revoke_tokens`), so the token or cookie used, and every other token and
session of that user (other browsers, phones, QGIS), stop working. There is therefore no separate
"sign out everywhere": ``POST /api/auth/logout`` always is (``?everywhere=1`` is accepted and
changes nothing). A cookie sign-out without a same-origin ``Origin``/``Referer`` only clears the
cookie, so a cross-site page cannot sign a user out of all their devices.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from service.auth import (
    COOKIE_NAME,
    Principal,
    authenticate,
    clear_session_cookie,
    create_token,
    load_principal,
    read_token,
    revoke_tokens,
    set_session_cookie,
)
from service.deps import (
    CurrentUser,
    KeyDep,
    LimiterDep,
    SettingsDep,
    StorageDep,
    check_same_origin,
    client_ip,
    cookie_write,
    oauth2_scheme,
)
from service.errors import AuthError, PermissionDenied
from service.schemas import ErrorBody, Token, UserPublic
from service.storage import Storage

router = APIRouter(prefix="/api/auth", tags=["auth"])
FormDep = Annotated[OAuth2PasswordRequestForm, Depends()]
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 429: {"model": ErrorBody}}


def sign_in(request: Request, form: OAuth2PasswordRequestForm, storage: StorageDep,
             limiter: LimiterDep) -> Principal:
    ip = client_ip(request)
    limiter.check(form.username, ip)
    user = authenticate(storage, form.username, form.password)
    if user is None:
        limiter.failed(form.username, ip)
        raise AuthError("用户名或密码错误。")
    limiter.succeeded(form.username, ip)
    return user


@router.post("/token", response_model=Token, responses=_ERRORS, summary="获取访问令牌")
def token(request: Request, form: FormDep, storage: StorageDep, limiter: LimiterDep,
          settings: SettingsDep, key: KeyDep) -> Token:
    """OAuth2 password flow: form fields ``username`` and ``password`` → a bearer token."""
    user = sign_in(request, form, storage, limiter)
    return Token(access_token=create_token(user, key=key, ttl_minutes=settings.token_ttl_minutes))


@router.post("/session", response_model=UserPublic, responses=_ERRORS, summary="网页登录（Cookie）")
def session(request: Request, response: Response, form: FormDep, storage: StorageDep,
            limiter: LimiterDep, settings: SettingsDep, key: KeyDep) -> UserPublic:
    """Same form as ``/token``; sets the HttpOnly, SameSite=Lax session cookie for the pages."""
    user = sign_in(request, form, storage, limiter)
    value = create_token(user, key=key, ttl_minutes=settings.token_ttl_minutes)
    set_session_cookie(response, value, ttl_minutes=settings.token_ttl_minutes,
                       secure=request.url.scheme == "https")
    return UserPublic(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id)


def end_session(request: Request, storage: Storage, key: str, *,
                bearer: str | None = None) -> str | None:
    """Revoke every token of the user behind ``bearer`` or the session cookie; their username.

    Nothing is revoked (``None``) when there is no valid, current token, or when it is a cookie
    request without a same-origin ``Origin``/``Referer`` (the caller still clears the cookie).
    Meant for the page's ``POST /logout`` as well (:mod:`service.routers.pages`).
    """
    token = bearer or request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    try:
        if cookie_write(request, bearer):
            check_same_origin(request)
        username, version = read_token(token, key=key)
    except (AuthError, PermissionDenied):
        return None
    user = load_principal(storage, username)
    if user is None or user.token_version != version:
        return None  # already revoked (or disabled): a stale token cannot sign anyone out again
    revoke_tokens(storage, username)
    return username


@router.post("/logout", status_code=204,
             summary="退出登录：在所有设备上退出（吊销该用户全部令牌与会话 Cookie）")
def logout(request: Request, storage: StorageDep, key: KeyDep,
           bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> Response:
    """Sign out everywhere: the user's token version goes up, so this token or session cookie and
    every other one of the same user (other browsers, devices, API clients) stop working; the
    cookie is cleared. Always 204, also without a (valid) token."""
    end_session(request, storage, key, bearer=bearer)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get("/me", response_model=UserPublic, responses=_ERRORS, summary="当前用户")
def me(user: CurrentUser) -> UserPublic:
    """The signed-in user's name, role and squad."""
    return UserPublic(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id)
