"""Users, passwords (Argon2id), signed tokens (JWT, HS256), sign-in and sign-out and the
failed-login rate limit (an admin's listing and changes of users: :mod:`service.user_admin`).

Tokens carry the username (``sub``), role, squad and the user's token version (``ver``); every
request re-reads the user from the database and refuses a token whose version is not the user's
current one. The version goes up when the password, role, squad or active flag changes (see
:class:`service.models.User`) and on sign-out (:func:`revoke_tokens`), so a changed password, an
admin reset, disabling (and re-enabling) an account and signing out each end every earlier token
and session cookie of that user, on every device. The web pages use the same token in an
HttpOnly, SameSite=Lax cookie named :data:`COOKIE_NAME`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from geo.cases import find_control
from geo.errors import InputError, NotFoundError
from service.errors import AuthError, ConflictError, RateLimited
from service.models import District, Squad, User
from service.storage import Storage
from service.workflow import ROLES, SQUAD_ROLES

COOKIE_NAME = "xuncha_session"
ALGORITHM = "HS256"
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("xuncha-timing-equaliser")


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the routers see it.

    ``squads`` is what the user may see: ``None`` for the deployment-wide roles (admin, planner
    bound to no district), the squads of their district for an admin or planner bound to one
    (``district_code``; :attr:`district_squads` is read with the user, one indexed query), a
    one-element tuple for squad-bound roles (squad_leader, officer).
    """

    id: int
    username: str
    role: str
    squad_id: str | None
    token_version: int = 0
    district_code: str | None = None
    district_squads: tuple[str, ...] = ()

    @property
    def squads(self) -> tuple[str, ...] | None:
        """Squads this user may see and change (``None`` = all)."""
        if self.role in SQUAD_ROLES:
            return (self.squad_id,) if self.squad_id else ()
        if self.district_code is not None:
            return self.district_squads
        return None

    @property
    def squad_bound(self) -> bool:
        """Whether the user works in one squad (squad_leader, officer)."""
        return self.role in SQUAD_ROLES

    def may_see(self, squad_id: str | None) -> bool:
        """Whether a record of ``squad_id`` is visible to this user."""
        allowed = self.squads
        return allowed is None or (squad_id is not None and squad_id in allowed)


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (never raises)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _principal(user: User, session: Session) -> Principal:
    district = user.district_code if user.role not in SQUAD_ROLES else None
    squads: tuple[str, ...] = ()
    if district is not None:  # ix_squads_district_code
        squads = tuple(session.scalars(select(Squad.id).where(Squad.district_code == district)
                                       .order_by(Squad.id)))
    return Principal(id=user.id, username=user.username, role=user.role, squad_id=user.squad_id,
                     token_version=user.token_version or 0, district_code=district,
                     district_squads=squads)


def validate_user_fields(storage: Storage, username: str, role: str, squad: str | None,
                         district: str | None = None) -> None:
    """Raise :class:`InputError`/:class:`NotFoundError` unless the fields make a valid user
    (``district``: the district an admin or planner is bound to, or a squad role's district)."""
    if (not username or len(username) > 64 or any(c.isspace() for c in username)
            or find_control(username) is not None):
        raise InputError("用户名须为 1–64 个字符且不含空白或控制字符。")
    if role not in ROLES:
        raise InputError(f"未知角色「{role}」；可用角色：{'、'.join(ROLES)}。")
    if role in SQUAD_ROLES and not squad:
        raise InputError(f"角色 {role} 必须绑定一个中队；请加 --squad 中队编号。")
    if role not in SQUAD_ROLES and squad:
        raise InputError(f"角色 {role} 面向全区，不能绑定中队；请去掉 --squad。")
    with storage.begin() as session:
        if district and session.get(District, district) is None:
            codes = "、".join(session.scalars(select(District.code).order_by(District.code)))
            raise NotFoundError(f"没有编码为「{district[:20]}」的区县；已有区县：{codes}。")
        row = session.get(Squad, squad) if squad else None
        if squad and row is None:
            ids = "、".join(session.scalars(select(Squad.id).order_by(Squad.id)))
            raise NotFoundError(f"没有编号为「{squad}」的中队；可用中队：{ids}。")
        if district and row is not None and row.district_code != district:
            raise InputError(f"中队「{squad}」属于区县 {row.district_code or '未知'}，不属于 "
                             f"{district}；请改正 --district 或 --squad。")


