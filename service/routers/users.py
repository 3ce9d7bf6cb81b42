"""User administration (admin only): list, add, disable/enable and reset passwords.

A disabled user cannot sign in, and a token or session cookie issued before stops working at once:
every request re-reads the user (:func:`service.auth.load_principal` returns only active users).
Disabling, re-enabling and a password reset also bump the user's token version
(:class:`service.models.User`), so tokens issued before any of them never work again, not even
after the account is enabled: the user signs in afresh.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from geo.errors import InputError, NotFoundError
from service.auth import Principal, create_user, hash_password
from service.deps import AdminUser, StorageDep
from service.errors import ConflictError
from service.models import User
from service.schemas import ErrorBody, UserCreate, UserPublic
from service.storage import Storage

router = APIRouter(prefix="/api/users", tags=["users"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 403: {"model": ErrorBody}}
Username = Annotated[str, Path(min_length=1, max_length=64)]


class UserAdmin(UserPublic):
    """A user as the administrator sees it: with whether the account is in use."""

    active: bool = True


class UserUpdate(BaseModel):
    """What an administrator may change: disable/enable the account, set a new password."""

    model_config = ConfigDict(extra="forbid")
    active: bool | None = Field(default=None, description="false 停用，true 启用；两者都使此前"
                                "签发的令牌和会话永久失效（启用后须重新登录）")
    password: str | None = Field(default=None, min_length=8, max_length=256,
                                 description="新密码（此前签发的令牌和会话随即失效）")


def _admin_view(user: User) -> UserAdmin:
    return UserAdmin(username=user.username, role=user.role,  # type: ignore[arg-type]
                     squad_id=user.squad_id, active=bool(user.active))


def update_user(storage: Storage, actor: Principal, username: str, *, active: bool | None = None,
                password: str | None = None) -> UserAdmin:
    """Disable/enable ``username`` and/or set its password on behalf of the admin ``actor``.

    A real change (not setting ``active`` to the value it already has) revokes the user's tokens.

    Raises
    ------
    NotFoundError
        No such user.
    ConflictError
        The admin tries to disable their own account (nobody would be left to enable it).
    InputError
        Nothing to change, or a password shorter than 8 characters.
    """
    if active is None and password is None:
        raise InputError("请给出要修改的内容：active（停用/启用）或 password（新密码）。")
    if password is not None and len(password) < 8:
        raise InputError("密码至少需要 8 个字符。")
    if active is False and username == actor.username:
        raise ConflictError("不能停用自己的账号；请让另一位管理员操作。")
    new_hash = hash_password(password) if password is not None else None
    with storage.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"没有用户「{username[:64]}」。")
        if active is not None:
            user.active = active
        if new_hash is not None:
            user.password_hash = new_hash
        session.flush()
        return _admin_view(user)


@router.get("", response_model=list[UserAdmin], responses=_ERRORS, summary="用户列表")
def list_users(storage: StorageDep, _admin: AdminUser,
               include_disabled: Annotated[bool, Query(description="也列出已停用的用户")] = False,
               ) -> list[UserAdmin]:
    """Every active user (and the disabled ones with ``include_disabled=true``)."""
    stmt = select(User).order_by(User.username)
    if not include_disabled:
        stmt = stmt.where(User.active)
    with storage.begin() as session:
        return [_admin_view(u) for u in session.scalars(stmt).all()]


@router.post("", response_model=UserPublic, status_code=201,
             responses={**_ERRORS, 409: {"model": ErrorBody}}, summary="新增用户")
def add_user(body: UserCreate, storage: StorageDep, _admin: AdminUser) -> UserPublic:
    """Add a user; squad-bound roles (squad_leader, officer) need ``squad_id``."""
    user = create_user(storage, body.username, body.password, role=body.role,
                       squad=body.squad_id)
    return UserPublic(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id)


@router.patch("/{username}", response_model=UserAdmin,
              responses={**_ERRORS, 400: {"model": ErrorBody}, 404: {"model": ErrorBody},
                         409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
              summary="停用/启用用户、重置密码（该用户已发的令牌随即失效）")
def patch_user(username: Username, body: UserUpdate, storage: StorageDep,
               admin: AdminUser) -> UserAdmin:
    """Disable (``active: false``) or enable a user, and/or set a new password. The user's earlier
    tokens and sessions stop working with their next request, and stay invalid after re-enabling."""
    return update_user(storage, admin, username, active=body.active, password=body.password)
