"""Sign-in: ``POST /api/auth/token`` (OAuth2 password form) for API clients, the session cookie
for the web pages (``POST /api/auth/session``, ``POST /api/auth/logout``), and ``GET /api/auth/me``.

Failed sign-ins are rate-limited per username and client address (``XUNCHA_LOGIN_ATTEMPTS_PER_MINUTE``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from service.auth import (
    Principal,
    authenticate,
    clear_session_cookie,
    create_token,
    set_session_cookie,
)
from service.deps import CurrentUser, KeyDep, LimiterDep, SettingsDep, StorageDep
from service.errors import AuthError
from service.schemas import ErrorBody, Token, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])
FormDep = Annotated[OAuth2PasswordRequestForm, Depends()]
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 429: {"model": ErrorBody}}


def sign_in(request: Request, form: OAuth2PasswordRequestForm, storage: StorageDep,
             limiter: LimiterDep) -> Principal:
    ip = request.client.host if request.client else "-"
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


@router.post("/logout", status_code=204, summary="退出登录（清除 Cookie）")
def logout(response: Response) -> Response:
    """Clear the session cookie (bearer tokens simply expire)."""
    clear_session_cookie(response)
    response.status_code = 204
    return response


@router.get("/me", response_model=UserPublic, responses=_ERRORS, summary="当前用户")
def me(user: CurrentUser) -> UserPublic:
    """The signed-in user's name, role and squad."""
    return UserPublic(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id)