def create_user(storage: Storage, username: str, password: str, *, role: str,
                squad: str | None = None, district: str | None = None) -> Principal:
    """Add a user (bound to ``district`` if given); :class:`ConflictError` if the name exists."""
    validate_user_fields(storage, username, role, squad, district)
    if len(password) < 8:
        raise InputError("密码至少需要 8 个字符。")
    with storage.begin() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise ConflictError(f"用户「{username}」已存在。")
        user = User(username=username, password_hash=hash_password(password), role=role,
                    squad_id=squad or None, active=True, district_code=district or None)
        session.add(user)
        session.flush()
        return _principal(user, session)


def set_password(storage: Storage, username: str, password: str) -> None:
    """Replace a user's password; every token and session issued before stops working."""
    if len(password) < 8:
        raise InputError("密码至少需要 8 个字符。")
    with storage.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"没有用户「{username}」。")
        user.password_hash = hash_password(password)


def authenticate(storage: Storage, username: str, password: str) -> Principal | None:
    """The active user with these credentials, or ``None`` (constant work either way)."""
    with storage.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
        ok = verify_password(stored, password)
        if user is None or not user.active or not ok:
            return None
        return _principal(user, session)


def load_principal(storage: Storage, username: str) -> Principal | None:
    """The active user ``username`` or ``None``."""
    with storage.begin() as session:
        user = session.scalar(select(User).where(User.username == username, User.active))
        return _principal(user, session) if user is not None else None


def revoke_tokens(storage: Storage, username: str) -> None:
    """End every token and session of ``username`` ("sign out everywhere"): bump its version."""
    with storage.begin() as session:
        session.execute(update(User).where(User.username == username)
                        .values(token_version=User.token_version + 1))


def sign_in(storage: Storage, limiter: LoginLimiter, username: str, password: str, *,
            ip: str) -> Principal:
    """The user with these credentials, signing in from address ``ip``.

    Raises
    ------
    RateLimited
        Too many failed sign-ins for this username or address (see :class:`LoginLimiter`).
    AuthError
        Wrong username or password, or a disabled account (the failure is counted).
    """
    limiter.check(username, ip, storage=storage)
    user = authenticate(storage, username, password)
    if user is None:
        limiter.failed(username, ip, storage=storage)
        raise AuthError("用户名或密码错误。")
    limiter.succeeded(username, ip, storage=storage)
    return user


def end_session(storage: Storage, token: str | None, *, key: str) -> str | None:
    """Revoke every token of the user behind ``token`` (:func:`revoke_tokens`); their username.

    Nothing is revoked (``None``) without a valid token at the user's current version: a stale
    token cannot sign anyone out again. Whether the request may end the session at all (a cookie
    sign-out from another origin may not) is the caller's check
    (:func:`service.deps.revocable_token`).
    """
    if not token:
        return None
    try:
        username, version = read_token(token, key=key)
    except AuthError:
        return None
    user = load_principal(storage, username)
    if user is None or user.token_version != version:
        return None  # already revoked (or disabled)
    revoke_tokens(storage, username)
    return username


def create_token(user: Principal, *, key: str, ttl_minutes: int) -> str:
    """A signed access token for ``user`` (at its current token version) valid for ``ttl_minutes``."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": user.username, "role": user.role, "squad": user.squad_id,
                              "ver": user.token_version, "iat": now,
                              "exp": now + timedelta(minutes=ttl_minutes)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_token(token: str, *, key: str) -> tuple[str, int]:
    """The username and token version in a valid token; raises :class:`AuthError` otherwise.

    A token without ``ver`` (issued before versions existed) counts as version 0.
    """
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("登录已过期，请重新登录。") from exc
    except jwt.PyJWTError as exc:
        raise AuthError("登录凭据无效，请重新登录。") from exc
    version = claims.get("ver", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise AuthError("登录凭据无效，请重新登录。")
    return str(claims["sub"]), version


def decode_token(token: str, *, key: str) -> str:
    """The username in a valid token; raises :class:`AuthError` otherwise (see :func:`read_token`)."""
    return read_token(token, key=key)[0]


def check_token_version(user: Principal, version: int) -> None:
    """Raise :class:`AuthError` unless ``version`` is ``user``'s current token version."""
    if version != user.token_version:
        raise AuthError("登录已失效（密码、角色或账号状态已变更，或已退出登录），请重新登录。")


