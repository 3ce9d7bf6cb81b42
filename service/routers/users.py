"""User administration (admin only): list, add, disable/enable, reset passwords and bind admins
and planners to a district (``district_code``: they then see only its squads).

Only an admin bound to no district manages users (a district-bound one could make itself
deployment-wide): the routes use :data:`service.deps.AdminUser`.

A disabled user cannot sign in, and a token or session cookie issued before stops working at once:
every request re-reads the user (:func:`service.auth.load_principal` returns only active users).
Disabling, re-enabling and a password reset also bump the user's token version
(:class:`service.models.User`), so tokens issued before any of them never work again, not even
after the account is enabled: the user signs in afresh. The rules are :mod:`service.auth`'s.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from service import auth, user_admin
from service.deps import AdminUser, StorageDep
from service.schemas import ErrorBody, UserAdmin, UserCreate, UserRecord, UserUpdate

router = APIRouter(prefix="/api/users", tags=["users"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                                            422: {"model": ErrorBody}}
Username = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", response_model=list[UserAdmin], responses=_ERRORS, summary="用户列表")
def list_users(storage: StorageDep, _admin: AdminUser,
               include_disabled: Annotated[bool, Query(description="也列出已停用的用户")] = False,
               ) -> list[UserAdmin]:
    """Every active user (and the disabled ones with ``include_disabled=true``)."""
    return user_admin.list_users(storage, include_disabled=include_disabled)


@router.post("", response_model=UserRecord, status_code=201,
             responses={**_ERRORS, 400: {"model": ErrorBody}, 404: {"model": ErrorBody},
                        409: {"model": ErrorBody}}, summary="新增用户")
def add_user(body: UserCreate, storage: StorageDep, _admin: AdminUser) -> UserRecord:
    """Add a user; squad-bound roles (squad_leader, officer) need ``squad_id``; an admin or
    planner with ``district_code`` sees only that district's squads (404 for an unknown one)."""
    user = auth.create_user(storage, body.username, body.password, role=body.role,
                            squad=body.squad_id, district=body.district_code)
    return UserRecord(username=user.username, role=user.role,  # type: ignore[arg-type]
                      squad_id=user.squad_id, district_code=user.district_code)


@router.patch("/{username}", response_model=UserAdmin,
              responses={**_ERRORS, 400: {"model": ErrorBody}, 404: {"model": ErrorBody},
                         409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
              summary="停用/启用用户、重置密码、绑定区县（该用户已发的令牌随即失效）")
def patch_user(username: Username, body: UserUpdate, storage: StorageDep,
               admin: AdminUser) -> UserAdmin:
    """Disable (``active: false``) or enable a user, set a new password, and/or bind it to a
    district (``district_code``; ``null`` unbinds). The user's earlier tokens and sessions stop
    working with their next request, and stay invalid after re-enabling."""
    district = None
    if "district_code" in body.model_fields_set:
        district = body.district_code or ""  # null: bound to no district
    return user_admin.update_user(storage, admin, username, active=body.active, password=body.password,
                            district=district)
