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
    clear_session_cookie,
    create_token,
    end_session,
    set_session_cookie,
    sign_in,
)
from service.deps import (
    CurrentUser,
    KeyDep,
    LimiterDep,
    SettingsDep,
    StorageDep,
    client_ip,
    oauth2_scheme,
    revocable_token,
)
from service.schemas import ErrorBody, Token, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])
FormDep = Annotated[OAuth2PasswordRequestForm, Depends()]
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 429: {"model": ErrorBody}}


@router.post("/token", response_model=Token, responses=_ERRORS, summary="获取访问令牌")
def token(request: Request, form: FormDep, storage: StorageDep, limiter: LimiterDep,
          settings: SettingsDep, key: KeyDep) -> Token:
    """OAuth2 password flow: form fields ``username`` and ``password`` → a bearer token."""
    user = sign_in(storage, limiter, form.username, form.password, ip=client_ip(request))
    return Token(access_token=create_token(user, key=key, ttl_minutes=settings.token_ttl_minutes))


@router.post("/session", response_model=UserPublic, responses=_ERRORS, summary="网页登录（Cookie）")
def session(request: Request, response: Response, form: FormDep, storage: StorageDep,
            limiter: LimiterDep, settings: SettingsDep, key: KeyDep) -> UserPublic:
    """Same form as ``/token``; sets the HttpOnly, SameSite=Lax session cookie for the pages."""
    user = sign_in(storage, limiter, form.username, form.password, ip=client_ip(request))
    value = create_token(user, key=key, ttl_minutes=settings.token_ttl_minutes)
    set_session_cookie(response, value, ttl_minutes=settings.token_ttl_minutes,
                       secure=request.url.scheme == "https")
    return UserPublic(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id)


@router.post("/logout", status_code=204,
             summary="退出登录：在所有设备上退出（吊销该用户全部令牌与会话 Cookie）")
def logout(request: Request, storage: StorageDep, key: KeyDep,
           bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> Response:
    """Sign out everywhere: the user's token version goes up, so this token or session cookie and
    every other one of the same user (other browsers, devices, API clients) stop working; the
    cookie is cleared. Always 204, also without a (valid) token."""
    end_session(storage, revocable_token(request, bearer), key=key)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get("/me", response_model=UserPublic, responses=_ERRORS, summary="当前用户")
def me(user: CurrentUser) -> UserPublic:
    """The signed-in user's name, role and squad."""
    return UserPublic(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id)