def set_session_cookie(response: Response, token: str, *, ttl_minutes: int,
                       secure: bool = False) -> None:
    """Put ``token`` in the HttpOnly, SameSite=Lax session cookie of the web pages."""
    response.set_cookie(COOKIE_NAME, token, max_age=ttl_minutes * 60, httponly=True,
                        samesite="lax", secure=secure, path="/")


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")


class LoginLimiter:
    """Sliding-window limit on failed sign-ins per (username, client address).

    After ``per_minute`` failures within 60 s for one username from one address, further attempts
    are refused for the rest of the window; a per-address limit of ``10 × per_minute`` also stops
    trying many usernames. A successful sign-in clears that username's failures.

    With ``storage`` (what :func:`sign_in` passes) the failures are rows of the ``rate_events``
    table, so every worker process of the service counts the same failures; without it they are
    kept in this process's memory (tools and tests of the rule itself).
    """

    def __init__(self, per_minute: int, *, window_s: float = 60.0, max_keys: int = 20000) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_keys = max_keys
        self._fails: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, ip: str) -> list[tuple[tuple[str, str], int]]:
        return [((username.lower(), ip), self.per_minute), (("\0ip", ip), self.per_minute * 10)]

    @staticmethod
    def _bucket(key: tuple[str, str]) -> str:
        """The ``rate_events`` bucket of a key (hashed: a username may be any text)."""
        digest = hashlib.sha256("\x1f".join(key).encode("utf-8", "surrogatepass")).hexdigest()
        return f"login:{digest[:48]}"

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.get(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def _refuse(self, wait_s: float) -> RateLimited:
        wait = max(1, int(wait_s) + 1)
        return RateLimited(f"登录失败次数过多，请 {wait} 秒后再试。", retry_after_s=wait)

    def check(self, username: str, ip: str, *, storage: Storage | None = None) -> None:
        """Raise :class:`RateLimited` when this username/address is over its limit."""
        if storage is not None:
            for key, limit in self._keys(username, ip):
                n, first = storage.recent_events(self._bucket(key), window_s=self.window_s)
                if n >= limit and first is not None:
                    age = (datetime.now(UTC) - first).total_seconds()
                    raise self._refuse(self.window_s - age)
            return
        now = time.monotonic()
        with self._lock:
            for key, limit in self._keys(username, ip):
                q = self._recent(key, now)
                if len(q) >= limit:
                    raise self._refuse(self.window_s - (now - q[0]))

    def failed(self, username: str, ip: str, *, storage: Storage | None = None) -> None:
        """Record one failed attempt."""
        if storage is not None:
            storage.add_events([self._bucket(k) for k, _limit in self._keys(username, ip)],
                               keep_s=max(3600.0, self.window_s))
            return
        now = time.monotonic()
        with self._lock:
            if len(self._fails) >= self.max_keys:
                self._prune(now)
            for key, _limit in self._keys(username, ip):
                q = self._recent(key, now)
                q.append(now)
                self._fails[key] = q

    def succeeded(self, username: str, ip: str, *, storage: Storage | None = None) -> None:
        """Forget the failures of ``username`` from ``ip``."""
        key = (username.lower(), ip)
        if storage is not None:
            storage.clear_events(self._bucket(key))
            return
        with self._lock:
            self._fails.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._fails):
            if not self._recent(key, now):
                del self._fails[key]
        while len(self._fails) >= self.max_keys:  # still full: drop the oldest keys
            del self._fails[next(iter(self._fails))]
