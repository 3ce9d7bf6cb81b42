"""Squads (中队): ``GET /api/squads`` and ``GET /api/squads/{squad_id}``.

Squad-bound users (squad_leader, officer) see only their own squad.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from geo.errors import NotFoundError
from service.deps import CurrentUser, StorageDep
from service.schemas import ErrorBody, SquadPublic

router = APIRouter(prefix="/api/squads", tags=["squads"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


def _public(sq: dict[str, Any]) -> SquadPublic:
    return SquadPublic(id=sq["id"], name=sq["name"], street=sq.get("street", ""),
                       communities=list(sq.get("communities", [])),
                       teams=list(sq.get("teams", [])))


@router.get("", response_model=list[SquadPublic], responses=_ERRORS, summary="中队列表")
def list_squads(storage: StorageDep, user: CurrentUser) -> list[SquadPublic]:
    """The squads the caller may see, each with ``id``, ``name``, ``street``, community codes."""
    return [_public(sq) for sq in storage.squads() if user.may_see(sq["id"])]


@router.get("/{squad_id}", response_model=SquadPublic, responses=_ERRORS, summary="中队详情")
def get_squad(squad_id: str, storage: StorageDep, user: CurrentUser) -> SquadPublic:
    """One squad (404 if it does not exist or is not the caller's)."""
    for sq in storage.squads():
        if sq["id"] == squad_id and user.may_see(squad_id):
            return _public(sq)
    raise NotFoundError(f"没有编号为「{squad_id[:40]}」的中队（或无权查看）。")
