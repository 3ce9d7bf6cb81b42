"""FastAPI dependencies and their aliases: the storage, the settings and the signed-in user.

Use the aliases in route signatures (as in the full-stack FastAPI template)::

    @router.get("/things")
    def things(storage: StorageDep, user: CurrentUser) -> ...

``CurrentUser`` accepts a bearer token (API clients, QGIS with an "API header" auth config) or the
session cookie of the web pages, and refuses a token whose version is not the user's current one
(:mod:`service.auth`). Unsafe methods (POST, PUT, PATCH, DELETE) authenticated by cookie alone must
carry an ``Origin`` (or, if absent, a ``Referer``) with this service's own scheme, host and port;
one with neither is refused too (a cross-site form cannot post with the user's cookie even where
SameSite is ignored). Bearer requests are exempt: a browser never adds that header by itself.

Proxies: ``X-Forwarded-For``/``-Proto``/``-Host`` are believed only when the direct peer is in
``XUNCHA_TRUSTED_PROXIES`` (:func:`client_ip`, :func:`request_origin`); by default nobody is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from geo.errors import InputError
from service.auth import (
    COOKIE_NAME,
    LoginLimiter,
    Principal,
    check_token_version,
    load_principal,
    read_token,
)
from service.errors import AuthError, PermissionDenied
from service.schemas import (
    CaseQuery,
    CategoryQuery,
    CommunityQuery,
    EndQuery,
    MonthQuery,
    SquadQuery,
    StartQuery,
    StatusQuery,
)
from service.settings import Settings
from service.storage import Storage

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """The networks of ``XUNCHA_TRUSTED_PROXIES`` (comma-separated IP addresses or CIDR ranges).

    Raises
    ------
    InputError
        An entry is not an IP address or CIDR range (``*`` is refused: name the proxies).
    """
    nets: list[Network] = []
    bad: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            bad.append(item[:64])
    if bad:
        raise InputError(f"XUNCHA_TRUSTED_PROXIES 中「{'」「'.join(bad)}」不是 IP 地址或 CIDR 网段；"
                         "请写成逗号分隔的反向代理地址，如 127.0.0.1,10.0.0.0/8。")
    return tuple(nets)


def _trusted_proxies(request: Request) -> tuple[Network, ...]:
    state = request.app.state
    nets: tuple[Network, ...] | None = getattr(state, "trusted_proxies", None)
    if nets is None:
        nets = parse_trusted_proxies(state.settings.trusted_proxies)
        state.trusted_proxies = nets
    return nets


def _ip(text: str) -> IPAddress | None:
    """``text`` as an IP address (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``), or None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: IPAddress | None, nets: tuple[Network, ...]) -> bool:
    return address is not None and any(address in net for net in nets)


def peer_is_trusted(request: Request) -> bool:
    """Whether the direct peer of ``request`` is a configured trusted proxy."""
    nets = _trusted_proxies(request)
    return bool(nets) and request.client is not None and _is_trusted(_ip(request.client.host), nets)


def client_ip(request: Request) -> str:
    """The client address of ``request`` (the failed-login limiter's key).

    The direct peer, unless that is a trusted proxy: then the right-most ``X-Forwarded-For``
    entry that is not itself a trusted proxy (each proxy appends the address it saw, so entries
    further left are the client's own claims).
    """
    peer = request.client.host if request.client else "-"
    if not peer_is_trusted(request):
        return peer
    nets = _trusted_proxies(request)
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):
        if not _is_trusted(_ip(hop), nets):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _first(request: Request, header: str) -> str:
    return request.headers.get(header, "").split(",", 1)[0].strip()


def _origin_tuple(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS or not netloc:
        return None
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return (scheme, parts.hostname, port) if parts.hostname else None


def request_origin(request: Request) -> tuple[str, str, int] | None:
    """This request's own ``(scheme, host, port)``: from ``X-Forwarded-Proto``/``-Host`` when the
    peer is a trusted proxy, else from the connection's scheme and the ``Host`` header."""
    scheme, host = request.url.scheme, request.headers.get("host", "")
    if peer_is_trusted(request):
        scheme = _first(request, "x-forwarded-proto") or scheme
        host = _first(request, "x-forwarded-host") or host
    return _origin_tuple(scheme, host)


def check_same_origin(request: Request) -> None:
    """Raise :class:`PermissionDenied` unless ``Origin`` (or, without it, ``Referer``) names this
    service's own scheme, host and port; a request with neither is refused as well."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        raise PermissionDenied("跨站请求被拒绝：请求缺少 Origin 和 Referer 请求头。请从本系统页面提交"
                               "（浏览器会自动带上），脚本请改用 Authorization: Bearer 令牌。")
    parts = urlsplit(claimed)
    own = request_origin(request)
    if own is None or _origin_tuple(parts.scheme, parts.netloc) != own:
        raise PermissionDenied("跨站请求被拒绝；请从本系统页面提交。")


def cookie_write(request: Request, bearer: str | None) -> bool:
    """Whether ``request`` is an unsafe method authenticated by the session cookie alone."""
    return not bearer and request.method not in _SAFE_METHODS


def revocable_token(request: Request, bearer: str | None) -> str | None:
    """The token a sign-out of ``request`` may revoke: ``bearer`` or the session cookie; ``None``
    when there is neither, or for a cookie request without a same-origin ``Origin``/``Referer``
    (a cross-site page cannot sign a user out of all their devices; the cookie is still cleared)."""
    token = bearer or request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    if cookie_write(request, bearer):
        try:
            check_same_origin(request)
        except PermissionDenied:
            return None
    return token


def get_current_user(request: Request, storage: StorageDep, key: KeyDep,
                     bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    """The signed-in, active user at the token's version; :class:`AuthError` (401) otherwise,
    :class:`PermissionDenied` (403) for a cookie write from another origin."""
    token = bearer or request.cookies.get(COOKIE_NAME)
    if not token:
        raise AuthError("请先登录（Authorization: Bearer 令牌或登录页面）。")
    if cookie_write(request, bearer):
        check_same_origin(request)
    username, version = read_token(token, key=key)
    user = load_principal(storage, username)
    if user is None:
        raise AuthError("用户不存在或已停用，请重新登录。")
    check_token_version(user, version)
    return user


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def case_query(start: StartQuery = None, end: EndQuery = None, month: MonthQuery = None,
               category: CategoryQuery = None, community: CommunityQuery = None,
               status: StatusQuery = None, squad: SquadQuery = None) -> CaseQuery:
    """The case filter's query parameters, declared once for the case list and the case tiles."""
    return CaseQuery(start=start, end=end, month=month, category=category,
                     community=community, status=status, squad=squad)


CaseQueryDep = Annotated[CaseQuery, Depends(case_query)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that passes only users with one of ``roles`` (403 otherwise)."""

    def _check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise PermissionDenied(f"角色 {user.role} 无权执行此操作（需要：{'、'.join(roles)}）。")
        return user

    return _check


def require_deployment_roles(*roles: str) -> Callable[[Principal], Principal]:
    """Like :func:`require_roles`, and the user must be bound to no district (403 otherwise): for
    what spans every district (user management), where a district-bound user
    would see or change other districts (or make itself a deployment-wide admin)."""
    check = require_roles(*roles)

    def _check(user: CurrentUser) -> Principal:
        check(user)
        if user.district_code is not None:
            raise PermissionDenied(f"绑定区县 {user.district_code} 的用户不能执行此操作（它涉及所有区县）；"
                                   "请由不绑定区县的管理员或规划人员操作。")
        return user

    return _check


AdminUser = Annotated[Principal, Depends(require_deployment_roles("admin"))]
