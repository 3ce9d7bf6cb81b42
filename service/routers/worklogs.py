"""Work logs (城管进社区工作日志): entries with time, place, problem, action and reception outcome.

Squad-bound users read and write only their squad's log; officers and squad leaders write, admins
write for any squad (``squad_id`` required), planners only read. An entry is corrected (PATCH) or
deleted by its author, the squad leader of its squad or an admin; another squad's entry is 404.

A linked case id is normalised (:func:`geo.cases.normalise_case_id`) and must name a case of the
entry's squad, checked in the transaction that writes the entry; a case of another squad gets the
same answer as a missing one. Text with control characters is refused (422) before any database.
The rules live in :mod:`service.worklogs`; these routes parse the request and shape the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from service import worklogs
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.schemas import (
    ErrorBody,
    Outcome,
    WorkLogCreate,
    WorkLogPage,
    WorkLogPublic,
    WorkLogUpdate,
)

router = APIRouter(prefix="/api/worklogs", tags=["worklogs"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
EntryId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.get("", response_model=WorkLogPage, responses=_ERRORS, summary="工作日志列表")
def list_logs(
    storage: StorageDep,
    settings: SettingsDep,
    user: CurrentUser,
    squad: Annotated[str | None, Query(max_length=32)] = None,
    community: Annotated[str | None, Query(max_length=16, description="社区代码")] = None,
    start: Annotated[datetime | None, Query(description="时间下限（含）")] = None,
    end: Annotated[datetime | None, Query(description="时间上限（不含）")] = None,
    outcome: Outcome | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> WorkLogPage:
    """Entries the caller may see, newest first."""
    return worklogs.list_logs(storage, user, tz=settings.timezone, squad=squad,
                              community=community, start=start, end=end, outcome=outcome,
                              limit=limit, offset=offset)


@router.post("", response_model=WorkLogPublic, status_code=201, responses=_ERRORS,
             summary="填写工作日志")
def add_log(body: WorkLogCreate, storage: StorageDep, settings: SettingsDep,
            user: CurrentUser) -> WorkLogPublic:
    """Add an entry; the author is the caller and squad-bound callers write to their squad."""
    return worklogs.add_log(storage, user, body, tz=settings.timezone)


@router.get("/{entry_id}", response_model=WorkLogPublic, responses=_ERRORS, summary="日志详情")
def get_log(entry_id: EntryId, storage: StorageDep, settings: SettingsDep,
            user: CurrentUser) -> WorkLogPublic:
    """One entry (404 for another squad's entry)."""
    return worklogs.get_log(storage, user, entry_id, tz=settings.timezone)


@router.patch("/{entry_id}", response_model=WorkLogPublic, responses=_ERRORS, summary="修改日志")
def patch_log(entry_id: EntryId, body: WorkLogUpdate, storage: StorageDep,
              settings: SettingsDep, user: CurrentUser) -> WorkLogPublic:
    """Correct an entry: its author, the squad leader of its squad, or an admin. Only the fields
    given change; another squad's entry is 404."""
    return worklogs.update_log(storage, user, entry_id, body, tz=settings.timezone)


@router.delete("/{entry_id}", status_code=204, responses=_ERRORS, summary="删除日志")
def delete_log(entry_id: EntryId, storage: StorageDep, user: CurrentUser) -> Response:
    """Delete an entry: its author, the squad leader of its squad, or an admin."""
    worklogs.delete_log(storage, user, entry_id)
    return Response(status_code=204)
