"""What an admin does with users: list them, disable or enable one, reset a password, bind one to
a district. Every real change revokes the user's tokens (:class:`service.models.User` bumps the
token version); creating users and signing in are :mod:`service.auth`.
"""

from __future__ import annotations

from sqlalchemy import select

from geo.errors import InputError, NotFoundError
from service.auth import Principal, hash_password, validate_user_fields
from service.errors import ConflictError
from service.models import User
from service.schemas import UserAdmin
from service.storage import Storage


def _admin_view(user: User) -> UserAdmin:
    return UserAdmin(username=user.username, role=user.role,  # type: ignore[arg-type]
                     squad_id=user.squad_id, active=bool(user.active),
                     district_code=user.district_code)


def list_users(storage: Storage, *, include_disabled: bool = False) -> list[UserAdmin]:
    """Every active user by name (and the disabled ones with ``include_disabled``)."""
    stmt = select(User).order_by(User.username)
    if not include_disabled:
        stmt = stmt.where(User.active)
    with storage.begin() as session:
        return [_admin_view(u) for u in session.scalars(stmt).all()]


def update_user(storage: Storage, actor: Principal, username: str, *, active: bool | None = None,
                password: str | None = None, district: str | None = None) -> UserAdmin:
    """Disable/enable ``username``, set its password and/or bind it to ``district`` (``""``:
    unbind; ``None``: unchanged) on behalf of the admin ``actor``.

    A real change (not setting ``active`` to the value it already has) revokes the user's tokens
    (:class:`service.models.User` bumps the token version).

    Raises
    ------
    NotFoundError
        No such user.
    ConflictError
        The admin tries to disable their own account or bind it to a district.
    InputError
        Nothing to change, a password shorter than 8 characters, or a district that does not
        suit the user (:func:`service.auth.validate_user_fields`; an unknown one is :class:`NotFoundError`).
    """
    if active is None and password is None and district is None:
        raise InputError("请给出要修改的内容：active（停用/启用）、password（新密码）或 district_code（区县）。")
    if password is not None and len(password) < 8:
        raise InputError("密码至少需要 8 个字符。")
    if (active is False or district) and username == actor.username:
        raise ConflictError("不能停用自己的账号或给自己绑定区县；请让另一位管理员操作。")
    if district:
        with storage.begin() as session:
            found = session.execute(select(User.role, User.squad_id)
                                    .where(User.username == username)).first()
        if found is not None:  # no such user: 404 below
            validate_user_fields(storage, username, found[0], found[1], district)
    new_hash = hash_password(password) if password is not None else None
    with storage.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"没有用户「{username[:64]}」。")
        if active is not None:
            user.active = active
        if new_hash is not None:
            user.password_hash = new_hash
        if district is not None:
            user.district_code = district or None
        session.flush()
        return _admin_view(user)
