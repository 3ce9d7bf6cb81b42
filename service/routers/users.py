"""User administration (admin only): list and add users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from service.auth import create_user
from service.deps import AdminUser, StorageDep
from service.models import User
from service.schemas import ErrorBody, UserCreate, UserPublic

router = APIRouter(prefix="/api/users", tags=["users"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 403: {"model": ErrorBody}}


@router.get("", response_model=list[UserPublic], responses=_ERRORS, summary="用户列表")
def list_users(storage: StorageDep, _admin: AdminUser) -> list[UserPublic]:
    """Every active user."""
    with storage.begin() as session:
        rows = session.scalars(select(User).where(User.active).order_by(User.username)).all()
        return [UserPublic(username=u.username, role=u.role,  # type: ignore[arg-type]
                           squad_id=u.squad_id) for u in rows]


@router.post("", response_model=UserPublic, status_code=201,
             responses={**_ERRORS, 409: {"model": ErrorBody}}, summary="新增用户")
def add_user(body: UserCreate, storage: StorageDep, _admin: AdminUser) -> UserPublic:
    """Add a user; squad-bound roles (squad_leader, officer) need ``squad_id``."""
    user = create_user(storage, body.username, body.password, role=body.role,
                       squad=body.squad_id)
    return UserPublic(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id)
